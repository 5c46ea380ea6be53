"""Proving a ball query unsatisfiable by counting the first layer's switches (after tabulation).

The patterns of the first layer's free neurons that answer a query are known from the table
(:mod:`bnnc.engines.tabulate`) or, for the patterns nearest the centre's, from labelling them
(:mod:`bnnc.engines.pattern_search`).  Every one of them differs from the centre's pattern in
at least m neurons.  If no input of the Hamming ball switches m of the free neurons at once, no
input reaches an answering pattern, and the query is unsatisfiable: a proof.  Whether m
switches are possible is one small pseudo-Boolean problem — each free neuron reified over the
inputs, the ball, and one count — which Exact (``bnnc[exact]``) decides in milliseconds, where
the whole network's formula defeats CaDiCaL: on TFC-w1a1 at 8 flips, image 2 (22 free neurons,
every answering pattern 12 or more switches away) was UNKNOWN after 10 s.

When the table lists at most :data:`PATTERN_CHECKS` answering patterns, each pattern is
checked on its own instead (every free neuron fixed to its value: one hard
constraint each); on image 2 the four answering patterns are each unreachable, though inputs
switching 12 neurons exist.  Otherwise nothing is proved and the caller goes on to the solver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bnnc.engines import registry
from bnnc.engines.base import Answer
from bnnc.engines.child import ChildTimeout, call_with_deadline
from bnnc.engines.pattern_search import first_layer, popcount, targets
from bnnc.engines.pb import PbProblem, pattern_problem, switch_problem
from bnnc.engines.tabulate import TABULATE_WIDE, Tabulation, tabulate
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query

SOLVER = "exact"
PATTERN_CHECKS = 64  # a complete list of at most this many answering patterns is checked one by one


@dataclass(frozen=True)
class SwitchBound:
    """The outcome: ``proved`` (no input switches ``least`` neurons: UNSAT), or not; when the
    answering patterns were checked one by one and one is reachable, ``witness`` is an input
    of the region that reaches it (so it answers the query: SAT)."""

    least: int  # switches every answering pattern needs
    free: int  # free neurons of the first layer
    proved: bool
    patterns: int = 0  # proved by checking each of this many answering patterns, if not 0
    witness: NDArray[np.bool_] | None = None

    def describe(self) -> str:
        if self.patterns:
            return (
                f"none of the {self.patterns} patterns of the {self.free} free first-layer "
                f"neurons that answer is reachable from the ball ({SOLVER}, each pattern)"
            )
        return (
            f"every pattern of the {self.free} free first-layer neurons that answers needs "
            f"{self.least} of them switched, and no input of the ball switches that many "
            f"({SOLVER})"
        )


def switch_bound(
    ilp: IlpModel,
    table: Tabulation | None,
    query: Query,
    time_limit: float,
    pattern_checks: int = PATTERN_CHECKS,
) -> SwitchBound | None:
    """Try to prove ``query`` unsatisfiable by the switch count, or pattern by pattern when the
    complete list of answering patterns has at most ``pattern_checks``; None when it does not
    apply (no single ball, no first layer, Exact not installed, no answering pattern known)."""
    if not registry.installed(SOLVER):
        return None
    setup = first_layer(ilp, query)
    if setup is None:
        return None
    if (table is None or table.index != 0) and (1 << setup.neurons.size) <= TABULATE_WIDE:
        # The exact fewest switches needs every pattern: worth ~0.2 s here, where the pattern
        # search already failed and the solver is the alternative.
        table = tabulate(ilp, TABULATE_WIDE)
    words, nearest = targets(ilp, table, query, setup.here)
    distance = popcount(words ^ setup.here)
    # No answering pattern within ``nearest`` switches: each needs at least nearest + 1.
    least = int(distance.min()) if distance.size else nearest + 1
    if least > setup.neurons.size:
        return SwitchBound(least, int(setup.neurons.size), True)
    deadline = time.perf_counter() + time_limit
    free = int(setup.neurons.size)
    if nearest == free and 0 < words.size <= pattern_checks:
        # The complete list of answering patterns is short: is any of them reachable at all?
        # (Sharper than the count, which it makes unnecessary.)
        patterns = [(w >> np.arange(free)) & 1 == 1 for w in words.tolist()]
        problems = [pattern_problem(ilp, query, setup.neurons, p) for p in patterns]
        try:
            answer, reached = call_with_deadline(_first_reachable, problems, time_limit=time_limit)
        except ChildTimeout:
            return SwitchBound(least, free, False)
        if answer is Answer.UNSAT:
            return SwitchBound(least, free, True, len(problems))
        return SwitchBound(least, free, False, witness=reached)
    centre = (setup.here >> np.arange(free)) & 1 == 1
    problem = switch_problem(ilp, query, setup.neurons, centre, least)
    left = max(0.0, deadline - time.perf_counter())
    decision = registry.native_decider(SOLVER).decide(problem, time_limit=left)
    if decision.answer is Answer.UNSAT:
        return SwitchBound(least, free, True)
    return SwitchBound(least, free, False)


def _first_reachable(problems: list[PbProblem]) -> tuple[Answer, NDArray[np.bool_] | None]:
    """SAT and the input bits of a model of the first problem Exact finds satisfiable, UNSAT
    if it proves them all unsatisfiable, else UNKNOWN (runs in a child: no per-problem
    process)."""
    decider = registry.native_decider(SOLVER)
    for problem in problems:
        decision = decider.decide(problem, time_limit=None)
        if decision.answer is Answer.SAT and decision.values is not None:
            return Answer.SAT, np.asarray(decision.values[1 : problem.n_inputs + 1], dtype=bool)
        if decision.answer is not Answer.UNSAT:
            return Answer.UNKNOWN, None
    return Answer.UNSAT, None
