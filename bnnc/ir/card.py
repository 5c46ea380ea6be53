"""Stage 4 — cardinality constraints over literals, on bnnc's fixed variable layout.

Each hidden neuron becomes ``z ⇔ Σ ℓ_j ≥ k`` where ℓ_j is x_j for a +1 weight and ¬x_j for a −1
weight (zero weights are dropped): with m true literals out of n', ⟨a, x⟩ = 2m − n', so
⟨a, x⟩ ≥ C ⇔ m ≥ ⌈(C + n')/2⌉.

Each pair of classes c < j becomes ``g_cj ⇔ Σ_p |w_p|·ℓ_p ≥ K`` over the positions p where the two
weight rows differ (w = a_c − a_j ∈ {±1, ±2}); a literal with weight 2 appears twice, and common
factors are divided out, so ±1 rows give a plain cardinality constraint.  Label c is
``o_c ⇔ ∧_{j>c} g_cj ∧ ∧_{j<c} ¬g_jc``: c beats every later class with ≥ and every earlier one
with >, so ties go to the lowest index and exactly one output is true for every input.

A pair that the ILP compares by a staircase (per-class output scales, see :class:`bnnc.ir.ilp.
Staircase`) becomes ``g_cj ⇔ ∧_k (Σ ℓ^j ≥ b_k → Σ ℓ^c ≥ a_k)`` over the literals ℓ^c of class
c's own row and ℓ^j of class j's (:class:`StaircaseGate`); the CNF stage counts each class's
literals once, with a full unary counter shared by every pair that needs it.

Variable layout (docs/semantics.md; ``bnnc.backend.dimacs`` writes it into every file):
inputs 1..n, outputs n+1..n+C, then hidden neurons layer by layer (constant ones get none),
then the class comparisons g_cj, then the auxiliary variables of the CNF encoding (including the
unary counters and step variables of staircase comparisons).
"""

from __future__ import annotations

from dataclasses import dataclass

from bnnc.errors import ModelError


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
