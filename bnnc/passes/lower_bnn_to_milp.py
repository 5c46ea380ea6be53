"""Pass 1: BNN → MILP (paper appendix A, eq. 5–7 and 9–11); the stage is described in
``bnnc.ir.milp``.
"""

from __future__ import annotations

import math
import re

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import ModelError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.milp import (
    STRICT_TOLERANCE,
    IndicatorConstraint,
    LinearConstraint,
    MilpConstraint,
    MilpModel,
    Term,
    Variable,
)

_RANGE_SLACK = 1e-6  # relative widening of recorded expression ranges (float rounding)


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
        if block.structure is not None:  # the sharing stays visible in the LP's comments
            group += f"; {block.structure.describe()}"
        shift = block.shift
        current: list[str] = []
        for i in range(block.n_out):
            y, z, h = f"y_{lid}_{i}", f"z_{lid}_{i}", f"h_{lid}_{i}"
            variables.extend((Variable(y, *free), Variable(z, *free), Variable(h, *binary)))
            current.append(h)
            row = block.weights[i]
            terms, constant = _affine_terms(y, row, prev)
            bias = float(block.bias[i])
            if shift is not None:  # ±1 padding: a constant part of the sum (exact integer)
                bias += float(shift[i])
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
                if not all(map(math.isfinite, (bn_rhs, gamma * y_lo, gamma * y_hi, z_lo, z_hi))):
                    # The network itself is well defined (its float arithmetic saturates), but
                    # eq. 6 has no finite MILP form: refuse rather than write inf into a stage.
                    raise ModelError(
                        f"layer {block.name!r}, neuron {i}: the batch norm (gamma {gamma!r}, "
                        f"mean {mu!r}, var + eps {sigma * sigma!r}) overflows float64 in its "
                        "MILP form (eq. 6); bnnc needs |gamma * (y - mean) / sqrt(var + eps)| "
                        "finite over the neuron's range"
                    )
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
