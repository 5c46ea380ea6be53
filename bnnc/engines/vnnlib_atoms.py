"""VNN-LIB output constraints over the model's scores, as clauses over threshold literals
[t_j ≥ v] on the output rows' integer sums (see :mod:`bnnc.engines.vnnlib`).

:class:`OutputTable` holds, for every reachable sum of every class, the lowest and highest score
the model's float32 arithmetic gives in any summation order; an atom is tabulated over the
reachable sums of its one or two outputs (true, false, or order-dependent) and turned into
clauses: for each value of the first sum, the second must lie in an interval.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import ModelError
from bnnc.frontend.vnnlib import Atom, VnnProperty
from bnnc.ir.bnn import BnnModel, output_scores

Bands = tuple[NDArray[np.float64], NDArray[np.float64]]
Literal = tuple[int, int]  # (class, threshold): [t_class ≥ threshold]
Clause = list[tuple[bool, Literal]]


class OutputTable:
    """The model's scores at every reachable pre-activation of every class: the lowest and
    highest the model's float32 arithmetic gives (equal for exact rows), as fractions."""

    def __init__(self, model: BnnModel, bands: Bands | None) -> None:
        self.weights = model.output.weights
        self.n_active = np.count_nonzero(self.weights, axis=1)
        width = int(self.n_active.max(initial=0))
        if bands is None:
            m = np.arange(width + 1)[:, None]
            sums = np.where(m <= self.n_active, 2 * m - self.n_active, 0).astype(np.int64)
            scores = np.asarray(output_scores(model.output, sums, model.arithmetic), np.float64)
            bands = (scores, scores)
        self.low, self.high = bands
        self._memo: dict[Atom, list[tuple[dict[int, int], bool | None]]] = {}

    def reachable(self, cls: int) -> list[int]:
        n = int(self.n_active[cls])
        return list(range(-n, n + 1, 2))

    def band(self, cls: int, t: int) -> tuple[Fraction, Fraction]:
        row = (t + int(self.n_active[cls])) // 2
        return Fraction(float(self.low[row, cls])), Fraction(float(self.high[row, cls]))

    def cell(self, atom: Atom, sums: dict[int, int]) -> bool | None:
        """The atom at these sums: True (False) for every score in the bands, None when it
        depends on the summation order."""
        least = most = Fraction(0)
        for cls, c in atom.coefficients:
            low, high = self.band(cls, sums[cls])
            least += c * (low if c > 0 else high)
            most += c * (high if c > 0 else low)
        if (most < atom.bound) if atom.strict else (most <= atom.bound):
            return True
        if (least >= atom.bound) if atom.strict else (least > atom.bound):
            return False
        return None

    def cells(self, atom: Atom) -> list[tuple[dict[int, int], bool | None]]:
        """The atom at every reachable sum (pair), memoised.  Decided in float64 where the
        margin is far above float64's rounding, in exact fractions near the boundary."""
        if atom in self._memo:
            return self._memo[atom]
        classes = [cls for cls, _ in atom.coefficients]
        if len(classes) > 2:
            raise ModelError(
                f"the output constraint {atom} involves {len(classes)} outputs; bnnc compiles "
                "constraints over one or two outputs"
            )
        grids = [self.reachable(cls) for cls in classes]
        least = np.zeros([len(g) for g in grids])
        most = np.zeros_like(least)
        scale = abs(float(atom.bound))
        for axis, (cls, c) in enumerate(atom.coefficients):
            rows = (np.array(grids[axis]) + int(self.n_active[cls])) // 2
            low, high = self.low[rows, cls], self.high[rows, cls]
            shape = [1] * len(classes)
            shape[axis] = -1
            cf = float(c)
            least = least + (cf * np.where(cf > 0, low, high)).reshape(shape)
            most = most + (cf * np.where(cf > 0, high, low)).reshape(shape)
            scale += abs(cf) * float(np.abs(np.concatenate([low, high])).max(initial=0))
        margin = 1e-9 * scale + 1e-300
        bound = float(atom.bound)
        out = []
        for index in itertools.product(*(range(len(g)) for g in grids)):
            where = {
                cls: grids[k][i] for k, (cls, i) in enumerate(zip(classes, index, strict=True))
            }
            if most[index] < bound - margin:
                value: bool | None = True
            elif least[index] > bound + margin:
                value = False
            else:
                value = self.cell(atom, where)
            out.append((where, value))
        self._memo[atom] = out
        return out

    def undecided(self, prop: VnnProperty) -> bool:
        return any(
            value is None
            for conj in prop.disjuncts
            for atom in conj
            for _, value in self.cells(atom)
        )

    def atom_clauses(
        self, atom: Atom, optimistic: bool
    ) -> list[list[tuple[bool, tuple[int, int]]]]:
        """Clauses (of signed literals [t_cls ≥ threshold]) that hold iff the atom does
        (order-dependent cells count as ``optimistic``)."""
        terms = atom.coefficients
        if not terms:
            return [] if atom.holds([]) else [[]]
        truth = {
            tuple(sorted(where.items())): optimistic if value is None else value
            for where, value in self.cells(atom)
        }
        first = terms[0][0]
        if len(terms) == 1:
            good = [truth[((first, t),)] for t in self.reachable(first)]
            return _interval_clauses(first, self.reachable(first), good, [])
        second = terms[1][0]
        clauses = []
        for a in self.reachable(first):
            good = [
                truth[tuple(sorted({first: a, second: b}.items()))] for b in self.reachable(second)
            ]
            # [t_first = a] → t_second within the good interval
            guard = [(False, (first, a)), (True, (first, a + 2))]
            clauses += _interval_clauses(second, self.reachable(second), good, guard)
        return clauses


def _interval_clauses(
    cls: int,
    values: list[int],
    good: list[bool],
    guard: list[tuple[bool, tuple[int, int]]],
) -> list[list[tuple[bool, tuple[int, int]]]]:
    """``guard ∨ (t_cls in the values where good)``; the good values must be an interval."""
    where = [k for k, g in enumerate(good) if g]
    if not where:
        return [list(guard)]
    first, last = where[0], where[-1]
    if last - first + 1 != len(where):
        raise ModelError(
            f"the scores of class {cls} are not monotone in its sum, so an output constraint "
            "is not an interval; bnnc cannot compile it"
        )
    clauses = []
    if first > 0:
        clauses.append([*guard, (True, (cls, values[first]))])
    if last < len(values) - 1:
        clauses.append([*guard, (False, (cls, values[last] + 2))])
    return clauses
