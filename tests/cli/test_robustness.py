"""bnnc robustness: the radius and the minimal counterexample agree with brute force."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import bnnc.api as bnnc
from bnnc.cli import app
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs
from tests.paths import EXAMPLES


# method "sat" skips the enumeration of small balls, so the witness search and the one
# incremental solver (engines/radius.py) answer every radius; "per-radius" is the plain loop.
@pytest.mark.parametrize(
    ("strategy", "method", "widths", "seed"),
    [
        ("incremental", "auto", [10, 6, 3], 4),
        ("incremental", "sat", [10, 6, 3], 4),
        ("incremental", "sat", [14, 8, 5, 4], 7),
        ("per-radius", "auto", [10, 6, 3], 4),
        ("per-radius", "sat", [12, 6, 4], 2),
    ],
)
def test_radius_and_counterexample_agree_with_brute_force(
    strategy: str, method: str, widths: list[int], seed: int
) -> None:
    model = random_bnn(widths, seed=seed)
    inputs = all_inputs(widths[0])
    labels = bnnc.predict(model, inputs)
    rng = np.random.default_rng(0)
    for index in rng.choice(len(inputs), 12, replace=False):
        centre = inputs[index]
        distance = (inputs != centre).sum(axis=1)
        nearest = int(distance[labels != labels[index]].min(initial=99))
        for max_flips in (2, 5):
            result = bnnc.robustness(model, centre, max_flips, strategy=strategy, method=method)
            assert result.label == labels[index]
            if nearest > max_flips:
                assert (result.status, result.radius) == ("robust", max_flips)
                assert result.counterexample is None
            else:
                assert (result.status, result.radius) == ("radius", nearest - 1)
                assert result.counterexample is not None
                assert int((result.counterexample != centre).sum()) == nearest
                assert result.counterexample_label != result.label


def test_command_line_json() -> None:
    runner = CliRunner()
    out = runner.invoke(
        app,
        ["robustness", str(EXAMPLES / "tiny.bnn"), "--near", "010101010", "--max-flips", "3",
         "--json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["result"] == "radius" and record["radius"] == 0
    assert record["counterexample_label"] != record["label"]
    assert [step["flips"] for step in record["steps"]] == [1]


@pytest.mark.parametrize("strategy", ["per-radius", "incremental"])
def test_strategies_agree_on_the_command_line(strategy: str) -> None:
    runner = CliRunner()
    args = ["robustness", str(EXAMPLES / "tiny.bnn"), "--near", "110011001", "--max-flips", "4",
            "--method", "sat", "--strategy", strategy, "--json"]  # fmt: skip
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["strategy"] == strategy
    model = bnnc.load(EXAMPLES / "tiny.bnn")
    centre = np.array([c == "1" for c in "110011001"])
    inputs = all_inputs(9)
    labels = bnnc.predict(model, inputs)
    distance = (inputs != centre).sum(axis=1)
    nearest = int(distance[labels != record["label"]].min())
    assert record["radius"] == min(nearest - 1, 4)
    if record["result"] == "radius":
        assert record["counterexample_flips"] == nearest


def test_unknown_strategy_is_a_usage_error() -> None:
    out = CliRunner().invoke(
        app,
        ["robustness", str(EXAMPLES / "tiny.bnn"), "--near", "010101010", "--max-flips", "3",
         "--strategy", "sideways"],
    )  # fmt: skip
    assert out.exit_code == 2
    assert "--strategy" in out.stderr and "per-radius" in out.stderr
