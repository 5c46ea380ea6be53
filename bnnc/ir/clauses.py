"""A compact, append-only clause store: the formula as numpy blocks, not Python lists.

A clause held as a Python list costs about 80 bytes plus 28 bytes per literal above 256; the
784-64-64-64-10 network in the totalizer encoding (21 million clauses) took 4.7 GB that way.
Here each block is one int32 array in DIMACS order — the literals of each clause followed by a
0 — so a literal costs 4 bytes, and writing the formula formats and streams one block at a time
(:meth:`ClauseStore.dimacs_chunks`) instead of building the whole text.

A block is usually the clauses of one cardinality constraint, appended as the encoding made them
(:meth:`ClauseStore.extend`) or, where an encoding builds its clauses with numpy, as an array
(:meth:`ClauseStore.extend_array`).  Iterating the store yields each clause as a list of ints
(what pysat, CMSGen and Ganak take), block by block, in the order they were appended.

>>> store = ClauseStore()
>>> store.extend([[1, -2], [2, 3, -4]])
>>> store.append([4])
>>> len(store), store.num_literals, store.max_var()
(3, 6, 4)
>>> list(store)
[[1, -2], [2, 3, -4], [4]]
>>> print("".join(store.dimacs_chunks()), end="")
1 -2 0
2 3 -4 0
4 0
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain

import numpy as np
from numpy.typing import NDArray

_FLUSH = 1 << 16  # single clauses (append) are gathered into blocks of this many literals
_CHUNK = 1 << 15  # literals formatted at a time: a few MB of Python ints at most


class ClauseStore:
    """Clauses as zero-terminated int32 blocks.  Not thread-safe; append-only."""

    def __init__(self, clauses: Iterable[Sequence[int]] = ()) -> None:
        self._blocks: list[NDArray[np.int32]] = []
        self._pending: list[int] = []  # single clauses not yet packed into a block
        self._count = 0
        self.extend(clauses)

    # -- building ---------------------------------------------------------------------------

    def append(self, clause: Sequence[int]) -> None:
        """Add one clause (a sequence of non-zero literals)."""
        self._pending.extend(clause)
        self._pending.append(0)
        self._count += 1
        if len(self._pending) >= _FLUSH:
            self._flush()

    def extend(self, clauses: Iterable[Sequence[int]]) -> None:
        """Add clauses as one block (usually one constraint's encoding)."""
        listed = clauses if isinstance(clauses, list) else list(clauses)
        if not listed:
            return
        self._flush()
        # Two C-level passes (lengths, literals) and one insert of the 0s: no per-clause lists.
        ends = np.cumsum(np.fromiter(map(len, listed), dtype=np.int64, count=len(listed)))
        lits = np.fromiter(chain.from_iterable(listed), dtype=np.int32, count=int(ends[-1]))
        self._blocks.append(np.insert(lits, ends, 0))
        self._count += len(listed)

    def extend_array(self, flat: NDArray[np.integer]) -> None:
        """Add a block already in DIMACS order: literals, each clause ended by a 0."""
        block = np.ascontiguousarray(flat, dtype=np.int32)
        if block.size == 0:
            return
        if block[-1] != 0:
            raise ValueError("a clause block must end with a 0")
        self._flush()
        self._blocks.append(block)
        self._count += int(np.count_nonzero(block == 0))

    def joined(self, clauses: Iterable[Sequence[int]]) -> ClauseStore:
        """A new store: these clauses, then ``clauses`` (a query's).  The blocks are shared, not
        copied (they are never written to), so a solver can load formula and query in one pass
        without a second copy of the formula.

        >>> base = ClauseStore([[1, 2]])
        >>> list(base.joined([[-1]])), list(base)
        ([[1, 2], [-1]], [[1, 2]])
        """
        self._flush()
        result = ClauseStore()
        result._blocks = list(self._blocks)
        result._count = self._count
        result.extend(clauses)
        return result

    def _flush(self) -> None:
        if self._pending:
            self._blocks.append(np.array(self._pending, dtype=np.int32))
            self._pending = []

    # -- reading ----------------------------------------------------------------------------

    def blocks(self) -> Iterator[NDArray[np.int32]]:
        """The zero-terminated blocks, in order (read-only views)."""
        self._flush()
        for block in self._blocks:
            view = block.view()
            view.flags.writeable = False
            yield view

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[list[int]]:
        for block in self.blocks():
            lits = block.tolist()
            zeros = np.flatnonzero(block == 0)
            starts = np.concatenate(([0], zeros[:-1] + 1)).tolist()
            # One slice per clause between its start and its 0, not a step per literal.
            yield from [lits[start:end] for start, end in zip(starts, zeros.tolist(), strict=True)]

    @property
    def num_literals(self) -> int:
        return sum(block.size for block in self.blocks()) - self._count

    def max_var(self) -> int:
        """The largest variable mentioned (0 for no clauses)."""
        return max((int(np.abs(block).max()) for block in self.blocks()), default=0)

    def has_empty_clause(self) -> bool:
        for block in self.blocks():
            ends = np.flatnonzero(block == 0)
            if ends[0] == 0 or np.any(np.diff(ends) == 1):
                return True
        return False

    def dimacs_chunks(self) -> Iterator[str]:
        """The clause lines (``1 -2 0``), one string per block: write them as they come.

        ``str`` of a list of ints formats the whole block in C; turning its ", 0, " into line
        ends is several times faster than formatting clause by clause.
        """
        for block in self.blocks():
            for piece in _pieces(block):
                text = str(piece.tolist())[1:-1]
                yield text.replace(", 0, ", " 0\n").replace(", ", " ") + "\n"


def _pieces(block: NDArray[np.int32]) -> list[NDArray[np.int32]]:
    """``block`` cut at clause ends into pieces of about ``_CHUNK`` literals."""
    if block.size <= _CHUNK:
        return [block]
    ends = np.flatnonzero(block == 0) + 1  # one past each clause's 0
    last_end_before = np.searchsorted(ends, np.arange(_CHUNK, block.size, _CHUNK), side="right")
    cuts = np.unique(ends[np.maximum(last_end_before - 1, 0)])
    return np.split(block, cuts[cuts < block.size])
