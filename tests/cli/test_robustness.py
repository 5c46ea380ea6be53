"""bnnc robustness: the radius and the minimal counterexample agree with brute force."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

import bnnc.api as bnnc
from bnnc.cli import app
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs
from tests.paths import EXAMPLES


def test_radius_and_counterexample_agree_with_brute_force() -> None:
    model = random_bnn([10, 6, 3], seed=4)
    inputs = all_inputs(10)
    labels = bnnc.predict(model, inputs)
    rng = np.random.default_rng(0)
    for index in rng.choice(len(inputs), 12, replace=False):
        centre = inputs[index]
        distance = (inputs != centre).sum(axis=1)
        nearest = int(distance[labels != labels[index]].min(initial=99))
        for max_flips in (2, 5):
            result = bnnc.robustness(model, centre, max_flips)
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
