"""Sampling the inputs that answer a query: exactly uniform from the network itself where that
is affordable, else with a sampler from the registry on the formula.

``sampler`` names one of :data:`SAMPLERS`:

* ``auto`` (default): ``enumerate`` when the query's region has at most
  :data:`~bnnc.engines.sample_direct.ENUMERATE_AUTO` inputs; else ``reject`` when a pilot of
  uniform inputs shows the preimage is common enough
  (:func:`~bnnc.engines.sample_direct.rejection_affordable`); else ``unigen``.  The result says
  which method drew and what it guarantees (:attr:`SampleResult.method`,
  :attr:`SampleResult.guarantee`).  The choice depends on the seed, not on the clock.
* ``enumerate`` and ``reject`` (:mod:`bnnc.engines.sample_direct`): *exactly* uniform, from the
  network's own arithmetic, no formula needed.
* ``unigen``: UniGen3 (Soos, Gocht, Meel, CAV 2020), almost-uniform with a guarantee: every
  input is drawn with probability within a factor (1 + ε) of uniform (ε = 0.8); it hashes the
  input variables with random XORs; driven in batches (:mod:`bnnc.engines.unigen`).
* ``cmsgen``: fast, "uniform-like" — a heuristic without a guarantee.  Measured on an
  enumerable preimage (91 inputs of a 9-6-4 network, 40 draws per input) its frequencies range
  from 5 to 112 where uniform gives about 40: a chi-square test rejects uniformity outright
  (``tests/engines/test_sampling.py`` keeps that measurement true).  Use it to *explore* a
  preimage, not to estimate proportions.

bnnc's formulas are parsimonious — every auxiliary variable is a function of the inputs, and so
is every variable a query adds — so each input that answers the query has exactly one model:
sampling models *is* sampling inputs, with no bias toward inputs that happen to have more
models.

With ``unique=True`` every sample is new: ``enumerate`` draws ranks without replacement (and,
asked for at least as many as there are, returns the whole preimage: ``exhausted``), ``reject``
drops repeats (uniform among the inputs not drawn yet), and ``cmsgen`` blocks each sample with
a clause before the next draw (an UNSAT draw proves the preimage exhausted).

Every sample is checked by the reference inference and, for ONNX models, by the model itself
(:func:`bnnc.engines.decide.validate_inputs`): a sample that does not answer the query is a bnnc bug
and raises :class:`~bnnc.errors.InternalError`, after the caller has been given what was drawn.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from bnnc.engines import registry
from bnnc.engines.base import OnSample
from bnnc.engines.decide import validate_inputs
from bnnc.engines.enumerate import MAX_ENUMERATE_INPUTS
from bnnc.engines.region_points import enumeration_size
from bnnc.engines.sample_direct import (
    REJECT_AUTO,
    Drawn,
    acceptance,
    enumerable,
    rejection_affordable,
    sample_by_enumeration,
    sample_by_rejection,
)
from bnnc.errors import EncodingLimitError, UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.cnf import CnfFormula
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.passes.lower_query import query_clauses

UNIGEN_EPSILON: Final = 0.8  # bnnc.engines.unigen.EPSILON (not imported: a backend module)
REJECT_MAX: Final = 4 * REJECT_AUTO  # inputs rejection tries before UniGen draws the rest
DIRECT: Final = ("enumerate", "reject")  # samplers that run the network, not the formula
SAMPLERS: tuple[str, ...] = ("auto", *DIRECT, *registry.SAMPLERS)
GUARANTEES: Final = {
    "enumerate": "exactly uniform",
    "reject": "exactly uniform",
    "unigen": f"almost-uniform: each input within a factor {1 + UNIGEN_EPSILON:g} of uniform",
    "reject+unigen": "exactly uniform (rejection), then almost-uniform (UniGen) for the rest",
    "cmsgen": "none: uniform-like heuristic, measured biased",
}
"""What each sampler promises about the distribution of its draws, in words."""


@dataclass(frozen=True)
class SampleResult:
    query: Query
    samples: NDArray[np.bool_]  # (drawn, n_inputs) input bits, True = +1
    requested: int
    exhausted: bool  # no input answers the query, or unique sampling drew the whole preimage
    interrupted: bool  # Ctrl-C stopped the run; the samples drawn so far are kept
    seconds: float
    timed_out: bool = False  # the time limit stopped the run; the samples drawn are kept
    method: str = "cmsgen"  # the sampler that drew them (auto says which)
    reason: str = ""  # why that sampler (auto)

    @property
    def drawn(self) -> int:
        return int(self.samples.shape[0])

    @property
    def guarantee(self) -> str:
        """What the sampler promises about the distribution of the samples."""
        return GUARANTEES.get(self.method, "none")


MAX_SAMPLE_BYTES = 2**32  # 4 GiB of samples: beyond that, -n is a typo, not a request


def choose_sampler(model: BnnModel | IlpModel, query: Query, n: int, seed: int) -> tuple[str, str]:
    """``auto``'s sampler for ``n`` samples of ``query``, and why (a pilot run decides between
    rejection and UniGen; it depends on the seed only)."""
    if enumerable(query.region):
        return "enumerate", "the region is small enough to enumerate: exactly uniform"
    accepted, tried = acceptance(model, query, seed=seed)
    if rejection_affordable(accepted, tried, n):
        return "reject", (
            f"{accepted:,} of {tried:,} uniform inputs of the region answer the query: "
            "rejection sampling, exactly uniform"
        )
    return "unigen", (
        f"{accepted:,} of {tried:,} uniform inputs of the region answer the query, too few "
        "for rejection sampling: UniGen, almost-uniform"
    )


def sample(
    model: BnnModel | IlpModel,
    formula: CnfFormula,
    query: Query,
    count: int,
    *,
    seed: int = 0,
    unique: bool = False,
    sampler: str = "auto",
    on_sample: OnSample | None = None,
    time_limit: float | None = None,
) -> SampleResult:
    """Draw ``count`` inputs that answer ``query`` (fewer if unique and the preimage runs out).

    ``sampler`` is a name in :data:`SAMPLERS` (see the module doc).  ``on_sample(drawn)`` is
    called as draws come in (for progress bars).  KeyboardInterrupt stops the draws and returns
    what was drawn, marked ``interrupted``; ``time_limit`` (seconds) likewise, marked
    ``timed_out``.
    """
    if count < 0:
        raise UsageError("the number of samples must be at least 0", parameter="n")
    if sampler not in SAMPLERS:
        raise UsageError(
            f"unknown sampler {sampler!r}; choose {registry.choices(list(SAMPLERS))}",
            parameter="sampler",
        )
    n_inputs = formula.layout.n_inputs
    if count * n_inputs > MAX_SAMPLE_BYTES:  # the samples are held as one byte per bit
        raise UsageError(
            f"{count} samples of {n_inputs} bits would need {count * n_inputs / 2**30:.3g} GiB; "
            f"at most {MAX_SAMPLE_BYTES // n_inputs} in one run",
            parameter="n",
        )
    start = time.perf_counter()
    reason = "asked for"
    if formula.order_encoded:
        # Integer inputs: the direct samplers draw bit vectors, most of which are no pixel
        # vector; through the formula, its order clauses make each pixel vector one model.
        if sampler in DIRECT:
            raise UsageError(
                f"sampling by {sampler} draws bit vectors; a model whose first layer reads "
                "integer inputs is sampled through its formula (unigen or cmsgen)",
                parameter="sampler",
            )
        if sampler == "auto":
            sampler, reason = "unigen", "integer inputs: sampled through the formula"
    if sampler == "auto":
        sampler, reason = choose_sampler(model, query, count, seed)
        if unique and sampler == "unigen":
            raise UsageError(
                f"unique sampling of this preimage needs --sampler cmsgen ({reason}; UniGen "
                "cannot block a sample before the next draw)",
                parameter="unique",
            )
    if sampler == "enumerate" and enumeration_size(query.region) > 1 << MAX_ENUMERATE_INPUTS:
        raise EncodingLimitError(
            f"sampling by enumeration would run the network on more than "
            f"2^{MAX_ENUMERATE_INPUTS} inputs (sample with reject or unigen)"
        )
    if sampler in DIRECT:
        direct = sample_by_enumeration if sampler == "enumerate" else sample_by_rejection
        left = None if time_limit is None else max(0.0, time_limit - (time.perf_counter() - start))
        drawn: Drawn = direct(
            model, query, count, seed=seed, unique=unique, on_drawn=on_sample, time_limit=left,
            **({"max_tries": REJECT_MAX} if sampler == "reject" else {}),
        )  # fmt: skip
        result = SampleResult(
            query, drawn.rows, count, drawn.exhausted, drawn.interrupted,
            time.perf_counter() - start, drawn.timed_out, sampler, reason,
        )  # fmt: skip
        short = count - result.drawn
        if sampler != "reject" or not short or unique or drawn.interrupted or drawn.timed_out:
            return result
        # Rejection gave up after REJECT_MAX inputs (a preimage rarer than its pilot said, or
        # an empty one): UniGen draws the rest.
        done = result.drawn

        def shifted(k: int) -> None:
            if on_sample is not None:
                on_sample(done + k)

        rest = sample(
            model, formula, query, short, seed=seed, sampler="unigen", on_sample=shifted,
            time_limit=None if time_limit is None else max(0.0, time_limit - result.seconds),
        )  # fmt: skip
        return SampleResult(
            query, np.concatenate([result.samples, rest.samples]), count, rest.exhausted,
            rest.interrupted, time.perf_counter() - start, rest.timed_out, "reject+unigen",
            f"{reason}; {REJECT_MAX:,} inputs gave {done}: UniGen drew the rest",
        )  # fmt: skip
    backend = registry.sampler(sampler)
    if unique and not backend.supports_unique:
        able = [*DIRECT]
        able += [name for name in registry.SAMPLERS if registry.sampler(name).supports_unique]
        raise UsageError(
            f"unique sampling (blocking each sample) needs the {registry.choices(able)} "
            f"sampler, not {sampler}",
            parameter="unique",
        )
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
        query, draws.rows, count, draws.exhausted, draws.interrupted, seconds, draws.timed_out,
        sampler, reason,
    )  # fmt: skip


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
