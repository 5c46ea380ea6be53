"""The exact L0 robustness radius of a network at an input (``bnnc robustness``).

The radius at x is the largest k such that no input within k bit flips of x gets another label
than x.  For k = 1, 2, … up to ``max_flips`` the question "is there an input within k flips
that the network does not label L?" is compiled once more (the ILP stage is shared, each ball
specialises it afresh: a small ball folds almost every neuron) and decided: the first k that is
SAT gives a counterexample at exactly k flips, which is minimal since k − 1 was UNSAT.  Every
counterexample is validated by the reference inference and, for ONNX models, by the model
itself.  A time limit covers the whole search; when it runs out, the radius is known to be at
least the last k proved robust, and the answer says UNKNOWN beyond.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnnc.engines.decide import SatResult, check_sat
from bnnc.errors import UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.reference import predict
from bnnc.ir.region import Region
from bnnc.passes.pipeline import compile_model

Model = BnnModel | IlpModel


@dataclass(frozen=True)
class RadiusStep:
    """One radius tried: the answer at exactly this many flips, how it was found, its time."""

    flips: int
    result: SatResult
    seconds: float
    free_neurons: tuple[int, ...]  # per hidden layer, after specialisation to the ball


@dataclass(frozen=True)
class Robustness:
    """The robustness of ``model`` at ``center`` up to ``max_flips`` flips.

    ``status``: ``robust`` (no counterexample within ``max_flips``), ``radius`` (a minimal
    counterexample at ``radius + 1`` flips) or ``unknown`` (the time limit ran out; the radius is
    at least ``radius``).
    """

    label: int
    max_flips: int
    status: str
    radius: int
    counterexample: NDArray[np.bool_] | None
    counterexample_label: int | None
    steps: tuple[RadiusStep, ...]
    seconds: float


def robustness(
    model: Model,
    center: ArrayLike,
    max_flips: int,
    *,
    encoding: str = "adder",
    solver: str = "cadical",
    method: str = "auto",
    time_limit: float | None = None,
) -> Robustness:
    """The exact robustness radius of ``model`` at the input ``center`` (bits, True = +1), up
    to ``max_flips`` flips, with a minimal counterexample when there is one."""
    if max_flips < 0:
        raise UsageError(f"max_flips must be at least 0, got {max_flips}", parameter="max_flips")
    bits = np.asarray(center, dtype=bool).reshape(-1)
    if bits.size != model.n_inputs:
        raise UsageError(
            f"the model takes {model.n_inputs} input bits, got {bits.size}", parameter="near"
        )
    start = time.perf_counter()
    deadline = None if time_limit is None else start + time_limit
    label = int(predict(model, bits[None, :])[0])
    ilp = compile_model(model, encoding, until="ilp").ilp  # shared by every radius
    assert ilp is not None
    base = model.region
    steps: list[RadiusStep] = []
    for k in range(1, max_flips + 1):
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            return _result(label, max_flips, "unknown", k - 1, None, steps, start)
        ball = Region.ball(bits, k)
        region = ball if base is None else base.intersect(ball)
        step_start = time.perf_counter()
        compiled = compile_model(ilp, encoding, region=region)
        query = Query(region, not_label=label)
        result = check_sat(
            model, compiled.formula, query=query, solver=solver, method=method, time_limit=left
        )
        free = tuple(layer.free for layer in compiled.spec.layers) if compiled.spec else ()
        steps.append(RadiusStep(k, result, time.perf_counter() - step_start, free))
        if result.satisfiable is None:
            return _result(label, max_flips, "unknown", k - 1, None, steps, start)
        if result.satisfiable:
            assert result.witness is not None
            return _result(label, max_flips, "radius", k - 1, result.witness, steps, start, model)
    return _result(label, max_flips, "robust", max_flips, None, steps, start)


def _result(
    label: int,
    max_flips: int,
    status: str,
    radius: int,
    counterexample: NDArray[np.bool_] | None,
    steps: list[RadiusStep],
    start: float,
    model: Model | None = None,
) -> Robustness:
    other = None
    if counterexample is not None and model is not None:
        other = int(predict(model, counterexample[None, :])[0])
    seconds = time.perf_counter() - start
    return Robustness(
        label, max_flips, status, radius, counterexample, other, tuple(steps), seconds
    )
