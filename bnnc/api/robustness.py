"""The exact L0 robustness radius of a network at an input (``bnnc robustness``).

The radius at x is the largest k such that no input within k bit flips of x gets another label
than x.  "Another label within k flips?" is monotone in k, so the search keeps two bounds: the
largest k proved robust (``lo``, UNSAT) and the fewest flips of a counterexample found (``hi``,
SAT); the radius is ``lo`` once ``hi = lo + 1``.

1. **small radii**: while the ball is small enough to enumerate, each k is compiled for its own
   ball (which folds almost every neuron) and decided by enumeration with the bit-packed
   reference — microseconds per input;
2. **an upper bound by simulation**, once: the witness search looks for a counterexample within
   ``max_flips`` flips, which :func:`~bnnc.engines.radius.minimise` then shrinks.  The radii
   below it need only be proved robust: the SAT call at the boundary, often the hardest, is
   never made;
3. **the radii left**, strategy ``per-radius`` (the default): upward, each compiled for its own
   ball and decided by the solver (the search already ran).  Strategy ``incremental``: one
   solver (:class:`~bnnc.engines.radius.BallSession`) holds the network specialised to the
   largest ball still in question, and every radius is a solve under an assumption on a
   totalizer over the flips, largest first; UNSAT closes the search, SAT lowers the ceiling.

Each radius asked afresh goes through ``check_sat``'s ``auto``: on TFC-w1a1 the tabulation of
the first layer's free neurons proves most radii up to 8 robust in milliseconds, and the
pattern search finds the counterexample at the boundary (images 0–7, ``--max-flips 8``: seven
settled in 2–4 s on a loaded machine, where the solver needed minutes).

Measured on TFC-w1a1 (``bench/robustness.py``), ``per-radius`` wins: a ball of k flips
specialises the network far more than the ball of the largest radius does (1/1/1 free neurons
at k = 1 against 36/64/64 at k = 16), and that outweighs what one solver carries over from
radius to radius.  ``incremental`` is kept for that comparison and for networks where
specialisation folds little.  Every counterexample is validated by the
reference inference and, for ONNX models, by the model itself, and is minimal: the radius just
below it was proved robust.  A time limit covers the whole search; when it runs out the answer
is ``unknown``, with the radius known to be at least ``radius`` (and below the counterexample's
flips, if one was found).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnnc.engines.base import Decision
from bnnc.engines.child import ChildTimeout, call_with_deadline
from bnnc.engines.decide import (
    ENUMERATE_AUTO,
    SatResult,
    check_sat,
    check_sat_before_formula,
    validate_inputs,
)
from bnnc.engines.radius import BallSession, flips, minimise, remaining
from bnnc.engines.region_points import enumeration_size
from bnnc.engines.search import default_budget
from bnnc.engines.search import search as simulate
from bnnc.errors import UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.reference import predict
from bnnc.ir.region import Region
from bnnc.passes.pipeline import compile_model

Model = BnnModel | IlpModel

STRATEGIES = ("per-radius", "incremental")

SEARCH_SHARE = 4
"""The witness search of step 2 runs with 1/4 of its default budget (~0.25 s on TFC-w1a1): it
finds counterexamples to non-robust inputs within a fraction of a second there, and proves
nothing about robust ones.  A budget, not a time: the same records on a busy machine as on a
quiet one (a sweep's records on Dask and on the local pool differed in one counterexample
where a 0.5 s limit cut one run's search short)."""


@dataclass(frozen=True)
class RadiusStep:
    """One question asked: the answer at ``flips`` flips, how it was found, its time."""

    flips: int
    result: SatResult
    seconds: float
    free_neurons: tuple[int, ...]  # per hidden layer, after specialisation to the ball


@dataclass(frozen=True)
class Robustness:
    """The robustness of ``model`` at ``center`` up to ``max_flips`` flips.

    ``status``: ``robust`` (no counterexample within ``max_flips``), ``radius`` (a minimal
    counterexample at ``radius + 1`` flips) or ``unknown`` (the time limit ran out; the radius is
    at least ``radius``, and below the flips of ``counterexample`` if there is one).
    """

    label: int
    max_flips: int
    status: str
    radius: int
    counterexample: NDArray[np.bool_] | None
    counterexample_label: int | None
    steps: tuple[RadiusStep, ...]
    seconds: float
    strategy: str = "per-radius"
    counterexample_flips: int | None = None  # its Hamming distance to the centre


_SEARCHED = "the witness search within max_flips, for an upper bound"
_INCREMENTAL = "one solver for every radius, specialised to the largest ball in question"


class _Search:
    """The bounds of one radius search and the steps that found them."""

    def __init__(self, model: Model, center: NDArray[np.bool_], label: int, region: Region) -> None:
        self.model, self.center, self.label = model, center, label
        self.region = region  # the largest region asked about: the counterexamples stay in it
        self.lo = 0  # proved: no other label within lo flips (the centre's own label)
        self.hi: int | None = None  # a counterexample with this many flips is known
        self.counterexample: NDArray[np.bool_] | None = None
        self.steps: list[RadiusStep] = []

    def found(self, witness: NDArray[np.bool_]) -> None:
        smaller = minimise(self.model, self.center, witness, self.label, self.region)
        count = flips(self.center, smaller)
        if self.hi is None or count < self.hi:
            self.hi, self.counterexample = count, smaller

    def record(self, k: int, result: SatResult, began: float, free: tuple[int, ...]) -> None:
        self.add(RadiusStep(k, result, time.perf_counter() - began, free))

    def add(self, step: RadiusStep) -> None:
        self.steps.append(step)
        k, result = step.flips, step.result
        if result.satisfiable is False:
            self.lo = max(self.lo, k)
        elif result.satisfiable:
            assert result.witness is not None
            self.found(result.witness)

    def ceiling(self, max_flips: int) -> int:
        """The largest radius still in question."""
        return max_flips if self.hi is None else min(max_flips, self.hi - 1)


def robustness(
    model: Model,
    center: ArrayLike,
    max_flips: int,
    *,
    encoding: str = "adder",
    solver: str = "auto",
    method: str = "auto",
    time_limit: float | None = None,
    strategy: str = "per-radius",
    ilp: IlpModel | None = None,
) -> Robustness:
    """The exact robustness radius of ``model`` at the input ``center`` (bits, True = +1), up
    to ``max_flips`` flips, with a minimal counterexample when there is one.  ``ilp``: the
    model's ILP stage with ``encoding``, when the caller asks about many inputs (a sweep
    compiles it once per worker)."""
    if max_flips < 0:
        raise UsageError(f"max_flips must be at least 0, got {max_flips}", parameter="max_flips")
    if strategy not in STRATEGIES:
        raise UsageError(
            f"unknown strategy {strategy!r}; choose {' or '.join(STRATEGIES)}",
            parameter="strategy",
        )
    if strategy == "incremental" and solver not in ("auto", "cadical"):
        raise UsageError(
            "the incremental strategy runs CaDiCaL under assumptions; it takes no other solver",
            parameter="solver",
        )
    bits = np.asarray(center, dtype=bool).reshape(-1)
    if bits.size != model.n_inputs:
        raise UsageError(
            f"the model takes {model.n_inputs} input bits, got {bits.size}", parameter="near"
        )
    start = time.perf_counter()
    deadline = None if time_limit is None else start + time_limit
    if ilp is None:
        ilp = compile_model(model, encoding, until="ilp").ilp  # shared by every radius
        assert ilp is not None
    base = model.region

    def ball(k: int) -> Region:
        return Region.ball(bits, k) if base is None else base.intersect(Region.ball(bits, k))

    state = _Search(model, bits, int(predict(model, bits[None, :])[0]), ball(max_flips))

    def afresh(k: int, search: bool) -> SatResult:
        """Decide radius k on the network specialised to its own ball."""
        began = time.perf_counter()
        region = ball(k)  # the same object: the formula is exact on this region only
        # Lazy: most radii are answered on the specialised ILP before any CNF is built (0.3 s
        # per radius on TFC-w1a1).
        compiled = compile_model(ilp, encoding, region=region, lazy=method == "auto")
        query = Query(region, not_label=state.label)
        early = None
        if method == "auto" and compiled.lowered is not None:
            early = check_sat_before_formula(
                model, compiled.lowered, query, solver=solver, time_limit=remaining(deadline)
            )
        result = early or check_sat(
            model,
            compiled.formula,
            query=query,
            search=search,
            solver=solver,
            method=method,
            time_limit=remaining(deadline),
            ilp=compiled.lowered,
        )
        free = tuple(layer.free for layer in compiled.spec.layers) if compiled.spec else ()
        state.record(k, result, began, free)
        return result

    def settled() -> bool:
        return state.lo >= state.ceiling(max_flips)

    # 1. Small radii, each on its own ball: enumerable balls are decided in milliseconds.
    while (
        not settled()
        and method != "sat"
        and enumeration_size(ball(state.lo + 1)) <= (ENUMERATE_AUTO)
    ):
        if afresh(state.lo + 1, search=False).satisfiable is None:
            return _result(model, state, max_flips, start, strategy)  # the time ran out
    if settled():
        return _result(model, state, max_flips, start, strategy)

    # 2. An upper bound from the witness search, once for all radii.
    began = time.perf_counter()
    query = Query(ball(max_flips), not_label=state.label)
    # On the network specialised to the largest ball: a much sharper search (see
    # bnnc.engines.decide.FIRST_SEARCH_SHARE).
    widest = compile_model(ilp, encoding, until="spec", region=query.region).lowered
    network = model if widest is None else widest
    budget = default_budget(network) // SEARCH_SHARE
    outcome = simulate(network, query, budget=budget, time_limit=remaining(deadline))
    if outcome.witness is not None:
        result = SatResult(query, True, outcome.witness, method="search", reason=_SEARCHED)
        state.record(flips(bits, outcome.witness), result, began, ())

    # 3. The radii left: upward, each on its own ball (per-radius), or on one solver.
    if strategy == "per-radius" or method == "enumerate":
        while not settled():
            if afresh(state.lo + 1, search=False).satisfiable is None:
                break
    elif not settled():
        args = (model, state, ilp, encoding, ball, max_flips, deadline)
        left = remaining(deadline)
        if left is None:
            _incremental(*args)
        else:
            # A solve call under a conflict budget cannot be stopped inside CaDiCaL's
            # preprocessing of the large formula (seen to overrun 10 s limits by 15 s): the
            # session runs in a child process that is stopped at the deadline.
            try:
                steps = call_with_deadline(_incremental, *args, time_limit=left)
            except ChildTimeout:
                steps = []  # what the child learnt is lost with it: the answer is UNKNOWN
            for step in steps:
                state.add(step)
    return _result(model, state, max_flips, start, strategy)


def _incremental(
    model: Model,
    state: _Search,
    ilp: IlpModel,
    encoding: str,
    ball: Callable[[int], Region],
    max_flips: int,
    deadline: float | None,
) -> list[RadiusStep]:
    """Step 3 on one solver: the network specialised to the largest ball still in question,
    every radius an assumption, the largest first.  Returns the steps it added."""
    before = len(state.steps)
    top = state.ceiling(max_flips)
    began = time.perf_counter()
    region = ball(top)
    compiled = compile_model(ilp, encoding, region=region)
    free = tuple(layer.free for layer in compiled.spec.layers) if compiled.spec else ()
    query = Query(region, not_label=state.label)
    with BallSession(compiled.formula, query, state.center, top) as session:
        ask = top  # the largest radius we may still learn something about
        while state.lo < ask:
            left = remaining(deadline)
            if left is not None and left <= 0:
                break
            # With a time limit and radii to spare, ask with half of what is left, so that an
            # UNKNOWN at the top still leaves time to raise the lower bound below it.
            share = None if left is None else (left if ask == state.lo + 1 else left / 2)
            decision = session.decide(ask, share)
            asked = Query(ball(ask), not_label=state.label)
            result = _checked(model, asked, decision, state.center)
            state.record(ask, result, began, free)
            began = time.perf_counter()
            if result.satisfiable is None:
                ask = (state.lo + ask) // 2
            else:
                ask = min(ask, state.ceiling(max_flips))
    return state.steps[before:]


def _checked(
    model: Model, query: Query, decision: Decision, center: NDArray[np.bool_]
) -> SatResult:
    """The session's answer as a :class:`SatResult`, its witness validated."""
    reason = _INCREMENTAL
    if decision.values is None:
        return SatResult(query, decision.satisfiable, None, method="sat", reason=reason)
    witness = decision.values[1 : center.size + 1].copy()
    validate_inputs(model, query, witness[None, :], what="counterexample")
    return SatResult(query, True, witness, method="sat", reason=reason)


def _result(
    model: Model, state: _Search, max_flips: int, start: float, strategy: str
) -> Robustness:
    if state.hi is not None and state.lo + 1 >= state.hi:
        status = "radius"
    elif state.hi is None and state.lo >= max_flips:
        status = "robust"
    else:
        status = "unknown"
    example = state.counterexample
    other = None if example is None else int(predict(model, example[None, :])[0])
    if example is not None:  # minimised since it was found: check it once more
        near = state.region.intersect(Region.ball(state.center, flips(state.center, example)))
        query = Query(near, not_label=state.label)
        validate_inputs(model, query, example[None, :], what="counterexample")
    seconds = time.perf_counter() - start
    return Robustness(
        state.label,
        max_flips,
        status,
        min(state.lo, max_flips),
        example,
        other,
        tuple(state.steps),
        seconds,
        strategy,
        state.hi,
    )
