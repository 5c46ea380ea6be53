"""Query-aware answers on the command line: specialisation changes no answer (counts, SAT and
UNSAT agree with --no-specialise), every method agrees, and --timeout gives UNKNOWN (exit 30)
with nothing left running."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

import bnnc.api as bnnc
from bnnc.cli import app
from bnnc.engines.region_points import enumeration_size, region_points
from bnnc.ir.region import Region
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs
from tests.paths import EXAMPLES, ROOT

TINY = EXAMPLES / "tiny.bnn"
runner = CliRunner()


def run(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("flags", [["--fix", "0-2=1"], ["--near", "010101010", "--max-flips", "2"]])
def test_counts_agree_with_and_without_specialisation(flags: list[str]) -> None:
    counts = []
    for specialise in ("--specialise", "--no-specialise"):
        code, stdout, _ = run("count", TINY, "--all-labels", "--json", specialise, *flags)
        assert code == 0
        counts.append([entry["count"] for entry in json.loads(stdout)["counts"]])
    assert counts[0] == counts[1]
    model = bnnc.load(TINY)
    query = bnnc.query(model, fix=flags[1:2] if flags[0] == "--fix" else (),
                       near=flags[1] if flags[0] == "--near" else None,
                       max_flips=2 if flags[0] == "--near" else None)  # fmt: skip
    inputs = all_inputs(9)
    inside = inputs[query.region.contains(inputs)]
    assert counts[0] == np.bincount(bnnc.predict(model, inside), minlength=2).tolist()


def test_every_method_gives_the_same_answer() -> None:
    model = random_bnn([12, 8, 4], seed=2)
    inputs = all_inputs(12)
    labels = bnnc.predict(model, inputs)
    rng = np.random.default_rng(0)
    for trial in range(12):
        centre = inputs[rng.integers(len(inputs))]
        k = int(rng.integers(0, 4))
        region = Region.ball(centre, k)
        inside = region.contains(inputs)
        for label in range(4):
            query = bnnc.Query(region, label=label)
            truth = bool((labels[inside] == label).any())
            compiled = bnnc.compile(model, region=region)
            for method in ("auto", "enumerate", "sat"):
                result = bnnc.check_sat(model, compiled, query=query, method=method)
                assert result.satisfiable == truth, (trial, label, method)
                if method != "auto":
                    assert result.method in (
                        {method} if method == "enumerate" else {"sat", "search"}
                    )


def test_region_points_enumerate_each_input_once() -> None:
    rng = np.random.default_rng(3)
    inputs = all_inputs(8)
    for _ in range(50):
        chosen = rng.choice(8, rng.integers(0, 4), replace=False)
        region = Region.with_fixed(8, {int(i): bool(rng.random() < 0.5) for i in chosen})
        for _ in range(int(rng.integers(0, 3))):
            region = region.intersect(Region.ball(rng.random(8) < 0.5, int(rng.integers(0, 5))))
        rows = [tuple(r) for chunk in region_points(region, chunk=5) for r in chunk]
        assert len(rows) == len(set(rows)) <= enumeration_size(region)
        assert set(rows) == {tuple(r) for r in inputs[region.contains(inputs)]}


def test_check_sat_reports_the_method_and_why() -> None:
    code, stdout, _ = run(TINY, "-t", "1", "--check-sat", "--json")
    record = json.loads(stdout)
    assert code == 10 and record["method"] == "enumerate" and "512 inputs" in record["reason"]
    code, stdout, _ = run(TINY, "-t", "1", "--check-sat", "--json", "--method", "sat")
    assert json.loads(stdout)["reason"] == "asked for"
    code, _, stderr = run(TINY, "-t", "1", "--check-sat", "--method", "bogus")
    assert code == 2 and "--method: unknown method 'bogus'" in stderr


def test_a_count_that_runs_out_of_time_is_unknown_and_stops_its_solver() -> None:
    model = ROOT / "examples" / "paper-100-20-10.bnn"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bnnc", "count", str(model), "-l", "1", "--timeout", "1", "--json"],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 30, done.stderr
    assert json.loads(done.stdout)["result"] == "unknown"
    assert time.perf_counter() - start < 20
    # No Ganak child outlives the command.
    left = subprocess.run(["pgrep", "-f", "bnnc count"], capture_output=True, text=True)
    assert str(model) not in left.stdout


def test_sampling_that_runs_out_of_time_keeps_its_samples(tmp_path: object) -> None:
    code, stdout, _ = run(
        "sample", TINY, "-l", "1", "-n", "100000", "--timeout", "0.5", "--sampler", "cmsgen",
        "--json",
    )  # fmt: skip
    record = json.loads(stdout)
    assert code == 30 and record["timed_out"] and record["result"] == "unknown"
    assert 0 < record["drawn"] < 100000 and record["validated"] == record["drawn"]
