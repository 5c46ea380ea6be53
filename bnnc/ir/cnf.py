"""Stage 5 — CNF: every cardinality constraint through the selected encoding (paper eq. 12–13).

The formula is the conjunction of the blocks' encodings.  Auxiliary variables of the encodings
are numbered after the layout (``bnnc.ir.card``), in constraint order, so the numbering is
deterministic.

A :class:`~bnnc.ir.card.StaircaseGate` ``g ⇔ ∧_k (J_k → C_k)`` with J_k ⇔ [count of class j ≥ b_k]
and C_k ⇔ [count of class c ≥ a_k] reads J_k and C_k off full (uncapped) unary counters of the
two classes' literals (``totalizer.unary_count``; one counter per distinct row, shared by every
pair that needs it).  Each step that can fail gets y_k ⇔ J_k ∧ ¬C_k (or is J_k or ¬C_k itself
when the other side is constant), and g ⇔ ¬(y_1 ∨ … ∨ y_m).  Every counter output and every y_k
is a function of the literals, so the formula stays parsimonious.
"""

from __future__ import annotations

from dataclasses import dataclass

from bnnc.errors import ModelError
from bnnc.ir.card import Layout
from bnnc.ir.clauses import ClauseStore
from bnnc.ir.region import Region


@dataclass(frozen=True, eq=False)
class CnfFormula:
    name: str
    model_hash: str
    encoding: str
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...] | None
    layout: Layout
    num_vars: int
    clauses: ClauseStore
    region: Region | None = None  # specialised to this region: exact on its inputs only
    # Order-encoded integer inputs (BnnModel.order_encoded): the clauses include the order
    # clauses, and the input space is the integer vectors (domain.ordered_size), 0 otherwise.
    order_encoded: int = 0

    def verify(self) -> None:
        """Every literal is a declared variable; the layout fits below the auxiliaries."""
        if self.layout.n_layout_vars > self.num_vars:
            raise ModelError("layout variables exceed the declared variable count")
        if self.clauses.max_var() > self.num_vars:
            bad = next(c for c in self.clauses if max(map(abs, c)) > self.num_vars)
            raise ModelError(f"clause {bad} mentions a variable outside 1..{self.num_vars}")
        if self.clauses.has_empty_clause():
            raise ModelError("the formula has an empty clause")

    def label_name(self, label: int) -> str:
        return self.class_names[label] if self.class_names else str(label)

    def describe_label(self, label: int) -> str:
        """``3`` or, with class names, ``3 (cat)``."""
        return f"{label} ({self.class_names[label]})" if self.class_names else str(label)
