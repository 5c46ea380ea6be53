"""Sampling the inputs that answer a query, with CMSGen (``pycmsgen``) or UniGen (``pyunigen``).

bnnc's formulas are parsimonious — every auxiliary variable is a function of the inputs, and so
is every variable a query adds — so each input that answers the query has exactly one model:
sampling models *is* sampling inputs, with no bias toward inputs that happen to have more
models.  How uniform the samples are is then up to the sampler:

* ``cmsgen`` (default, as in the paper): fast, "uniform-like" — a heuristic without a
  guarantee.  Measured on an enumerable preimage (91 inputs of a 9-6-4 network, 40 draws per
  input) its frequencies range from 5 to 112 where uniform gives about 40: a chi-square test
  rejects uniformity outright.  Use it to *explore* a preimage, not to estimate proportions.
* ``unigen``: UniGen3 (Soos, Gocht, Meel, CAV 2020), almost-uniform with a guarantee: every
  input is drawn with probability within a factor (1 + ε) of uniform; it hashes the input
  variables (the projection) with random XORs and is slower.  The test suite's chi-square test
  at a fixed seed passes for it.

With ``unique=True`` each sample is blocked (a clause over the input variables) before the next
draw: the next one is then drawn from the inputs not seen yet, i.e. sampling without
replacement, and an UNSAT draw proves the preimage exhausted.

Every sample is checked by the reference inference and, for ONNX models, by the model itself
(:func:`bnnc.engines.decide.validate_inputs`): a sample that does not answer the query is a bnnc bug
and raises :class:`~bnnc.errors.InternalError`, after the caller has been given what was drawn.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from bnnc.engines.decide import validate_inputs
from bnnc.errors import ModelError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.cnf import CnfFormula
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.passes.lower_query import query_clauses


@dataclass(frozen=True)
class SampleResult:
    query: Query
    samples: NDArray[np.bool_]  # (drawn, n_inputs) input bits, True = +1
    requested: int
    exhausted: bool  # unique sampling ran out of inputs (the preimage has exactly `drawn`)
    interrupted: bool  # Ctrl-C stopped the run; the samples drawn so far are kept
    seconds: float

    @property
    def drawn(self) -> int:
        return int(self.samples.shape[0])


Sampler = Literal["cmsgen", "unigen"]
SAMPLERS: tuple[Sampler, ...] = ("cmsgen", "unigen")


def sample(
    model: BnnModel | IlpModel,
    formula: CnfFormula,
    query: Query,
    count: int,
    *,
    seed: int = 0,
    unique: bool = False,
    sampler: Sampler = "cmsgen",
    on_sample: Callable[[int], None] | None = None,
) -> SampleResult:
    """Draw ``count`` inputs that answer ``query`` (fewer if unique and the preimage runs out).

    ``on_sample(drawn)`` is called after each draw (for progress bars).  KeyboardInterrupt stops
    the draws and returns what was drawn, marked ``interrupted``.
    """
    if count < 0:
        raise ModelError("the number of samples must be at least 0")
    if sampler == "unigen":
        if unique:
            raise ModelError("unique sampling (blocking each sample) needs the cmsgen sampler")
        return _sample_unigen(formula, query, count, seed=seed, on_sample=on_sample)
    if sampler != "cmsgen":
        raise ModelError(f"unknown sampler {sampler!r}; choose cmsgen or unigen")
    import pycmsgen  # imported here: compiling alone never pays for it

    start = time.perf_counter()
    extra = query_clauses(query, formula)
    n_inputs = formula.layout.n_inputs
    solver = pycmsgen.Solver(seed=seed)
    solver.add_clauses(formula.clauses)
    solver.add_clauses(extra.clauses)
    inputs = list(range(1, n_inputs + 1))
    rows: list[NDArray[np.bool_]] = []
    exhausted = interrupted = False
    try:
        while len(rows) < count:
            satisfiable, values = solver.solve()
            if not satisfiable:
                exhausted = True
                break
            # values[v] is the value of variable v (values[0] is None); an input no clause
            # mentions is unconstrained and reported as None: either value answers the query.
            row = np.fromiter((bool(values[v]) for v in inputs), dtype=bool, count=n_inputs)
            rows.append(row)
            if unique:
                solver.add_clause(
                    [-v if b else v for v, b in zip(inputs, row.tolist(), strict=True)]
                )
            if on_sample is not None:
                on_sample(len(rows))
    except KeyboardInterrupt:
        interrupted = True
    samples = np.array(rows, dtype=bool).reshape(len(rows), n_inputs)
    result = SampleResult(
        query, samples, count, exhausted, interrupted, time.perf_counter() - start
    )
    return result


def _sample_unigen(
    formula: CnfFormula,
    query: Query,
    count: int,
    *,
    seed: int,
    on_sample: Callable[[int], None] | None,
) -> SampleResult:
    import pyunigen
    from pysat.solvers import Solver

    start = time.perf_counter()
    extra = query_clauses(query, formula)
    n_inputs = formula.layout.n_inputs
    # UniGen does not return on an unsatisfiable formula (pyunigen 2.5.8), so ask a solver first.
    clauses = formula.clauses.joined(extra.clauses)
    with Solver(name="cadical195", bootstrap_with=clauses) as solver:
        if not solver.solve():
            empty = np.zeros((0, n_inputs), dtype=bool)
            return SampleResult(query, empty, count, True, False, time.perf_counter() - start)
    inputs = list(range(1, n_inputs + 1))
    sampler = pyunigen.Sampler(seed=seed)
    for clause in clauses:
        sampler.add_clause(clause)
    # pyunigen draws everything in one call (sample() may be called once per sampler), so
    # there is no progress to report until it returns, and Ctrl-C keeps nothing.
    cells, _hashes, drawn = sampler.sample(num=count, sampling_set=inputs) if count else (0, 0, [])
    rows: list[NDArray[np.bool_]] = []
    for model_lits in drawn:
        row = np.zeros(n_inputs, dtype=bool)
        for lit in model_lits:
            if 0 < abs(lit) <= n_inputs:
                row[abs(lit) - 1] = lit > 0
        rows.append(row)
    if on_sample is not None and rows:
        on_sample(len(rows))
    exhausted = count > 0 and cells == 0  # no input answers the query
    interrupted = False
    samples = np.array(rows[:count], dtype=bool).reshape(-1, n_inputs)
    return SampleResult(query, samples, count, exhausted, interrupted, time.perf_counter() - start)


def validate_samples(model: BnnModel | IlpModel, result: SampleResult) -> None:
    """Check every sample against the reference and the model itself (InternalError if not)."""
    if result.drawn:
        validate_inputs(model, result.query, result.samples, what="sample")


def frequencies(samples: NDArray[np.bool_]) -> dict[bytes, int]:
    """How often each distinct input occurs (for uniformity checks)."""
    counts: dict[bytes, int] = {}
    for row in np.packbits(samples, axis=-1):
        key = row.tobytes()
        counts[key] = counts.get(key, 0) + 1
    return counts
