"""Counting the inputs that answer a query: with a counter from the registry (Ganak exactly,
ApproxMC approximately), or by running the network on every input of the region.

:func:`count`'s ``method`` is ``exact`` (Ganak), ``approx`` (ApproxMC) or the name of any
counter in :data:`bnnc.engines.registry.COUNTERS` (``ganak``, ``approxmc``, ``enumerate``: the
formula's models by brute force; ``d4``: deterministic exact, with the extra ``bnnc[d4]``).
The counter is given the input variables as the projection (sampling) set, so it counts inputs.
bnnc's formulas are parsimonious, so the unprojected model count is the same number; the tests
check that, and :func:`count` can be asked to count unprojected (``projected=False``) to show
it. Each result records the guarantee its counter gives (:class:`~bnnc.engines.base.Guarantee`),
and every output prints it: enumeration and the layer-wise count are exact; Ganak's counts are
exact with probability ≥ 1 − δ (its component cache is hashed; pyganak does not report δ);
ApproxMC's are within a factor 1 + ε with probability ≥ 1 − δ.
``auto`` is :func:`bnnc.engines.count_auto.count_auto`.

:func:`count_by_enumeration` (``bnnc count --enumerate``) does not use the formula: it runs the
reference inference on every input of the region (up to 2^30), in numpy batches.  It is exact,
independent of the formula (a cross-check of it), and on small networks much faster than Ganak,
whose preprocessing and tree decomposition alone take 15–30 s on a 12-20-10 network.

ApproxMC returns an (ε, δ) estimate: with probability at least 1 − δ the true count lies within
a factor (1 + ε) of it, i.e. in [estimate / (1 + ε), estimate · (1 + ε)].
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Final, Literal

import numpy as np

from bnnc.engines import registry
from bnnc.engines.base import (
    EXACT,
    Clauses,
    Counter,
    Guarantee,
    GuaranteeKind,
    ModelCount,
    TimeLimitError,
)
from bnnc.engines.child import ChildTimeout, call_with_deadline
from bnnc.engines.enumerate import region_label_counts
from bnnc.engines.region_points import enumeration_size, region_points
from bnnc.errors import EncodingLimitError, InternalError, UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.cnf import CnfFormula
from bnnc.ir.domain import order_clauses, ordered_size
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.region import FREE, Region
from bnnc.passes.fast_predict import fast_predict
from bnnc.passes.lower_query import query_clauses

Method = Literal["auto", "exact", "approx", "enumerate", "layers"]  # count() takes any counter
# The counters the CLI's methods name; any other method is a counter's registered name.
METHOD_COUNTERS: Final = {"exact": "ganak", "approx": "approxmc"}
ENUMERATION_MAX_FREE_BITS = 30  # 2^30 inputs through numpy: minutes; beyond, use a counter
ENUMERATE_AUTO = 1 << 25
"""The largest region ``auto`` counts by enumeration (:mod:`bnnc.engines.count_auto`).
Measured on the 2-core bench machine (``bench/results/enumeration``), the command line
included: all 2^25 inputs of the paper's 25-20-10 in 1.1 s, of a random 25-64-10 in 2.0 s,
2^25 inputs of the trained 100-20-10 with 75 bits fixed in 1.7 s (Ganak: 120–485 s per label
on 25-20-10)."""


@dataclass(frozen=True)
class CountResult:
    query: Query
    method: str  # a Method, or the name of the counter asked for
    count: int  # exact count, or the ApproxMC estimate
    space: int  # the number of inputs in the query's region (the denominator of ``share``)
    seconds: float
    epsilon: float | None = None  # ApproxMC's tolerance and confidence, for "approx"
    delta: float | None = None
    guarantee: Guarantee = EXACT  # what the counter promises about ``count``
    reason: str = ""  # why this method (``auto`` says so)

    @property
    def share(self) -> float:
        return float(Fraction(self.count, self.space)) if self.space else 0.0

    @property
    def bounds(self) -> tuple[float, float]:
        """The interval the true count lies in (with probability 1 − δ for approximate counts)."""
        return self.guarantee.bounds(self.count)

    @property
    def exact(self) -> bool:
        """Whether the count is exact, or exact with probability ≥ 1 − δ (not an estimate)."""
        return self.guarantee.kind is not GuaranteeKind.APPROXIMATE


def count(
    formula: CnfFormula,
    query: Query,
    *,
    method: str = "exact",
    epsilon: float = 0.8,
    delta: float = 0.2,
    seed: int = 1,
    projected: bool = True,
    space: int | None = None,
    time_limit: float | None = None,
) -> CountResult:
    """The number of inputs that answer ``query``.

    ``method``: ``exact`` (Ganak), ``approx`` (ApproxMC, with tolerance ``epsilon``, confidence
    ``delta`` and ``seed``), or a counter's name (see the module doc).  ``space`` is the size of
    the query's region if already known (see :func:`region_size`).  ``time_limit`` (seconds) is
    passed to the counter; one that honours it and runs out raises
    :class:`~bnnc.engines.base.TimeLimitError` (Ganak and ApproxMC do not honour it).
    """
    start = time.perf_counter()
    extra = query_clauses(query, formula)
    clauses = formula.clauses.joined(extra.clauses)
    inputs = list(range(1, formula.layout.n_inputs + 1))
    counter = _counter(method)
    arguments = (clauses, extra.num_vars, inputs if projected else None, seed, epsilon, delta)
    if time_limit is None:
        counted = _count_with(counter, *arguments, None)
    else:
        # Not every counter can be interrupted: run it in a child that is stopped in time.
        try:
            counted = call_with_deadline(_count_with, counter, *arguments, time_limit,
                                         time_limit=time_limit)  # fmt: skip
        except ChildTimeout:
            raise TimeLimitError(
                f"the {counter.name} counter ran out of time ({time_limit:g} s)"
            ) from None
    if counted.value is None:
        if time_limit is None:
            raise InternalError(f"the {counter.name} counter returned no count and no error")
        raise TimeLimitError(f"the {counter.name} counter ran out of time ({time_limit:g} s)")
    seconds = time.perf_counter() - start
    if space is None:
        space = region_size(formula, query)
    guarantee = counted.guarantee
    if guarantee.kind is not GuaranteeKind.APPROXIMATE:
        return CountResult(query, method, counted.value, space, seconds, guarantee=guarantee)
    return CountResult(
        query, method, counted.value, space, seconds, epsilon, delta, guarantee=guarantee
    )


def _count_with(
    counter: Counter,
    clauses: Clauses,
    num_vars: int,
    projection: list[int] | None,
    seed: int,
    epsilon: float,
    delta: float,
    time_limit: float | None,
) -> ModelCount:
    return counter.count(
        clauses,
        num_vars,
        projection,
        seed=seed,
        epsilon=epsilon,
        delta=delta,
        time_limit=time_limit,
    )


def _counter(method: str) -> Counter:
    name = METHOD_COUNTERS.get(method, method)
    if name not in registry.COUNTERS:
        raise UsageError(
            f"unknown counting method {method!r}; choose "
            f"{registry.choices([*METHOD_COUNTERS, *registry.COUNTERS])}",
            parameter="method",
        )
    return registry.counter(name, parameter="method")


def region_size(formula: CnfFormula, query: Query) -> int:
    """The number of inputs in the query's region (closed form, or counted with Ganak)."""
    unary = formula.order_encoded
    size = query.region.size() if not unary else None
    if unary and not query.region.balls:  # integer inputs: the integer vectors of the region
        return ordered_size(query.region.fixed, unary)
    if size is not None:
        return size
    region_only = Query(query.region)
    extra = query_clauses(region_only, formula)
    if unary:
        extra = replace(
            extra, clauses=[*extra.clauses, *order_clauses(formula.layout.n_inputs // unary, unary)]
        )
    # Only the region's own clauses: its auxiliary variables are numbered after the formula's,
    # so the network's variables are absent and the count is over the inputs alone.
    inputs = list(range(1, formula.layout.n_inputs + 1))
    counted = registry.counter("ganak").count(extra.clauses, extra.num_vars, inputs)
    assert counted.value is not None  # no time limit
    return counted.value


def count_by_enumeration(model: BnnModel | IlpModel, queries: Sequence[Query]) -> list[CountResult]:
    """Exact counts of several queries over the same region, by running the reference
    inference on every input of the region (one pass for all of them)."""
    start = time.perf_counter()
    region = queries[0].region
    if any(q.region is not region for q in queries):
        raise UsageError(
            "enumeration counts queries over one region at a time", parameter="queries"
        )
    if region.is_everything and isinstance(model, BnnModel) and model.n_inputs <= 30:
        # The whole input space: enumerate_counts splits it into halves whose first-block sums
        # add up (bnnc.engines.enumerate; 2^25 inputs in about a second).
        from bnnc.engines.enumerate import enumerate_counts

        per_label = enumerate_counts(model).tolist()
        seconds = time.perf_counter() - start
        space = 1 << model.n_inputs
        return [
            CountResult(q, "enumerate", _from_label_counts(q, per_label), space, seconds)
            for q in queries
        ]
    if (
        isinstance(model, BnnModel)
        and model.blocks
        and _free_bits(region) <= ENUMERATION_MAX_FREE_BITS
    ):
        # Tabulate the first block over the free bits (milliseconds for 2^20 inputs).
        per_label, space = region_label_counts(model, region)
        seconds = time.perf_counter() - start
        return [
            CountResult(q, "enumerate", _from_label_counts(q, per_label.tolist()), space, seconds)
            for q in queries
        ]
    size = enumeration_size(region)
    if size > 1 << ENUMERATION_MAX_FREE_BITS:
        raise EncodingLimitError(
            f"enumeration would run the network on "
            f"{f'2^{_free_bits(region)}' if not region.balls else f'{size:,}'} inputs; it is "
            "limited to "
            f"2^{ENUMERATION_MAX_FREE_BITS} (count with the exact or approx method)"
        )
    totals = [0] * len(queries)
    space = 0
    for bits in region_points(region):
        space += len(bits)
        labels = fast_predict(model, bits)
        for k, query in enumerate(queries):
            ok = np.ones(len(bits), dtype=bool)
            if query.label is not None:
                ok &= labels == query.label
            if query.not_label is not None:
                ok &= labels != query.not_label
            totals[k] += int(ok.sum())
    seconds = time.perf_counter() - start
    return [
        CountResult(q, "enumerate", t, space, seconds) for q, t in zip(queries, totals, strict=True)
    ]


def _free_bits(region: Region) -> int:
    return int((region.fixed == FREE).sum())


def _from_label_counts(query: Query, per_label: list[int]) -> int:
    """The count of a query over the whole space, from the number of inputs of each label."""
    if query.label is not None:
        return per_label[query.label] if query.label != query.not_label else 0
    total = sum(per_label)
    return total - per_label[query.not_label] if query.not_label is not None else total
