"""Stage 5 — CNF: every cardinality constraint through the selected encoding (paper eq. 12–13).

The formula is the conjunction of the blocks' encodings.  Auxiliary variables of the encodings
are numbered after the layout (``bnnc.card``), in constraint order, so the numbering is
deterministic.

A :class:`~bnnc.card.StaircaseGate` ``g ⇔ ∧_k (J_k → C_k)`` with J_k ⇔ [count of class j ≥ b_k]
and C_k ⇔ [count of class c ≥ a_k] reads J_k and C_k off full (uncapped) unary counters of the
two classes' literals (``totalizer.unary_count``; one counter per distinct row, shared by every
pair that needs it).  Each step that can fail gets y_k ⇔ J_k ∧ ¬C_k (or is J_k or ¬C_k itself
when the other side is constant), and g ⇔ ¬(y_1 ∨ … ∨ y_m).  Every counter output and every y_k
is a function of the literals, so the formula stays parsimonious.
"""

from __future__ import annotations

from dataclasses import dataclass

from bnnc.card import AndGate, AtLeast, CardModel, Fact, Layout, StaircaseGate
from bnnc.clauses import ClauseStore
from bnnc.encodings import Clauses, VarPool, encode_at_least
from bnnc.encodings.totalizer import unary_count
from bnnc.errors import BnncError, EncodingLimitError, ModelError


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


def lower_card_to_cnf(card: CardModel, encoding: str, model_hash: str) -> CnfFormula:
    pool = VarPool(card.layout.n_layout_vars)
    clauses = ClauseStore()
    counters: dict[tuple[int, ...], list[int]] = {}
    for con in card.constraints:
        if isinstance(con, Fact):
            clauses.append([con.lit])
        elif isinstance(con, AndGate):
            # out → each member; all members → out.
            for lit in con.lits:
                clauses.append([-con.out, lit])
            clauses.append([con.out, *(-lit for lit in con.lits)])
        elif isinstance(con, AtLeast):
            try:
                clauses.extend(encode_at_least(encoding, con.out, con.lits, con.bound, pool))
            except EncodingLimitError as err:
                raise EncodingLimitError(f"{con.origin}: {err}") from err
        elif isinstance(con, StaircaseGate):
            block: Clauses = []
            _staircase(con, counters, pool, block)
            clauses.extend(block)
        else:  # pragma: no cover - the Constraint union is closed
            raise BnncError(f"unknown constraint {con!r}")
    return CnfFormula(
        name=card.name,
        model_hash=model_hash,
        encoding=encoding,
        input_shape=card.input_shape,
        class_names=card.class_names,
        layout=card.layout,
        num_vars=pool.top,
        clauses=clauses,
    )


def _staircase(
    con: StaircaseGate,
    counters: dict[tuple[int, ...], list[int]],
    pool: VarPool,
    clauses: Clauses,
) -> None:
    """Clauses for ``con.out ⇔ ∧_k (Σ below ≥ b_k → Σ above ≥ a_k)`` (see the module docstring)."""

    def at_least(lits: tuple[int, ...], k: int) -> int | bool:
        """A literal equivalent to "at least k of lits are true", or its constant value."""
        if k <= 0 or k > len(lits):
            return k <= 0
        if lits not in counters:
            counters[lits] = unary_count(lits, pool, clauses)
        return counters[lits][k - 1]

    failures: list[int] = []  # y_k: step k fails
    for b, a in con.steps:
        j_lit, c_lit = at_least(con.below, b), at_least(con.above, a)
        if j_lit is False or c_lit is True:
            continue  # the step always holds
        if j_lit is True and c_lit is False:
            clauses.append([-con.out])  # the step always fails
            return
        if j_lit is True:
            assert isinstance(c_lit, int)
            failures.append(-c_lit)
        elif c_lit is False:
            assert isinstance(j_lit, int)
            failures.append(j_lit)
        else:
            assert isinstance(j_lit, int) and isinstance(c_lit, int)
            y = pool.new()
            clauses.extend([[-y, j_lit], [-y, -c_lit], [y, -j_lit, c_lit]])
            failures.append(y)
    # out ⇔ no step fails.
    clauses.extend([-con.out, -y] for y in failures)
    clauses.append([con.out, *failures])
