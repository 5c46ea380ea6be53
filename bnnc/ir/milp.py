"""Stage 2 — the BNN as a mixed-integer linear program (paper appendix A, eq. 5–7 and 9–11).

Variables (all names are LP identifiers; layer names are sanitised, see :func:`lp_identifier`):

* ``x_<i>``: binary input bit i of the flattened input; 1 means +1, so its ±1 value is 2·x_i − 1.
* per inner block L and neuron i: real ``y_L_i`` (eq. 5, y = ⟨a_i, x⟩ + b_i), real ``z_L_i``
  (eq. 6, batch norm, or z = y for a block without one) and the binary output ``h_L_i`` of the
  sign (eq. 7, 1 means +1) as two indicator constraints h = 1 → z ≥ 0 and h = 0 → z ≤ −tol.
* output: real scores ``s_<c>`` = ⟨a_c, x⟩ + b_c, binaries ``g_<c>_<j>`` for c < j (eq. 9,
  g = 1 → s_c − s_j ≥ 0, g = 0 → s_c − s_j ≤ −tol), and binary labels ``o_<c>`` with
  o_c ⇔ ∧_{j>c} g_cj ∧ ∧_{j<c} ¬g_jc written linearly (eq. 11, ties to the lowest index) and
  Σ_c o_c = 1.  The objective is 0: the program is a feasibility problem.

The strict inequalities z < 0 and s_c < s_j are approximated by ``≤ −STRICT_TOLERANCE``
(1e-9, below the default feasibility tolerance of MILP solvers, so a pre-activation within about
1e-6 of a threshold may be decided either way).  This stage is for inspection and for MILP
solvers; the exact integer form, derived from the reference float arithmetic, is the next stage
(``bnnc.ir.ilp``, eq. 8 and 10), which reads ``MilpModel.source``.  Coefficients are float64.

:func:`format_lp` writes CPLEX LP format.  HiGHS reads no indicator constraints, so by default
they are written in big-M form, with M taken from the range of the constrained expression that
the lowering records (valid for every ±1 input); ``indicators="native"`` writes CPLEX's
``h_L_i = 1 -> z_L_i >= 0`` syntax instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

from bnnc.errors import InternalError
from bnnc.ir.bnn import BnnModel

Sense = Literal["<=", ">=", "="]
IndicatorSense = Literal["<=", ">="]

STRICT_TOLERANCE = 1e-9
"""``a < b`` is written ``a − b ≤ −STRICT_TOLERANCE`` (an approximation; stage 3 is exact)."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Term(NamedTuple):
    """coef · var, with a real coefficient and a variable name."""

    coef: float
    var: str


@dataclass(frozen=True)
class Variable:
    """A declared variable: bounds (±inf for none) and whether it is binary."""

    name: str
    lower: float
    upper: float
    binary: bool


@dataclass(frozen=True)
class LinearConstraint:
    """name: Σ terms (sense) rhs."""

    name: str
    terms: tuple[Term, ...]
    sense: Sense
    rhs: float
    group: str  # a human label of the block / equation it belongs to (LP comments)


@dataclass(frozen=True)
class IndicatorConstraint:
    """name: binary = value → Σ terms (sense) rhs.

    ``lhs_range`` bounds Σ terms at every feasible point (every ±1 input); writers for solvers
    without indicator support derive their big-M constant from it.
    """

    name: str
    binary: str
    value: Literal[0, 1]
    terms: tuple[Term, ...]
    sense: IndicatorSense
    rhs: float
    lhs_range: tuple[float, float]
    group: str


MilpConstraint = LinearConstraint | IndicatorConstraint


@dataclass(frozen=True, eq=False)
class MilpModel:
    """The MILP view of a BNN.  ``source`` keeps the trained model, whose exact float
    arithmetic the next pass (``bnnc.ir.ilp``) needs to derive integer thresholds."""

    source: BnnModel
    variables: tuple[Variable, ...]
    constraints: tuple[MilpConstraint, ...]
    input_vars: tuple[str, ...]  # x_i, in flattened input order
    hidden_vars: tuple[tuple[str, ...], ...]  # h_L_i per inner block
    output_vars: tuple[str, ...]  # o_c per class

    def verify(self) -> None:
        """Check the source model, then that every referenced variable is declared (indicator
        variables as binaries), names are unique LP identifiers, and numbers are finite."""
        self.source.verify()
        declared: dict[str, Variable] = {}
        for var in self.variables:
            if not _IDENTIFIER.match(var.name):
                raise InternalError(f"MILP variable {var.name!r} is not an LP identifier")
            if var.name in declared:
                raise InternalError(f"MILP variable {var.name!r} is declared twice")
            if math.isnan(var.lower) or math.isnan(var.upper) or var.lower > var.upper:
                raise InternalError(f"MILP variable {var.name!r} has bounds {var.lower, var.upper}")
            if var.binary and (var.lower, var.upper) != (0.0, 1.0):
                raise InternalError(f"MILP binary {var.name!r} must have bounds 0..1")
            declared[var.name] = var
        seen: set[str] = set()
        for con in self.constraints:
            if not _IDENTIFIER.match(con.name) or con.name in seen:
                raise InternalError(f"MILP constraint name {con.name!r} is not unique or not legal")
            seen.add(con.name)
            if not con.terms:
                raise InternalError(f"MILP constraint {con.name!r} has no terms")
            numbers = [con.rhs, *(t.coef for t in con.terms)]
            if isinstance(con, IndicatorConstraint):
                numbers.extend(con.lhs_range)
                binary = declared.get(con.binary)
                if binary is None or not binary.binary:
                    raise InternalError(
                        f"MILP constraint {con.name!r}: indicator {con.binary!r} is not a "
                        "declared binary"
                    )
                if con.value not in (0, 1) or con.lhs_range[0] > con.lhs_range[1]:
                    raise InternalError(f"MILP constraint {con.name!r} is malformed")
            if not all(math.isfinite(v) for v in numbers):
                raise InternalError(f"MILP constraint {con.name!r} has a non-finite number")
            for term in con.terms:
                if term.var not in declared:
                    raise InternalError(
                        f"MILP constraint {con.name!r} uses undeclared variable {term.var!r}"
                    )
        for name in (*self.input_vars, *(v for vs in self.hidden_vars for v in vs)):
            if name not in declared:
                raise InternalError(f"MILP variable {name!r} is not declared")
        for name in self.output_vars:
            if name not in declared:
                raise InternalError(f"MILP variable {name!r} is not declared")
