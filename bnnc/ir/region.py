"""Input regions: the set of inputs a query ranges over (all inputs by default).

A region is an intersection of

* **fixed bits**: some input bits are given a value ("the top rows are blank"), and
* **Hamming balls**: the inputs within ``max_flips`` bit flips of a centre input.

Every verb (check-sat, sample, count) and the DIMACS backend takes a region, so one copy of
the network answers robustness questions: with ``--near x --max-flips K --not-label L`` there is
an input within K flips of x that the network does not label L, or there is none (UNSAT).

Regions become CNF by :func:`region_clauses`: a fixed bit is a unit clause; a ball is
``¬g`` with ``g ⇔ Σ flip_i ≥ K + 1`` over the flip literals (x_i where the centre has −1, ¬x_i
where it has +1), encoded with the same cardinality encodings as the network.  ``g`` and the
encoding's auxiliary variables are functions of the inputs, so the formula stays parsimonious:
every input in the region has exactly one model, and the model count is the number of inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnnc.errors import ModelError, UsageError
from bnnc.ir.tensor import frozen

FREE = -1  # value of a free bit in Region.fixed


@dataclass(frozen=True, eq=False)
class Ball:
    """The inputs within ``max_flips`` bit flips of ``center``."""

    center: NDArray[np.bool_]
    max_flips: int


@dataclass(frozen=True, eq=False)
class Region:
    """An intersection of fixed bits and Hamming balls over ``n_inputs`` input bits."""

    n_inputs: int
    fixed: NDArray[np.int8]  # per bit: FREE, 0 (−1) or 1 (+1)
    balls: tuple[Ball, ...] = ()

    @staticmethod
    def everything(n_inputs: int) -> Region:
        return Region(n_inputs, frozen(np.full(n_inputs, FREE, dtype=np.int8), np.int8))

    @staticmethod
    def with_fixed(n_inputs: int, values: dict[int, bool]) -> Region:
        """The inputs whose bit i is ``values[i]`` for every i in ``values``."""
        fixed = np.full(n_inputs, FREE, dtype=np.int8)
        for bit, value in values.items():
            if not 0 <= bit < n_inputs:
                raise ModelError(f"input bit {bit} is out of range 0..{n_inputs - 1}")
            fixed[bit] = int(value)
        return Region(n_inputs, frozen(fixed, np.int8))

    @staticmethod
    def ball(center: ArrayLike, max_flips: int) -> Region:
        """The inputs within ``max_flips`` flips of ``center`` (bits, True = +1)."""
        bits = np.asarray(center, dtype=bool).reshape(-1)
        if max_flips < 0:
            raise UsageError(
                f"max_flips must be at least 0, got {max_flips}", parameter="max_flips"
            )
        ball = Ball(frozen(bits, np.bool_), max_flips)
        return Region(bits.size, Region.everything(bits.size).fixed, (ball,))

    @property
    def is_everything(self) -> bool:
        return not self.balls and bool((self.fixed == FREE).all())

    @property
    def n_fixed(self) -> int:
        return int((self.fixed != FREE).sum())

    def intersect(self, other: Region) -> Region:
        """Both regions at once; contradictory fixed bits are an error (the region is empty)."""
        if other.n_inputs != self.n_inputs:
            raise ModelError(
                f"regions over {self.n_inputs} and {other.n_inputs} input bits cannot be combined"
            )
        clash = (self.fixed != FREE) & (other.fixed != FREE) & (self.fixed != other.fixed)
        if clash.any():
            bit = int(np.flatnonzero(clash)[0])
            raise ModelError(f"input bit {bit} is fixed to both -1 and +1")
        fixed = np.where(self.fixed != FREE, self.fixed, other.fixed).astype(np.int8)
        return Region(self.n_inputs, frozen(fixed, np.int8), self.balls + other.balls)

    def contains(self, bits: ArrayLike) -> NDArray[np.bool_]:
        """For each row of input bits (last axis), whether it lies in the region."""
        array = np.asarray(bits, dtype=bool)
        if array.shape[-1:] != (self.n_inputs,):
            raise ModelError(f"expected {self.n_inputs} input bits, got shape {array.shape}")
        mask = self.fixed != FREE
        inside = (array[..., mask] == self.fixed[mask].astype(bool)).all(axis=-1)
        for ball in self.balls:
            inside &= (array != ball.center).sum(axis=-1) <= ball.max_flips
        return np.asarray(inside)

    def size(self) -> int | None:
        """The number of inputs in the region, where a closed form exists (at most one ball)."""
        free = self.fixed == FREE
        if not self.balls:
            return 1 << int(free.sum())
        if len(self.balls) > 1:
            return None
        ball = self.balls[0]
        fixed = ~free
        used = int((ball.center[fixed] != self.fixed[fixed].astype(bool)).sum())
        budget = ball.max_flips - used
        if budget < 0:
            return 0
        m = int(free.sum())
        return int(sum(comb(m, i) for i in range(min(budget, m) + 1)))

    def describe(self) -> str:
        """A short human description, e.g. ``20 bits fixed, within 3 flips of an input``."""
        parts = []
        if self.n_fixed:
            parts.append(f"{self.n_fixed} bit{'s' if self.n_fixed != 1 else ''} fixed")
        for ball in self.balls:
            parts.append(f"within {ball.max_flips} flips of a given input")
        return ", ".join(parts) if parts else "all inputs"
