"""Counting the inputs that answer a query: exactly with Ganak, approximately with ApproxMC.

Both counters are given the input variables as the projection (sampling) set, so they count
inputs.  bnnc's formulas are parsimonious, so the unprojected model count is the same number;
the tests check that, and :func:`count` can be asked to count unprojected
(``projected=False``) to show it.

``enumerate`` does not use the formula: it runs the reference inference on every input of the
region (up to 2^30), in numpy batches.  It is exact, independent of the formula (a cross-check
of it), and on small networks much faster than Ganak, whose preprocessing and tree decomposition
alone take 15–30 s on a 12-20-10 network.

ApproxMC returns an (ε, δ) estimate: with probability at least 1 − δ the true count lies within
a factor (1 + ε) of it, i.e. in [estimate / (1 + ε), estimate · (1 + ε)].
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

from bnnc.errors import EncodingLimitError, ModelError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.cnf import CnfFormula
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.reference import predict
from bnnc.ir.region import FREE
from bnnc.passes.lower_query import query_clauses

Method = Literal["exact", "approx", "enumerate"]
ENUMERATION_MAX_FREE_BITS = 30  # 2^30 inputs through numpy: minutes; beyond, use a counter
_CHUNK_BITS = 18  # inputs per batch: 2^18


@dataclass(frozen=True)
class CountResult:
    query: Query
    method: Method
    count: int  # exact count, or the ApproxMC estimate
    space: int  # the number of inputs in the query's region (the denominator of ``share``)
    seconds: float
    epsilon: float | None = None  # ApproxMC's tolerance and confidence, for "approx"
    delta: float | None = None

    @property
    def share(self) -> float:
        return float(Fraction(self.count, self.space)) if self.space else 0.0

    @property
    def bounds(self) -> tuple[float, float]:
        """The interval the true count lies in (with probability 1 − δ for approximate counts)."""
        if self.method != "approx" or self.epsilon is None:
            return (float(self.count), float(self.count))
        return (self.count / (1 + self.epsilon), self.count * (1 + self.epsilon))


def count(
    formula: CnfFormula,
    query: Query,
    *,
    method: Method = "exact",
    epsilon: float = 0.8,
    delta: float = 0.2,
    seed: int = 1,
    projected: bool = True,
    space: int | None = None,
) -> CountResult:
    """The number of inputs that answer ``query``.

    ``space`` is the size of the query's region if already known (see :func:`region_size`).
    """
    start = time.perf_counter()
    extra = query_clauses(query, formula)
    clauses = formula.clauses.joined(extra.clauses)
    inputs = list(range(1, formula.layout.n_inputs + 1))
    if method == "exact":
        value = _ganak(clauses, extra.num_vars, inputs if projected else None)
    elif method == "approx":
        if not epsilon > 0:
            raise ModelError(f"--epsilon must be positive, got {epsilon}")
        if not 0 < delta < 1:
            raise ModelError(f"--delta must lie strictly between 0 and 1, got {delta}")
        value = _approxmc(clauses, inputs, epsilon=epsilon, delta=delta, seed=seed)
    else:
        raise ModelError(f"unknown counting method {method!r}; choose exact or approx")
    seconds = time.perf_counter() - start
    if space is None:
        space = region_size(formula, query)
    if method == "exact":
        return CountResult(query, method, value, space, seconds)
    return CountResult(query, method, value, space, seconds, epsilon, delta)


def region_size(formula: CnfFormula, query: Query) -> int:
    """The number of inputs in the query's region (closed form, or counted with Ganak)."""
    size = query.region.size()
    if size is not None:
        return size
    region_only = Query(query.region)
    extra = query_clauses(region_only, formula)
    # Only the region's own clauses: its auxiliary variables are numbered after the formula's,
    # so the network's variables are absent and the count is over the inputs alone.
    inputs = list(range(1, formula.layout.n_inputs + 1))
    return _ganak(extra.clauses, extra.num_vars, inputs)


def _ganak(clauses: Iterable[list[int]], num_vars: int, projection: list[int] | None) -> int:
    from pyganak import Counter  # imported here: compiling alone never pays for it

    counter = Counter()
    counter.new_vars(num_vars)
    counter.add_clauses(clauses)
    if projection is not None:
        counter.set_sampling_set(projection)
    with _native_stdout_silenced():
        return int(counter.count())


@contextlib.contextmanager
def _native_stdout_silenced() -> Iterator[None]:
    """Ganak prints some lines (e.g. "c o intermediate count: 0") to the process's stdout even
    at verbosity 0; point file descriptor 1 at /dev/null meanwhile, so that ``--json`` output
    stays one JSON object."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (e.g. captured by a test runner): nothing to protect
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _approxmc(
    clauses: Iterable[list[int]], projection: list[int], *, epsilon: float, delta: float, seed: int
) -> int:
    import pyapproxmc

    counter = pyapproxmc.Counter(seed=seed, epsilon=epsilon, delta=delta)
    counter.add_clauses(clauses)
    cells, hashes = counter.count(projection)
    return int(cells) * (1 << int(hashes))


def count_by_enumeration(model: BnnModel | IlpModel, queries: Sequence[Query]) -> list[CountResult]:
    """Exact counts of several queries over the same region, by running the reference
    inference on every input of the region (one pass for all of them)."""
    start = time.perf_counter()
    region = queries[0].region
    if any(q.region is not region for q in queries):
        raise ModelError("enumeration counts queries over one region at a time")
    if region.is_everything and isinstance(model, BnnModel) and model.n_inputs <= 30:
        # The whole input space of a trained network: enumerate_counts tabulates the first layer's
        # output patterns instead of running every input (2^25 inputs: ~9 s instead of ~90 s).
        from bnnc.engines.enumerate import enumerate_counts

        per_label = enumerate_counts(model).tolist()
        seconds = time.perf_counter() - start
        space = 1 << model.n_inputs
        return [
            CountResult(q, "enumerate", _from_label_counts(q, per_label), space, seconds)
            for q in queries
        ]
    free = np.flatnonzero(region.fixed == FREE)
    if free.size > ENUMERATION_MAX_FREE_BITS:
        raise EncodingLimitError(
            f"enumeration would run the network on 2^{free.size} inputs; it is limited to "
            f"2^{ENUMERATION_MAX_FREE_BITS} (use --exact or --approx)"
        )
    base = np.where(region.fixed == 1, True, False)
    totals = [0] * len(queries)
    space = 0
    n_free = int(free.size)
    chunk = 1 << min(_CHUNK_BITS, n_free)
    for first in range(0, 1 << n_free, chunk):
        codes = np.arange(first, first + chunk, dtype=np.int64)
        bits = np.repeat(base[None, :], chunk, axis=0)
        bits[:, free] = ((codes[:, None] >> np.arange(n_free, dtype=np.int64)) & 1).astype(bool)
        inside = region.contains(bits)
        if region.balls:
            bits = bits[inside]
        space += int(inside.sum())
        labels = predict(model, bits)
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


def _from_label_counts(query: Query, per_label: list[int]) -> int:
    """The count of a query over the whole space, from the number of inputs of each label."""
    if query.label is not None:
        return per_label[query.label] if query.label != query.not_label else 0
    total = sum(per_label)
    return total - per_label[query.not_label] if query.not_label is not None else total
