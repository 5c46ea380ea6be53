"""``count --method auto``: the fastest method that gives a count, and the guarantee it has.

The chain, for queries over one region (every label of ``--all-labels`` at once where a method
counts them together):

1. ``enumerate`` — the network's own arithmetic on every input of the region (the first layer
   tabulated, :func:`bnnc.engines.count.count_by_enumeration`) when the region has at most
   :data:`~bnnc.engines.count.ENUMERATE_AUTO` inputs: exact.
2. ``layers`` — the dynamic program over the first layer's sums
   (:mod:`bnnc.engines.count_layers`) where it fits its budget: exact, for any number of free
   bits when few first-layer neurons stay free.
3. ``ganak`` — the model counter on the formula, in a child process stopped after
   :data:`GANAK_AUTO` seconds (half the time left under ``--timeout``): exact with probability
   ≥ 1 − δ (Ganak's probabilistic component cache; pyganak does not report the run's δ, which
   Ganak's own README puts typically below 10⁻⁹).  Once Ganak runs out of time on one query,
   the later queries of the same run skip it (they share the formula, and so its difficulty).
4. ``approxmc`` — ApproxMC with the (ε, δ) asked for, in a child with the time left: within a
   factor 1 + ε with probability ≥ 1 − δ.
5. none of them in time: :class:`~bnnc.errors.TimeLimitError` (the CLI's ``unknown``, exit 30).

Every step runs in a child process stopped at its deadline when a time limit is given
(:func:`bnnc.engines.child.call_with_deadline`), so ``--timeout`` is kept and nothing keeps
running; without one, only Ganak is bounded (ApproxMC always finishes, if slowly).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Final, TypeVar

from bnnc.engines import count_layers
from bnnc.engines.base import EXACT, TimeLimitError
from bnnc.engines.child import ChildTimeout, call_with_deadline
from bnnc.engines.count import (
    ENUMERATE_AUTO,
    CountResult,
    count,
    count_by_enumeration,
)
from bnnc.engines.region_points import enumeration_size
from bnnc.ir.bnn import BnnModel
from bnnc.ir.cnf import CnfFormula
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.region import Region

GANAK_AUTO: Final = 30.0
"""Seconds Ganak gets per count without ``--timeout``.  Measured: on the trained 100-20-10
network (whole input space) Ganak had no count after 300 s, where ApproxMC took 35 s."""

T = TypeVar("T")


def count_auto(
    model: BnnModel | IlpModel,
    formula: CnfFormula,
    queries: Sequence[Query],
    *,
    epsilon: float = 0.8,
    delta: float = 0.2,
    seed: int = 1,
    space: int,
    time_limit: float | None = None,
) -> list[CountResult]:
    """Count each query (all over one region) by the chain of the module doc; each result says
    its method, why, and its guarantee."""
    start = time.perf_counter()
    deadline = None if time_limit is None else start + time_limit
    region = queries[0].region
    size = enumeration_size(region)
    if _enumerates(region):
        why = f"{size:,} inputs ≤ {ENUMERATE_AUTO:,}: enumerated, exact"
        enumerated = _bounded(deadline, "enumeration", count_by_enumeration, model, list(queries))
        return [replace(r, reason=why) for r in enumerated]
    if _by_layers(model, region):
        assert isinstance(model, BnnModel)
        found = count_layers.plan(model, region)
        assert found is not None
        why = (
            f"{len(found.lookup)} first-layer neurons stay free over {found.free_bits.size} free "
            "bits: dynamic program over their sums, exact"
        )
        numbers, _ = _bounded(deadline, "the layer-wise count", count_layers.counts, model,
                              list(queries))  # fmt: skip
        seconds = time.perf_counter() - start
        return [
            CountResult(q, "layers", c, space, seconds, guarantee=EXACT, reason=why)
            for q, c in zip(queries, numbers, strict=True)
        ]
    results: list[CountResult] = []
    ganak_failed = ""
    for k, query in enumerate(queries):
        share = None if deadline is None else (deadline - time.perf_counter()) / (len(queries) - k)
        if not ganak_failed:
            budget = GANAK_AUTO if share is None else share / 2
            try:
                counted = count(formula, query, method="ganak", space=space, time_limit=budget)
            except TimeLimitError:
                ganak_failed = f"Ganak had no count within {budget:.3g} s"
            else:
                results.append(replace(counted, reason=_GANAK_WHY.format(size=size)))
                continue
        left = None if deadline is None else max(0.0, deadline - time.perf_counter())
        if left is not None:
            left /= len(queries) - k
        counted = count(formula, query, method="approxmc", epsilon=epsilon, delta=delta,
                        seed=seed, space=space, time_limit=left)  # fmt: skip
        results.append(replace(counted, reason=f"{ganak_failed}: ApproxMC, (ε, δ)-approximate"))
    return results


def counted_together(model: BnnModel | IlpModel, region: Region) -> bool:
    """Whether :func:`count_auto` counts every query over ``region`` at once (steps 1 and 2 of
    the chain: enumeration or the layer-wise count), rather than one query after the other with
    Ganak and ApproxMC (steps 3 and 4: these may run in parallel, one query each)."""
    return _enumerates(region) or _by_layers(model, region)


def _enumerates(region: Region) -> bool:
    return enumeration_size(region) <= ENUMERATE_AUTO


def _by_layers(model: BnnModel | IlpModel, region: Region) -> bool:
    return isinstance(model, BnnModel) and count_layers.applies(model, region)


_GANAK_WHY = "{size:,} inputs, too many to enumerate: Ganak, exact with probability ≥ 1 − δ"


def _bounded(deadline: float | None, what: str, function: Callable[..., T], *args: object) -> T:
    """``function(*args)``, in a child stopped at ``deadline`` if there is one."""
    if deadline is None:
        return function(*args)
    left = max(0.0, deadline - time.perf_counter())
    try:
        return call_with_deadline(function, *args, time_limit=left)
    except ChildTimeout:
        raise TimeLimitError(f"{what} ran out of time") from None
