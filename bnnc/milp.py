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
(``bnnc.ilp``, eq. 8 and 10), which reads ``MilpModel.source``.  Coefficients are float64.

:func:`format_lp` writes CPLEX LP format.  HiGHS reads no indicator constraints, so by default
they are written in big-M form, with M taken from the range of the constrained expression that
the lowering records (valid for every ±1 input); ``indicators="native"`` writes CPLEX's
``h_L_i = 1 -> z_L_i >= 0`` syntax instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from bnnc.bnn import BnnModel
from bnnc.errors import InternalError

Sense = Literal["<=", ">=", "="]
IndicatorSense = Literal["<=", ">="]

STRICT_TOLERANCE = 1e-9
"""``a < b`` is written ``a − b ≤ −STRICT_TOLERANCE`` (an approximation; stage 3 is exact)."""

_RANGE_SLACK = 1e-6  # relative widening of recorded expression ranges (float rounding)
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
    arithmetic the next pass (``bnnc.ilp``) needs to derive integer thresholds."""

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


# --------------------------------------------------------------------------- names


def lp_identifier(name: str) -> str:
    """``name`` with every character outside [A-Za-z0-9_] replaced by ``_`` ("layer" if empty)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "layer"


def _layer_identifiers(names: list[str]) -> list[str]:
    """Sanitised, pairwise distinct identifiers (``_2``, ``_3``… added on collisions)."""
    cleaned = [lp_identifier(n) for n in names]
    result: list[str] = []
    for clean in cleaned:
        candidate, k = clean, 2
        while candidate in result or (candidate != clean and candidate in cleaned):
            candidate, k = f"{clean}_{k}", k + 1
        result.append(candidate)
    return result


# --------------------------------------------------------------------------- the pass


def _affine_terms(
    out_var: str, row: NDArray[np.int8], inputs: list[str]
) -> tuple[tuple[Term, ...], float]:
    """Terms and constant for out = ⟨row, v⟩ + bias over ±1 values v = 2·b − 1 of binaries b:
    out − Σ 2·row_j·b_j = bias − Σ row_j; returns (terms, −Σ row_j)."""
    active = np.flatnonzero(row)
    coefs = (-2.0 * row[active].astype(np.float64)).tolist()
    names = [inputs[j] for j in active.tolist()]
    return (Term(1.0, out_var), *map(Term, coefs, names)), -float(row.sum(dtype=np.int64))


def _widen(lo: float, hi: float) -> tuple[float, float]:
    pad = _RANGE_SLACK * max(1.0, abs(lo), abs(hi))
    return lo - pad, hi + pad


def _sign_pair(
    name: str, binary: str, terms: tuple[Term, ...], lhs_range: tuple[float, float], group: str
) -> tuple[IndicatorConstraint, IndicatorConstraint]:
    """binary = 1 → Σ terms ≥ 0 and binary = 0 → Σ terms ≤ −tol (eq. 7 and 9)."""
    return (
        IndicatorConstraint(f"{name}_on", binary, 1, terms, ">=", 0.0, lhs_range, group),
        IndicatorConstraint(
            f"{name}_off", binary, 0, terms, "<=", -STRICT_TOLERANCE, lhs_range, group
        ),
    )


def lower_bnn_to_milp(model: BnnModel) -> MilpModel:
    """The MILP of ``model`` (eq. 5–7 per inner block, eq. 9–11 for the output block)."""
    free, binary = (-math.inf, math.inf, False), (0.0, 1.0, True)
    variables: list[Variable] = []
    constraints: list[MilpConstraint] = []

    inputs = [f"x_{i}" for i in range(model.n_inputs)]
    variables.extend(Variable(v, *binary) for v in inputs)
    prev = inputs
    hidden: list[tuple[str, ...]] = []
    layer_ids = _layer_identifiers([b.name for b in model.blocks])
    for block, lid in zip(model.blocks, layer_ids, strict=True):
        bn = block.batchnorm
        norm = "eq. 6 batch norm" if bn is not None else "no batch norm (z = y)"
        group = f"inner block {block.name!r} ({lid}): eq. 5 linear, {norm}, eq. 7 sign"
        current: list[str] = []
        for i in range(block.n_out):
            y, z, h = f"y_{lid}_{i}", f"z_{lid}_{i}", f"h_{lid}_{i}"
            variables.extend((Variable(y, *free), Variable(z, *free), Variable(h, *binary)))
            current.append(h)
            row = block.weights[i]
            terms, constant = _affine_terms(y, row, prev)
            bias = float(block.bias[i])
            constraints.append(
                LinearConstraint(f"lin_{lid}_{i}", terms, "=", bias + constant, group)
            )
            n_active = int(np.count_nonzero(row))
            y_lo, y_hi = bias - n_active, bias + n_active
            bn_terms: tuple[Term, ...]
            if bn is None:
                bn_terms = (Term(1.0, z), Term(-1.0, y))
                bn_rhs = 0.0
                z_lo, z_hi = y_lo, y_hi
            else:
                # eq. 6: σ·z = γ·y − γ·μ + σ·β with σ = sqrt(var + eps)
                sigma = math.sqrt(float(bn.var[i]) + float(bn.eps))
                gamma, beta, mu = float(bn.gamma[i]), float(bn.beta[i]), float(bn.mean[i])
                bn_terms = (Term(sigma, z),) + ((Term(-gamma, y),) if gamma != 0.0 else ())
                bn_rhs = sigma * beta - gamma * mu
                ends = [(v - mu) / sigma * gamma + beta for v in (y_lo, y_hi)]
                z_lo, z_hi = min(ends), max(ends)
            constraints.append(LinearConstraint(f"bn_{lid}_{i}", bn_terms, "=", bn_rhs, group))
            constraints.extend(
                _sign_pair(f"sign_{lid}_{i}", h, (Term(1.0, z),), _widen(z_lo, z_hi), group)
            )
        hidden.append(tuple(current))
        prev = current

    out = model.output
    n_classes = out.n_classes
    group = f"output block {out.name!r}: scores (eq. 5), order (eq. 9), label (eq. 11)"
    scores = [f"s_{c}" for c in range(n_classes)]
    labels = [f"o_{c}" for c in range(n_classes)]
    variables.extend(Variable(s, *free) for s in scores)
    for c in range(n_classes):
        terms, constant = _affine_terms(scores[c], out.weights[c], prev)
        constraints.append(
            LinearConstraint(f"score_{c}", terms, "=", float(out.bias[c]) + constant, group)
        )
    order: dict[tuple[int, int], str] = {}
    for c in range(n_classes):
        for j in range(c + 1, n_classes):
            g = f"g_{c}_{j}"
            order[(c, j)] = g
            variables.append(Variable(g, *binary))
            diff = out.weights[c].astype(np.int64) - out.weights[j].astype(np.int64)
            reach = float(np.abs(diff).sum())
            offset = float(out.bias[c]) - float(out.bias[j])
            terms = (Term(1.0, scores[c]), Term(-1.0, scores[j]))
            rng = _widen(offset - reach, offset + reach)
            constraints.extend(_sign_pair(f"cmp_{c}_{j}", g, terms, rng, group))
    variables.extend(Variable(o, *binary) for o in labels)
    for c in range(n_classes):
        # o_c ⇔ ∧ ℓ_j with ℓ_j = g_cj (j > c) or 1 − g_jc (j < c):
        # o_c ≤ ℓ_j for every j, and o_c ≥ Σ ℓ_j − (C − 2).
        sum_terms = [Term(1.0, labels[c])]
        for j in range(n_classes):
            if j == c:
                continue
            if j > c:
                g, lit_terms, lit_rhs = order[(c, j)], (Term(-1.0, order[(c, j)]),), 0.0
                sum_terms.append(Term(-1.0, g))
            else:
                g, lit_terms, lit_rhs = order[(j, c)], (Term(1.0, order[(j, c)]),), 1.0
                sum_terms.append(Term(1.0, g))
            constraints.append(
                LinearConstraint(
                    f"label_{c}_{j}", (Term(1.0, labels[c]), *lit_terms), "<=", lit_rhs, group
                )
            )
        constraints.append(
            LinearConstraint(f"label_{c}", tuple(sum_terms), ">=", float(c - n_classes + 2), group)
        )
    constraints.append(
        LinearConstraint("one_label", tuple(Term(1.0, o) for o in labels), "=", 1.0, group)
    )
    return MilpModel(
        source=model,
        variables=tuple(variables),
        constraints=tuple(constraints),
        input_vars=tuple(inputs),
        hidden_vars=tuple(hidden),
        output_vars=tuple(labels),
    )


# --------------------------------------------------------------------------- CPLEX LP writer

_LINE_WIDTH = 100


def _comment(text: str) -> str:
    """One ASCII comment line (LP comments start with a backslash)."""
    flat = re.sub(r"[\x00-\x1f\x7f]", " ", text).rstrip()
    return "\\ " + flat.encode("ascii", "backslashreplace").decode("ascii")


def _number(value: float) -> str:
    return repr(float(value))


def _term_texts(terms: Iterable[Term]) -> Iterator[str]:
    for k, (coef, var) in enumerate(terms):
        sign = "-" if coef < 0 else "+"
        magnitude = abs(coef)
        body = var if magnitude == 1.0 else f"{_number(magnitude)} {var}"
        if k == 0:
            yield f"-{body}" if sign == "-" else body
        else:
            yield f"{sign} {body}"


def _row(head: str, terms: Iterable[Term], tail: str) -> list[str]:
    """``head`` + terms + ``tail``, wrapped into continuation lines of bounded width."""
    lines: list[str] = []
    line = head
    for text in _term_texts(terms):
        if len(line) + 1 + len(text) > _LINE_WIDTH and line.strip():
            lines.append(line)
            line = "   " + text
        else:
            line = f"{line} {text}"
    lines.append(f"{line} {tail}")
    return lines


def _big_m_rows(con: IndicatorConstraint) -> list[str]:
    """binary = v → Σ ≥ r as Σ ≥ r − M·[binary ≠ v] (and ≤ likewise), M from ``lhs_range``."""
    lo, hi = con.lhs_range
    big_m = max(con.rhs - lo, 0.0) if con.sense == ">=" else max(hi - con.rhs, 0.0)
    # ≥: Σ − M·b ≥ r − M (v = 1) or Σ + M·b ≥ r (v = 0); for ≤ the signs of M flip.
    sign = 1.0 if con.sense == ">=" else -1.0
    if con.value == 1:
        coef, rhs = -sign * big_m, con.rhs - sign * big_m
    else:
        coef, rhs = sign * big_m, con.rhs
    terms = [*con.terms, Term(coef, con.binary)] if big_m != 0.0 else list(con.terms)
    return _row(f" {con.name}:", terms, f"{con.sense} {_number(rhs)}")


def format_lp(milp: MilpModel, *, indicators: Literal["big-m", "native"] = "big-m") -> str:
    """The MILP in CPLEX LP format (readable by HiGHS with the default big-M indicators)."""
    model = milp.source
    lines = [
        _comment(f"bnnc stage 2 (MILP) of BNN model {model.name!r}"),
        _comment("paper appendix A:"),
        _comment("  eq. 5   y_L_i = <a_i, x> + b_i"),
        _comment(
            "  eq. 6   sqrt(var + eps) z_L_i = gamma y_L_i - gamma mean + sqrt(var + eps) beta"
        ),
        _comment("          (z_L_i = y_L_i in a block without batch norm)"),
        _comment("  eq. 7   h_L_i = 1 <-> z_L_i >= 0"),
        _comment("  eq. 9   g_c_j = 1 <-> s_c >= s_j  (c < j; s_c = <a_c, h> + b_c)"),
        _comment("  eq. 11  o_c = 1 <-> g_c_j = 1 for all j > c and g_j_c = 0 for all j < c;"),
        _comment("          sum of o_c = 1 (argmax, ties to the lowest class)"),
        _comment("x_i = 1 means input bit +1: its +-1 value is 2 x_i - 1 (likewise h_L_i)"),
        _comment(
            "the strict inequalities z < 0 and s_c < s_j are approximated by "
            f"<= -{_number(STRICT_TOLERANCE)};"
        ),
        _comment("the exact integer form is the next stage (bnnc.ilp, eq. 8 and 10)"),
    ]
    if indicators == "big-m":
        lines.append(_comment("indicator constraints b = v -> expr are written in big-M form,"))
        lines.append(_comment("with M from the range of expr over all inputs"))
    lines += [_comment("objective 0: a feasibility problem"), "Minimize", " obj:", "Subject To"]
    group: str | None = None
    for con in milp.constraints:
        if con.group != group:
            group = con.group
            lines.append(_comment(group))
        if isinstance(con, LinearConstraint):
            lines += _row(f" {con.name}:", con.terms, f"{con.sense} {_number(con.rhs)}")
        elif indicators == "native":
            head = f" {con.name}: {con.binary} = {con.value} ->"
            lines += _row(head, con.terms, f"{con.sense} {_number(con.rhs)}")
        else:
            lines += _big_m_rows(con)
    lines.append("Bounds")
    for var in milp.variables:
        if var.binary:
            continue
        if var.lower == -math.inf and var.upper == math.inf:
            lines.append(f" {var.name} free")
        else:
            low = "-inf" if var.lower == -math.inf else _number(var.lower)
            high = "+inf" if var.upper == math.inf else _number(var.upper)
            lines.append(f" {low} <= {var.name} <= {high}")
    lines.append("Binaries")
    line = ""
    for var in milp.variables:
        if not var.binary:
            continue
        if line and len(line) + 1 + len(var.name) > _LINE_WIDTH:
            lines.append(line)
            line = ""
        line = f"{line} {var.name}"
    if line:
        lines.append(line)
    lines.append("End")
    return "\n".join(lines) + "\n"
