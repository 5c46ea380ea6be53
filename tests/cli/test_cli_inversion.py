"""The inversion verbs on the command line: sample, count, regions, --json, exit codes, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import bnnc
from bnnc.backend.text import print_bnn
from bnnc.cli import app
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs
from tests.paths import EXAMPLES

TINY = EXAMPLES / "tiny.bnn"
runner = CliRunner()


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def tiny_labels() -> np.ndarray:
    return bnnc.predict(bnnc.load(TINY), all_inputs(9))


def test_sample_writes_validated_npy_png_and_json(tmp_path: Path, tiny_labels: np.ndarray) -> None:
    npy, png = tmp_path / "bar.npy", tmp_path / "bar.png"
    code, stdout, _ = run(
        "sample",
        TINY,
        "--label",
        "bar",
        "-n",
        "12",
        "--seed",
        "3",
        "-o",
        npy,
        "--png",
        png,
        "--json",
    )
    assert code == 0
    record = json.loads(stdout)
    assert record["drawn"] == record["validated"] == 12 and record["sampler"] == "enumerate"
    assert record["guarantee"] == "exactly uniform"
    samples = np.load(npy)
    assert samples.shape == (12, 3, 3) and set(np.unique(samples)) <= {-1, 1}
    bits = samples.reshape(12, 9) > 0
    assert (bnnc.predict(bnnc.load(TINY), bits) == 1).all()
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > image.height > 0


def test_sample_prints_an_ascii_preview(tiny_labels: np.ndarray) -> None:
    code, stdout, _ = run("sample", TINY, "--label", "1", "-n", "3")
    assert code == 0
    assert "3 samples for label 1 (bar)" in stdout and "all 3 validated" in stdout
    assert any(set(line) <= {"#", ".", " "} and "#" in line for line in stdout.splitlines())


def test_unique_sampling_stops_when_the_preimage_is_exhausted(tiny_labels: np.ndarray) -> None:
    expected = int((tiny_labels == 1).sum())
    code, stdout, _ = run("sample", TINY, "-l", "bar", "-n", "1000", "--unique", "--json")
    record = json.loads(stdout)
    assert code == 0 and record["exhausted"]
    assert record["drawn"] == record["distinct"] == expected


def test_sampling_an_empty_query_exits_20() -> None:
    # 'bar' needs exactly one column lit: all-dark inputs with every column bit fixed off.
    code, stdout, _ = run("sample", TINY, "-l", "bar", "--fix", "0-8=0", "-n", "2")
    assert code == 20 and "nothing to sample" in stdout


def test_count_all_labels_sums_to_the_space(tiny_labels: np.ndarray) -> None:
    code, stdout, _ = run("count", TINY, "--all-labels", "--json")
    assert code == 0
    record = json.loads(stdout)
    counts = [entry["count"] for entry in record["counts"]]
    assert counts == np.bincount(tiny_labels, minlength=2).tolist()
    assert record["total"] == record["space"] == 512
    assert record["method"] == "enumerate" and record["guarantee"] == "exact"
    assert all(e["method"] == "enumerate" and e["guarantee"] == "exact" for e in record["counts"])
    code, stdout, _ = run("count", TINY, "--all-labels")
    assert code == 0 and "total" in stdout and "100.0000%" in stdout
    assert "guarantee: exact" in stdout


def test_every_count_states_its_method_and_guarantee() -> None:
    """Ganak's counts are labelled with the guarantee they have (probabilistic), ApproxMC's
    with their (ε, δ), in the text and in every JSON record."""
    code, stdout, _ = run("count", TINY, "--label", "bar", "--exact", "--json")
    record = json.loads(stdout)
    entry = record["counts"][0]
    assert code == 0 and entry["count"] == 120 and entry["guarantee_kind"] == "probably exact"
    assert entry["guarantee"].startswith("exact with probability ≥ 1 − δ")
    code, stdout, _ = run("count", TINY, "--label", "bar", "--exact")
    assert "guarantee: exact with probability ≥ 1 − δ" in stdout
    code, stdout, _ = run("count", TINY, "--label", "bar", "--approx", "--delta", "0.1")
    assert "≈ " in stdout and "guarantee: within a factor 1.8 with probability ≥ 0.9" in stdout


def test_count_in_a_hamming_ball_matches_enumeration(tiny_labels: np.ndarray) -> None:
    inputs = all_inputs(9)
    center = inputs[100]
    ball = (inputs != center).sum(axis=1) <= 2
    expected = int((ball & (tiny_labels != tiny_labels[100])).sum())
    bits = "".join("1" if b else "0" for b in center)
    code, stdout, _ = run(
        "count",
        TINY,
        "--near",
        bits,
        "--max-flips",
        "2",
        "--not-label",
        str(tiny_labels[100]),
        "--json",
    )
    assert code == 0
    record = json.loads(stdout)
    assert record["counts"][0]["count"] == expected
    assert record["space"] == int(ball.sum())


def test_near_reads_an_npy_file(tmp_path: Path, tiny_labels: np.ndarray) -> None:
    center = all_inputs(9)[300]
    path = tmp_path / "x.npy"
    np.save(path, np.where(center, 1, -1).reshape(3, 3))
    code, stdout, _ = run(
        TINY,
        "--near",
        path,
        "--max-flips",
        "1",
        "--not-label",
        str(tiny_labels[300]),
        "--check-sat",
        "--json",
    )
    ball = (all_inputs(9) != center).sum(axis=1) <= 1
    flips = bool((ball & (tiny_labels != tiny_labels[300])).any())
    assert code == (10 if flips else 20)
    record = json.loads(stdout)
    assert record["result"] == ("SAT" if flips else "UNSAT")


def test_approximate_count_reports_its_guarantee() -> None:
    code, stdout, _ = run("count", TINY, "--label", "bar", "--approx", "--json")
    assert code == 0
    record = json.loads(stdout)
    low, high = record["counts"][0]["bounds"]
    assert low <= 120 <= high and record["epsilon"] == 0.8 and record["delta"] == 0.2
    entry = record["counts"][0]
    assert (entry["epsilon"], entry["delta"], entry["guarantee_kind"]) == (0.8, 0.2, "approximate")


def test_fixed_bits_reach_the_dimacs_file(tmp_path: Path) -> None:
    code, stdout, _ = run(TINY, "--fix", "0-2=1", "--target-label", "0", "-o", "-")
    assert code == 0
    assert "c query label 0 (other), 3 bits fixed" in stdout
    clauses = {line for line in stdout.splitlines() if not line.startswith(("c", "p"))}
    assert {"1 0", "2 0", "3 0", "10 0"} <= clauses


def test_hamming_ball_variables_are_declared(tmp_path: Path) -> None:
    code, stdout, _ = run(TINY, "--near", "000000000", "--max-flips", "3", "-o", "-")
    assert code == 0
    header = next(line for line in stdout.splitlines() if line.startswith("p cnf"))
    aux = next(line for line in stdout.splitlines() if line.startswith("c query auxiliary"))
    assert int(header.split()[2]) == int(aux.split("..")[-1])


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["sample", TINY, "-n", "3"], 2, "say what to sample"),
        (["sample", TINY, "-l", "bar", "-n", "0"], 2, "-n must be at least 1"),
        (["count", TINY], 2, "say what to count"),
        (["count", TINY, "--all-labels", "--label", "1"], 2, "--all-labels counts every"),
        (["count", TINY, "-l", "1", "--exact", "--approx"], 2, "choose one of"),
        (["count", TINY, "-l", "1", "--near", "010"], 2, "--near and --max-flips go together"),
        (
            ["count", TINY, "-l", "1", "--near", "010", "--max-flips", "1"],
            2,
            "--near: the model takes 9 input bits",
        ),
        (["count", TINY, "-l", "1", "--near", "0" * 9, "--max-flips", "-1"], 2, "--max-flips must"),
        (["count", TINY, "-l", "1", "--fix", "3=2"], 2, "--fix: '3=2': expected I=V or I-J=V"),
        (["count", TINY, "-l", "1", "--fix", "9=1"], 2, "--fix: '9=1': bits must lie in 0..8"),
        (["count", TINY, "-l", "1", "--fix", "1=1", "--fix", "1=0"], 3, "fixed to both"),
        (["count", TINY, "-l", "1", "--fix", "1.."], 2, "--fix: the mask has 3 bits"),
        (["count", TINY, "-l", "cat"], 2, "--label: unknown label 'cat'"),
        (["count", TINY, "--not-label", "cat"], 2, "--not-label: unknown label 'cat'"),
        (["sample", TINY, "-l", "1", "--png", "x.png", "--not-label", "1"], 3, "both required"),
    ],
)
def test_usage_and_input_errors(args: list[str | Path], code: int, message: str) -> None:
    got, _, stderr = run(*args)
    assert got == code, stderr
    assert message in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_png_needs_a_picture(tmp_path: Path) -> None:
    model = tmp_path / "flat.bnn"
    model.write_text(print_bnn(random_bnn([6, 4, 3], seed=1)))
    code, _, stderr = run("sample", model, "-l", "0", "--png", tmp_path / "x.png")
    assert code == 2 and "--png needs 2-D inputs" in stderr
    assert not (tmp_path / "x.png").exists()


def test_fix_mask_from_a_file(tmp_path: Path, tiny_labels: np.ndarray) -> None:
    mask = tmp_path / "mask.txt"
    mask.write_text("111   # top row lit\n...\n...\n")
    code, stdout, _ = run("count", TINY, "--fix", f"@{mask}", "--all-labels", "--json")
    assert code == 0
    inputs = all_inputs(9)
    inside = inputs[:, :3].all(axis=1)
    counts = [entry["count"] for entry in json.loads(stdout)["counts"]]
    assert counts == np.bincount(tiny_labels[inside], minlength=2).tolist()


def test_compile_json_reports_the_file_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "tiny.cnf"
    code, stdout, _ = run(TINY, "-o", out, "--json", "--fix", "0=1")
    assert code == 0
    record = json.loads(stdout)
    header = next(line for line in out.read_text().splitlines() if line.startswith("p cnf"))
    assert record["verb"] == "compile" and record["output"] == str(out)
    assert record["query"]["fixed_bits"] == 1
    assert record["variables"] == int(header.split()[2])
    code, _, stderr = run(TINY, "--json")
    assert code == 2 and "write the formula to a file" in stderr


def test_count_by_enumeration_on_the_command_line(tiny_labels: np.ndarray) -> None:
    code, stdout, _ = run("count", TINY, "--all-labels", "--enumerate", "--json")
    assert code == 0
    record = json.loads(stdout)
    assert record["method"] == "enumerate"
    assert [e["count"] for e in record["counts"]] == np.bincount(tiny_labels).tolist()
    code, _, stderr = run("count", TINY, "-l", "1", "--enumerate", "--approx")
    assert code == 2 and "choose one of" in stderr
