"""examples/paper/reproduce.py on tiny settings (MNIST at 4×4 and 3×3: seconds, not minutes)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import bnnc
from bnnc.engines.enumerate import enumerate_counts
from bnnc.training.generate import random_bnn
from bnnc.training.retrain import RetrainConfig
from tests.paths import ROOT

ROOT = ROOT
SCRIPT = ROOT / "examples" / "paper" / "reproduce.py"
SHARED_DATA = ROOT.parent / "shared" / "data"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("paper_reproduce", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


paper = load_script()

needs_mnist = pytest.mark.skipif(
    not (SHARED_DATA / "t10k-images-idx3-ubyte.gz").exists(),
    reason=f"the MNIST files are not in {SHARED_DATA} (../shared/data)",
)


@pytest.fixture
def mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNNC_DATA", str(SHARED_DATA))


TINY = paper.Settings(
    seed=0,
    big_epochs=2,
    big_size=4,
    samples=3,
    mc_inputs=2_000,
    approx_big=True,
    small_size=3,
    hidden=6,
    small_epochs=1,
    approx_small=True,
    ganak_timeout=0.0,
    sweep_seeds=1,
    sweep_epochs=(1,),
    retrain=RetrainConfig(rounds=1, samples=2, probe=2, initial_epochs=1, epochs=1),
)


@needs_mnist
@pytest.mark.usefixtures("mnist")
def test_tiny_run_writes_results(tmp_path: Path) -> None:
    logged: list[str] = []
    text = paper.run(TINY, tmp_path, "reproduce.py --tiny", logged.append)
    assert (tmp_path / "RESULTS.md").read_text() == text
    for name in (
        "fig1-training-images.png",
        "fig2-inverted-label2.png",
        "fig-witnesses.png",
        "mnist4x4-16-6-10.bnn",
        "mnist3x3-9-6-10.bnn",
        "retrain/retrain.md",
        "retrain/retrain.png",
        "retrain/retrain.json",
        "retrain/retrain-fresh-round1.png",
    ):
        assert (tmp_path / name).is_file(), name
    assert "## 1. Inverting a 16-6-10 network for label 2" in text
    assert "**all 3 validated**" in text
    assert "| paper (NPAQ) | > 60,000 | > 100,000 |  |" in text
    assert "ApproxMC: " in text and "these bounds." in text
    assert "## 2. Labels no input reaches? 9-6-10 on 3×3 MNIST" in text
    assert "## 3. The paper's future work" in text
    assert "bnnc retrain --size 3 --rounds 1 --samples 2" in text
    assert "--hidden 6 -o retrain/" in text and "--arch 16-6-10 -o model.bnn" in text
    assert any(line.startswith("part 3: ") for line in logged)

    # the check-sat table agrees with the exact counts: UNSAT exactly where no input reaches
    small = bnnc.load(tmp_path / "mnist3x3-9-6-10.bnn")
    assert isinstance(small, bnnc.ir.bnn.BnnModel)
    counts = enumerate_counts(small)
    assert counts.sum() == 2**9
    for label, count in enumerate(counts.tolist()):
        verdict = "**UNSAT**" if count == 0 else "SAT"
        assert f"| {label} | {verdict} |" in text
    if (counts == 0).any():
        assert "**Unreachable: label(s)" in text
    else:
        assert "**No label is unreachable in this run**" in text

    # the big model is the one sampled: it labels the figure's samples 2 (checked by bnnc too)
    big = bnnc.load(tmp_path / "mnist4x4-16-6-10.bnn")
    assert big.n_inputs == 16 and big.n_classes == 10


@needs_mnist
@pytest.mark.usefixtures("mnist")
def test_parts_are_deterministic(tmp_path: Path) -> None:
    settings = paper.Settings(**{**TINY.__dict__, "retrain": None, "approx_small": False})
    a = paper.part_unreachable(settings, tmp_path, lambda _m: None)
    b = paper.part_unreachable(settings, tmp_path, lambda _m: None)
    assert a["counts"] == b["counts"] and a["test_accuracy"] == b["test_accuracy"]
    assert [s["unsat"] for s in a["sweep"]] == [s["unsat"] for s in b["sweep"]]
    assert paper.part_retrain(settings, tmp_path, lambda _m: None) is None


def test_missing_data_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BNNC_DATA", str(tmp_path))
    assert paper.main(["--quick", "--out", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bnnc: error: ")
    assert not (tmp_path / "out").exists()


def test_ganak_with_timeout() -> None:
    model = random_bnn([8, 5, 3], seed=2)
    truth = enumerate_counts(model)
    value, seconds = paper.ganak_with_timeout(model, 1, 60.0)
    assert value == truth[1] and seconds < 60
    stopped, seconds = paper.ganak_with_timeout(random_bnn([60, 30, 10], seed=0), 0, 0.3)
    assert stopped is None and seconds < 30


def test_witness_row_greys_missing_labels() -> None:
    bits = np.ones(4, dtype=bool)
    grid = paper.witness_row([bits, None], (2, 2), scale=3)
    assert grid.shape == (2 * 3 + 4, 2 * (2 * 3 + 2) + 2)
    assert (grid[2:8, 2:8] == 255).all() and (grid[2:8, 10:16] == 96).all()
