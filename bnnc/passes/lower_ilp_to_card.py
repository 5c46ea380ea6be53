"""Pass 3: ILP → cardinality constraints on bnnc's fixed variable layout (see ``bnnc.ir.card``)."""

from __future__ import annotations

from math import gcd

import numpy as np

from bnnc.errors import ModelError
from bnnc.ir.card import (
    AndGate,
    AtLeast,
    CardModel,
    Comparison,
    Constraint,
    Fact,
    HiddenNeuron,
    Layout,
    StaircaseGate,
)
from bnnc.ir.ilp import ArgmaxLayer, IlpModel, Staircase


def ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def lower_ilp_to_card(ilp: IlpModel) -> CardModel:
    n_in, n_classes = ilp.n_inputs, ilp.n_classes
    next_var = n_in + n_classes + 1
    constraints: list[Constraint] = []
    hidden: list[HiddenNeuron] = []

    # Literal of each neuron of the previous layer (0 = constant, never referenced: folded).
    prev = np.arange(1, n_in + 1, dtype=np.int64)
    for layer in ilp.layers:
        current = np.zeros(layer.n_out, dtype=np.int64)
        for i in range(layer.n_out):
            row = layer.weights[i]
            active = np.flatnonzero(row)
            if active.size == 0:
                value = 1 if layer.thresholds[i] <= 0 else -1
                hidden.append(HiddenNeuron(layer.name, i, 0, value))
                continue
            if (prev[active] == 0).any():
                raise ModelError(
                    f"layer {layer.name!r}, neuron {i}: uses a constant neuron of the previous "
                    "layer; its weight must be 0 (constants are folded into the threshold)"
                )
            var = next_var
            next_var += 1
            current[i] = var
            lits = tuple((prev[active] * row[active]).tolist())
            bound = ceil_div(int(layer.thresholds[i]) + active.size, 2)
            constraints.append(AtLeast(var, lits, bound, f"{layer.name}[{i}]"))
            hidden.append(HiddenNeuron(layer.name, i, var, 0))
        prev = current

    out = ilp.output
    comparisons: list[Comparison] = []
    rank_lits: dict[tuple[int, int], int | bool] = {}  # (c, j) → literal or constant
    staircases = {(st.above, st.below): st for st in out.staircases}
    for c in range(n_classes):
        for j in range(c + 1, n_classes):
            if (c, j) in staircases:
                var = next_var
                next_var += 1
                rank_lits[(c, j)] = var
                constraints.append(_staircase_gate(var, out.name, staircases[(c, j)], out, prev))
                comparisons.append(Comparison(c, j, var, None))
                continue
            diff = out.weights[c].astype(np.int64) - out.weights[j].astype(np.int64)
            active = np.flatnonzero(diff)
            if active.size and (prev[active] == 0).any():
                raise ModelError(
                    f"layer {out.name!r}: classes {c} and {j} use a constant neuron of the "
                    "previous layer; its weights must be 0"
                )
            weights = np.abs(diff[active])
            lits_once = prev[active] * np.sign(diff[active])
            total = int(weights.sum())
            bound = ceil_div(int(out.beats[c, j]) + total, 2)
            common = gcd(*weights.tolist()) if active.size else 1
            bound = ceil_div(bound, common)
            size = total // common
            if bound <= 0 or bound > size:
                rank_lits[(c, j)] = bound <= 0
                comparisons.append(Comparison(c, j, 0, bound <= 0))
                continue
            lits = tuple(np.repeat(lits_once, weights // common).tolist())
            var = next_var
            next_var += 1
            rank_lits[(c, j)] = var
            constraints.append(AtLeast(var, lits, bound, f"{out.name}: {c} vs {j}"))
            comparisons.append(Comparison(c, j, var, None))

    for c in range(n_classes):
        output = n_in + 1 + c
        origin = f"{out.name}: label {c}"
        members: list[int] = []
        never = False
        for j in range(n_classes):
            if j == c:
                continue
            value = rank_lits[(c, j)] if c < j else rank_lits[(j, c)]
            wanted = c < j  # c must rank above later classes, and earlier ones must not
            if isinstance(value, bool):
                never = never or value != wanted
            else:
                members.append(value if wanted else -value)
        if never:
            constraints.append(Fact(-output, origin))
        elif not members:
            constraints.append(Fact(output, origin))
        else:
            constraints.append(AndGate(output, tuple(members), origin))

    layout = Layout(n_in, n_classes, tuple(hidden), tuple(comparisons), next_var - 1)
    return CardModel(ilp.name, ilp.input_shape, ilp.class_names, layout, tuple(constraints))


def _staircase_gate(
    var: int, name: str, st: Staircase, out: ArgmaxLayer, prev: np.ndarray
) -> StaircaseGate:
    """The staircase over sums s = 2m − n′ rewritten over counts m of true literals."""
    rows: list[tuple[int, ...]] = []
    for c in (st.above, st.below):
        row = out.weights[c]
        active = np.flatnonzero(row)
        if (prev[active] == 0).any():
            raise ModelError(
                f"layer {name!r}: class {c} uses a constant neuron of the previous layer; its "
                "weight must be 0"
            )
        rows.append(tuple((prev[active] * row[active]).tolist()))
    above, below = rows
    steps = tuple((ceil_div(v + len(below), 2), ceil_div(u + len(above), 2)) for v, u in st.steps)
    return StaircaseGate(var, above, below, steps, f"{name}: {st.above} vs {st.below}")
