"""Direct (binomial) encoding: no auxiliary variables, exponentially many clauses.

Source: the "naive" or binomial encoding of cardinality constraints, described e.g. by
Olivier Bailleux and Yacine Boufkhad, "Efficient CNF encoding of Boolean cardinality
constraints", CP 2003, LNCS 2833, pp. 108–122, and by Alan M. Frisch and Paul A. Giannaros,
"SAT encodings of the at-most-k constraint", ModRef 2010 (there as the "binomial encoding").

Σ lits ≥ k fails exactly when n − k + 1 literals are false, and holds exactly when k literals are
true, so with n = len(lits)::

    out → ∨ S          for every (n − k + 1)-subset S of the literals (one of them is true)
    ¬out → ∨ ¬S        for every k-subset S of the literals (one of them is false)

That is C(n, n − k + 1) + C(n, k) clauses and no new variable, so it is trivially parsimonious.
Subsets are taken over positions, so a repeated literal counts once per occurrence; inside a
clause duplicate literals are merged, clauses holding a literal and its negation are dropped, and
a clause equal to an earlier one is dropped, all keeping the order of generation.

The encoding refuses (:class:`~bnnc.errors.EncodingLimitError`, before generating anything) when
it would need more than :data:`DIRECT_CLAUSE_LIMIT` clauses.

The three literals 1, 2, 3 with bound 2 and ``out`` = 4:

>>> from bnnc.encodings import VarPool
>>> pool = VarPool(4)
>>> for clause in encode(4, [1, 2, 3], 2, pool):
...     print(clause)
[-4, 1, 2]
[-4, 1, 3]
[-4, 2, 3]
[4, -1, -2]
[4, -1, -3]
[4, -2, -3]
>>> pool.top
4
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from math import comb

from bnnc.encodings import Clauses, VarPool
from bnnc.errors import EncodingLimitError

DIRECT_CLAUSE_LIMIT = 100_000
"""The most clauses one direct encoding may produce (counted before any clean-up)."""

__all__ = ["DIRECT_CLAUSE_LIMIT", "encode"]


def _fmt_count(count: int) -> str:
    """A clause count for a message: exact with separators when short, else like ``2.7e11``."""
    if count < 10_000_000:
        return f"{count:,}"
    return f"{count:.1e}".replace("e+", "e")


def encode(out: int, lits: Sequence[int], bound: int, pool: VarPool) -> Clauses:
    """Clauses for ``out ⇔ Σ lits ≥ bound``, assuming ``1 ≤ bound ≤ len(lits) − bound + 1``.

    Raises :class:`EncodingLimitError` if more than :data:`DIRECT_CLAUSE_LIMIT` clauses are needed.
    """
    del pool  # no auxiliary variables
    n = len(lits)
    assert 1 <= bound <= n - bound + 1, f"unnormalised bound {bound} for {n} literals"
    assert abs(out) not in {abs(lit) for lit in lits}, "out must not occur among the literals"

    false_needed = n - bound + 1  # this many false literals refute the constraint
    count = comb(n, bound) + comb(n, false_needed)
    if count > DIRECT_CLAUSE_LIMIT:
        raise EncodingLimitError(
            f"direct encoding needs C({n},{bound}) + C({n},{false_needed}) = "
            f"{_fmt_count(count)} clauses (limit {DIRECT_CLAUSE_LIMIT:,}); "
            "use the adder encoding (the default) or the totalizer"
        )

    clauses: Clauses = []
    seen: set[tuple[int, ...]] = set()

    def add(clause: list[int]) -> None:
        unique = tuple(dict.fromkeys(clause))  # merge repeats, keep first-occurrence order
        if unique in seen or any(-lit in unique for lit in unique):
            return
        seen.add(unique)
        clauses.append(list(unique))

    for subset in combinations(lits, false_needed):
        add([-out, *subset])
    for subset in combinations(lits, bound):
        add([out, *(-lit for lit in subset)])
    return clauses
