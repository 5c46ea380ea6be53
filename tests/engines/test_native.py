"""The native-constraint solvers (Exact, CP-SAT) on the ILP stage as pseudo-Boolean constraints:
they agree with brute force and with CaDiCaL on random networks, regions and labels; their
models satisfy the problem and their witnesses answer the query; they give up at their time
limit; and a child process that ignores SIGTERM is still stopped and reaped."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bnnc
from bnnc.engines import exact as exact_module
from bnnc.engines import registry
from bnnc.engines.base import Answer, NativeDecider
from bnnc.engines.child import ChildTimeout, call_with_deadline
from bnnc.engines.pb import PbProblem, pb_problem
from bnnc.errors import UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.query import Query
from bnnc.ir.region import Region
from bnnc.passes.pipeline import compile_model
from bnnc.training.generate import random_bnn
from tests.frontend.test_output_scales import affine_tail_model
from tests.helpers import all_inputs
from tests.strategies import bnn_models

NATIVE = [
    pytest.param(
        name, marks=pytest.mark.skipif(not registry.installed(name), reason=f"{name} missing")
    )
    for name in registry.NATIVE_DECIDERS
]
INSTALLED = [name for name in registry.NATIVE_DECIDERS if registry.installed(name)]


@st.composite
def queries(draw: st.DrawFn, model: BnnModel) -> Query:
    """Some bits fixed, maybe a Hamming ball (possibly clashing with them: an empty region),
    and a label to hit or to avoid."""
    n = model.n_inputs
    fixed = draw(st.dictionaries(st.integers(0, n - 1), st.booleans(), max_size=min(n, 3)))
    region = Region.with_fixed(n, fixed)
    if draw(st.booleans()):
        centre = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        region = region.intersect(Region.ball(centre, draw(st.integers(0, n))))
    label = draw(st.integers(0, model.n_classes - 1))
    if draw(st.booleans()):
        return Query(region, label=label)
    return Query(region, not_label=label)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=bnn_models(max_inputs=9, max_width=5), data=st.data())
def test_every_solver_agrees_with_brute_force(model: BnnModel, data: st.DataObject) -> None:
    query = data.draw(queries(model))
    specialise = data.draw(st.booleans())
    truth = bool(query.accepts(model, all_inputs(model.n_inputs)).any())
    compiled = bnnc.compile(model, region=query.region if specialise else None)
    for solver in ("cadical", *INSTALLED):
        result = bnnc.check_sat(
            model, compiled, query=query, solver=solver, method="sat", search=False
        )
        assert result.satisfiable is truth, solver
        assert result.solver == solver
        if truth:  # check_sat validated it already; this test must not depend on that
            assert result.witness is not None
            assert query.accepts(model, result.witness[None, :])[0], solver


@pytest.mark.parametrize("name", NATIVE)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_staircase_outputs_agree_with_brute_force(name: str, seed: int, tmp_path: Path) -> None:
    """Per-class output scales compare two classes by a staircase, not a threshold."""
    model = bnnc.load(affine_tail_model(tmp_path / "tail.onnx", seed))
    ilp = compile_model(model, until="ilp").ilp
    assert ilp is not None and ilp.output.staircases, "the fixture must have a staircase"
    inputs = all_inputs(model.n_inputs)
    labels = bnnc.predict(model, inputs)
    decider = registry.native_decider(name)
    for label in range(model.n_classes):
        for query in (
            Query(Region.everything(model.n_inputs), label=label),
            Query(Region.ball(inputs[label], 1), not_label=label),
        ):
            problem = pb_problem(ilp, query)
            decision = decider.decide(problem)
            assert decision.satisfiable is bool(query.accepts(model, inputs).any())
            if decision.values is not None:
                assert problem.satisfied_by(decision.values)
                bits = decision.values[1 : model.n_inputs + 1]
                assert query.accepts(model, bits[None, :])[0]
    assert len(set(labels.tolist())) > 1  # the queries above were not all trivial


@pytest.mark.parametrize("name", NATIVE)
def test_one_model_per_input(name: str) -> None:
    """Every input fixed: SAT for its own label only, and the model satisfies the problem."""
    net = random_bnn([8, 6, 5, 4], seed=3)
    ilp = compile_model(net, until="ilp").ilp
    assert ilp is not None
    decider = registry.native_decider(name)
    inputs = all_inputs(8)[::37]
    for bits, label in zip(inputs, bnnc.predict(net, inputs).tolist(), strict=True):
        region = Region.with_fixed(8, dict(enumerate(bits.tolist())))
        for c in range(4):
            problem = pb_problem(ilp, Query(region, label=c))
            decision = decider.decide(problem)
            assert decision.satisfiable is (c == label)
            if decision.values is not None:
                assert problem.satisfied_by(decision.values)


def random_3sat(n: int, seed: int) -> PbProblem:
    """Random 3-SAT at the threshold ratio: seconds to minutes for every solver here."""
    rng = np.random.default_rng(seed)
    clauses = []
    for _ in range(int(4.26 * n)):
        variables = rng.choice(np.arange(1, n + 1), 3, replace=False)
        signs = rng.choice([-1, 1], 3)
        clauses.append(tuple((variables * signs).tolist()))
    return PbProblem(n, n, (), tuple(clauses))


@pytest.mark.parametrize("name", NATIVE)
def test_native_solvers_give_up_at_their_time_limit(name: str) -> None:
    decider: NativeDecider = registry.native_decider(name)
    decision = decider.decide(random_3sat(500, 0), time_limit=0.2)
    assert decision.answer is Answer.UNKNOWN and decision.values is None
    assert decider.decide(random_3sat(20, 0), time_limit=0).answer is Answer.UNKNOWN


@pytest.mark.skipif(not registry.installed("exact"), reason="exact missing")
def test_exact_is_stopped_when_it_ignores_its_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact runs in a child with a deadline: a solve that never returns is UNKNOWN."""

    def stuck(problem: PbProblem, time_limit: float | None) -> None:
        time.sleep(600)

    monkeypatch.setattr(exact_module, "_solve", stuck)
    decision = registry.native_decider("exact").decide(random_3sat(20, 0), time_limit=0.2)
    assert decision.answer is Answer.UNKNOWN


def _ignore_sigterm(pid_file: str) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    Path(pid_file).write_text(str(os.getpid()))
    while True:
        time.sleep(0.05)


def test_a_child_that_ignores_sigterm_is_killed_and_reaped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with pytest.raises(ChildTimeout):
        call_with_deadline(_ignore_sigterm, str(pid_file), time_limit=1.0)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # gone, not a zombie either: reaped
        os.kill(pid, 0)


def test_unknown_and_missing_solvers_are_usage_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="unknown solver 'bogus'; choose auto, cadical"):
        registry.resolve_solver("bogus")
    # A None entry in sys.modules makes the import fail, as when the package is missing.
    monkeypatch.setitem(sys.modules, "exact", None)
    monkeypatch.setitem(sys.modules, "ortools.sat.python", None)
    for name, extra in (("exact", "exact"), ("cpsat", "cpsat")):
        with pytest.raises(UsageError, match=rf"pip install 'bnnc\[{extra}\]'") as info:
            registry.native_decider(name).decide(random_3sat(5, 0))
        assert "\n" not in str(info.value)


def test_auto_is_the_first_installed_solver_of_the_benchmark_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = next(name for name in registry.AUTO_SOLVERS if registry.installed(name))
    assert registry.resolve_solver("auto") == expected
    monkeypatch.setattr(registry, "installed", lambda name: name == "cadical")
    assert registry.resolve_solver("auto") == "cadical"
