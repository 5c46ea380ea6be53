"""The MILP stage in CPLEX LP format (big-M or native indicator constraints).

HiGHS reads no indicator constraints, so by default they are written in big-M form, with M
taken from the range of the constrained expression that the lowering records (valid for every
±1 input); ``indicators="native"`` writes CPLEX's ``h_L_i = 1 -> z_L_i >= 0`` syntax instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from typing import Literal

from bnnc.ir.milp import STRICT_TOLERANCE, IndicatorConstraint, LinearConstraint, MilpModel, Term

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
        _comment("the exact integer form is the next stage (bnnc.ir.ilp, eq. 8 and 10)"),
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
