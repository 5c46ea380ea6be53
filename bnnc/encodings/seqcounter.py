"""Sequential counter, made two-sided (Sinz, CP 2005).

Source: Carsten Sinz, "Towards an optimal CNF encoding of Boolean cardinality constraints",
Principles and Practice of Constraint Programming (CP 2005), LNCS 3709, pp. 827–831.

Sinz's counter scans the literals ℓ_1..ℓ_n left to right and keeps a unary register per prefix:
``s[i][j]`` means "at least j of ℓ_1..ℓ_i are true".  The paper only needs one direction of each
definition (an at-most-k constraint is enforced, never reified).  Here every register is defined by
full equivalence, which makes the encoding both two-sided and parsimonious::

    s[i][j] ⇔ s[i−1][j] ∨ (s[i−1][j−1] ∧ ℓ_i)

with the boundary values s[i−1][0] = true and s[i−1][j] = false for j > i − 1.  Writing
a = s[i−1][j], b = s[i−1][j−1], the equivalence is four clauses::

    ¬a ∨ s            (a prefix already had j: still has j)
    ¬b ∨ ¬ℓ_i ∨ s     (j − 1 before plus ℓ_i makes j)
    ¬s ∨ a ∨ b        (s needs j − 1 before ...)
    ¬s ∨ a ∨ ℓ_i      (... and either j before or ℓ_i now)

and the constant boundary values drop a literal or a whole (satisfied) clause.

Only registers that can influence s[n][bound] are built: j ≤ min(i, bound) (the counter stops at
the bound, and a prefix of i literals cannot reach more than i) and j ≥ bound − (n − i) (the
remaining n − i literals could not lift a smaller count to the bound).  The final register
s[n][bound] *is* ``out``: its clauses are written with the literal ``out``, which may be negative.
Size: at most bound·(n − bound + 1) registers and four clauses each.

The three literals 1, 2, 3 with bound 2 and ``out`` = 4 need registers s[1][1] = 5,
s[2][1] = 6, s[2][2] = 7 and s[3][2] = out:

>>> from bnnc.encodings import VarPool
>>> pool = VarPool(4)
>>> for clause in encode(4, [1, 2, 3], 2, pool):
...     print(clause)
[-1, 5]
[-5, 1]
[-5, 6]
[-2, 6]
[-6, 5, 2]
[-5, -2, 7]
[-7, 5]
[-7, 2]
[-7, 4]
[-6, -3, 4]
[-4, 7, 6]
[-4, 7, 3]
>>> pool.top
7
"""

from __future__ import annotations

from collections.abc import Sequence

from bnnc.encodings import Clauses, VarPool


def _define(s: int, a: int | None, b: int | None, lit: int, clauses: Clauses) -> None:
    """Append the clauses of ``s ⇔ a ∨ (b ∧ lit)``.

    ``a is None`` stands for the constant false (s[i−1][j] with j > i − 1) and ``b is None`` for
    the constant true (s[i−1][0]); a constant drops its literal or a satisfied clause.
    """
    # ≥ side: a → s and b ∧ lit → s.
    if a is not None:
        clauses.append([-a, s])
    clauses.append([-lit, s] if b is None else [-b, -lit, s])
    # ≤ side: s → a ∨ b (satisfied when b is true) and s → a ∨ lit.
    if b is not None:
        clauses.append([-s, b] if a is None else [-s, a, b])
    clauses.append([-s, lit] if a is None else [-s, a, lit])


def encode(out: int, lits: Sequence[int], bound: int, pool: VarPool) -> Clauses:
    """Clauses for ``out ⇔ Σ lits ≥ bound``, assuming ``1 ≤ bound ≤ len(lits) − bound + 1``."""
    n = len(lits)
    assert 1 <= bound <= n - bound + 1, f"unnormalised bound {bound} for {n} literals"
    assert abs(out) not in {abs(lit) for lit in lits}, "out must not occur among the literals"

    clauses: Clauses = []
    # prev[j − prev_lo] is s[i−1][j] for prev_lo ≤ j ≤ prev_hi (row 0 is empty: nothing built).
    prev: list[int] = []
    prev_lo, prev_hi = 1, 0
    for i, lit in enumerate(lits, start=1):
        lo = max(1, bound - (n - i))
        hi = min(i, bound)
        # The last row holds the single register s[n][bound], which is out itself.
        row = [out] if i == n else list(pool.new_block(hi - lo + 1))
        for j in range(lo, hi + 1):
            # s[i−1][j]: false above the previous row (j = i); never below it (see module doc).
            a = prev[j - prev_lo] if j <= prev_hi else None
            # s[i−1][j−1]: true for j = 1; otherwise inside the previous row.
            b = prev[j - 1 - prev_lo] if j > 1 else None
            _define(row[j - lo], a, b, lit, clauses)
        prev, prev_lo, prev_hi = row, lo, hi
    return clauses
