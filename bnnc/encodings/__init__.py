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

ENCODINGS: dict[str, tuple[str, str]] = {
    # name: (module under bnnc.encodings, what it is) — the one table of encodings: the CLI's
    # choices, the pipeline's check, the tests and docs/encodings.md all read it.  A new encoding
    # is one module with an ``encode`` function plus one line here.
    "totalizer": ("totalizer", "totalizer (Bailleux & Boufkhad, CP 2003)"),
    "seqcounter": ("seqcounter", "sequential counter (Sinz, CP 2005)"),
    "direct": ("direct", "binomial: no auxiliary variables (Frisch & Giannaros, ModRef 2010)"),
    "adder": ("adder", "adder network, linear size (Warners 1998; Eén & Sörensson, JSAT 2006)"),
    "cardnet": ("cardnet", "cardinality networks (Asín et al., Constraints 2011)"),
    "auto": ("auto", "per constraint: totalizer when small, else cardnet"),
}
ENCODING_NAMES: tuple[str, ...] = tuple(ENCODINGS)
DEFAULT_ENCODING = "adder"


def encoder(name: str) -> Encoder:
    """The ``encode`` function of the named encoding (its module is imported on first use)."""
    from importlib import import_module

    if name not in ENCODINGS:
        from bnnc.errors import UsageError

        choices = ", ".join(ENCODING_NAMES)
        raise UsageError(
            f"unknown encoding {name!r}; choose one of {choices}", parameter="encoding"
        )
    module = import_module(f"bnnc.encodings.{ENCODINGS[name][0]}")
    function: Encoder = module.encode
    return function


def encode_at_least(
    encoding: str | Encoder, out: int, lits: Sequence[int], bound: int, pool: VarPool
) -> Clauses:
    """Clauses for ``out ⇔ Σ lits ≥ bound`` with the named encoding (or an ``encode`` function,
    e.g. an encoding with non-default settings bound by ``functools.partial``)."""
    encode = encoder(encoding) if isinstance(encoding, str) else encoding
    n = len(lits)
    if bound <= 0:
        return [[out]]
    if bound > n:
        return [[-out]]
    flipped = n - bound + 1
    if flipped < bound:
        return encode(-out, [-lit for lit in lits], flipped, pool)
    return encode(out, list(lits), bound, pool)
