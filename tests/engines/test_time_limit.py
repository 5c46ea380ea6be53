"""Time limits: CaDiCaL returns UNKNOWN on a hard formula soon after its limit; CMSGen and the
enumeration counter stop too; a generous limit changes no answer."""

from __future__ import annotations

import time

import pytest
from pysat.examples.genhard import PHP

import bnnc
from bnnc.engines import registry
from bnnc.engines.base import Answer, TimeLimitError
from bnnc.engines.count import count
from bnnc.errors import ExitCode
from bnnc.ir.query import Query
from bnnc.ir.region import Region
from bnnc.training.generate import random_bnn

# 11 pigeons in 10 holes: UNSAT, and minutes of resolution for CaDiCaL (10 in 9 take seconds,
# 9 in 8 under a second: too close to the limit to be sure of an UNKNOWN on a fast machine).
PIGEONS = PHP(10)


def test_cadical_gives_up_at_its_time_limit() -> None:
    decider = registry.decider("cadical")
    start = time.perf_counter()
    decision = decider.decide(PIGEONS.clauses, PIGEONS.nv, time_limit=0.2)
    seconds = time.perf_counter() - start
    assert decision.answer is Answer.UNKNOWN and decision.satisfiable is None
    assert decision.values is None
    assert 0.2 <= seconds < 2.0, seconds


def test_cmsgen_gives_up_at_its_time_limit() -> None:
    start = time.perf_counter()
    draws = registry.sampler("cmsgen").sample(
        PIGEONS.clauses, PIGEONS.nv, range(1, 11), 3, time_limit=0.2
    )
    assert time.perf_counter() - start < 2.0
    assert draws.timed_out and not draws.exhausted and len(draws.rows) == 0


def test_enumeration_gives_up_at_its_time_limit() -> None:
    """2^18 assignments take seconds; the count stops at the limit and says so."""
    clauses = [[v, v + 1] for v in range(1, 18)]
    counted = registry.counter("enumerate").count(clauses, 18, None, time_limit=0.05)
    assert counted.value is None
    model = random_bnn([16, 8, 3], seed=0)
    formula = bnnc.compile(model).formula
    with pytest.raises(TimeLimitError) as info:
        count(formula, Query(Region.everything(16), label=0), method="enumerate", time_limit=0)
    assert info.value.exit_code == ExitCode.UNKNOWN and "enumerate counter" in str(info.value)


def test_a_generous_time_limit_changes_no_answer() -> None:
    model = random_bnn([12, 8, 6, 4], seed=7)
    compiled = bnnc.compile(model)
    for label in range(4):
        for search in (True, False):
            free = bnnc.check_sat(model, compiled, label=label, search=search)
            timed = bnnc.check_sat(model, compiled, label=label, search=search, time_limit=60)
            assert timed.satisfiable == free.satisfiable and timed.status is free.status
            assert timed.status in (Answer.SAT, Answer.UNSAT)
    first = bnnc.sample(model, compiled, label=0, n=5, seed=2)
    again = bnnc.sample(model, compiled, label=0, n=5, seed=2, time_limit=60)
    assert (first.samples == again.samples).all() and not again.timed_out


def test_check_sat_reports_unknown_when_the_time_runs_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """No BNN formula small enough for a test is hard for CaDiCaL: give check_sat a decider
    that always runs out, and see UNKNOWN come through (not UNSAT)."""
    from bnnc.engines.base import Decision

    class OutOfTime:
        name = "slow"

        def decide(self, clauses, num_vars, *, assumptions=(), phases=(), time_limit=None):  # type: ignore[no-untyped-def]
            assert time_limit is not None
            return Decision(Answer.UNKNOWN)

    monkeypatch.setattr(registry, "decider", lambda name, **_: OutOfTime())
    model = random_bnn([12, 8, 6, 4], seed=7)
    result = bnnc.check_sat(
        model, label=0, search=False, time_limit=1, method="sat", solver="cadical"
    )
    assert result.satisfiable is None and result.status is Answer.UNKNOWN
    assert result.witness is None
