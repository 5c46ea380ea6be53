"""The pieces of the robustness-radius search (:func:`bnnc.api.robustness`).

"Is there an input within k flips of x that the network does not label L?" is monotone in k:
a ball contains every smaller ball.  So the radius search can reuse one solver for many radii:

* :class:`BallSession` loads the formula specialised to the largest ball still in question,
  ``ball(x, top)`` — exact on every smaller ball too, since they lie inside it — once into one
  CaDiCaL instance, with a totalizer over the flip literals (Bailleux & Boufkhad, CP 2003; pysat's
  ``ITotalizer``) whose unary outputs say "at least j bits flipped".  Asking about radius k is
  then solving under the assumption "not at least k + 1 flipped": nothing is recompiled, and
  what the solver learnt on one radius serves the next (a cardinality bound tightened by an
  assumption, not a new formula).
* :func:`minimise` shrinks a counterexample greedily: it puts flipped bits back to the centre's
  value, one at a time, as long as the label stays different (one batch of the bit-packed
  reference per round).  A counterexample found at radius k often needs fewer flips, and every
  flip saved is a radius the search does not have to ask about.

The totalizer's auxiliary variables are functions of the inputs, so the session's formula keeps
one model per input; the session is only used to decide, never to count.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnnc.engines.base import Answer, Decision
from bnnc.engines.cadical import SOLVER, solve_in_slices
from bnnc.ir.bnn import BnnModel
from bnnc.ir.cnf import CnfFormula
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.region import Region
from bnnc.passes.fast_predict import fast_predict
from bnnc.passes.lower_query import query_clauses


def flips(center: NDArray[np.bool_], bits: NDArray[np.bool_]) -> int:
    """The Hamming distance between two inputs."""
    return int((np.asarray(center, dtype=bool) != np.asarray(bits, dtype=bool)).sum())


def minimise(
    model: BnnModel | IlpModel,
    center: NDArray[np.bool_],
    counterexample: NDArray[np.bool_],
    label: int,
    region: Region,
) -> NDArray[np.bool_]:
    """A counterexample with no more flips than ``counterexample``: flipped bits are put back
    while the network still labels the input other than ``label`` and the input stays in
    ``region`` (greedy, so a local minimum: the radius search still proves minimality)."""
    current = np.asarray(counterexample, dtype=bool).copy()
    while True:
        flipped = np.flatnonzero(current != center)
        if flipped.size == 0:
            return current
        candidates = np.repeat(current[None, :], flipped.size, axis=0)
        candidates[np.arange(flipped.size), flipped] = center[flipped]
        still = np.flatnonzero(
            (fast_predict(model, candidates) != label) & region.contains(candidates)
        )
        if still.size == 0:
            return current
        current = candidates[still[0]]


class BallSession:
    """One solver for the question "another label within k flips?" at every k ≤ ``top``.

    ``formula`` is compiled for (or specialised to) the query's region, which contains the ball
    of radius ``top`` around ``center``; ``query`` is that region with ``not_label``.  Use as a
    context manager (the solver holds native memory).
    """

    def __init__(
        self, formula: CnfFormula, query: Query, center: NDArray[np.bool_], top: int
    ) -> None:
        from pysat.card import ITotalizer
        from pysat.solvers import Solver

        extra = query_clauses(query, formula)
        self.top = top
        self.n_inputs = formula.layout.n_inputs
        flip_literals = [-(i + 1) if on else i + 1 for i, on in enumerate(center.tolist())]
        # Outputs up to top + 1 suffice: "at least top + 2 flipped" is already excluded.
        self._count = ITotalizer(lits=flip_literals, ubound=top + 1, top_id=extra.num_vars)
        self.num_vars = int(self._count.top_id)
        self._solver: Any = Solver(
            name=SOLVER, bootstrap_with=formula.clauses.joined(extra.clauses)
        )
        self._solver.append_formula(self._count.cnf.clauses)

    def __enter__(self) -> BallSession:
        return self

    def __exit__(self, *_: object) -> None:
        self._solver.delete()
        self._count.delete()

    def decide(self, k: int, time_limit: float | None) -> Decision:
        """Is there an input within ``k`` flips (k ≤ top) that answers the query?"""
        assert 0 <= k <= self.top
        assumptions = [-self._count.rhs[k]]  # rhs[k]: at least k + 1 bits flipped
        if time_limit is None:
            outcome: bool | None = self._solver.solve(assumptions=assumptions)
        else:
            outcome = solve_in_slices(self._solver, assumptions, max(time_limit, 0.0))
        if outcome is None:
            return Decision(Answer.UNKNOWN)
        if not outcome:
            return Decision(Answer.UNSAT)
        values = np.zeros(self.num_vars + 1, dtype=bool)
        for lit in self._solver.get_model() or []:
            if 0 < abs(lit) <= self.num_vars:
                values[abs(lit)] = lit > 0
        return Decision(Answer.SAT, values)


def remaining(deadline: float | None) -> float | None:
    """Seconds left before ``deadline`` (None: no deadline), never negative."""
    return None if deadline is None else max(0.0, deadline - time.perf_counter())
