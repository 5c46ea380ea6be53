"""Automatic choice per constraint: arc-consistent always, sized to the constraint.

Sources: the encodings it chooses from — Olivier Bailleux and Yacine Boufkhad, "Efficient CNF
encoding of Boolean cardinality constraints", CP 2003 (the totalizer, O(n·k) clauses), and
Roberto Asín, Robert Nieuwenhuis, Albert Oliveras and Enric Rodríguez-Carbonell, "Cardinality
Networks: a theoretical and empirical study", Constraints 16(2), 2011 (``cardnet``,
O(n log² k)); see :mod:`bnnc.encodings.totalizer` and :mod:`bnnc.encodings.cardnet`.

The rule sees only (n, bound) of each constraint, with the bound already normalised
(1 ≤ bound ≤ n − bound + 1):

* ``totalizer`` when n ≤ ``totalizer_max_n`` (256) or bound ≤ ``totalizer_max_bound``
  (16);
* ``cardnet`` otherwise (wide constraints with a large bound).

Both are arc-consistent: unit propagation decides the constraint as soon as the literals
allow, which the adder does not (with ``out`` false, bound 4 and three of eleven literals true,
the totalizer propagates the other eight literals to false and the adder none of them).  The
adder is never chosen: it gives the smallest formulas (the default encoding), but on every
network where the encodings could be told apart the solver needed about twice as long with it
as with the totalizer, or gave up (below).  Sizes
per constraint at the mid-range bounds of trained and random BNNs (k = ⌈n/2⌉; auxiliary
variables / clauses):

======  ================  ==================  ==================  ==================
n       adder             totalizer           cardnet             seqcounter
======  ================  ==================  ==================  ==================
32      62 / 402          128 / 769           282 / 849           271 / 1,055
64      126 / 843         320 / 2,689         826 / 2,481         1,055 / 4,159
100     196 / 1,341       572 / 6,145         1,678 / 5,037       2,549 / 10,099
256     510 / 3,517       1,792 / 36,353      6,138 / 18,417      16,511 / 65,791
784     1,564 / 10,897    6,816 / 320,961     28,810 / 86,433     154,055 / 615,439
======  ================  ==================  ==================  ==================

Of the two arc-consistent encodings the totalizer solved faster wherever they differed, so up
to n = 256 it is preferred even where it is larger (under twice ``cardnet``'s clauses: at most
1.99 times, at n = 256, k = 115; never more variables).  Beyond, its O(n·k) clauses grow to 3.7
times ``cardnet``'s at n = 784, k = 392, so wide constraints take ``cardnet``, except for
bounds ≤ 16, where the totalizer is the smaller of the two in variables and in variables plus
clauses.

Measured with ``python bench/encodings.py --solve``: ``bnnc.check_sat(..., search=False)``,
i.e. CaDiCaL alone, a fresh solver per label, CPU seconds including loading the formula, on
random networks from :func:`bnnc.training.generate.random_bnn`:

* 100-20-10, seeds 0–3, all 40 labels: ``totalizer`` (= ``auto`` here) 8.0 s in total, slowest
  label 0.43 s; ``adder`` 15.0 s (1.49 s); ``cardnet`` 15.2 s (4.25 s); the adder with the
  totalizer on constraints up to n = 64 only, 12.6 s (0.94 s).
* 256-20-10, seeds 0 and 1: ``totalizer`` (= ``auto``) 12.3 and 10.1 s for the ten labels,
  ``cardnet`` 27.5 and 17.8 s, ``adder`` 29.2 and 18.0 s.
* 784-20-10, seed 0, 40 s cap per label: ``totalizer`` decides 9 labels (7–12 s each, mostly
  loading 6.4 M clauses), ``auto`` 7 (2.5–7.0 s), ``cardnet`` 7 (3.0–6.6 s), ``adder`` 4, the
  adder with the totalizer on the narrow class comparisons 2.
* 784-64-64-64-10, seed 0, labels 0–4, 40 s cap (wall seconds): ``adder`` and ``auto`` decide
  3 labels each, ``cardnet`` 2; label 4 defeats every encoding, label 3 all but ``auto`` and
  label 1 all but the adder, and the decided labels take ``auto`` 11–20 s, mostly loading its
  5.9 M clauses, against 1.2–5.9 s for the adder's 0.8 M: no encoding is ahead here.
* FINN's TFC-w1a1 (trained, 784-64-64-64-10), labels 0, 1 and 4, 90 s cap: ``adder`` and
  ``auto`` both decide label 1 only (1.1 s and 8.7 s).

The benchmark suite (``bench/suite.py``; tables in ``bench/results/``) adds trained networks and
sampling.  On 25- and 100-input one-hidden-layer networks, random and trained, ``auto`` decides
the ten labels fastest or within noise of the fastest (trained 100-20-10: 2.80 s against
3.23–8.25 s for the others), and it is the encoding CMSGen samples on: 100 samples of label 2
of the trained 100-20-10 in 31 s, where ``adder``, ``cardnet`` and ``seqcounter`` draw 0–4 in
60 s.  On the deeper 100-25-10-10 the adder decides faster (2.77 s against 7.92 s random,
13.86 s against 17.19 s trained), and on 400-100-10 all encodings decide 0–3 labels within
10 s each.  Hence ``auto`` for sampling (``bnnc sample``'s default) and the adder, with the
witness search in front of the solver, for compiling and deciding.

With ``check_sat``'s default witness search by simulation, satisfiable labels of these
networks are found without the solver, and the formula's size then matters more than its
propagation; the adder stays the default for that reason.

``Settings.rule``, when set, replaces :func:`choose`: a function of (n, bound) returning a
concrete encoding name, e.g. to choose differently for a wide first layer and narrow later
layers by width (bind it with ``functools.partial(auto.encode, settings=...)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bnnc.encodings import Clauses, VarPool


@dataclass(frozen=True)
class Settings:
    """auto's settings (the defaults are what ``--encoding auto`` uses)."""

    totalizer_max_n: int = 256
    """Up to this many literals :func:`choose` picks the totalizer whatever the bound."""
    totalizer_max_bound: int = 16
    """Up to this normalised bound :func:`choose` picks the totalizer whatever n."""
    rule: Callable[[int, int], str] | None = None
    """A function of (n, normalised bound) naming a concrete encoding; replaces :func:`choose`
    when set."""


DEFAULT = Settings()


def choose(n: int, bound: int, settings: Settings = DEFAULT) -> str:
    """The encoding :func:`encode` uses for ``n`` literals and the normalised ``bound``.

    >>> choose(256, 128), choose(784, 16), choose(784, 17)
    ('totalizer', 'totalizer', 'cardnet')
    """
    if n <= settings.totalizer_max_n or bound <= settings.totalizer_max_bound:
        return "totalizer"
    return "cardnet"


def encode(
    out: int, lits: Sequence[int], bound: int, pool: VarPool, settings: Settings = DEFAULT
) -> Clauses:
    """Clauses for ``out ⇔ Σ lits ≥ bound``, assuming ``1 ≤ bound ≤ len(lits) − bound + 1``:
    those of the encoding ``settings.rule`` or :func:`choose` names."""
    from bnnc.encodings import encoder

    n = len(lits)
    assert 1 <= bound <= n - bound + 1, f"unnormalised bound {bound} for {n} literals"
    name = settings.rule(n, bound) if settings.rule else choose(n, bound, settings)
    assert name != "auto", f"the rule must name a concrete encoding, not {name!r}"
    return encoder(name)(out, lits, bound, pool)
