"""OR-Tools CP-SAT: reified linear constraints over Booleans, as the
:class:`~bnnc.engines.base.NativeDecider` ``cpsat``.

Each reified constraint ``head ⇔ Σ a·b ≥ B`` is two enforced linear constraints (``≥ B`` if
head, ``≤ B − 1`` if not), a ball one linear constraint, a clause one ``AddBoolOr``.

One search worker: CaDiCaL and Exact are sequential too, so the benchmark compares like with
like, and the machines bnnc runs its tests on have two cores.  Time limit: honoured
(``max_time_in_seconds``; CP-SAT checks it throughout its search and presolve).  ``ortools``
takes about a second to import, so it is imported inside the call.  The optional extra
``bnnc[cpsat]`` installs it (Apache-2.0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bnnc.engines.base import Answer, Decision, NativeDecider
from bnnc.engines.pb import PbProblem
from bnnc.errors import InternalError, UsageError

WORKERS = 1


def load() -> Any:
    """``ortools.sat.python.cp_model``, or a one-line usage error naming the extra."""
    try:
        from ortools.sat.python import cp_model
    except ImportError as error:
        raise UsageError(
            "the solver 'cpsat' needs the Python package 'ortools': pip install 'bnnc[cpsat]'",
            parameter="solver",
        ) from error
    return cp_model


class CpSat:
    """OR-Tools CP-SAT, a fresh model per call."""

    name: ClassVar[str] = "cpsat"

    def decide(self, problem: PbProblem, *, time_limit: float | None = None) -> Decision:
        if time_limit is not None and time_limit <= 0:
            return Decision(Answer.UNKNOWN)  # no time at all: not even started
        cp_model = load()
        model = cp_model.CpModel()
        variables = [model.NewBoolVar(f"x{v}") for v in range(problem.num_vars + 1)]

        def lit(literal: int) -> Any:
            var = variables[abs(literal)]
            return var if literal > 0 else var.Not()

        for constraint in problem.linear:
            total = cp_model.LinearExpr.WeightedSum(
                [variables[var] for _, var in constraint.terms],
                [coef for coef, _ in constraint.terms],
            )
            if constraint.head == 0:
                model.Add(total >= constraint.bound)
            else:
                head = lit(constraint.head)
                model.Add(total >= constraint.bound).OnlyEnforceIf(head)
                model.Add(total <= constraint.bound - 1).OnlyEnforceIf(head.Not())
        for clause in problem.clauses:
            model.AddBoolOr([lit(literal) for literal in clause])
        model.Add(variables[0] == 0)  # unused: keeps the numbering 1-based
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = WORKERS
        if time_limit is not None:
            solver.parameters.max_time_in_seconds = max(time_limit, 1e-3)
        status = solver.Solve(model)
        if status == cp_model.INFEASIBLE:
            return Decision(Answer.UNSAT)
        if status == cp_model.UNKNOWN:
            return Decision(Answer.UNKNOWN)
        if status not in (cp_model.FEASIBLE, cp_model.OPTIMAL):
            name = solver.StatusName(status)
            raise InternalError(f"CP-SAT answered {name} (please report this as a bnnc bug)")
        values = np.array([bool(solver.BooleanValue(var)) for var in variables], dtype=bool)
        values[0] = False
        return Decision(Answer.SAT, values)


if TYPE_CHECKING:  # mypy checks that the class implements the protocol
    _conforms: NativeDecider = CpSat()
