"""Engines by name: unknown names and bad arguments are usage errors worded for the library,
and importing bnnc loads no solver library."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import bnnc
from bnnc.engines import registry
from bnnc.engines.count import count
from bnnc.engines.decide import check_sat, infer, make_query
from bnnc.engines.sample import sample
from bnnc.errors import ExitCode, InternalError, UsageError
from bnnc.ir.query import Query
from bnnc.ir.region import Region
from bnnc.training.generate import random_bnn

NATIVE = ("pysat", "pycmsgen", "pyganak", "pyapproxmc", "pyunigen")
BACKENDS = sorted(
    path.partition(":")[0]
    for table in (registry.DECIDERS, registry.SAMPLERS, registry.COUNTERS)
    for path in table.values()
)


@pytest.fixture(scope="module")
def tiny() -> tuple[bnnc.api.Model, bnnc.Compilation]:
    model = random_bnn([6, 4, 3], seed=1)
    return model, bnnc.compile(model, "totalizer")


@pytest.mark.parametrize(
    ("lookup", "parameter", "names"),
    [
        (registry.decider, "solver", "cadical"),
        (registry.sampler, "sampler", "cmsgen or unigen"),
        (registry.counter, "counter", "approxmc, d4, enumerate or ganak"),
    ],
)
def test_an_unknown_name_is_a_usage_error(lookup, parameter: str, names: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError) as info:
        lookup("minisat")
    assert info.value.parameter == parameter and info.value.exit_code == ExitCode.USAGE
    assert str(info.value) == f"unknown {parameter} 'minisat'; choose {names}"


def test_unknown_engines_through_the_verbs(tiny) -> None:  # type: ignore[no-untyped-def]
    model, compiled = tiny
    query = Query(Region.everything(6), label=0)
    cases = [
        (lambda: check_sat(model, compiled.formula, 0, solver="glucose"), "solver"),
        (lambda: sample(model, compiled.formula, query, 2, sampler="quicksampler"), "sampler"),
        (lambda: count(compiled.formula, query, method="sharpsat"), "method"),
        (lambda: bnnc.sample(model, compiled, label=0, sampler="quicksampler"), "sampler"),
        (lambda: bnnc.count(model, compiled, label=0, method="sharpsat"), "method"),
        (lambda: bnnc.check_sat(model, compiled, label=0, solver="glucose"), "solver"),
    ]
    for call, parameter in cases:
        with pytest.raises(UsageError) as info:
            call()
        assert info.value.parameter == parameter
    with pytest.raises(UsageError, match="choose approx, approxmc, d4, enumerate, exact or ganak"):
        count(compiled.formula, query, method="sharpsat")


def test_bad_arguments_are_usage_errors_without_cli_flags(tiny) -> None:  # type: ignore[no-untyped-def]
    """The library names its parameter (the CLI maps it to a flag) and never a flag itself."""
    model, compiled = tiny
    formula = compiled.formula
    query = Query(Region.everything(6), label=0)
    cases = [
        (lambda: count(formula, query, method="approx", epsilon=0), "epsilon", "epsilon must"),
        (lambda: count(formula, query, method="approx", delta=1), "delta", "delta must lie"),
        (lambda: sample(model, formula, query, -1), "n", "at least 0"),
        (
            lambda: sample(model, formula, query, 2, unique=True, sampler="unigen"),
            "unique",
            "sampler, not unigen",
        ),
        (lambda: make_query(model, 1, Query(Region.everything(6), label=2)), "label", "asks for"),
        (lambda: infer(model, formula, np.zeros(5, dtype=bool)), "bits", "expected 6 input bits"),
    ]
    for call, parameter, message in cases:
        with pytest.raises(UsageError) as info:
            call()
        assert info.value.parameter == parameter and message in str(info.value)
        assert "--" not in str(info.value) and info.value.exit_code == ExitCode.USAGE


def test_a_registry_line_pointing_nowhere_is_a_bnnc_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.SAMPLERS, "ghost", "bnnc.engines.no_such_module:Ghost")  # type: ignore[index]
    monkeypatch.setitem(registry.COUNTERS, "typo", "bnnc.engines.ganak:Ganack")  # type: ignore[index]
    monkeypatch.setitem(registry.DECIDERS, "wrong", "bnnc.engines.ganak:Ganak")  # type: ignore[index]
    with pytest.raises(InternalError, match="does not exist"):
        registry.sampler("ghost")
    with pytest.raises(InternalError, match="does not exist"):
        registry.counter("typo")
    with pytest.raises(InternalError, match="does not implement the Decider protocol"):
        registry.decider("wrong")


def test_importing_bnnc_loads_no_solver_library_and_no_backend() -> None:
    """Compiling alone must not pay for the solvers: the registry holds import paths only."""
    code = (
        "import sys, bnnc, bnnc.api, bnnc.engines.registry, bnnc.engines.decide, "
        "bnnc.engines.sample, bnnc.engines.count, bnnc.engines.cadical\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout.split()
    )
    assert not {m.split(".")[0] for m in loaded} & set(NATIVE)
    # cadical is imported by decide (propagation helpers); it imports pysat only when called.
    assert not loaded & (set(BACKENDS) - {"bnnc.engines.cadical"})


@pytest.mark.parametrize("module", BACKENDS)
def test_a_backend_module_imports_its_library_only_when_called(module: str) -> None:
    code = f"import sys, {module}\nprint(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    assert not {m.split(".")[0] for m in loaded} & set(NATIVE)
