"""Automatic choice per constraint: arc-consistent where it is affordable, linear elsewhere.

Sources: the encodings it chooses from — Olivier Bailleux and Yacine Boufkhad, "Efficient CNF
encoding of Boolean cardinality constraints", CP 2003 (the totalizer, whose unit propagation is
arc-consistent), and Joost P. Warners, IPL 68(2), 1998 / Niklas Eén and Niklas Sörensson, JSAT 2,
2006 (the adder network, linear in n but not arc-consistent); see :mod:`bnnc.encodings.totalizer`
and :mod:`bnnc.encodings.adder`.

The rule sees only (n, bound) of each constraint, with the bound already normalised
(1 ≤ bound ≤ n − bound + 1):

* ``totalizer`` when n ≤ :data:`AC_MAX_N` (64) or bound ≤ 3;
* ``adder`` otherwise.

Why.  Unit propagation on the totalizer (and on ``cardnet``) decides every constraint as soon as
the literals allow, which the adder does not: with ``out`` false, three of eleven literals true
and bound 4, the totalizer propagates the other eight to false and the adder propagates nothing.
The price is size, and it grows with n.  Clauses per constraint at the mid-range bounds of
trained and random BNNs (k = ⌈n/2⌉; variables / clauses):

======  ================  ================  ==================  ==================
n       adder             totalizer         cardnet             seqcounter
======  ================  ================  ==================  ==================
32      62 / 402          128 / 769         282 / 849           271 / 1,055
64      126 / 843         320 / 2,689       826 / 2,481         1,055 / 4,159
100     196 / 1,341       572 / 6,145       1,678 / 5,037       2,549 / 10,099
256     510 / 3,517       1,792 / 36,353    6,138 / 18,417      16,511 / 65,791
784     1,564 / 10,897    6,816 / 320,961   28,810 / 86,433     154,055 / 615,439
======  ================  ================  ==================  ==================

Up to n = 64 an arc-consistent encoding costs at most 3.3 times the adder's clauses (measured
over every bound); beyond, the ratio keeps growing (3.8 for ``cardnet`` at n = 100, 7.9 at
n = 784).  Up to n = 64 the totalizer is the smaller of the two arc-consistent encodings: never
more variables than ``cardnet`` and never more variables plus clauses (at most 9.4 % more
clauses, for n ≥ 55 and bound ≥ 16, where ``cardnet`` has 2.4 to 2.6 times the variables), so
``auto`` never picks ``cardnet``; that is the encoding to choose by hand for arc consistency on
wide constraints, where it is far smaller than the totalizer.  For bound ≤ 3 the totalizer is
the smallest of all (the adder delegates to it there too).

Measured with ``python bench/encodings.py --solve`` (``bnnc.check_sat`` per label, CaDiCaL,
a fresh solver per label, on random networks from :func:`bnnc.generate.random_bnn`; times
include loading the formula into the solver, on a shared two-core machine):

* 784-64-64-64-10, seed 0: ``adder`` decides 5 of 10 labels within 60 s (the other five are
  still running at 60 s); ``auto`` decides all 10 in 1.1–2.1 s each.  Any arc-consistent choice
  on the narrow constraints does (totalizer or cardnet on n ≤ 64, or on the 64-wide hidden
  layers alone, or on the class comparisons with n ≤ 30 alone).  ``cardnet`` on every
  constraint (5.9 M clauses) decides 2 of 10 within 60 s: the wide first layer must stay small.
  On seeds 1–9 ``adder`` decides every label in under 2.7 s, and ``auto`` (seeds 1–3) too.
* 100-20-10 and 25-20-10 (seeds 0–3): every encoding decides every label in under 0.35 s
  when the machine is quiet (100-20-10: ``auto`` 0.7–0.8 s for all ten labels, ``adder``
  0.5–1.0 s, ``totalizer`` and ``cardnet`` 1.6–2.2 s): on easy instances time follows size.
* 256-64-64-10 and 100-256-10 (seed 0): every label is easy; arc-consistent encodings on the
  256- and 100-wide layers take three to seven times as long as the adder there, all of it
  spent loading the larger formula.

So arc consistency is bought where it costs at most about three times the adder (n ≤ 64),
which removed the only hard case observed, and the adder is kept on wide constraints, where
the arc-consistent encodings are four to thirty times larger and measurably slower.

:data:`RULE`, when set, replaces :func:`choose` (it is read at call time): a function of
(n, bound) returning a concrete encoding name, e.g. to choose differently for a wide first
layer and narrow later layers by width.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bnnc.encodings import Clauses, VarPool

AC_MAX_N = 64
"""Up to this many literals :func:`choose` picks the (arc-consistent) totalizer.  Read at call
time."""
AC_MAX_BOUND = 3
"""Up to this normalised bound :func:`choose` picks the totalizer whatever n.  Read at call
time."""
RULE: Callable[[int, int], str] | None = None
"""Hook: a function of (n, normalised bound) naming a concrete encoding; replaces
:func:`choose` when set.  Read at call time."""


def choose(n: int, bound: int) -> str:
    """The encoding :func:`encode` uses for ``n`` literals and the normalised ``bound``.

    >>> choose(64, 32), choose(784, 3), choose(100, 50)
    ('totalizer', 'totalizer', 'adder')
    """
    if n <= AC_MAX_N or bound <= AC_MAX_BOUND:
        return "totalizer"
    return "adder"


def encode(out: int, lits: Sequence[int], bound: int, pool: VarPool) -> Clauses:
    """Clauses for ``out ⇔ Σ lits ≥ bound``, assuming ``1 ≤ bound ≤ len(lits) − bound + 1``:
    those of the encoding :data:`RULE` or :func:`choose` names."""
    from bnnc.encodings import _registry

    n = len(lits)
    assert 1 <= bound <= n - bound + 1, f"unnormalised bound {bound} for {n} literals"
    name = (RULE or choose)(n, bound)
    encoder = _registry().get(name) if name != "auto" else None
    assert encoder is not None, f"the rule must name a concrete encoding, not {name!r}"
    return encoder(out, lits, bound, pool)
