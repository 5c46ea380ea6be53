"""Exactly uniform samples without a formula: from the enumeration of a region, or by rejection.

Both run the network's own arithmetic (:func:`bnnc.passes.fast_predict.fast_predict`, the
bit-packed reference) on inputs of the query's region, and both are *exactly* uniform, which no
hashing sampler is:

* :func:`sample_by_enumeration` (``enumerate``): a first pass over every input of the region
  counts the inputs that answer the query, chunk by chunk; ranks are drawn uniformly among
  them (``rng.integers`` with replacement, ``rng.choice(replace=False)`` without), and a second
  pass picks out the rows of those ranks, only in the chunks that hold one.  No preimage is
  held in memory.  Without replacement, asking for at least as many samples as there are
  inputs returns all of them: the preimage is then known exactly (``exhausted``).
* :func:`sample_by_rejection` (``reject``): inputs are drawn uniformly from the region (free bits
  at random; in a Hamming ball, a number of flips with probability proportional to the ball's
  shell sizes, then a uniform subset of that size) and kept when the network answers the
  query.  Each kept input is a uniform draw from the preimage.  It pays when the preimage is
  not too rare: on the trained 100-20-10 network, label 2 (share about 10 %) gives 100 samples
  in a fraction of a second, where CMSGen took 31 s and UniGen minutes.

``auto`` (:func:`bnnc.engines.sample.sample`) enumerates regions of at most
:data:`ENUMERATE_AUTO` inputs; otherwise it draws a pilot of :data:`PILOT` inputs, and rejects
when the acceptance it saw makes the rest affordable (at most :data:`REJECT_AUTO` draws
expected); otherwise UniGen.  The choice depends on the seed only, never on the clock, so
the same seed gives the same samples.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from math import comb
from typing import Final

import numpy as np
from numpy.typing import NDArray

from bnnc.engines.region_points import ball_size, enumeration_size, region_points
from bnnc.ir.bnn import BnnModel
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.region import FREE, Region
from bnnc.passes.fast_predict import fast_predict

Model = BnnModel | IlpModel
OnDrawn = Callable[[int], None]

ENUMERATE_AUTO: Final = 1 << 20
"""The largest region ``auto`` samples from its enumeration (two passes of the bit-packed
reference: about a second for 2^20 inputs of a 100-input network)."""
PILOT: Final = 1 << 14
"""Inputs drawn to measure the acceptance of rejection sampling before committing to it."""
REJECT_AUTO: Final = 1 << 24
"""The most draws ``auto`` expects rejection sampling to take (about 10 s of the bit-packed
reference on a 100-input network); a rarer preimage goes to UniGen."""
BATCH: Final = 1 << 14  # inputs per round of rejection


@dataclass(frozen=True)
class Drawn:
    """What a direct sampler drew (rows of input bits, True = +1) and why it stopped short."""

    rows: NDArray[np.bool_]
    exhausted: bool = False
    interrupted: bool = False
    timed_out: bool = False
    tried: int = 0  # inputs of the region run through the network


def sample_by_enumeration(
    model: Model,
    query: Query,
    n: int,
    *,
    seed: int = 0,
    unique: bool = False,
    on_drawn: OnDrawn | None = None,
    time_limit: float | None = None,
) -> Drawn:
    """``n`` exactly uniform inputs answering ``query``, from the enumeration of its region."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    width = query.region.n_inputs
    empty = np.zeros((0, width), dtype=bool)
    per_chunk: list[int] = []
    tried = 0
    try:
        for bits in region_points(query.region):
            per_chunk.append(int(query.wants(fast_predict(model, bits)).sum()))
            tried += len(bits)
            if deadline is not None and time.perf_counter() > deadline:
                return Drawn(empty, timed_out=True, tried=tried)
    except KeyboardInterrupt:
        return Drawn(empty, interrupted=True, tried=tried)
    total = sum(per_chunk)
    rng = np.random.default_rng(seed)
    if total == 0 or n == 0:
        return Drawn(empty, exhausted=total == 0, tried=tried)
    if unique:
        take = min(n, total)
        ranks = rng.choice(total, size=take, replace=False)
    else:
        ranks = rng.integers(0, total, size=n)
    order = np.argsort(ranks, kind="stable")
    wanted = ranks[order]
    rows = np.zeros((len(ranks), width), dtype=bool)
    starts = np.cumsum([0, *per_chunk])
    done = 0
    try:
        for k, bits in enumerate(region_points(query.region)):
            if done == len(wanted):
                break
            if per_chunk[k] == 0 or wanted[done] >= starts[k + 1]:
                continue
            answering = bits[query.wants(fast_predict(model, bits))]
            stop = int(np.searchsorted(wanted, starts[k + 1]))
            rows[order[done:stop]] = answering[wanted[done:stop] - starts[k]]
            done = stop
    except KeyboardInterrupt:  # the ranks are in drawing order: keep none, they are not a prefix
        return Drawn(empty, interrupted=True, tried=tried)
    if on_drawn is not None:
        on_drawn(len(rows))
    return Drawn(rows, exhausted=unique and total <= n, tried=tried)


def acceptance(model: Model, query: Query, *, seed: int = 0) -> tuple[int, int]:
    """(accepted, drawn) of a pilot of :data:`PILOT` uniform inputs of the region."""
    rng = np.random.default_rng([seed, 1])  # not the stream the samples come from
    bits = uniform_points(query.region, PILOT, rng)
    return int(query.wants(fast_predict(model, bits)).sum()), len(bits)


def rejection_affordable(accepted: int, drawn: int, n: int) -> bool:
    """Whether ``n`` samples are expected within :data:`REJECT_AUTO` draws at the acceptance
    ``accepted / drawn`` of a pilot (none accepted: not affordable)."""
    return accepted > 0 and n * drawn <= REJECT_AUTO * accepted


def sample_by_rejection(
    model: Model,
    query: Query,
    n: int,
    *,
    seed: int = 0,
    unique: bool = False,
    on_drawn: OnDrawn | None = None,
    time_limit: float | None = None,
    max_tries: int | None = None,
) -> Drawn:
    """Up to ``n`` exactly uniform inputs answering ``query``: uniform inputs of the region,
    kept when they answer it (and, with ``unique``, when not drawn before: uniform among the
    inputs not seen yet).  Stops at ``max_tries`` inputs tried, Ctrl-C or the time limit."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    rng = np.random.default_rng(seed)
    width = query.region.n_inputs
    kept: list[NDArray[np.bool_]] = []
    seen: set[bytes] = set()
    drawn = tried = 0
    interrupted = timed_out = False
    try:
        while drawn < n and (max_tries is None or tried < max_tries):
            bits = uniform_points(query.region, BATCH, rng)
            tried += len(bits)
            good = bits[query.wants(fast_predict(model, bits))]
            if unique:
                fresh = []
                for row in good:
                    key = np.packbits(row).tobytes()
                    if key not in seen:
                        seen.add(key)
                        fresh.append(row)
                good = np.array(fresh, dtype=bool).reshape(-1, width)
            good = good[: n - drawn]
            if len(good):
                kept.append(good)
                drawn += len(good)
                if on_drawn is not None:
                    on_drawn(drawn)
            if deadline is not None and time.perf_counter() > deadline and drawn < n:
                timed_out = True
                break
    except KeyboardInterrupt:
        interrupted = True
    rows = np.concatenate(kept) if kept else np.zeros((0, width), dtype=bool)
    return Drawn(rows, interrupted=interrupted, timed_out=timed_out, tried=tried)


def uniform_points(region: Region, size: int, rng: np.random.Generator) -> NDArray[np.bool_]:
    """Up to ``size`` independent uniform inputs of ``region`` (fewer when some fall outside a
    second ball: they are dropped, which keeps the rest uniform)."""
    free = np.flatnonzero(region.fixed == FREE)
    base = np.zeros(region.n_inputs, dtype=bool)
    fixed = region.fixed != FREE
    base[fixed] = region.fixed[fixed] == 1
    rows = np.repeat(base[None, :], size, axis=0)
    if not region.balls:
        rows[:, free] = rng.random((size, free.size)) < 0.5
        return rows
    # A uniform point of the smallest ball (within the fixed bits), filtered by the others:
    # the number of flips k with probability C(m, k) / |ball|, then k of the m free bits.
    ball = min(region.balls, key=lambda b: ball_size(region, b))
    budget = ball.max_flips - int((ball.center[fixed] != base[fixed]).sum())
    m = free.size
    if budget < 0:
        return rows[:0]
    shells = [comb(m, k) for k in range(min(budget, m) + 1)]
    whole = sum(shells)
    weights = np.array([float(Fraction(s, whole)) for s in shells])
    flips = rng.choice(len(shells), size=size, p=weights / weights.sum())
    rows[:, free] = ball.center[free]
    if m:
        rank = np.argsort(np.argsort(rng.random((size, m)), axis=1), axis=1)
        rows[:, free] ^= rank < flips[:, None]
    if len(region.balls) > 1:
        rows = rows[region.contains(rows)]
    return rows


def enumerable(region: Region) -> bool:
    """Whether ``auto`` samples ``region`` from its enumeration."""
    return enumeration_size(region) <= ENUMERATE_AUTO
