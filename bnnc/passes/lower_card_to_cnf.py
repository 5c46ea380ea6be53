"""Pass 4: cardinality constraints → CNF through the selected encoding (paper eq. 12–13); the
staircase construction is described in ``bnnc.ir.cnf``.
"""

from __future__ import annotations

from bnnc.encodings import Clauses, VarPool, encode_at_least
from bnnc.encodings.totalizer import unary_count
from bnnc.errors import BnncError, EncodingLimitError
from bnnc.ir.card import AndGate, AtLeast, CardModel, Fact, StaircaseGate
from bnnc.ir.clauses import ClauseStore
from bnnc.ir.cnf import CnfFormula


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
