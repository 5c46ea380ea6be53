"""Adder network: count the true literals in binary, then compare with the bound (linear in n).

Sources: Joost P. Warners, "A linear-time transformation of linear inequalities into conjunctive
normal form", Information Processing Letters 68(2), 1998, pp. 63–69, and Niklas Eén and Niklas
Sörensson, "Translating pseudo-Boolean constraints into SAT", Journal on Satisfiability, Boolean
Modeling and Computation 2, 2006, pp. 1–26 (adder networks, the bucket construction of full
adders, and comparing a binary sum with a constant); Olivier Bailleux and Yacine Boufkhad,
"Efficient CNF encoding of Boolean cardinality constraints", CP 2003, LNCS 2833, pp. 108–122
(the totalizer, used for optional blocks and as the fallback).

The capped totalizer is quadratic in the fan-in when the bound is about n/2.  This encoding
counts in binary instead, so its size is O(n) whatever the bound:

1. Optional blocks (``Settings.block_size`` b ≥ 2): the literals are split into ⌈n/b⌉ consecutive
   blocks of nearly equal size m ≤ b; each gets a full, uncapped totalizer
   (:func:`totalizer.unary_count`): u_r ⇔ "at least r of the block's literals are true".  Its
   count c is turned into binary without intermediate variables: bit r of c is true exactly on
   the intervals [j·2^{r+1} + 2^r, (j+1)·2^{r+1}), and as the unary is monotone
   "c ∈ [lo, hi)" is ``u_lo ∧ ¬u_hi`` (u_{m+1} false), so bit_r ⇔ ∨ intervals is one clause per
   interval (``u_lo ∧ ¬u_hi → bit``) and one per gap below, between and above them
   (``u_lo' ∧ ¬u_hi' → ¬bit``); the top bit is u_{2^r} itself.  With b = 1 (the default) there
   are no blocks: every literal is a bit of weight 1.  Measured, b = 1 is the smallest
   (n = 100, bound 50: 196 variables and 1,341 clauses; b = 3: 328 / 1,544; b = 8: 420 / 2,061),
   because a full adder turns three bits into two with 2 variables and 14 clauses, which no
   block totalizer matches.
2. Bucket compression (Eén & Sörensson): bits wait in a queue per weight 2^w.  While a queue
   holds three or more, a full adder takes the first three and puts back its sum
   (s ⇔ a ⊕ b ⊕ c, 8 clauses) and sends its carry (c' ⇔ majority, 6 clauses) to weight 2^{w+1};
   two bits take a half adder (4 + 3 clauses).  Adders preserve Σ weight·bit = Σ lits ≤ n, so
   a carry of weight 2^w > n is constantly false and is not created.  Each queue ends with one
   bit: the binary count s_0..s_{W−1}, W = bit length of n.
3. ``out ⇔ S ≥ k`` is a chain from the least significant bit: g_{−1} = true;
   g_i ⇔ s_i ∧ g_{i−1} where bit i of k is 1 and g_i ⇔ s_i ∨ g_{i−1} where it is 0; the bits
   of S above the width of k are or-ed in at the top.  Constants are folded (trailing zero bits
   of k give g = true), runs of the same operation become one n-ary and/or gate, and the last
   gate is ``out`` itself (written with literals, so a negative ``out`` works).

Every variable is defined by full equivalence from the literals, so the encoding is two-sided and
parsimonious.  Literals may repeat or occur with their negation: gate clauses fed by literals are
cleaned (duplicate literals merged, tautologies dropped), which keeps each gate's meaning.

Where the capped totalizer is no larger (measured: n ≤ ``Settings.totalizer_max_n`` or
bound ≤ ``Settings.totalizer_max_bound``), :func:`encode` delegates to :func:`totalizer.encode`;
:func:`encode_network` is the construction alone.

Four literals 1..4 with bound 2 and ``out`` = 5: full adder (1, 2, 3) gives sum 6 and carry 7,
half adder (4, 6) gives sum 8 (bit 0) and carry 9, half adder (7, 9) gives sum 10 (bit 1) and
carry 11 (bit 2); S ≥ 2 = 0b10 is s_1 ∨ s_2:

>>> from bnnc.encodings import VarPool
>>> pool = VarPool(5)
>>> clauses = encode_network(5, [1, 2, 3, 4], 2, pool, block_size=1)
>>> for clause in clauses[-10:]:  # the last half adder and the comparison
...     print(clause)
[7, 9, -10]
[-7, 9, 10]
[7, -9, 10]
[-7, -9, -10]
[-7, -9, 11]
[7, -11]
[9, -11]
[5, -10]
[5, -11]
[-5, 10, 11]
>>> len(clauses), pool.top
(31, 11)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from bnnc.encodings import Clause, Clauses, VarPool, totalizer


@dataclass(frozen=True)
class Settings:
    """The adder's settings (the defaults are what ``--encoding adder`` uses)."""

    block_size: int = 1
    """Block size b; 1 means no blocks (literals feed the adders)."""
    totalizer_max_n: int = 10
    """Up to this many literals :func:`encode` uses the totalizer."""
    totalizer_max_bound: int = 3
    """Up to this (normalised) bound :func:`encode` uses the totalizer."""


DEFAULT = Settings()


def encode(
    out: int, lits: Sequence[int], bound: int, pool: VarPool, settings: Settings = DEFAULT
) -> Clauses:
    """Clauses for ``out ⇔ Σ lits ≥ bound``, assuming ``1 ≤ bound ≤ len(lits) − bound + 1``.

    Delegates to the totalizer for few literals or a small bound, where it is no larger.
    """
    n = len(lits)
    assert 1 <= bound <= n - bound + 1, f"unnormalised bound {bound} for {n} literals"
    if n <= settings.totalizer_max_n or bound <= settings.totalizer_max_bound:
        return totalizer.encode(out, lits, bound, pool)
    return encode_network(out, lits, bound, pool, settings.block_size)


def encode_network(
    out: int, lits: Sequence[int], bound: int, pool: VarPool, block_size: int
) -> Clauses:
    """The adder network for ``out ⇔ Σ lits ≥ bound``, assuming ``1 ≤ bound ≤ len(lits)``."""
    n = len(lits)
    assert 1 <= bound <= n, f"bound {bound} out of range for {n} literals"
    assert block_size >= 1
    assert abs(out) not in {abs(lit) for lit in lits}, "out must not occur among the literals"

    clauses: Clauses = []
    width = n.bit_length()
    queues: list[deque[int]] = [deque() for _ in range(width)]
    if block_size == 1:
        queues[0].extend(lits)
    else:
        nblocks = -(-n // block_size)
        start = 0
        for index in range(nblocks):
            stop = start + (n - start) // (nblocks - index)  # nearly equal, larger ones last
            unary = totalizer.unary_count(lits[start:stop], pool, clauses)
            for weight, bit in enumerate(_binary(unary, pool, clauses)):
                queues[weight].append(bit)
            start = stop

    total: list[int] = []
    for weight, queue in enumerate(queues):
        while len(queue) >= 2:
            ins = [queue.popleft() for _ in range(3 if len(queue) >= 3 else 2)]
            first = len(clauses)
            s = pool.new()
            _xor(s, ins, clauses)
            queue.append(s)
            if weight + 1 < width:  # else the carry would be worth 2^width > n: always false
                carry = pool.new()
                _majority(carry, ins, clauses)
                queues[weight + 1].append(carry)
            if len({abs(x) for x in ins}) < len(ins):  # a repeated or negated literal
                _clean(clauses, first)
        assert queue, "every weight up to n ends with a bit"
        total.append(queue[0])
    _compare(out, total, bound, pool, clauses)
    return clauses


def _binary(unary: list[int], pool: VarPool, clauses: Clauses) -> list[int]:
    """The binary bits of a unary count (``unary[r − 1]`` ⇔ count ≥ r), appending clauses."""
    m = len(unary)
    width = m.bit_length()
    bits: list[int] = []
    for r in range(width):
        step = 1 << r
        if r == width - 1:  # one interval [2^r, m]: the bit is u_{2^r}
            bits.append(unary[step - 1])
            continue
        bit = pool.new()
        clauses.append([-bit, unary[step - 1]])  # count < 2^r → ¬bit
        lo = step
        while lo <= m:  # the bit is true on [lo, hi) and false on [hi, hi + step)
            hi = lo + step
            if hi > m:
                clauses.append([-unary[lo - 1], bit])
                break
            clauses.append([-unary[lo - 1], unary[hi - 1], bit])
            after: Clause = [-unary[hi - 1], -bit]
            if hi + step <= m:
                after.insert(1, unary[hi + step - 1])
            clauses.append(after)
            lo = hi + step
        bits.append(bit)
    return bits


def _xor(s: int, ins: list[int], clauses: Clauses) -> None:
    """``s ⇔ ⊕ ins`` for two or three inputs: one clause per input assignment."""
    for mask in range(1 << len(ins)):
        # The clause rules out s having the wrong parity when input j is true iff bit j is set.
        clause = [-x if mask >> j & 1 else x for j, x in enumerate(ins)]
        clause.append(s if bin(mask).count("1") & 1 else -s)
        clauses.append(clause)


def _majority(c: int, ins: list[int], clauses: Clauses) -> None:
    """``c ⇔`` at least two of ``ins`` (two inputs: c ⇔ a ∧ b; three: majority)."""
    if len(ins) == 2:
        x, y = ins
        clauses.extend([[-x, -y, c], [x, -c], [y, -c]])
        return
    x, y, z = ins
    clauses.extend([[-x, -y, c], [-x, -z, c], [-y, -z, c], [x, y, -c], [x, z, -c], [y, z, -c]])


def _clean(clauses: Clauses, start: int) -> None:
    """Merge duplicate literals in ``clauses[start:]`` and drop tautologies (adders fed by a
    repeated literal or by a literal and its negation); order is kept."""
    kept: Clauses = []
    for clause in clauses[start:]:
        unique = list(dict.fromkeys(clause))
        if not any(-lit in unique for lit in unique):
            kept.append(unique)
    clauses[start:] = kept


def _compare(out: int, s: list[int], bound: int, pool: VarPool, clauses: Clauses) -> None:
    """``out ⇔ S ≥ bound`` for the binary number ``s`` (least significant bit first)."""
    kwidth = bound.bit_length()
    assert bound >= 1 and kwidth <= len(s)
    # The pending gate (is_and, inputs); None is the constant true.
    gate: tuple[bool, list[int]] | None = None
    for i, bit in enumerate(s):
        is_and = i < kwidth and bool(bound >> i & 1)
        if gate is None:
            if is_and:  # s_i ∧ true; otherwise s_i ∨ true stays true
                gate = (True, [bit])
        elif gate[0] == is_and or len(gate[1]) == 1:
            gate = (is_and, [*gate[1], bit])
        else:
            g = pool.new()
            _gate(g, *gate, clauses)
            gate = (is_and, [g, bit])
    assert gate is not None  # the top bit of bound is 1
    _gate(out, *gate, clauses)


def _gate(g: int, is_and: bool, ins: list[int], clauses: Clauses) -> None:
    """``g ⇔ ∧ ins`` or ``g ⇔ ∨ ins`` (``g ⇔ x`` for one input)."""
    sign = 1 if is_and else -1
    for x in ins:
        clauses.append([-sign * g, sign * x])
    clauses.append([sign * g, *(-sign * x for x in ins)])
