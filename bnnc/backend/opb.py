"""The cardinality model (stage 4) in the OPB format of the pseudo-Boolean competition.

Variables are ``x1``…``xN`` with N = ``card.layout.n_layout_vars``, numbered exactly as in the
layout (inputs, outputs, hidden neurons, comparisons; see :mod:`bnnc.ir.card`), and ``~x5`` is the
negation of ``x5``.  There is no objective: it is a satisfaction problem.  Every constraint is
written in ``≥`` form with positive integer coefficients:

* ``AtLeast`` out ⇔ Σ w·ℓ ≥ k (a repeated literal adds up its coefficient) becomes
  out → Σ w·ℓ ≥ k, as ``Σ w·ℓ + k·~out ≥ k``, and ¬out → Σ w·ℓ ≤ k − 1, as
  ``Σ w·~ℓ + (W − k + 1)·out ≥ W − k + 1`` with W = Σ w;
* ``AndGate`` out ⇔ ∧ ℓ becomes its clauses ``~out ∨ ℓ_i`` and ``out ∨ ¬ℓ_1 ∨ … ∨ ¬ℓ_m``;
* ``Fact`` ℓ becomes the unit constraint ``+1 ℓ >= 1``.

A ``StaircaseGate`` (per-class output scales) would need counter variables outside the layout,
so such models are refused in one line.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from bnnc.errors import InternalError, ModelError
from bnnc.ir.card import AndGate, AtLeast, CardModel, Fact, StaircaseGate

# A normalised pseudo-Boolean constraint: Σ coef·literal ≥ degree, coefficients > 0,
# each variable at most once.
_Pb = tuple[tuple[tuple[int, int], ...], int]


def _normalise(weighted: Iterable[tuple[int, int]], degree: int) -> _Pb:
    """Σ w·ℓ ≥ degree over (w, literal) pairs, with repeated variables merged (~x = 1 − x)."""
    pos: dict[int, int] = defaultdict(int)
    neg: dict[int, int] = defaultdict(int)
    order: list[int] = []
    for weight, lit in weighted:
        var = abs(lit)
        if var not in pos and var not in neg:
            order.append(var)
        (pos if lit > 0 else neg)[var] += weight
    terms: list[tuple[int, int]] = []
    for var in order:
        p, q = pos.get(var, 0), neg.get(var, 0)
        # p·x + q·~x = (p − q)·x + q = (q − p)·~x + p: keep the positive coefficient.
        degree -= min(p, q)
        if p > q:
            terms.append((p - q, var))
        elif q > p:
            terms.append((q - p, -var))
    return tuple(terms), degree


def _literal(lit: int) -> str:
    return f"x{lit}" if lit > 0 else f"~x{-lit}"


def _line(pb: _Pb, origin: str) -> str:
    terms, degree = pb
    if not terms:
        if degree <= 0:
            return ""  # trivially true: nothing to write
        raise InternalError(f"{origin}: the constraint is unsatisfiable for every assignment")
    body = " ".join(f"+{weight} {_literal(lit)}" for weight, lit in terms)
    return f"{body} >= {degree} ;"


def _at_least(con: AtLeast) -> list[_Pb]:
    counts: dict[int, int] = {}
    for lit in con.lits:
        counts[lit] = counts.get(lit, 0) + 1
    weighted = list(counts.items())  # (literal, weight) in first-occurrence order
    total = sum(w for _, w in weighted)
    k = con.bound
    on = _normalise([(w, lit) for lit, w in weighted] + [(k, -con.out)], k)
    slack = total - k + 1
    off = _normalise([(w, -lit) for lit, w in weighted] + [(slack, con.out)], slack)
    return [on, off]


def _and_gate(con: AndGate) -> list[_Pb]:
    clauses = [_normalise([(1, -con.out), (1, lit)], 1) for lit in con.lits]
    clauses.append(_normalise([(1, con.out), *((1, -lit) for lit in con.lits)], 1))
    return clauses


def _comment(text: str) -> str:
    return "* " + re.sub(r"[\x00-\x1f\x7f]", " ", text).rstrip()


def _range(vars_: list[int]) -> str:
    if not vars_:
        return "none"
    return f"x{min(vars_)}..x{max(vars_)} ({len(vars_)})"


def format_opb(card: CardModel) -> str:
    """The cardinality model as an OPB satisfaction problem (see the module docstring)."""
    layout = card.layout
    n_vars = layout.n_layout_vars
    body: list[str] = []
    n_constraints = 0
    for con in card.constraints:
        if isinstance(con, AtLeast):
            pbs = _at_least(con)
            body.append(
                _comment(
                    f"{con.origin}: x{con.out} <=> at least {con.bound} of "
                    f"{len(con.lits)} literals (two constraints)"
                )
            )
        elif isinstance(con, AndGate):
            pbs = _and_gate(con)
            body.append(
                _comment(
                    f"{con.origin}: x{con.out} <=> "
                    f"{' and '.join(_literal(lit) for lit in con.lits)} ({len(pbs)} clauses)"
                )
            )
        elif isinstance(con, StaircaseGate):
            raise ModelError(
                f"{con.origin}: this class comparison is a staircase (per-class output scales), "
                "which bnnc does not write as OPB yet; compile to CNF instead"
            )
        elif isinstance(con, Fact):
            pbs = [_normalise([(1, con.lit)], 1)]
            body.append(_comment(f"{con.origin}: {_literal(con.lit)} holds for every input"))
        else:  # pragma: no cover - the Constraint union is closed
            raise InternalError(f"unknown cardinality constraint {con!r}")
        for pb in pbs:
            line = _line(pb, con.origin)
            if line:
                body.append(line)
                n_constraints += 1

    n_in, n_classes = layout.n_inputs, layout.n_classes
    header = [
        f"* #variable= {n_vars} #constraint= {n_constraints}",
        _comment(f"bnnc stage 4 (cardinality constraints) of BNN model {card.name!r}"),
        _comment(f"input shape {card.input_shape}, {n_in} inputs, {n_classes} classes"),
        _comment("variable layout (x_i true means +1 for inputs and hidden neurons):"),
        _comment(f"  inputs       {_range(list(range(1, n_in + 1)))}"),
        _comment(f"  outputs      {_range(list(range(n_in + 1, n_in + n_classes + 1)))}"),
    ]
    if card.class_names is not None:
        for c, name in enumerate(card.class_names):
            header.append(_comment(f"    x{layout.output_var(c)} = label {c} ({name!r})"))
    layers: dict[str, list[int]] = {}
    constants: dict[str, int] = {}
    for neuron in layout.hidden:
        layers.setdefault(neuron.layer, [])
        constants.setdefault(neuron.layer, 0)
        if neuron.var:
            layers[neuron.layer].append(neuron.var)
        else:
            constants[neuron.layer] += 1
    hidden_vars = [v for vs in layers.values() for v in vs]
    header.append(_comment(f"  hidden       {_range(hidden_vars)}"))
    for layer, vars_ in layers.items():
        header.append(
            _comment(f"    layer {layer!r}: {_range(vars_)}, {constants[layer]} constant neurons")
        )
    comparisons = [c.var for c in layout.comparisons if c.var]
    n_constant = sum(1 for c in layout.comparisons if not c.var)
    header.append(
        _comment(
            f"  comparisons  {_range(comparisons)}, {n_constant} constant "
            "(class c ranks above class j > c)"
        )
    )
    header.append(_comment("satisfaction problem: no objective"))
    return "\n".join(header + body) + "\n"
