"""Sampling the inputs that answer a query, with a sampler from the registry: CMSGen
(``cmsgen``, the default) or UniGen (``unigen``).

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
replacement, and an UNSAT draw proves the preimage exhausted (CMSGen only).

Every sample is checked by the reference inference and, for ONNX models, by the model itself
(:func:`bnnc.engines.decide.validate_inputs`): a sample that does not answer the query is a bnnc bug
and raises :class:`~bnnc.errors.InternalError`, after the caller has been given what was drawn.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bnnc.engines import registry
from bnnc.engines.base import OnSample
from bnnc.engines.decide import validate_inputs
from bnnc.errors import UsageError
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
    timed_out: bool = False  # the time limit stopped the run; the samples drawn are kept

    @property
    def drawn(self) -> int:
        return int(self.samples.shape[0])


SAMPLERS: tuple[str, ...] = tuple(registry.SAMPLERS)


MAX_SAMPLE_BYTES = 2**32  # 4 GiB of samples: beyond that, -n is a typo, not a request


def sample(
    model: BnnModel | IlpModel,
    formula: CnfFormula,
    query: Query,
    count: int,
    *,
    seed: int = 0,
    unique: bool = False,
    sampler: str = "cmsgen",
    on_sample: OnSample | None = None,
    time_limit: float | None = None,
) -> SampleResult:
    """Draw ``count`` inputs that answer ``query`` (fewer if unique and the preimage runs out).

    ``sampler`` is a name in :data:`bnnc.engines.registry.SAMPLERS`.  ``on_sample(drawn)`` is
    called after each draw (for progress bars; UniGen calls it once, at the end).
    KeyboardInterrupt stops the draws and returns what was drawn, marked ``interrupted``;
    ``time_limit`` (seconds, where the sampler honours it: CMSGen does) likewise, marked
    ``timed_out``.
    """
    if count < 0:
        raise UsageError("the number of samples must be at least 0", parameter="n")
    backend = registry.sampler(sampler)
    if unique and not backend.supports_unique:
        able = [name for name in registry.SAMPLERS if registry.sampler(name).supports_unique]
        raise UsageError(
            f"unique sampling (blocking each sample) needs the {registry.choices(able)} "
            f"sampler, not {sampler}",
            parameter="unique",
        )
    n_inputs = formula.layout.n_inputs
    if count * n_inputs > MAX_SAMPLE_BYTES:  # the samples are held as one byte per bit
        raise UsageError(
            f"{count} samples of {n_inputs} bits would need {count * n_inputs / 2**30:.3g} GiB; "
            f"at most {MAX_SAMPLE_BYTES // n_inputs} in one run",
            parameter="n",
        )
    start = time.perf_counter()
    extra = query_clauses(query, formula)
    draws = backend.sample(
        formula.clauses.joined(extra.clauses),
        extra.num_vars,
        range(1, n_inputs + 1),
        count,
        seed=seed,
        unique=unique,
        on_sample=on_sample,
        time_limit=time_limit,
    )
    seconds = time.perf_counter() - start
    return SampleResult(
        query, draws.rows, count, draws.exhausted, draws.interrupted, seconds, draws.timed_out
    )


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
