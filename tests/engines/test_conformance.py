"""Every registered backend implements its protocol, and answers right on tiny formulas.

A new backend registered in ``bnnc.engines.registry`` is picked up here with no change: the
formulas have 6 variables, and every answer is compared with brute force in pure Python
(independent of any solver).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bnnc.engines import registry
from bnnc.engines.base import (
    Answer,
    Counter,
    Decider,
    GuaranteeKind,
    Sampler,
)

N_VARS = 6
FORMULA = [[1, 2, -3], [-1, 4], [3, 5, 6], [-2, -5], [4, -6, 1], [-3, -4, 6]]
PROJECTION = [1, 2, 3, 4]
UNSAT = [[a * 1, b * 2, c * 3] for a, b, c in itertools.product((1, -1), repeat=3)]


def satisfies(clauses: list[list[int]], values: dict[int, bool]) -> bool:
    return all(any(values[abs(lit)] == (lit > 0) for lit in clause) for clause in clauses)


def models(clauses: list[list[int]], n_vars: int = N_VARS) -> list[dict[int, bool]]:
    every = (dict(zip(range(1, n_vars + 1), bits, strict=True)) for bits in _assignments(n_vars))
    return [values for values in every if satisfies(clauses, values)]


def _assignments(n: int) -> itertools.product[tuple[bool, ...]]:
    return itertools.product((False, True), repeat=n)


def projected(clauses: list[list[int]], projection: list[int]) -> set[tuple[bool, ...]]:
    """The assignments of ``projection`` that extend to a model (brute force)."""
    return {tuple(values[v] for v in projection) for values in models(clauses)}


# --------------------------------------------------------------------------- deciders


@pytest.mark.parametrize("name", sorted(registry.DECIDERS))
def test_deciders_implement_the_protocol_and_decide(name: str) -> None:
    decider = registry.decider(name)
    assert isinstance(decider, Decider) and decider.name == name
    sat = decider.decide(FORMULA, N_VARS)
    assert sat.answer is Answer.SAT and sat.satisfiable is True
    assert sat.values is not None and sat.values.shape == (N_VARS + 1,)
    assert satisfies(FORMULA, {v: bool(sat.values[v]) for v in range(1, N_VARS + 1)})
    unsat = decider.decide(UNSAT, 3)
    assert unsat.answer is Answer.UNSAT and unsat.satisfiable is False and unsat.values is None
    # Assumptions hold for the call: x1 forces x4 (clause -1 ∨ 4).
    assert decider.decide(FORMULA, N_VARS, assumptions=[1, -4]).answer is Answer.UNSAT
    assumed = decider.decide(FORMULA, N_VARS, assumptions=[-4])
    assert assumed.values is not None and not assumed.values[4] and not assumed.values[1]
    # Phases are a hint: same answer either way, and a generous time limit changes nothing.
    for phases in ([1, 2, 3, 4, 5, 6], [-1, -2, -3, -4, -5, -6]):
        hinted = decider.decide(FORMULA, N_VARS, phases=phases, time_limit=60)
        assert hinted.values is not None
        assert satisfies(FORMULA, {v: bool(hinted.values[v]) for v in range(1, N_VARS + 1)})
    assert decider.decide(UNSAT, 3, time_limit=60).answer is Answer.UNSAT


# --------------------------------------------------------------------------- samplers


@pytest.mark.parametrize("name", sorted(registry.SAMPLERS))
def test_samplers_implement_the_protocol_and_draw_models(name: str) -> None:
    sampler = registry.sampler(name)
    assert isinstance(sampler, Sampler) and sampler.name == name
    allowed = projected(FORMULA, PROJECTION)
    seen: list[int] = []
    draws = sampler.sample(FORMULA, N_VARS, PROJECTION, 3, seed=4, on_sample=seen.append)
    assert draws.rows.shape == (3, len(PROJECTION)) and draws.rows.dtype == bool
    assert {tuple(row) for row in draws.rows.tolist()} <= allowed
    assert not (draws.exhausted or draws.interrupted or draws.timed_out)
    assert seen and seen[-1] == 3  # progress, after each draw or once at the end
    again = sampler.sample(FORMULA, N_VARS, PROJECTION, 3, seed=4, time_limit=60)
    assert np.array_equal(again.rows, draws.rows)  # a seed gives the same draws
    none = sampler.sample(UNSAT, 3, [1, 2], 3)
    assert none.rows.shape == (0, 2) and none.exhausted
    assert sampler.sample(FORMULA, N_VARS, PROJECTION, 0).rows.shape == (0, len(PROJECTION))


@pytest.mark.parametrize(
    "name", sorted(n for n in registry.SAMPLERS if registry.sampler(n).supports_unique)
)
def test_unique_sampling_draws_every_projected_model_once(name: str) -> None:
    allowed = projected(FORMULA, PROJECTION)
    draws = registry.sampler(name).sample(
        FORMULA, N_VARS, PROJECTION, len(allowed) + 3, seed=1, unique=True
    )
    assert draws.exhausted and len(draws.rows) == len(allowed)
    assert {tuple(row) for row in draws.rows.tolist()} == allowed


# --------------------------------------------------------------------------- counters


@pytest.mark.parametrize("name", sorted(registry.COUNTERS))
@pytest.mark.parametrize("projection", [PROJECTION, [2, 5], None])
def test_counters_implement_the_protocol_and_count(name: str, projection: list[int] | None) -> None:
    counter = registry.counter(name)
    assert isinstance(counter, Counter) and counter.name == name
    expected = len(projected(FORMULA, projection or list(range(1, N_VARS + 1))))
    result = counter.count(FORMULA, N_VARS, projection, seed=3)
    assert result.value is not None
    low, high = result.guarantee.bounds(result.value)
    assert low <= expected <= high
    if result.guarantee.kind is not GuaranteeKind.APPROXIMATE:
        assert result.value == expected
    assert counter.count(UNSAT, 3, [1, 2]).value == 0


def test_a_variable_in_no_clause_doubles_an_unprojected_count() -> None:
    for name in sorted(registry.COUNTERS):
        result = registry.counter(name).count(FORMULA, N_VARS + 1, None)
        assert result.value == 2 * len(models(FORMULA)), name


def test_each_counter_states_its_guarantee() -> None:
    kinds = {
        name: registry.counter(name).count(FORMULA, N_VARS, None).guarantee
        for name in ("ganak", "approxmc", "enumerate")
    }
    assert kinds["enumerate"].kind is GuaranteeKind.EXACT
    # Ganak 2 hashes its component cache: exact with probability ≥ 1 − δ (pyganak gives no δ).
    assert kinds["ganak"].kind is GuaranteeKind.PROBABLY_EXACT and kinds["ganak"].delta is None
    approx = registry.counter("approxmc").count(FORMULA, N_VARS, None, epsilon=0.5, delta=0.1)
    assert approx.guarantee.kind is GuaranteeKind.APPROXIMATE
    assert (approx.guarantee.epsilon, approx.guarantee.delta) == (0.5, 0.1)
    assert approx.guarantee.describe() == "within a factor 1.5 with probability ≥ 0.9"
    assert kinds["ganak"].describe() == (
        "exact with probability ≥ 1 − δ (δ not reported by the counter)"
    )
