"""Totalizer, two-sided and k-simplified (Bailleux & Boufkhad, CP 2003).

Source: Olivier Bailleux and Yacine Boufkhad, "Efficient CNF encoding of Boolean cardinality
constraints", Principles and Practice of Constraint Programming (CP 2003), LNCS 2833,
pp. 108–122.

The literals are the leaves of a balanced binary tree.  A node covering m literals sums them in
unary: outputs o_1..o_t with o_r ⇔ "at least r of my literals are true".  Since nothing above a
node ever asks for more than ``bound`` (k-simplification), t = min(m, bound); a *capped* node
(t < m) then only knows "at least t", not "exactly t", which the clauses below respect.  A leaf is
its literal (no variable).

A node with children a (p literals, t_a outputs) and b (q literals, t_b outputs) is defined from
them by two families of clauses, with a_0 = b_0 = true:

* ≥ side, for 0 ≤ i ≤ t_a, 0 ≤ j ≤ t_b, 1 ≤ i + j ≤ t:  ``a_i ∧ b_j → o_{i+j}``.
* ≤ side, for 0 ≤ i ≤ t_a, 0 ≤ j ≤ t_b, i + j + 1 ≤ t:  ``¬a_{i+1} ∧ ¬b_{j+1} → ¬o_{i+j+1}``,
  read "a has at most i and b at most j, so together at most i + j".  Here ``¬a_{i+1}`` must
  mean "a has at most i": it does while a_{i+1} is an output (i < t_a), and for i = t_a only if
  a is uncapped (t_a = p), where a_{p+1} is the constant false and is left out of the clause.
  For a capped child "a_{t_a} true" only means "at least t_a", so i = t_a would be unsound —
  but it never occurs: capping means t_a = bound ≥ t > i.  (Likewise for b and j.)

These clauses suffice for equivalence: when a and b are right, every o_r is forced to its value.
If count_a + count_b ≥ r, the ≥ clause with i = min(count_a, t_a, r), j = r − i fires; if it is
< r, the ≤ clause with i = count_a, j = r − 1 − i fires (or, when that j exceeds t_b, which then
equals q, the one with j = q, i = r − 1 − q).  So every output is a function of the literals and
the encoding is parsimonious.

At the root only ``out ⇔ a + b ≥ bound`` is needed, i.e. the two families restricted to
r = bound: ``a_i ∧ b_{bound−i} → out`` and ``out → a_{i+1} ∨ b_{bound−i}``, O(bound) clauses and
no unary root.  A node whose children are both leaves may see a repeated literal (duplicate in a
clause) or a literal with its negation (tautology); its clauses are cleaned.  For n = 100 and
bound = 50 this makes 572 auxiliary variables and 6,145 clauses.

The three literals 1, 2, 3 with bound 2 and ``out`` = 4 make a leaf [1] and a node over [2, 3]
with outputs 5 (≥ 1) and 6 (≥ 2); the last four clauses are the root:

>>> from bnnc.encodings import VarPool
>>> pool = VarPool(4)
>>> for clause in encode(4, [1, 2, 3], 2, pool):
...     print(clause)
[-3, 5]
[-2, 5]
[-2, -3, 6]
[-5, 2, 3]
[-6, 2]
[-6, 3]
[-6, 4]
[-1, -5, 4]
[-4, 1, 6]
[-4, 5]
>>> pool.top
6
"""

from __future__ import annotations

from collections.abc import Sequence

from bnnc.encodings import Clause, Clauses, VarPool


def encode(out: int, lits: Sequence[int], bound: int, pool: VarPool) -> Clauses:
    """Clauses for ``out ⇔ Σ lits ≥ bound``, assuming ``1 ≤ bound ≤ len(lits) − bound + 1``."""
    n = len(lits)
    assert 1 <= bound <= n - bound + 1, f"unnormalised bound {bound} for {n} literals"
    assert abs(out) not in {abs(lit) for lit in lits}, "out must not occur among the literals"

    if n == 1:  # then bound == 1 and the root is a leaf: out ⇔ ℓ_1
        return [[-out, lits[0]], [out, -lits[0]]]
    leaves = list(lits)  # indexable by the recursion, which works on index ranges, not slices
    clauses: Clauses = []
    half = n // 2
    # Children first, left before right: variables are numbered in this fixed post-order.
    a = _node(leaves, 0, half, bound, pool, clauses)
    b = _node(leaves, half, n, bound, pool, clauses)
    start = len(clauses)
    _root(out, a, half, b, n - half, bound, clauses)
    if n == 2:
        _clean(clauses, start)
    return clauses


def unary_count(lits: Sequence[int], pool: VarPool, clauses: Clauses) -> list[int]:
    """The full (uncapped) unary count of ``lits``, appending its defining clauses.

    Output r − 1 is a variable equivalent to "at least r of ``lits`` are true", for
    1 ≤ r ≤ len(lits) (a single literal is its own count and needs no variable).  Every output is
    a function of the literals, so the clauses are parsimonious; used by the adder encoding.
    """
    assert lits, "nothing to count"
    return _node(list(lits), 0, len(lits), len(lits), pool, clauses)


def _node(
    lits: list[int], lo: int, hi: int, bound: int, pool: VarPool, clauses: Clauses
) -> list[int]:
    """The unary outputs of the node over ``lits[lo:hi]``, appending their defining clauses."""
    m = hi - lo
    if m == 1:
        return [lits[lo]]
    mid = lo + m // 2
    a = _node(lits, lo, mid, bound, pool, clauses)
    b = _node(lits, mid, hi, bound, pool, clauses)
    outs = list(pool.new_block(min(m, bound)))
    start = len(clauses)
    _merge(a, mid - lo, b, hi - mid, outs, clauses)
    if m == 2:
        _clean(clauses, start)
    return outs


def _merge(a: list[int], p: int, b: list[int], q: int, o: list[int], clauses: Clauses) -> None:
    """Define ``o`` (t outputs) as the capped unary sum of ``a`` (over p) and ``b`` (over q)."""
    t, ta, tb = len(o), len(a), len(b)
    # The ≤ side below relies on this: a capped child has at least as many outputs as o.
    assert (ta == p or ta >= t) and (tb == q or tb >= t)
    append = clauses.append
    # ≥ side.  i = 0 or j = 0 (a_0 = b_0 = true) first, then both positive with i + j ≤ t.
    for j in range(1, min(tb, t) + 1):
        append([-b[j - 1], o[j - 1]])
    for i in range(1, min(ta, t) + 1):
        append([-a[i - 1], o[i - 1]])
        for j in range(1, min(tb, t - i) + 1):
            append([-a[i - 1], -b[j - 1], o[i + j - 1]])
    # ≤ side: o_{i+j+1} → a_{i+1} ∨ b_{j+1}, leaving out a_{i+1} / b_{j+1} when it is false.
    # i = t_a is reached only when t_a < t ≤ bound, i.e. a is uncapped and a_{t_a+1} is false;
    # a capped child (t_a = bound ≥ t) stops at i ≤ t − 1 < t_a, where a_{i+1} is exact.
    for i in range(min(ta, t - 1) + 1):
        for j in range(min(tb, t - 1 - i) + 1):
            clause = [-o[i + j]]
            if i < ta:
                clause.append(a[i])
            if j < tb:
                clause.append(b[j])
            append(clause)


def _root(out: int, a: list[int], p: int, b: list[int], q: int, bound: int, c: Clauses) -> None:
    """Define ``out ⇔ a + b ≥ bound`` for unary children a (over p) and b (over q)."""
    ta, tb = len(a), len(b)
    assert (ta == p or ta >= bound) and (tb == q or tb >= bound)
    # ≥ side: a_i ∧ b_{bound−i} → out over 0 ≤ i ≤ t_a, 0 ≤ bound − i ≤ t_b.
    for i in range(max(0, bound - tb), min(ta, bound) + 1):
        j = bound - i
        clause: Clause = []
        if i:
            clause.append(-a[i - 1])
        if j:
            clause.append(-b[j - 1])
        clause.append(out)
        c.append(clause)
    # ≤ side: out → a_{i+1} ∨ b_{j+1} with i + j + 1 = bound; as in _merge, i = t_a (j = t_b)
    # occurs only for an uncapped child, whose a_{t_a+1} (b_{t_b+1}) is false and left out.
    for i in range(max(0, bound - 1 - tb), min(ta, bound - 1) + 1):
        j = bound - 1 - i
        clause = [-out]
        if i < ta:
            clause.append(a[i])
        if j < tb:
            clause.append(b[j])
        c.append(clause)


def _clean(clauses: Clauses, start: int) -> None:
    """Dedupe literals in ``clauses[start:]`` and drop tautologies (a leaf-pair node may repeat a
    literal or hold a literal and its negation); order is kept."""
    kept: Clauses = []
    for clause in clauses[start:]:
        unique = list(dict.fromkeys(clause))
        if not any(-lit in unique for lit in unique):
            kept.append(unique)
    clauses[start:] = kept
