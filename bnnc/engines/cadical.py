"""CaDiCaL 1.9.5 through pysat: bnnc's :class:`~bnnc.engines.base.Decider` (``cadical``); and
MiniSat 2.2 through pysat as the propagator that inference and witness checks use.

Time limit: honoured.  pysat's CaDiCaL 1.9.5 cannot be interrupted (its ``interrupt()`` raises
NotImplementedError in python-sat 1.8/1.9, and it holds the GIL while it solves, so a timer
thread would not even run); but it takes a conflict budget.  With a time limit the solve runs in
slices of conflicts (``conf_budget`` then ``solve_limited``), each sized from the conflict rate
of the slices before it to end by the deadline, and CaDiCaL keeps what it learnt from one slice
to the next.  It can overrun the limit by the time of one slice (or, on a huge formula, by the
time it takes before its first conflict).  Without a time limit it is one plain ``solve()``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bnnc.engines.base import Answer, Clauses, Decider, Decision

SOLVER = "cadical195"  # pysat's name for CaDiCaL 1.9.5
PROPAGATOR = "minisat22"
_FIRST_SLICE = 100  # conflicts in the first slice of a time-limited solve
_SLICE_SECONDS = 0.1  # a slice aims at this long, or at a quarter of the time spent, if longer


@dataclass(frozen=True)
class CaDiCaL:
    """CaDiCaL 1.9.5 (pysat's ``cadical195``), a fresh solver per call."""

    name: ClassVar[str] = "cadical"

    def decide(
        self,
        clauses: Clauses,
        num_vars: int,
        *,
        assumptions: Sequence[int] = (),
        phases: Sequence[int] = (),
        time_limit: float | None = None,
    ) -> Decision:
        from pysat.solvers import Solver  # imported here: compiling alone never pays for it

        with Solver(name=SOLVER, bootstrap_with=clauses) as solver:
            if phases:
                solver.set_phases(list(phases))
            if time_limit is None:
                outcome: bool | None = solver.solve(assumptions=list(assumptions))
            else:
                outcome = solve_in_slices(solver, list(assumptions), time_limit)
            if outcome is None:
                return Decision(Answer.UNKNOWN)
            if not outcome:
                return Decision(Answer.UNSAT)
            model = solver.get_model() or []
        values = np.zeros(num_vars + 1, dtype=bool)
        for lit in model:
            if 0 < abs(lit) <= num_vars:
                values[abs(lit)] = lit > 0
        return Decision(Answer.SAT, values)


def solve_in_slices(solver: Any, assumptions: list[int], time_limit: float) -> bool | None:
    """Solve under a conflict budget, slice after slice, until an answer or the deadline."""
    start = time.perf_counter()
    deadline = start + time_limit
    budget = _FIRST_SLICE
    while True:
        before = time.perf_counter()
        solver.conf_budget(budget)
        outcome: bool | None = solver.solve_limited(assumptions=assumptions)
        now = time.perf_counter()
        if outcome is not None or now >= deadline:
            return outcome
        # The budget ran out: size the next slice from this one's conflict rate, but grow it
        # at most twofold: the time per conflict varies widely within one solve (restarts,
        # inprocessing), and one slice sized from a fast stretch overran 2 s limits by 6-10 s.
        rate = budget / max(now - before, 1e-6)
        seconds = min(deadline - now, max(_SLICE_SECONDS, (now - start) / 4))
        budget = max(_FIRST_SLICE, min(2 * budget, int(rate * seconds)))


class Propagator:
    """A formula loaded into MiniSat 2.2, for many propagations and solves under assumptions.

    Inference is propagation, and MiniSat propagates about 4x faster than CaDiCaL through pysat
    (41 vs 189 ms per input on TFC-w1a1); one solver serves many inputs (incremental).
    """

    def __init__(self, solver: Any) -> None:
        self._solver = solver

    def propagate(self, assumptions: Sequence[int]) -> tuple[bool, list[int]]:
        """Unit propagation from ``assumptions``: (no conflict, the literals it implies)."""
        ok, implied = self._solver.propagate(assumptions=list(assumptions))
        return bool(ok), implied  # not copied: up to a literal per variable, per input

    def solve(self, assumptions: Sequence[int]) -> bool:
        return bool(self._solver.solve(assumptions=list(assumptions)))

    def model(self) -> list[int]:
        """The model of the last satisfiable :meth:`solve`."""
        return list(self._solver.get_model() or [])


@contextmanager
def propagator(clauses: Clauses) -> Iterator[Propagator]:
    from pysat.solvers import Solver

    with Solver(name=PROPAGATOR, bootstrap_with=clauses) as solver:
        yield Propagator(solver)


if TYPE_CHECKING:  # mypy checks that the class implements the protocol
    _conforms: Decider = CaDiCaL()
