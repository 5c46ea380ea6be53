"""``--solver`` on ``compile --check-sat`` and ``bnnc robustness``: every solver gives the brute
force answer and exit code, witnesses are valid, the time limit gives UNKNOWN (exit 30), and bad
or missing solvers are one-line usage errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import bnnc
from bnnc.backend.text import print_bnn
from bnnc.cli import app
from bnnc.engines import registry
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs

runner = CliRunner()
SOLVERS = [
    pytest.param(
        name, marks=pytest.mark.skipif(not registry.installed(name), reason=f"{name} missing")
    )
    for name in ("cadical", *registry.NATIVE_DECIDERS)
]
WIDTHS = [12, 8, 6, 3]


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("solvers") / "net.bnn"
    path.write_text(print_bnn(random_bnn(WIDTHS, seed=5)))
    return path


def bits_text(bits: np.ndarray) -> str:
    return "".join("1" if b else "0" for b in bits.tolist())


@pytest.mark.parametrize("solver", SOLVERS)
def test_check_sat_agrees_with_brute_force(solver: str, network: Path) -> None:
    model = bnnc.load(network)
    inputs = all_inputs(WIDTHS[0])
    labels = bnnc.predict(model, inputs)
    for index, k in ((0, 1), (77, 2), (1234, 3), (4000, 0)):
        centre, label = inputs[index], int(labels[index])
        near = (inputs != centre).sum(axis=1) <= k
        expected = bool((near & (labels != label)).any())
        code, stdout, _ = run(
            network, "--near", bits_text(centre), "--max-flips", k, "--not-label", label,
            "--check-sat", "--solver", solver, "--method", "sat", "--no-search", "--json",
        )  # fmt: skip
        record = json.loads(stdout)
        assert code == (10 if expected else 20)
        assert record["solver"] == solver and record["method"] == "sat"
        if expected:
            witness = np.array([c == "1" for c in record["witness"]])
            assert (witness != centre).sum() <= k
            assert int(bnnc.predict(model, witness[None, :])[0]) != label


@pytest.mark.parametrize("solver", SOLVERS)
def test_robustness_radius_agrees_with_brute_force(solver: str, network: Path) -> None:
    model = bnnc.load(network)
    inputs = all_inputs(WIDTHS[0])
    labels = bnnc.predict(model, inputs)
    centre, label = inputs[321], int(labels[321])
    nearest = int((inputs != centre).sum(axis=1)[labels != label].min())
    code, stdout, _ = run(
        "robustness", network, "--near", bits_text(centre), "--max-flips", 6,
        "--solver", solver, "--method", "sat", "--json",
    )  # fmt: skip
    record = json.loads(stdout)
    assert code == 0
    if nearest > 6:
        assert record["result"] == "robust"
    else:
        assert (record["result"], record["radius"]) == ("radius", nearest - 1)


@pytest.mark.parametrize("solver", SOLVERS)
def test_the_time_limit_gives_unknown_and_exit_30(solver: str, network: Path) -> None:
    code, stdout, _ = run(
        network, "--near", "0" * 12, "--max-flips", 4, "--not-label", 0, "--check-sat",
        "--solver", solver, "--method", "sat", "--no-search", "--timeout", 1e-9, "--json",
    )  # fmt: skip
    # (--timeout must be positive: 1e-9 s has run out before any solver starts.) CaDiCaL's
    # first slice may still answer a small formula; the others must not.
    assert code == 30 or (solver == "cadical" and code in (10, 20))
    if code == 30:
        assert json.loads(stdout)["result"] == "unknown"


def test_bad_solvers_are_one_line_usage_errors(
    network: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = [network, "--near", "0" * 12, "--max-flips", 2, "--not-label", 0, "--check-sat"]
    code, _, stderr = run(*query, "--solver", "bogus")
    assert code == 2 and stderr.count("\n") == 1
    assert stderr.startswith("bnnc: usage error: --solver: unknown solver 'bogus'")
    code, _, stderr = run(
        "robustness", network, "--near", "0" * 12, "--max-flips", 2,
        "--strategy", "incremental", "--solver", "cpsat",
    )  # fmt: skip
    assert code == 2 and stderr.count("\n") == 1 and "incremental" in stderr
    monkeypatch.setitem(sys.modules, "exact", None)  # as if the package were not installed
    code, _, stderr = run(*query, "--solver", "exact", "--method", "sat")
    assert code == 2 and stderr.count("\n") == 1 and "pip install 'bnnc[exact]'" in stderr
