"""Witness search by simulation: look for an input that answers a query by running the network.

Inversion asks for an input in a region that the network gives label L.  When such inputs are
plentiful (a trained MNIST classifier labels many images 3), running the network is a far
cheaper way to find one than a SAT solver working on the 800k-clause formula; this module does
that, and :func:`bnnc.engines.decide.check_sat` tries it before the solver.

Method.  The network is first put in a fast exact form for batches (:mod:`~bnnc.engines.search_net`,
which also holds the objective below): every inner block's reference activation
(``bnnc.ir.bnn.block_activation``, i.e. the block's own oracle when the frontend gave one) is
tabulated at every reachable integer pre-activation and read off as a threshold
``fires ⇔ ±⟨row, x⟩ ≥ θ``, and the output block's reference scores are tabulated the same way
(lowered :class:`~bnnc.ir.ilp.IlpModel` networks already have this form).  Then a tabu
local search runs over input bit flips:

* a restart draws a random point of the region (fixed bits kept; inside every Hamming ball);
* each step evaluates *all* allowed single-bit flips of the current point exactly, as one numpy
  batch (the first layer's pre-activations are updated incrementally, and the rest of the
  network runs once per distinct first-layer pattern), and stops at once if one of them
  answers the query;
* otherwise it moves: the flips that are not tabu are ranked by the first-order change of a
  smooth objective (below; one backward pass), the 32 best are scored exactly, and so are the
  moves that flip the best 2, 4, …, 128 of them together; the best candidate is taken even if
  it is worse than the current point, which walks across plateaus, and the bits it flips stay
  put for a few steps (tabu).  Multi-bit moves matter when many bits must change;
* a restart happens after a run of steps without improving the run's best objective.

The objective cannot be the network's margin alone: hidden neurons are binary, so almost every
single flip leaves the output unchanged and the margin is flat.  Instead each hidden neuron is
relaxed to a Gaussian: its pre-activation gets noise of variance τ²·fan-in, it fires with
probability p = Φ(distance to its threshold / σ), and the mean and variance of its ±1 value feed
the next layer.  The objective is then Σ_j log P(the target ranks above class j) over the
competitors j (for ``not_label`` N: log of the largest P(j ranks above N)); it moves with every
flip that brings a first-layer pre-activation closer to its threshold, and as τ → 0 it becomes
the exact network.  Heavy smoothing (τ² between 1 and 10, drawn per restart) works best: on
FINN's TFC-w1a1 it finds an input for every MNIST label within four steps (seeds 0–7), where
τ² ≤ 0.1 needs 8–80 times as many evaluations on the harder labels (1 and 4).

Soundness.  The search never decides anything by itself: a point it returns has been checked
with ``Query.accepts`` (the reference inference, ``bnnc.ir.reference``) and lies in the region,
and ``check_sat`` also checks it against the formula and the model's own framework before it
reports SAT.  A search that finds nothing proves nothing: UNSAT is only ever concluded by the
SAT solver.  Everything is driven by a seeded generator and an evaluation budget, so the same
seed and budget give the same answer (an optional wall-clock limit can cut a search short).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bnnc.engines.search_net import (
    Net,
    Unsupported,
    answers,
    evaluate,
    exact_form,
    exact_labels,
    first_weights,
    goal_of,
    signs,
)
from bnnc.errors import UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.region import FREE, Region

# Regions with at most this many free bits are enumerated exhaustively (in batches).
EXHAUSTIVE_BITS = 14
_CHUNK = 4096
# The relaxation noise τ² (per unit of fan-in) is drawn log-uniformly per restart.
_TAU2_LOW, _TAU2_HIGH, _TAU2_REFERENCE = 1.0, 10.0, 3.0
_SHORTLIST = 32  # flips scored exactly per step, after ranking by the gradient
_PREFIXES = (2, 4, 8, 16, 32, 64, 128)  # sizes of the multi-flip moves tried per step
# A run restarts after max(_PATIENCE, free bits / _PATIENCE_PER_BIT) steps without progress.
_PATIENCE, _PATIENCE_PER_BIT = 20, 32


@dataclass(frozen=True)
class SearchOutcome:
    """What a search found: a witness (None if none), and the best point it saw (for solver
    phases), with the number of network evaluations it spent."""

    witness: NDArray[np.bool_] | None
    best: NDArray[np.bool_] | None
    evaluations: int
    restarts: int


# --------------------------------------------------------------------------- region moves


class _Position:
    """The current point of a walk in the region, with what a flip of each bit would do."""

    def __init__(self, region: Region, bits: NDArray[np.bool_]) -> None:
        self.region = region
        self.bits = bits.copy()
        self.free: NDArray[np.bool_] = np.asarray(region.fixed == FREE)
        self.distance = [int((bits != ball.center).sum()) for ball in region.balls]

    def allowed(self) -> NDArray[np.bool_]:
        """The bits whose flip keeps the point in the region."""
        ok = self.free.copy()
        for ball, dist in zip(self.region.balls, self.distance, strict=True):
            if dist >= ball.max_flips:  # only flips back toward the centre
                ok &= self.bits != ball.center
        return ok

    def fits(self, bits: NDArray[np.intp]) -> bool:
        """Whether flipping all of ``bits`` (distinct, free) keeps the point in the region."""
        for ball, dist in zip(self.region.balls, self.distance, strict=True):
            away = int((self.bits[bits] == ball.center[bits]).sum())
            if dist + away - (bits.size - away) > ball.max_flips:
                return False
        return True

    def flip(self, bit: int) -> None:
        for b, ball in enumerate(self.region.balls):
            self.distance[b] += 1 if self.bits[bit] == ball.center[bit] else -1
        self.bits[bit] = not self.bits[bit]


def _start_point(region: Region, rng: np.random.Generator) -> NDArray[np.bool_] | None:
    """A random point of the region: random free bits, or near a ball's centre; None if a
    short repair walk cannot get inside every ball (the search then gives up)."""
    n = region.n_inputs
    free = region.fixed == FREE
    fixed_values = region.fixed.astype(bool)
    if not region.balls:
        bits = rng.random(n) < rng.uniform(0.2, 0.8)
        return np.where(free, bits, fixed_values)
    bits = np.where(free, region.balls[0].center, fixed_values)
    for _ in range(4 * n):  # repair: walk toward the centre of a ball the point is outside
        outside = [b for b in region.balls if int((bits != b.center).sum()) > b.max_flips]
        if not outside:
            break
        ball = outside[int(rng.integers(len(outside)))]
        toward = np.flatnonzero(free & (bits != ball.center))
        if toward.size == 0:
            return None
        bit = int(toward[rng.integers(toward.size)])
        bits[bit] = not bits[bit]
    else:
        return None
    if not bool(region.contains(bits)):
        return None
    # Then a random walk inside the region, of random length.
    position = _Position(region, bits)
    for _ in range(int(rng.integers(0, max(b.max_flips for b in region.balls) + 1))):
        allowed = np.flatnonzero(position.allowed())
        if allowed.size == 0:
            break
        position.flip(int(allowed[rng.integers(allowed.size)]))
    return position.bits


# --------------------------------------------------------------------------- the search


def default_budget(model: BnnModel | IlpModel) -> int:
    """Flips to evaluate in a default search, scaled to the model: about 200k (a second) on a
    784-64-64-64-10 network, a few steps on a tiny one, where the solver is fast anyway.

    A step evaluates every input bit's flip, and each costs about the weights past the first
    layer (which is updated incrementally): the budget is ~1/32 of inputs × those weights.
    """
    if isinstance(model, BnnModel):
        rest = [b.weights.size for b in model.blocks[1:]] + [model.output.weights.size]
    else:
        rest = [layer.weights.size for layer in model.layers[1:]] + [model.output.weights.size]
    n = model.n_inputs
    return int(min(1_000_000, max(4 * n, n * sum(rest) // 32)))


def search(
    model: BnnModel | IlpModel,
    query: Query,
    *,
    budget: int | None = None,
    seed: int = 0,
    time_limit: float | None = None,
    exhaustive_bits: int = EXHAUSTIVE_BITS,
) -> SearchOutcome:
    """Look for an input that answers ``query`` by simulating the network (see the module doc).

    ``budget`` caps the network evaluations (default :func:`default_budget`), ``time_limit``
    the seconds; regions with at most ``exhaustive_bits`` free bits are enumerated instead.
    The witness, if any, has been checked with ``query.accepts``.
    """
    if query.region.n_inputs != model.n_inputs:
        raise UsageError(
            f"the region is over {query.region.n_inputs} input bits, the model has "
            f"{model.n_inputs}",
            parameter="query",
        )
    query.check(model.n_classes)
    budget = default_budget(model) if budget is None else budget
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    rng = np.random.default_rng(seed)
    region = query.region
    if query.label is None and query.not_label is None:  # any point of the region answers
        start = _start_point(region, rng)
        ok = start is not None and bool(query.accepts(model, start))
        return SearchOutcome(start if ok else None, start, 1, 0)
    try:
        net = exact_form(model)
    except Unsupported:
        return SearchOutcome(None, None, 0, 0)
    if int((region.fixed == FREE).sum()) <= exhaustive_bits:
        return _enumerate(model, net, query)
    return _local_search(model, net, query, rng, budget, deadline)


def find_witness(
    model: BnnModel | IlpModel,
    query: Query,
    *,
    budget: int | None = None,
    seed: int = 0,
    time_limit: float | None = None,
) -> NDArray[np.bool_] | None:
    """Input bits that answer ``query`` (checked by the reference inference), or None."""
    return search(model, query, budget=budget, seed=seed, time_limit=time_limit).witness


def _enumerate(model: BnnModel | IlpModel, net: Net, query: Query) -> SearchOutcome:
    """Every point of a small region, in order; the first that answers the query."""
    region = query.region
    free = np.flatnonzero(region.fixed == FREE)
    base = region.fixed.astype(bool)
    total = 1 << free.size
    shifts = np.arange(free.size, dtype=np.int64)
    first_w = first_weights(net)
    evaluations = 0
    for start in range(0, total, _CHUNK):
        codes = np.arange(start, min(start + _CHUNK, total), dtype=np.int64)
        bits = np.repeat(base[None, :], codes.size, axis=0)
        bits[:, free] = (codes[:, None] >> shifts[None, :]) & 1 == 1
        bits = bits[region.contains(bits)]
        evaluations += bits.shape[0]
        ok = answers(exact_labels(net, signs(bits) @ first_w), query.label, query.not_label)
        for row in np.flatnonzero(ok).tolist():
            if bool(query.accepts(model, bits[row])):
                return SearchOutcome(bits[row].copy(), bits[row].copy(), evaluations, 0)
    return SearchOutcome(None, None, evaluations, 0)


def _local_search(
    model: BnnModel | IlpModel,
    net: Net,
    query: Query,
    rng: np.random.Generator,
    budget: int,
    deadline: float | None,
) -> SearchOutcome:
    """Tabu search with restarts (see the module doc); ``budget`` counts evaluated flips (a
    step is charged at least an eighth of the free bits: its fixed cost)."""
    region, label, not_label = query.region, query.label, query.not_label
    first_w = first_weights(net)
    goal = goal_of(net, label, not_label)
    n_free = int((region.fixed == FREE).sum())
    patience = max(_PATIENCE, n_free // _PATIENCE_PER_BIT)
    tenure = max(3, n_free // 20)
    step_cost = n_free // 8  # a step with few allowed flips (at a ball's edge) still costs time
    evaluations = restarts = 0
    best: NDArray[np.bool_] | None = None
    best_value = -np.inf
    while evaluations < budget:
        start = _start_point(region, rng)
        if start is None:
            break
        restarts += 1
        position = _Position(region, start)
        tau2 = float(np.exp(rng.uniform(np.log(_TAU2_LOW), np.log(_TAU2_HIGH))))
        x = signs(position.bits)
        sums = x @ first_w  # the first pre-activations at the current point
        tabu = np.zeros(region.n_inputs, dtype=np.int64)
        run_best, run_point, stall, step = -np.inf, position.bits.copy(), 0, 0
        while stall < patience and evaluations < budget:
            if deadline is not None and time.perf_counter() > deadline:
                return SearchOutcome(None, best, evaluations, restarts)
            step += 1
            moves = np.flatnonzero(position.allowed())
            if moves.size == 0:
                break
            # Every allowed flip, exactly: does one of them answer the query?
            first = sums[None, :] - 2 * x[moves, None] * first_w[moves]
            evaluations += max(moves.size, step_cost)
            ok = answers(exact_labels(net, first), label, not_label)
            for move in np.flatnonzero(ok).tolist():
                bits = position.bits.copy()
                bits[moves[move]] = not bits[moves[move]]
                if bool(query.accepts(model, bits)):
                    return SearchOutcome(bits, bits.copy(), evaluations, restarts)
            # Otherwise move: rank the non-tabu flips by the objective's first-order change,
            # score the most promising exactly, and take the best even if it is worse.
            open_moves = tabu[moves] < step
            if not open_moves.any():
                continue
            candidates = moves[open_moves]
            _, grad = evaluate(net, goal, sums[None, :], tau2, gradient=True)
            assert grad is not None
            change = -2 * x[candidates] * (first_w[candidates] @ grad[0])
            change += rng.random(candidates.size) * 1e-9  # seeded tie-breaking
            order = np.argsort(-change, kind="stable")[: max(_SHORTLIST, _PREFIXES[-1])]
            shortlist = candidates[order]
            # Candidates: each of the most promising flips alone, and the 2, 4, 8, … most
            # promising together (long moves when many bits must change, e.g. a background).
            steps = x[shortlist, None] * first_w[shortlist]
            groups = [shortlist[i : i + 1] for i in range(min(_SHORTLIST, shortlist.size))]
            firsts = [sums[None, :] - 2 * steps[: len(groups)]]
            prefixes = [k for k in _PREFIXES if k <= shortlist.size]
            prefixes = [k for k in prefixes if position.fits(shortlist[:k])]
            if prefixes:
                together = sums[None, :] - 2 * np.cumsum(steps, axis=0)[np.array(prefixes) - 1]
                evaluations += len(prefixes)
                ok = answers(exact_labels(net, together), label, not_label)
                for row in np.flatnonzero(ok).tolist():
                    bits = position.bits.copy()
                    bits[shortlist[: prefixes[row]]] ^= True
                    if bool(query.accepts(model, bits)):
                        return SearchOutcome(bits, bits.copy(), evaluations, restarts)
                groups += [shortlist[:k] for k in prefixes]
                firsts.append(together)
            values, _ = evaluate(net, goal, np.concatenate(firsts), tau2)
            pick = int(np.argmax(values))
            for bit in groups[pick].tolist():
                sums = sums - 2 * x[bit] * first_w[bit]
                x[bit] = -x[bit]
                position.flip(bit)
                tabu[bit] = step + int(rng.integers(tenure, 2 * tenure + 1))
            if values[pick] > run_best + 1e-7:
                run_best, run_point, stall = float(values[pick]), position.bits.copy(), 0
            else:
                stall += 1
        # Keep the best point of all runs, judged at one common smoothing.
        point_sums = signs(run_point)[None, :] @ first_w
        value = float(evaluate(net, goal, point_sums, _TAU2_REFERENCE)[0][0])
        if value > best_value:
            best, best_value = run_point, value
    return SearchOutcome(None, best, evaluations, restarts)
