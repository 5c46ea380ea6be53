"""Witness search aimed at the first layer's patterns that answer a query (after tabulation).

When :mod:`bnnc.engines.tabulate` tabulated the *first* hidden layer over a Hamming ball and
some patterns of its free neurons do answer the query, a counterexample exists exactly when one
of those patterns is reachable within the ball.  This search tries to reach them, nearest first
(fewest neurons to switch from the centre's pattern): a beam search over bit flips whose score
is the total distance of the free neurons' pre-activations to the sides the target pattern puts
them on (zero: the pattern is reached).  Flipping bit j moves every pre-activation by a fixed
amount (−2·a_ij·x_j, each bit flipped at most once), so one step scores every flip of every
state of the beam as one matrix sum.

It proves nothing: a pattern it fails to reach may still be reachable, and the caller goes on to
the solver.  It finds counterexamples the general search (:mod:`bnnc.engines.search`) misses: on
TFC-w1a1 at 8 flips, images whose only answering patterns switch 8–11 first-layer neurons at
once.  Every input it returns lies in the ball and gets the pattern's label by the bit-packed
reference of the specialised network; the caller validates it once more with the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bnnc.engines.tabulate import Tabulation, labels_of_patterns
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.region import FREE

BEAM = 24  # states kept per depth
TARGETS = 256  # answering patterns tried, nearest first
NEAR_PATTERNS = 1 << 17  # without a first-layer table: the patterns labelled, nearest first
CELLS = 40_000_000
"""The (state, flip, neuron) cells the beam search scores at most: ~0.3 s of CPU time (about
120M cells/s; one unreachable target of 22 free neurons over 784 input bits costs ~3.3M)."""


def pattern_search(
    ilp: IlpModel,
    table: Tabulation | None,
    query: Query,
    cells: int = CELLS,
    deadline: float | None = None,
) -> NDArray[np.bool_] | None:
    """An input of ``query``'s region that answers it, found by steering the first layer's
    free neurons to an answering pattern; None if none was found within a budget of ``cells``
    scored (state, flip, neuron) cells — the same work, and so the same answer, on a busy
    machine as on a quiet one — or by ``deadline`` (a ``time.perf_counter()`` value).

    ``ilp`` is the network specialised to a region containing the query's, ``table`` its
    tabulation if there is one; without a table of the first layer, the patterns nearest the
    centre's (at most :data:`NEAR_PATTERNS`) are labelled here.  Applies to a region with
    exactly one ball.
    """
    setup = first_layer(ilp, query)
    if setup is None:
        return None
    stop = _Budget(cells, deadline)
    start, movable, budget = setup.start, setup.movable, setup.budget
    sums, thresholds, here = setup.sums, setup.thresholds, setup.here
    moves = (-2 * setup.weights * np.where(start, 1, -1))[:, movable]  # (f, m): Δ sum per flip
    words, _ = targets(ilp, table, query, here)
    distance = popcount(words ^ here)
    for word in words[np.argsort(distance, kind="stable")][:TARGETS].tolist():
        if stop():
            return None
        up = ((word >> np.arange(setup.neurons.size)) & 1).astype(bool)  # the target's +1s
        flips = _reach(sums, thresholds, up, moves, budget, stop)
        if flips is None:
            continue
        point = start.copy()
        point[movable[flips]] ^= True
        if query.accepts(ilp, point[None, :])[0]:  # in the region, and the label answers
            return point
    return None


class _Budget:
    """The cells the search may still score, and a wall deadline; called with the cells a
    step is about to score, it says whether to stop instead."""

    def __init__(self, cells: int, deadline: float | None) -> None:
        self.cells, self.deadline = cells, deadline

    def __call__(self, cost: int = 0) -> bool:
        if self.cells < cost or (self.deadline is not None and time.perf_counter() > self.deadline):
            return True
        self.cells -= cost
        return False


@dataclass(frozen=True, eq=False)
class FirstLayer:
    """The first layer's free neurons seen from the ball: where the search starts and what it
    may flip."""

    start: NDArray[np.bool_]  # the region's point nearest the ball's centre
    movable: NDArray[np.intp]  # the input bits the region leaves free
    budget: int  # the flips left once the fixed bits are set
    neurons: NDArray[np.intp]  # the first layer's free neurons
    weights: NDArray[np.int64]  # their rows (fixed columns are zero)
    thresholds: NDArray[np.int64]
    sums: NDArray[np.int64]  # their sums at ``start``
    here: int  # their pattern at ``start`` (bit i: neuron i fires)


def first_layer(ilp: IlpModel, query: Query) -> FirstLayer | None:
    """The setup for a region with exactly one ball and a first layer of at most 63 free
    neurons, else None."""
    region = query.region
    if len(region.balls) != 1 or not ilp.layers:
        return None
    ball = region.balls[0]
    fixed = region.fixed != FREE
    start = np.where(fixed, region.fixed == 1, ball.center)
    budget = ball.max_flips - int((start != ball.center).sum())
    movable = np.flatnonzero(~fixed)
    layer = ilp.layers[0]
    neurons = np.flatnonzero(layer.weights.any(axis=1))
    if budget <= 0 or not movable.size or neurons.size > 63:
        return None
    weights = layer.weights[neurons].astype(np.int64)
    thresholds = layer.thresholds[neurons].astype(np.int64)
    sums = weights @ np.where(start, 1, -1)
    here = int(((sums >= thresholds).astype(np.int64) << np.arange(neurons.size)).sum())
    return FirstLayer(start, movable, budget, neurons, weights, thresholds, sums, here)


def targets(
    ilp: IlpModel, table: Tabulation | None, query: Query, here: int
) -> tuple[NDArray[np.int64], int]:
    """The patterns of the first layer's free neurons whose label answers ``query``, and the
    distance from ``here`` (the centre's pattern) within which that list is complete: every
    pattern from the table when it is the first layer's, else the patterns nearest ``here``."""
    free = int(ilp.layers[0].weights.any(axis=1).sum())
    if table is not None and table.index == 0:
        return np.flatnonzero(table.answering(query)), free
    words = near(here, free, NEAR_PATTERNS)
    labels, _ = labels_of_patterns(ilp, 0, words.astype(np.uint64))
    return words[query.wants(labels)], int(
        popcount(words[-1:] ^ here)[0]
    )  # near() lists by distance


def near(here: int, bits: int, most: int) -> NDArray[np.int64]:
    """The words of ``bits`` bits within the largest Hamming distance of ``here`` whose ball
    holds at most ``most`` words (at least ``here`` itself).

    >>> near(0b101, 3, 4).tolist()
    [5, 1, 4, 7]
    """
    singles = np.int64(1) << np.arange(bits, dtype=np.int64)
    level = np.array([here], dtype=np.int64)
    found = [level]
    total = 1
    for _ in range(bits):
        # The words one flip further out than the level before: each flips a bit not yet flipped.
        fresh = ((level ^ here)[:, None] & singles[None, :]) == 0
        further = np.unique((level[:, None] ^ singles[None, :])[fresh])
        if total + further.size > most:
            break
        found.append(further)
        level, total = further, total + further.size
    return np.concatenate(found)


def popcount(words: NDArray[np.int64]) -> NDArray[np.int64]:
    """The number of set bits of each (non-negative) word."""
    as_bytes = np.ascontiguousarray(words, dtype=np.int64).view(np.uint8).reshape(-1, 8)
    counts: NDArray[np.int64] = np.unpackbits(as_bytes, axis=1).sum(axis=1).astype(np.int64)
    return counts


def _reach(
    sums: NDArray[np.int64],
    thresholds: NDArray[np.int64],
    up: NDArray[np.bool_],
    moves: NDArray[np.int64],
    budget: int,
    stop: Callable[[int], bool],
) -> NDArray[np.intp] | None:
    """Indices of at most ``budget`` columns of ``moves`` whose sum puts every neuron on its
    side (``sums ≥ thresholds`` where ``up``, below elsewhere), or None: a beam search."""

    def shortfall(values: NDArray[np.int64]) -> NDArray[np.int64]:
        """Per state (the axes after the first, which is the neuron's): the total distance."""
        shape = (-1,) + (1,) * (values.ndim - 1)
        t, u = thresholds.reshape(shape), up.reshape(shape)
        below = np.maximum(t - values, 0)  # how far an up neuron is from firing
        above = np.maximum(values - t + 1, 0)  # how far a down neuron is from silence
        total: NDArray[np.int64] = np.where(u, below, above).sum(axis=0)
        return total

    beam_sums = sums[:, None]  # (f, states)
    beam_flips = np.zeros((1, 0), dtype=np.intp)
    if shortfall(beam_sums)[0] == 0:
        return np.asarray(beam_flips[0], dtype=np.intp)
    for _ in range(budget):
        if stop(moves.size * beam_sums.shape[1]):
            return None
        # every state × every flip: (f, states, m)
        candidates = beam_sums[:, :, None] + moves[:, None, :]
        score = shortfall(candidates)  # (states, m)
        used = np.zeros(score.shape, dtype=bool)
        rows = np.arange(beam_flips.shape[0])[:, None]
        used[rows, beam_flips] = True  # a bit is flipped at most once
        score = np.where(used, np.iinfo(np.int64).max, score)
        best = np.argsort(score, axis=None, kind="stable")[: BEAM * 4]
        states, columns = np.unravel_index(best, score.shape)
        fresh = score[states, columns] < np.iinfo(np.int64).max
        states, columns = states[fresh], columns[fresh]
        if not states.size:
            return None
        if score[states[0], columns[0]] == 0:
            return np.append(beam_flips[states[0]], columns[0])
        # Keep distinct flip sets only: the same bits in another order are the same state.
        chosen = np.concatenate([beam_flips[states], columns[:, None]], axis=1)
        _, first = np.unique(np.sort(chosen, axis=1), axis=0, return_index=True)
        keep = np.sort(first)[:BEAM]
        beam_flips = chosen[keep]
        beam_sums = candidates[:, states[keep], columns[keep]]
    return None
