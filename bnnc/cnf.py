"""Stage 5 — CNF: every cardinality constraint through the selected encoding (paper eq. 12–13).

The formula is the conjunction of the blocks' encodings.  Auxiliary variables of the encodings
are numbered after the layout (``bnnc.card``), in constraint order, so the numbering is
deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

from bnnc.card import AndGate, AtLeast, CardModel, Fact, Layout
from bnnc.encodings import Clauses, VarPool, encode_at_least
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
    clauses: Clauses

    def verify(self) -> None:
        """Every literal is a declared variable; the layout fits below the auxiliaries."""
        if self.layout.n_layout_vars > self.num_vars:
            raise ModelError("layout variables exceed the declared variable count")
        lits = list(chain.from_iterable(self.clauses))
        if lits and (max(lits) > self.num_vars or min(lits) < -self.num_vars or 0 in lits):
            bad = next(c for c in self.clauses if 0 in c or max(map(abs, c)) > self.num_vars)
            raise ModelError(f"clause {bad} mentions a variable outside 1..{self.num_vars}")
        if any(not isinstance(clause, list) for clause in self.clauses):
            raise ModelError("clauses must be lists of literals")

    def label_name(self, label: int) -> str:
        return self.class_names[label] if self.class_names else str(label)

    def describe_label(self, label: int) -> str:
        """``3`` or, with class names, ``3 (cat)``."""
        return f"{label} ({self.class_names[label]})" if self.class_names else str(label)


def lower_card_to_cnf(card: CardModel, encoding: str, model_hash: str) -> CnfFormula:
    pool = VarPool(card.layout.n_layout_vars)
    clauses: Clauses = []
    for con in card.constraints:
        if isinstance(con, Fact):
            clauses.append([con.lit])
        elif isinstance(con, AndGate):
            # out → each member; all members → out.
            clauses.extend([-con.out, lit] for lit in con.lits)
            clauses.append([con.out, *(-lit for lit in con.lits)])
        elif isinstance(con, AtLeast):
            try:
                clauses.extend(encode_at_least(encoding, con.out, con.lits, con.bound, pool))
            except EncodingLimitError as err:
                raise EncodingLimitError(f"{con.origin}: {err}") from err
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
