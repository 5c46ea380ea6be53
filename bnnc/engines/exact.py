"""Exact (PyPI ``exact``): a pseudo-Boolean solver with native reified linear constraints, as
the :class:`~bnnc.engines.base.NativeDecider` ``exact``.

Each neuron and comparison of the ILP stage is one ``addReification`` (head ⇔ Σ a·b ≥ B), a
ball one linear constraint, a clause one constraint ``Σ literals ≥ 1``: Exact learns cutting
planes on them instead of clauses over an encoding.  Measured on TFC-w1a1 robustness queries
(``bench/solvers.py``) it decides far more of them within a time limit than CaDiCaL on the CNF.

Time limit: honoured by a child process.  ``runFull`` takes a timeout, but it is not checked
while Exact presolves or propagates a large constraint, so the solve runs in a forked child
(:func:`bnnc.engines.child.call_with_deadline`) that is stopped at the deadline; the answer is
then UNKNOWN.  Without a time limit it runs in this process.

Exact is Linux x86-64 only and AGPL-3.0 licensed; it is the optional extra ``bnnc[exact]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bnnc.engines.base import Answer, Decision, NativeDecider
from bnnc.engines.child import ChildTimeout, call_with_deadline
from bnnc.engines.pb import PbProblem
from bnnc.errors import InternalError, UsageError


def load() -> Any:
    """The ``exact`` module, or a one-line usage error naming the extra that installs it."""
    try:
        import exact
    except ImportError as error:
        raise UsageError(
            "the solver 'exact' needs the Python package 'exact' (Linux x86-64): "
            "pip install 'bnnc[exact]'",
            parameter="solver",
        ) from error
    return exact


class Exact:
    """Exact 2.x through its Python bindings, a fresh solver per call."""

    name: ClassVar[str] = "exact"

    def decide(self, problem: PbProblem, *, time_limit: float | None = None) -> Decision:
        if time_limit is not None and time_limit <= 0:
            return Decision(Answer.UNKNOWN)  # no time at all: not even started
        load()  # a missing package is a usage error here, not a crash in the child
        if time_limit is None:
            return _solve(problem, None)
        try:
            return call_with_deadline(_solve, problem, time_limit, time_limit=time_limit)
        except ChildTimeout:
            return Decision(Answer.UNKNOWN)


def _solve(problem: PbProblem, time_limit: float | None) -> Decision:
    solver = load().Exact()
    names = [f"x{v}" for v in range(problem.num_vars + 1)]
    for name in names[1:]:
        solver.addVariable(name)

    def lit(literal: int) -> tuple[int, str]:
        return (1, names[literal]) if literal > 0 else (-1, names[-literal])

    for constraint in problem.linear:
        terms = [(coef, names[var]) for coef, var in constraint.terms]
        if constraint.head == 0:
            solver.addConstraint(terms, True, constraint.bound)
        else:  # sign True: head ⇔ Σ ≥ bound (False would reify the negation)
            solver.addReification(
                names[abs(constraint.head)], constraint.head > 0, terms, constraint.bound
            )
    for clause in problem.clauses:
        # Σ literals ≥ 1, with ¬b = 1 − b: the negative literals move to the bound.
        terms = [lit(literal) for literal in clause]
        solver.addConstraint(terms, True, 1 - sum(1 for literal in clause if literal < 0))
    state = solver.runFull(False, 0 if time_limit is None else time_limit)
    if state in ("UNSAT", "INCONSISTENT"):  # INCONSISTENT: unsatisfiable under assumptions
        return Decision(Answer.UNSAT)
    if state == "TIMEOUT":
        return Decision(Answer.UNKNOWN)
    if state != "SAT" or not solver.hasSolution():
        raise InternalError(f"Exact answered {state!r} (please report this as a bnnc bug)")
    values = np.zeros(problem.num_vars + 1, dtype=bool)
    values[1:] = np.asarray(solver.getLastSolutionFor(names[1:]), dtype=np.int64) > 0
    return Decision(Answer.SAT, values)


if TYPE_CHECKING:  # mypy checks that the class implements the protocol
    _conforms: NativeDecider = Exact()
