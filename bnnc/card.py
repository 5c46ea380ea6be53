"""Stage 4 — cardinality constraints over literals, on bnnc's fixed variable layout.

Each hidden neuron becomes ``z ⇔ Σ ℓ_j ≥ k`` where ℓ_j is x_j for a +1 weight and ¬x_j for a −1
weight (zero weights are dropped): with m true literals out of n', ⟨a, x⟩ = 2m − n', so
⟨a, x⟩ ≥ C ⇔ m ≥ ⌈(C + n')/2⌉.

Each pair of classes c < j becomes ``g_cj ⇔ Σ_p |w_p|·ℓ_p ≥ K`` over the positions p where the two
weight rows differ (w = a_c − a_j ∈ {±1, ±2}); a literal with weight 2 appears twice, and common
factors are divided out, so ±1 rows give a plain cardinality constraint.  Label c is
``o_c ⇔ ∧_{j>c} g_cj ∧ ∧_{j<c} ¬g_jc``: c beats every later class with ≥ and every earlier one
with >, so ties go to the lowest index and exactly one output is true for every input.

A pair that the ILP compares by a staircase (per-class output scales, see :class:`bnnc.ilp.
Staircase`) becomes ``g_cj ⇔ ∧_k (Σ ℓ^j ≥ b_k → Σ ℓ^c ≥ a_k)`` over the literals ℓ^c of class
c's own row and ℓ^j of class j's (:class:`StaircaseGate`); the CNF stage counts each class's
literals once, with a full unary counter shared by every pair that needs it.

Variable layout (documented in the README; ``bnnc.dimacs`` writes it into every file):
inputs 1..n, outputs n+1..n+C, then hidden neurons layer by layer (constant ones get none),
then the class comparisons g_cj, then the auxiliary variables of the CNF encoding (including the
unary counters and step variables of staircase comparisons).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np

from bnnc.errors import ModelError
from bnnc.ilp import ArgmaxLayer, IlpModel, Staircase


@dataclass(frozen=True)
class AtLeast:
    """out ⇔ Σ lits ≥ bound (a literal may repeat; it then counts once per occurrence)."""

    out: int
    lits: tuple[int, ...]
    bound: int
    origin: str  # a human name for messages, e.g. "h1[3]" or "out: 0 vs 2"


@dataclass(frozen=True)
class AndGate:
    """out ⇔ ∧ lits."""

    out: int
    lits: tuple[int, ...]
    origin: str


@dataclass(frozen=True)
class StaircaseGate:
    """out ⇔ ∧_k (Σ below ≥ b_k → Σ above ≥ a_k) over steps (b_k, a_k), counts of true literals.

    ``above`` and ``below`` are the literals of two classes' rows (a literal counts once per
    occurrence); steps increase strictly in both counts.
    """

    out: int
    above: tuple[int, ...]
    below: tuple[int, ...]
    steps: tuple[tuple[int, int], ...]
    origin: str


@dataclass(frozen=True)
class Fact:
    """A literal that holds for every input (a label that can never, or always, win)."""

    lit: int
    origin: str


Constraint = AtLeast | AndGate | StaircaseGate | Fact


@dataclass(frozen=True)
class HiddenNeuron:
    layer: str
    index: int
    var: int  # 0 for a constant neuron
    constant: int  # +1 / −1 for a constant neuron, 0 otherwise


@dataclass(frozen=True)
class Comparison:
    """Class ``above`` ranks above class ``below`` (above < below) ⇔ var (or constant)."""

    above: int
    below: int
    var: int  # 0 when constant
    constant: bool | None  # the constant value, None when var != 0


@dataclass(frozen=True)
class Layout:
    n_inputs: int
    n_classes: int
    hidden: tuple[HiddenNeuron, ...]
    comparisons: tuple[Comparison, ...]
    n_layout_vars: int  # inputs + outputs + hidden + comparisons; aux variables come after

    def input_var(self, bit: int) -> int:
        return bit + 1

    def output_var(self, label: int) -> int:
        return self.n_inputs + 1 + label


@dataclass(frozen=True, eq=False)
class CardModel:
    name: str
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...] | None
    layout: Layout
    constraints: tuple[Constraint, ...]

    def verify(self) -> None:
        """Every constraint's variables lie inside the layout, and each output is defined once."""
        top = self.layout.n_layout_vars
        defined: set[int] = set()
        for con in self.constraints:
            if isinstance(con, Fact):
                lits: tuple[int, ...] = (con.lit,)
            elif isinstance(con, StaircaseGate):
                lits = (con.out, *con.above, *con.below)
            else:
                lits = (con.out, *con.lits)
            for lit in lits:
                if lit == 0 or abs(lit) > top:
                    raise ModelError(f"{con.origin}: literal {lit} outside 1..{top}")
            if isinstance(con, AtLeast | AndGate | StaircaseGate):
                if con.out in defined:
                    raise ModelError(f"{con.origin}: variable {con.out} defined twice")
                defined.add(con.out)


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
