"""Deciding a query on a compiled formula (inversion) and inference through the formula.

:func:`check_sat` tries a witness search by simulation first (:mod:`bnnc.engines.search`), then
asks a solver from the registry: a :class:`~bnnc.engines.base.Decider` on the CNF (CaDiCaL) or a
:class:`~bnnc.engines.base.NativeDecider` on the ILP stage (Exact, CP-SAT; ``auto`` is Exact
when it is installed).  Both verbs check their answer against the reference inference before
returning it: a witness that the network does not give the target label, or an inferred label
that differs from the reference, is a bug in bnnc and raises
:class:`~bnnc.errors.InternalError`.  Propagation (inference, and
confirming a search witness through the formula) runs on MiniSat
(:func:`bnnc.engines.cadical.propagator`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sized
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from bnnc.engines import registry
from bnnc.engines.base import Answer, Clauses, Decision
from bnnc.engines.cadical import SOLVER as SOLVER  # re-exported: bench/npaq_baseline.py uses it
from bnnc.engines.cadical import propagator
from bnnc.engines.pattern_search import pattern_search
from bnnc.engines.pb import pb_problem
from bnnc.engines.region_points import enumeration_size, region_points
from bnnc.engines.search import default_budget
from bnnc.engines.search import search as simulate
from bnnc.engines.switch_bound import PATTERN_CHECKS, switch_bound
from bnnc.engines.tabulate import TABULATE_AUTO, TABULATE_WIDE, tabulate
from bnnc.errors import InternalError, UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.cnf import CnfFormula
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.reference import predict
from bnnc.ir.region import Region
from bnnc.passes.fast_predict import fast_predict
from bnnc.passes.lower_query import query_clauses
from bnnc.passes.pipeline import compile_model


@dataclass(frozen=True)
class SatResult:
    query: Query
    satisfiable: bool | None  # None: the time limit ran out before an answer (see ``status``)
    witness: NDArray[np.bool_] | None  # input bits (True = +1) that answer the query
    method: str = "sat"  # how it was found: "sat" (the solver), "search", "enumerate", "tabulate"
    reason: str = ""  # why that method (the automatic choice says so)
    solver: str = ""  # the solver that answered (method "sat"): cadical, exact, cpsat

    @property
    def label(self) -> int | None:
        return self.query.label

    @property
    def status(self) -> Answer:
        """SAT, UNSAT, or UNKNOWN (the time limit ran out)."""
        if self.satisfiable is None:
            return Answer.UNKNOWN
        return Answer.SAT if self.satisfiable else Answer.UNSAT


def _input_assumptions(bits: NDArray[np.bool_]) -> list[int]:
    return [v if b else -v for v, b in enumerate(bits.tolist(), start=1)]


CONFIRM_CLAUSES = 100_000
"""The largest formula a search witness is confirmed through (see _confirm_through_formula)."""


def _confirm_through_formula(clauses: Clauses, num_vars: int, bits: NDArray[np.bool_]) -> None:
    """Check that the formula (with the query's clauses) has a model with these inputs.

    Every other variable is a function of the inputs, so unit propagation often assigns them
    all without a conflict, which proves it; when it leaves some open (the adder encoding
    leaves a few on TFC-w1a1), a solve under the input assumptions decides, in milliseconds.
    No model means the formula disagrees with the reference inference, which accepted the
    inputs: a bnnc bug.

    Loading the formula costs more than finding the witness once it is large (0.8 s for the
    420k clauses of TFC-w1a1 at 8 flips, against 0.1 s of pattern search), so formulas above
    :data:`CONFIRM_CLAUSES` are not consulted: the witness is still checked by the reference
    and by the model itself (:func:`validate_inputs`), which is what the answer rests on; the
    test suite keeps confirming witnesses through the (smaller) formulas it compiles.
    """
    if isinstance(clauses, Sized) and len(clauses) > CONFIRM_CLAUSES:
        return
    assumptions = _input_assumptions(bits)
    with propagator(clauses) as solver:
        ok, implied = solver.propagate(assumptions)
        if ok and len({abs(lit) for lit in implied}) == num_vars:
            return
        if solver.solve(assumptions):
            return
    raise InternalError(
        "the formula has no model with the inputs of a witness that the reference inference "
        "accepts; the formula disagrees with the network (please report this as a bnnc bug)"
    )


def _phases_from(
    clauses: Clauses, bits: NDArray[np.bool_], n_inputs: int, n_classes: int
) -> list[int]:
    """The literals unit propagation implies from the input bits ``bits``: the whole network
    state of that input, as preferred phases for the solver (outputs excluded)."""
    assumptions = _input_assumptions(bits)
    with propagator(clauses) as solver:
        ok, implied = solver.propagate(assumptions)
    if not ok:
        return assumptions
    return assumptions + [lit for lit in implied if abs(lit) > n_inputs + n_classes]


def make_query(
    model: BnnModel | IlpModel, label: int | None = None, query: Query | None = None
) -> Query:
    """``query``, with ``label`` required on top of it (the common case: label alone)."""
    if query is None:
        query = Query(Region.everything(model.n_inputs))
    if label is not None:
        if query.label is not None and query.label != label:
            raise UsageError(
                f"the query asks for label {query.label}, not {label}", parameter="label"
            )
        query = replace(query, label=label)
    query.check(model.n_classes)
    return query


METHODS = ("auto", "enumerate", "sat")
"""How :func:`check_sat` decides: ``enumerate`` runs the reference inference on every input of
the region (exact, no formula needed); ``sat`` runs the witness search (with ``search``) and
then the solver; ``auto`` enumerates regions of at most :data:`ENUMERATE_AUTO` inputs, and
otherwise gives the solver :data:`QUICK_SOLVE` seconds before the search and the solver."""

ENUMERATE_AUTO = 4096
"""The largest region ``auto`` enumerates.  Measured on TFC-w1a1 robustness queries: the
reference runs ~70 µs per input, and the specialised formula of a small ball is decided in
well under 0.3 s, so enumeration pays up to a few thousand inputs."""


FIRST_SEARCH_SHARE = 16
"""``auto`` first runs the witness search on the *specialised* network with 1/16 of its default
budget (about 0.1 s on TFC-w1a1).  Specialised, the network has no constant neuron left to blur
the search's smooth objective: on TFC-w1a1 at 8 flips it finds 95 of the 99 counterexamples of
images 0–99 in 0.003–0.09 s, image 57's among them (14 first-layer neurons switched, out of
reach of the pattern search; the solver needed 42 s), where the search on the whole network
missed it with 10 times the budget on seed 0."""

SWITCH_BOUND = 1.0
"""Seconds ``auto`` gives Exact to show that no input of the ball switches as many first-layer
neurons as every answering pattern needs (:mod:`bnnc.engines.switch_bound`); it answers in
milliseconds on TFC-w1a1."""

QUICK_SOLVE = 0.3
"""Seconds ``auto`` gives the solver before it runs the witness search (see check_sat)."""


def check_sat(
    model: BnnModel | IlpModel,
    formula: CnfFormula,
    label: int | None = None,
    *,
    query: Query | None = None,
    search: bool = True,
    solver: str = "auto",
    time_limit: float | None = None,
    method: str = "auto",
    ilp: IlpModel | None = None,
) -> SatResult:
    """Is there an input that answers the query (by default: that the network gives ``label``)?

    Returns a witness checked by the reference inference and, for ONNX models, by the model
    itself; or proves that there is none.

    With ``search`` (the default), a short witness search by simulation (``bnnc.engines.search``)
    runs first; an input it finds is also checked through the formula and returned with
    ``method="search"``.  Otherwise the decider ``solver`` decides (a name in
    :data:`bnnc.engines.registry.SOLVERS`: ``auto``, the fastest installed one per the
    benchmark; a CNF decider, which starts from the network state of the search's best point;
    or a native one, which takes the ILP stage as pseudo-Boolean constraints: ``ilp``, the ILP
    the formula was compiled from, ``Compilation.lowered``, recompiled here if not given).
    UNSAT comes from the solver, or from tabulation and the switch bound (below), never from
    a search.

    ``time_limit`` (seconds) covers the search and the solver together; when it runs out first
    the result is UNKNOWN (``satisfiable`` None), if the solver honours it (CaDiCaL does).

    ``ilp`` is the (specialised) ILP ``formula`` was compiled from; with it, ``auto`` first
    tabulates the patterns of the free neurons of one of its layers
    (:mod:`bnnc.engines.tabulate`), which proves many robustness queries unsatisfiable without
    a solver, runs the witness search on that specialised network (its sharper objective finds
    counterexamples the whole network's hides), and steers the first layer towards the
    patterns that answer the query
    (:mod:`bnnc.engines.pattern_search`).
    """
    query = make_query(model, label, query)
    if method not in METHODS:
        raise UsageError(
            f"unknown method {method!r}; choose {', '.join(METHODS)}", parameter="method"
        )
    chosen = registry.resolve_solver(solver)
    if registry.is_native(chosen):  # a missing backend is an error before any work
        registry.native_decider(chosen)
    else:
        registry.decider(chosen)
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    size = enumeration_size(query.region)
    if method == "enumerate" or (method == "auto" and size <= ENUMERATE_AUTO):
        reason = "asked for" if method == "enumerate" else f"{size} inputs ≤ {ENUMERATE_AUTO}"
        return _enumerate(model, query, deadline, reason)
    reason = "asked for" if method == "sat" else f"{_size_text(size)} inputs > {ENUMERATE_AUTO}"
    extra = query_clauses(query, formula)  # also checks that the formula covers the region
    clauses = formula.clauses.joined(extra.clauses)
    if method == "auto" and ilp is not None:
        early = _before_the_solver(model, ilp, query, chosen, deadline, reason)
        if early is not None:
            if early.witness is not None:
                _confirm_through_formula(clauses, extra.num_vars, early.witness)
            return early
    n_inputs = formula.layout.n_inputs
    decide = _solver(chosen, model, formula, query, ilp, clauses, extra.num_vars)
    phases: list[int] = []
    if search and method == "auto":
        # A specialised formula is often decided in milliseconds, while the witness search
        # spends its whole budget (about a second on TFC-w1a1) before giving up on a robust
        # input: let the solver try briefly first.
        quick = QUICK_SOLVE if deadline is None else min(QUICK_SOLVE, _remaining(deadline) or 0.0)
        decision = decide([], quick)
        if decision.satisfiable is not None:
            return _decided(
                model, query, decision, n_inputs, f"{reason}; the solver within {quick:g} s", chosen
            )
        reason += f"; not decided within {quick:g} s: search, then the solver"
    if search:
        # On the specialised network when there is one: its objective is sharper (see
        # FIRST_SEARCH_SHARE).
        network = model if ilp is None else ilp
        found = simulate(
            network, query, budget=default_budget(network), time_limit=_remaining(deadline)
        )
        if found.witness is not None:
            witness = found.witness.copy()
            _confirm_through_formula(clauses, extra.num_vars, witness)
            validate_inputs(model, query, witness[None, :], what="witness")
            return SatResult(query, True, witness, method="search", reason=reason)
        if found.best is not None:
            phases = _phases_from(clauses, found.best, n_inputs, model.n_classes)
    decision = decide(phases, _remaining(deadline))
    return _decided(model, query, decision, n_inputs, reason, chosen)


Decide = Callable[[list[int], float | None], Decision]  # (phases, time limit) → answer


def _solver(
    name: str,
    model: BnnModel | IlpModel,
    formula: CnfFormula,
    query: Query,
    ilp: IlpModel | None,
    clauses: Clauses,
    num_vars: int,
) -> Decide:
    """The solver ``name`` as one call: on the CNF with the query's clauses, or (native) on the
    ILP stage with the query as pseudo-Boolean constraints, built once for every call."""
    if not registry.is_native(name):
        decider = registry.decider(name)
        return lambda phases, limit: decider.decide(
            clauses, num_vars, phases=phases, time_limit=limit
        )
    native = registry.native_decider(name)
    if ilp is None:  # the ILP the formula was compiled from: specialised to the same region
        ilp = compile_model(model, until="spec", region=formula.region).lowered
        assert ilp is not None
    problem = pb_problem(ilp, query)
    return lambda _phases, limit: native.decide(problem, time_limit=limit)


def _before_the_solver(
    model: BnnModel | IlpModel,
    ilp: IlpModel,
    query: Query,
    chosen: str,
    deadline: float | None,
    reason: str,
) -> SatResult | None:
    """``auto``'s steps that need the (specialised) ILP only, not the formula: tabulation, a
    short witness search on the specialised network, the pattern search and, with Exact, the
    switch bound.  A witness is validated here."""
    table = tabulate(ilp, TABULATE_AUTO)
    if table is not None and table.rules_out(query):
        return SatResult(
            query, False, None, method="tabulate", reason=f"{reason}; {table.describe()}"
        )
    searched = False
    free = int(ilp.layers[0].weights.any(axis=1).sum()) if ilp.layers else 0
    if (table is None or table.index != 0) and (1 << min(free, 63)) <= TABULATE_WIDE:
        # The first layer has more patterns: a short search first, which usually finds a
        # counterexample sooner than the wider table lists them.
        searched = True
        found = _search_specialised(model, ilp, query, deadline, reason)
        if found is not None:
            return found
        table = tabulate(ilp, TABULATE_WIDE)
        if table is not None and table.rules_out(query):
            return SatResult(
                query, False, None, method="tabulate", reason=f"{reason}; {table.describe()}"
            )
    # A short complete list of answering first-layer patterns is for the pattern search and
    # then Exact, pattern by pattern (which decides the query either way); otherwise the search
    # on the specialised network usually finds a counterexample first.
    answering = 0 if table is None or table.index != 0 else int(table.answering(query).sum())
    exact_patterns = chosen == "exact" and 0 < answering <= PATTERN_CHECKS
    if not searched and not exact_patterns:
        found = _search_specialised(model, ilp, query, deadline, reason)
        if found is not None:
            return found
    point = pattern_search(ilp, table, query, deadline=deadline)
    if point is not None:
        validate_inputs(model, query, point[None, :], what="witness")
        why = f"{reason}; the first layer's free neurons steered to a pattern that answers"
        return SatResult(query, True, point, method="search", reason=why)
    left = _remaining(deadline)
    limit = SWITCH_BOUND if left is None else min(SWITCH_BOUND, left)
    # The count is a job for Exact: only when it is the solver in use (auto picks it when
    # installed), so that --solver cadical or cpsat means what it says.
    bound = switch_bound(ilp, table, query, limit) if chosen == "exact" else None
    if bound is not None and bound.proved:
        return SatResult(
            query, False, None, method="tabulate", reason=f"{reason}; {bound.describe()}"
        )
    if bound is not None and bound.witness is not None:
        validate_inputs(model, query, bound.witness[None, :], what="witness")
        why = f"{reason}; Exact reached one of the {answering} first-layer patterns that answer"
        return SatResult(query, True, bound.witness, method="tabulate", reason=why)
    return None


def _search_specialised(
    model: BnnModel | IlpModel,
    ilp: IlpModel,
    query: Query,
    deadline: float | None,
    reason: str,
) -> SatResult | None:
    """The short witness search on the specialised network (see FIRST_SEARCH_SHARE)."""
    budget = default_budget(ilp) // FIRST_SEARCH_SHARE
    found = simulate(ilp, query, budget=budget, time_limit=_remaining(deadline))
    if found.witness is None:
        return None
    validate_inputs(model, query, found.witness[None, :], what="witness")
    why = f"{reason}; the witness search on the network specialised to the region"
    return SatResult(query, True, found.witness.copy(), method="search", reason=why)


def check_sat_before_formula(
    model: BnnModel | IlpModel,
    ilp: IlpModel,
    query: Query,
    *,
    solver: str = "auto",
    time_limit: float | None = None,
) -> SatResult | None:
    """What ``check_sat(..., method="auto")`` answers before it needs the formula: the
    enumeration of a small region, tabulation, the searches and the switch bound; None
    when the formula (and a solver) is needed.  ``ilp`` must be the ILP specialised to the
    query's region (or the whole ILP)."""
    query.check(model.n_classes)
    chosen = registry.resolve_solver(solver)
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    size = enumeration_size(query.region)
    if size <= ENUMERATE_AUTO:
        return _enumerate(model, query, deadline, f"{size} inputs ≤ {ENUMERATE_AUTO}")
    reason = f"{_size_text(size)} inputs > {ENUMERATE_AUTO}"
    return _before_the_solver(model, ilp, query, chosen, deadline, reason)


def _decided(
    model: BnnModel | IlpModel,
    query: Query,
    decision: Decision,
    n_inputs: int,
    reason: str,
    solver: str,
) -> SatResult:
    """The solver's answer, its witness validated."""
    if decision.values is None:
        return SatResult(query, decision.satisfiable, None, reason=reason, solver=solver)
    witness = decision.values[1 : n_inputs + 1].copy()
    validate_inputs(model, query, witness[None, :], what="witness")
    return SatResult(query, True, witness, reason=reason, solver=solver)


def _size_text(size: int) -> str:
    return f"{size:,}" if size < 10**9 else f"~{size:.2e}"


def _enumerate(
    model: BnnModel | IlpModel, query: Query, deadline: float | None, reason: str
) -> SatResult:
    """Run the reference on every input of the region until one answers the query."""
    for rows in region_points(query.region):
        if deadline is not None and time.perf_counter() > deadline:
            return SatResult(query, None, None, method="enumerate", reason=reason)
        labels = fast_predict(model, rows)  # bit-packed; the witness is re-checked below
        hits = np.flatnonzero(query.wants(labels))  # every row lies in the region by construction
        if hits.size:
            witness = rows[hits[0]].copy()
            validate_inputs(model, query, witness[None, :], what="witness")
            return SatResult(query, True, witness, method="enumerate", reason=reason)
    return SatResult(query, False, None, method="enumerate", reason=reason)


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.perf_counter())


def validate_inputs(
    model: BnnModel | IlpModel, query: Query, inputs: NDArray[np.bool_], *, what: str
) -> None:
    """Check that every row of ``inputs`` answers ``query``, by the reference inference and by
    the model's own framework; a row that does not is a bnnc bug (InternalError)."""
    accepted = query.accepts(model, inputs)
    if not accepted.all():
        row = int(np.flatnonzero(~accepted)[0])
        got = int(predict(model, inputs[row]))
        raise InternalError(
            f"{what} {row} does not answer the query ({query.describe_plain()}): the reference "
            f"inference labels it {got}; the formula disagrees with the network "
            "(please report this as a bnnc bug)"
        )
    if isinstance(model, BnnModel) and model.framework_predict is not None:
        labels = np.asarray(model.framework_predict(inputs)).reshape(-1)
        for row, got in enumerate(labels.tolist()):
            wrong = (query.label is not None and got != query.label) or (
                query.not_label is not None and got == query.not_label
            )
            if wrong:
                raise InternalError(
                    f"the model itself labels the input tensor of {what} {row} {got} "
                    f"({query.describe_plain()}; please report this as a bnnc bug)"
                )


def _check_with_framework(model: BnnModel | IlpModel, bits: NDArray[np.bool_], label: int) -> None:
    """Run the model's own framework on the input tensor the bits stand for."""
    if isinstance(model, BnnModel) and model.framework_predict is not None:
        got = int(model.framework_predict(bits))
        if got != label:
            raise InternalError(
                f"the model itself labels the input tensor of this input {got}, not {label} "
                "(please report this as a bnnc bug)"
            )


def formula_labels(formula: CnfFormula, inputs: NDArray[np.bool_]) -> list[list[int]]:
    """For each row of input bits, the output labels true in the formula's model.

    Every auxiliary variable is defined by equivalences from the inputs, so unit propagation
    alone normally fixes every output (54 ms on an 800k-clause formula, against ~0.3 s for a
    full solve); a row it leaves open, or finds contradictory, is solved in full.
    """
    layout = formula.layout
    outputs = [layout.output_var(c) for c in range(layout.n_classes)]
    result: list[list[int]] = []
    # MiniSat propagates about 4x faster than CaDiCaL through pysat (41 vs 189 ms per input
    # on TFC-w1a1); inference is propagation, so it gets the faster engine.
    with propagator(formula.clauses) as solver:
        for row in np.asarray(inputs, dtype=bool).reshape(-1, layout.n_inputs):
            assumptions = [v if b else -v for v, b in enumerate(row.tolist(), start=1)]
            ok, implied = solver.propagate(assumptions)
            values = {abs(lit): lit > 0 for lit in implied} if ok else {}
            if not all(var in values for var in outputs):
                if not solver.solve(assumptions):
                    result.append([])
                    continue
                values = {abs(lit): lit > 0 for lit in solver.model()}
            result.append([c for c, var in enumerate(outputs) if values.get(var, False)])
    return result


def infer(model: BnnModel | IlpModel, formula: CnfFormula, bits: NDArray[np.bool_]) -> int:
    """The paper's I(X = x): fix the inputs, solve, read the one true output variable."""
    layout = formula.layout
    if bits.shape != (layout.n_inputs,):
        raise UsageError(
            f"expected {layout.n_inputs} input bits, got {bits.size}", parameter="bits"
        )
    outputs = formula_labels(formula, bits[None, :])[0]
    if not outputs:
        raise InternalError("the formula has no model for this input (please report this bug)")
    expected = int(predict(model, bits))
    _check_with_framework(model, bits, expected)
    if outputs != [expected]:
        raise InternalError(
            f"the formula gives labels {outputs} where the reference gives {expected} "
            "(please report this as a bnnc bug)"
        )
    return expected
