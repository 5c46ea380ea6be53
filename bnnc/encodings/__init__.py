"""CNF encodings of ``out ⇔ Σ lits ≥ bound``, all behind one signature (pysat ``card.py`` style).

Every encoding module exposes ``encode(out, lits, bound, pool) -> clauses`` and may assume the
normalised case ``1 ≤ bound ≤ len(lits) − bound + 1``: :func:`encode_at_least` folds constant
constraints to a unit clause and, when counting the false literals is shorter, rewrites
``out ⇔ Σ ℓ ≥ k`` as ``¬out ⇔ Σ ¬ℓ ≥ n − k + 1`` (cnfgen style), so that each encoding implements
one case and never counts past min(k, n − k + 1).

Every encoding is *two-sided* (out is equivalent to the constraint, not merely implied) and
*parsimonious*: each auxiliary variable it creates is a function of the literals, so every
assignment of the literals extends to exactly one model.  Literals may repeat (a repeated
literal counts once per occurrence).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Clause = list[int]
Clauses = list[Clause]


class VarPool:
    """Hands out fresh variables after a fixed layout: allocation order is deterministic."""

    def __init__(self, top: int) -> None:
        self.top = top  # the largest variable handed out so far

    def new(self) -> int:
        self.top += 1
        return self.top

    def new_block(self, count: int) -> range:
        """``count`` consecutive fresh variables."""
        first = self.top + 1
        self.top += count
        return range(first, first + count)


Encoder = Callable[[int, Sequence[int], int, VarPool], Clauses]


def _registry() -> dict[str, Encoder]:
    from bnnc.encodings import adder, auto, cardnet, direct, seqcounter, totalizer

    return {
        "totalizer": totalizer.encode,
        "seqcounter": seqcounter.encode,
        "direct": direct.encode,
        "adder": adder.encode,
        "cardnet": cardnet.encode,
        "auto": auto.encode,
    }


ENCODING_NAMES = ("totalizer", "seqcounter", "direct", "adder", "cardnet", "auto")
DEFAULT_ENCODING = "adder"


def encode_at_least(
    encoding: str, out: int, lits: Sequence[int], bound: int, pool: VarPool
) -> Clauses:
    """Clauses for ``out ⇔ Σ lits ≥ bound`` with the named encoding."""
    encoder = _registry()[encoding]
    n = len(lits)
    if bound <= 0:
        return [[out]]
    if bound > n:
        return [[-out]]
    flipped = n - bound + 1
    if flipped < bound:
        return encoder(-out, [-lit for lit in lits], flipped, pool)
    return encoder(out, list(lits), bound, pool)
