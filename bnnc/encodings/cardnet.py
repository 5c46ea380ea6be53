"""Cardinality network from odd-even merges, two-sided and cut to the k-th output.

Source: Roberto Asín, Robert Nieuwenhuis, Albert Oliveras and Enric Rodríguez-Carbonell,
"Cardinality Networks: a theoretical and empirical study", Constraints 16(2), 2011,
pp. 195–221 (simplified merges and m-cardinality networks), built from Kenneth E. Batcher's
odd-even merge ("Sorting networks and their applications", AFIPS 1968).

A comparator maps two wires a, b to max = a ∨ b and min = a ∧ b.  Sorting the literals into
decreasing order, output k (1-based) is true exactly when at least k literals are true, so
``out ⇔ Σ lits ≥ k`` is ``out ⇔ sorted_k``.  Only the first k outputs of any sub-network can
reach sorted_k, which gives the paper's three cuts:

* **m-cardinality network.**  The literals are split into halves, each half is sorted
  recursively but only its first k outputs are kept, and the two are merged (while k ≥ the
  number of literals this is Batcher's odd-even merge sort).  The paper splits off blocks of k
  literals and merges them in a chain; halves give the same O(n log² k) size with a network of
  depth O(log n · log k) instead of O((n/k) log k).
* **Simplified merge.**  The first t outputs of merging sorted a and b need only a_1..a_t and
  b_1..b_t.  Batcher's odd-even merge with the inputs truncated like that: v merges the odd
  positions of a and b, w the even positions, and the result is v_1, then
  (w_i ∨ v_{i+1}, w_i ∧ v_{i+1}) for i ≥ 1, of which outputs 1..t need only v_1..v_{⌊t/2⌋+1}
  and w_1..w_{⌊t/2⌋} (the paper's SMerge is t = n + 1 for two inputs of length n).  The merge
  is written for any lengths (an element without a partner is passed through), so neither n
  nor k is padded to a power of two.
* **Only sorted_k is emitted.**  Comparators are built as a graph of gates first; variables and
  clauses are then emitted for the gates that sorted_k depends on, and no others.  A comparator
  one of whose outputs is never used costs one variable and three clauses, not two and six.

Every emitted gate is defined by full equivalence (``c ⇔ a ∨ b``: ¬a ∨ c, ¬b ∨ c, ¬c ∨ a ∨ b;
``d ⇔ a ∧ b``: ¬d ∨ a, ¬d ∨ b, d ∨ ¬a ∨ ¬b), so each variable is a function of the literals:
the encoding is two-sided and parsimonious, and the gate computing sorted_k is written with the
literal ``out`` (which may be negative) instead of a fresh variable.  With both directions of
every comparator, unit propagation is arc-consistent for the constraint and for its negation
(the paper's theorem for each half; checked exhaustively on small cases by the tests).

Repeated literals and a literal with its negation are folded when a gate is built: x ∨ x = x,
x ∨ ¬x = true, true ∨ y = true, false ∨ y = y (and dually for ∧), so no clause repeats a literal
or is a tautology, and a gate that folds to a constant or a wire gets no variable.  If sorted_k
itself folds to a constant, ``out`` gets a unit clause.

Size: O(n log² k) gates, three clauses each.  With distinct literals, n = 100 at k = 50 needs
1,678 auxiliary variables and 5,037 clauses (totalizer 572 / 6,145, adder 196 / 1,341) and
n = 784 at k = 392 needs 28,810 / 86,433 (totalizer 6,816 / 320,961).  A small bound is
relatively costly: k = 1 is a tree of n − 1 or-gates (n − 2 variables, 3(n − 1) clauses, as
the totalizer), but k = 2 takes 3n − 6 variables and 9n − 15 clauses, against the totalizer's
2n − 4 and 7n − 11 (``auto`` leaves small bounds to the totalizer).

The three literals 1, 2, 3 with bound 2 and ``out`` = 4: the halves are [1] and [2, 3], sorted
into (2 ∨ 3, 2 ∧ 3); merging with [1], the odd positions give v = (1 ∨ (2 ∨ 3), 1 ∧ (2 ∨ 3)) and
the even ones w = (2 ∧ 3), so output 2 is w_1 ∨ v_2.  Only the gates it needs get variables:
5 ⇔ 2 ∧ 3, 6 ⇔ 2 ∨ 3, 7 ⇔ 1 ∧ 6 and out ⇔ 5 ∨ 7 (v_1 is never built):

>>> from bnnc.encodings import VarPool
>>> pool = VarPool(4)
>>> for clause in encode(4, [1, 2, 3], 2, pool):
...     print(clause)
[-5, 2]
[-5, 3]
[5, -2, -3]
[-2, 6]
[-3, 6]
[-6, 2, 3]
[-7, 1]
[-7, 6]
[7, -1, -6]
[-5, 4]
[-7, 4]
[-4, 5, 7]
>>> pool.top
7
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from bnnc.encodings import Clauses, VarPool


class _Const(Enum):
    FALSE = 0
    TRUE = 1


class _Gate:
    """``a ∨ b`` or ``a ∧ b``; ``var`` is set when the gate is emitted."""

    __slots__ = ("a", "b", "is_or", "var")

    def __init__(self, is_or: bool, a: Wire, b: Wire) -> None:
        self.is_or = is_or
        self.a = a
        self.b = b
        self.var = 0


Wire = int | _Const | _Gate
"""A literal, a constant, or a gate."""


def _gate(is_or: bool, a: Wire, b: Wire) -> Wire:
    """``a ∨ b`` (``is_or``) or ``a ∧ b``, folded when an input is constant or the two inputs are
    the same literal or complementary literals."""
    absorbing, neutral = (_Const.TRUE, _Const.FALSE) if is_or else (_Const.FALSE, _Const.TRUE)
    if a is absorbing or b is absorbing:
        return absorbing
    if a is neutral:
        return b
    if b is neutral or (isinstance(a, _Gate) and a is b):
        return a
    if isinstance(a, int) and isinstance(b, int):
        if a == b:
            return a
        if a == -b:
            return absorbing
    return _Gate(is_or, a, b)


def _comparator(a: Wire, b: Wire) -> tuple[Wire, Wire]:
    """(max, min) = (a ∨ b, a ∧ b)."""
    return _gate(True, a, b), _gate(False, a, b)


def _merge(a: list[Wire], b: list[Wire], need: int) -> list[Wire]:
    """The first ``min(need, len(a) + len(b))`` outputs of merging the decreasing a and b."""
    a, b = a[:need], b[:need]
    if not a or not b:
        return a or b
    if len(a) == 1 and len(b) == 1:
        return list(_comparator(a[0], b[0]))[:need]
    half = need // 2
    v = _merge(a[0::2], b[0::2], half + 1)
    w = _merge(a[1::2], b[1::2], half)
    merged = [v[0]]
    # Interleaved v_1 w_1 v_2 w_2 …, a 0-1 input is sorted up to one pair (w_i, v_{i+1}).
    for i in range(1, half + 1):
        has_w, has_v = i <= len(w), i < len(v)
        if has_w and has_v:
            merged.extend(_comparator(w[i - 1], v[i]))
        elif has_w:  # |v| = |w|: w ends the sequence
            merged.append(w[i - 1])
        elif has_v:  # |v| = |w| + 2 (or |w| + 1 with w empty): v ends it
            merged.append(v[i])
        else:
            break
    return merged[:need]


def _network(lits: list[Wire], need: int) -> list[Wire]:
    """The first ``min(need, len(lits))`` outputs of sorting ``lits`` into decreasing order."""
    if len(lits) == 1:
        return lits
    mid = len(lits) // 2
    return _merge(_network(lits[:mid], need), _network(lits[mid:], need), need)


def _emit(out: int, root: Wire, pool: VarPool) -> Clauses:
    """Variables and clauses for the gates ``root`` depends on; ``root`` itself is ``out``."""
    if isinstance(root, _Const):
        return [[out] if root is _Const.TRUE else [-out]]
    if isinstance(root, int):
        return [[-out, root], [out, -root]]
    clauses: Clauses = []
    # Iterative post-order, first input first: variables are numbered in that fixed order.
    stack: list[tuple[_Gate, bool]] = [(root, False)]
    while stack:
        gate, expanded = stack.pop()
        if gate.var:
            continue
        if not expanded:
            stack.append((gate, True))
            for child in (gate.b, gate.a):
                if isinstance(child, _Gate) and not child.var:
                    stack.append((child, False))
            continue
        gate.var = out if gate is root else pool.new()
        a, b = _lit(gate.a), _lit(gate.b)
        g = gate.var
        if gate.is_or:
            clauses.extend([[-a, g], [-b, g], [-g, a, b]])
        else:
            clauses.extend([[-g, a], [-g, b], [g, -a, -b]])
    return clauses


def _lit(wire: Wire) -> int:
    assert not isinstance(wire, _Const), "constants are folded away"
    if isinstance(wire, _Gate):
        assert wire.var, "inputs are emitted first"
        return wire.var
    return wire


def encode(out: int, lits: Sequence[int], bound: int, pool: VarPool) -> Clauses:
    """Clauses for ``out ⇔ Σ lits ≥ bound``, assuming ``1 ≤ bound ≤ len(lits) − bound + 1``."""
    n = len(lits)
    assert 1 <= bound <= n - bound + 1, f"unnormalised bound {bound} for {n} literals"
    assert abs(out) not in {abs(lit) for lit in lits}, "out must not occur among the literals"
    wires: list[Wire] = list(lits)
    return _emit(out, _network(wires, bound)[bound - 1], pool)
