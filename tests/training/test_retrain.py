"""bnnc.training.retrain (garbage-class retraining, input-space counting) and the ``retrain``
command."""

from __future__ import annotations

import gzip
import json
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

import bnnc
from bnnc.cli.retrain import retrain_command
from bnnc.engines.enumerate import (
    enumerate_counts,
    first_layer_patterns,
    labels_from_first_layer,
    montecarlo_counts,
)
from bnnc.errors import BnncError, UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.reference import hidden_activations
from bnnc.training.generate import random_bnn
from bnnc.training.retrain import (
    COUNT_METHODS,
    GARBAGE,
    RetrainConfig,
    RetrainError,
    RetrainResult,
    format_markdown,
    format_table,
    label_shares,
    nearest_distance,
    retrain,
    write_outputs,
)
from bnnc.training.train import TrainConfig, train


def all_inputs(n: int) -> np.ndarray:
    index = np.arange(1 << n)
    return ((index[:, None] >> np.arange(n)) & 1).astype(bool)


def brute_force(model: BnnModel) -> np.ndarray:
    labels = bnnc.predict(model, all_inputs(model.n_inputs))
    return np.bincount(labels, minlength=model.n_classes)


def prototypes(
    n: int, n_inputs: int = 12, n_classes: int = 4, noise: float = 0.1, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Each class a random ±1 prototype with a few bits flipped: easy to learn."""
    rng = np.random.default_rng(seed)
    protos = rng.random((n_classes, n_inputs)) < 0.5
    labels = rng.integers(0, n_classes, n)
    bits = protos[labels] ^ (rng.random((n, n_inputs)) < noise)
    return bits, labels.astype(np.int64)


# --------------------------------------------------------------------------- counting


@pytest.mark.parametrize(
    ("widths", "seed"),
    [
        ([10, 6, 4], 0),
        ([11, 7, 3], 1),  # random_bnn draws some negative γ
        ([9, 5, 4, 3], 2),  # two inner blocks
        ([12, 1, 2], 3),
        ([8, 23, 3], 4),  # too wide to tabulate: the rest of the network on every input
    ],
)
def test_enumerate_counts_equal_predict_on_every_input(widths: list[int], seed: int) -> None:
    model = random_bnn(widths, seed=seed, negative_gamma=0.3)
    counts = enumerate_counts(model, low_bits=4)
    assert counts.tolist() == brute_force(model).tolist()
    assert counts.sum() == 2**model.n_inputs


def test_enumerate_counts_of_a_trained_network() -> None:
    bits, labels = prototypes(300)
    model = train(bits, labels, (12, 8, 4), config=TrainConfig(epochs=3, batch_size=30)).model
    assert enumerate_counts(model).tolist() == brute_force(model).tolist()


def test_first_layer_patterns() -> None:
    model = random_bnn([10, 6, 4], seed=5)
    patterns, counts = first_layer_patterns(model)
    assert counts.sum() == 2**10 and (counts > 0).all()
    hidden = hidden_activations(model, all_inputs(10))[0]
    unique, seen = np.unique(hidden, axis=0, return_counts=True)
    order = np.lexsort(patterns.T[::-1])
    assert (patterns[order] == unique).all() and (counts[order] == seen).all()
    labels = labels_from_first_layer(model, patterns)
    expected = brute_force(model)
    assert np.bincount(labels, weights=counts, minlength=4).tolist() == expected.tolist()


def test_enumeration_refuses_large_inputs() -> None:
    model = random_bnn([31, 2, 2], seed=0)
    with pytest.raises(UsageError, match="at most 30 inputs"):
        enumerate_counts(model)


def test_montecarlo_counts_and_shares() -> None:
    model = random_bnn([10, 6, 4], seed=0)
    counts = montecarlo_counts(model, 20_000, seed=1, chunk=3_000)
    assert counts.sum() == 20_000
    assert counts.tolist() == montecarlo_counts(model, 20_000, seed=1).tolist()
    exact = brute_force(model) / 2**10
    for share in label_shares(model, "montecarlo", mc_samples=20_000, seed=1):
        assert share.low <= share.share <= share.high
        assert share.low - 0.01 <= exact[share.label] <= share.high + 0.01
        assert share.count is None and share.method == "montecarlo"


def test_label_shares_by_every_method_agree_on_a_tiny_network() -> None:
    model = random_bnn([9, 6, 3], seed=3)
    truth = brute_force(model)
    exact = label_shares(model, "enumerate")
    assert [s.count for s in exact] == truth.tolist()
    assert sum(s.share for s in exact) == pytest.approx(1.0)
    auto = label_shares(model, "auto")
    assert [s.method for s in auto] == ["enumerate"] * 3
    ganak = label_shares(model, "exact")
    assert [s.count for s in ganak] == truth.tolist()
    for share, count in zip(label_shares(model, "approx"), truth.tolist(), strict=True):
        assert share.count is not None
        assert share.low * 2**9 <= count <= share.high * 2**9  # (ε, δ) bounds, here met
    assert label_shares(model, "none") == []


def test_nearest_distance() -> None:
    reference = np.array([[0, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    bits = np.array([[0, 0, 0, 1], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=bool)
    assert nearest_distance(bits, reference, chunk=2).tolist() == [1, 2, 0]


# --------------------------------------------------------------------------- the loop

TINY = RetrainConfig(
    rounds=2,
    samples=4,
    probe=3,
    initial_epochs=3,
    epochs=2,
    batch_size=30,
    seed=1,
)


@pytest.fixture(scope="module")
def tiny_run() -> RetrainResult:
    bits, labels = prototypes(400)
    test_bits, test_labels = prototypes(120, seed=1)
    return retrain(
        bits,
        labels,
        test_bits,
        test_labels,
        hidden=(8,),
        config=TINY,
        digit_names=("a", "b", "c", "d"),
        input_shape=(3, 4),
        description="prototypes",
    )


def test_retrain_adds_a_garbage_class(tiny_run: RetrainResult) -> None:
    models = tiny_run.models
    assert [m.n_classes for m in models] == [4, 5, 5]
    assert models[0].class_names == ("a", "b", "c", "d")
    assert models[-1].class_names == ("a", "b", "c", "d", GARBAGE)
    assert tiny_run.state.arch == (12, 8, 5)
    assert [r.round for r in tiny_run.rounds] == [0, 1, 2]
    assert [r.classes for r in tiny_run.rounds] == [4, 5, 5]
    # 4 labels × 4 samples per round, less those equal to a real training image
    dropped = [r.garbage_dropped for r in tiny_run.rounds]
    assert [r.garbage_train for r in tiny_run.rounds] == [0, 16 - dropped[1], 32 - sum(dropped)]
    assert tiny_run.garbage is not None and len(tiny_run.garbage) == 32 - sum(dropped)
    bits, _ = prototypes(400)
    assert (nearest_distance(tiny_run.garbage, bits) > 0).all()  # no real image is garbage


def test_retrain_reports_are_consistent(tiny_run: RetrainResult) -> None:
    for report, model in zip(tiny_run.rounds, tiny_run.models, strict=True):
        assert 0.0 <= report.test_accuracy <= 1.0
        assert 0.0 <= report.test_called_garbage <= 1.0
        truth = brute_force(model)
        assert [s.count for s in report.shares] == truth.tolist()  # exact: enumerated
        assert [s.method for s in report.shares] == ["enumerate"] * model.n_classes
        digits = report.digit_share(4)
        assert digits is not None and 0.0 <= digits <= 1.0
        garbage = report.garbage_share(4)
        if report.round == 0:
            assert garbage is None and digits == pytest.approx(1.0)
            assert report.probe_drawn == 0 and report.probe_nearest is None
        else:
            assert garbage is not None and digits + garbage == pytest.approx(1.0)
            assert report.probe_drawn == 4 * TINY.probe
            assert 0 <= report.probe_same_label <= report.probe_still_digit <= report.probe_drawn
            assert report.probe_nearest is not None and report.probe_nearest >= 0
            assert report.unreachable == ()
            assert {"sample", "train", "test", "count"} <= set(report.seconds)
    # the probes are the previous network's samples, labelled as it labels them
    for k in range(1, len(tiny_run.rounds)):
        probe, drawn_for = tiny_run.probes[k], tiny_run.probe_labels[k]
        assert (bnnc.predict(tiny_run.models[k - 1], probe) == drawn_for).all()
        new = bnnc.predict(tiny_run.models[k], probe)
        assert int(np.count_nonzero(new < 4)) == tiny_run.rounds[k].probe_still_digit


def test_retrain_is_deterministic(tiny_run: RetrainResult) -> None:
    bits, labels = prototypes(400)
    test_bits, test_labels = prototypes(120, seed=1)
    again = retrain(
        bits,
        labels,
        test_bits,
        test_labels,
        hidden=(8,),
        config=replace(TINY, rounds=1),
        digit_names=("a", "b", "c", "d"),
        input_shape=(3, 4),
    )

    def strip(result: RetrainResult) -> list[tuple[object, ...]]:
        return [
            (r.test_accuracy, [s.count for s in r.shares], r.probe_still_digit, r.probe_nearest)
            for r in result.rounds
        ]

    assert strip(again) == strip(tiny_run)[:2]


def test_reports_and_files(tiny_run: RetrainResult, tmp_path: Path) -> None:
    table = format_table(tiny_run)
    assert "test accuracy" in table and "garbage" in table
    markdown = format_markdown(tiny_run, plot="p.png")
    assert markdown.startswith("# Garbage-class retraining")
    assert "| round |" in markdown and "![retraining rounds](p.png)" in markdown
    assert "exact: all 2^12 inputs enumerated" in markdown
    written = write_outputs(tiny_run, tmp_path)
    names = sorted(p.name for p in written)
    assert names == sorted(
        [
            "retrain.md",
            "retrain.json",
            "retrain.png",
            "retrain-final.bnn",
            "retrain-fresh-round1.png",
            "retrain-fresh-round2.png",
        ]
    )
    record = json.loads((tmp_path / "retrain.json").read_text())
    assert record["count_method"] == "enumerate"
    assert [r["round"] for r in record["rounds"]] == [0, 1, 2]
    assert record["rounds"][2]["garbage_share"] == tiny_run.rounds[2].garbage_share(4)
    with Image.open(tmp_path / "retrain.png") as image:
        assert image.size == (1000, 440)
    with Image.open(tmp_path / "retrain-fresh-round1.png") as image:
        assert image.size == (10 * (4 * 8 + 2) + 2, 4 * (3 * 8 + 2 * 2))  # a row per label
    final = bnnc.load(tmp_path / "retrain-final.bnn")
    assert final.class_names == ("a", "b", "c", "d", GARBAGE)
    grid = all_inputs(12)
    assert (bnnc.predict(final, grid) == bnnc.predict(tiny_run.models[-1], grid)).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rounds": -1}, "rounds must be ≥ 0"),
        ({"samples": 0}, "at least 1 garbage sample"),
        ({"garbage_repeat": 0}, "garbage_repeat"),
        ({"encoding": "nope"}, "unknown encoding"),
        ({"count": "nope"}, "unknown counting method"),
        ({"mc_samples": 0}, "mc_samples"),
        ({"batch_size": 1}, "batch size"),
    ],
)
def test_config_errors(change: dict[str, object], message: str) -> None:
    with pytest.raises(BnncError, match=message) as info:
        replace(TINY, **change).check()  # type: ignore[arg-type]
    assert info.value.exit_code == 2


def test_enumerate_refused_for_large_networks_before_work() -> None:
    with pytest.raises(RetrainError, match="at most 30 inputs") as info:
        replace(TINY, count="enumerate").check(100)
    assert "--" not in str(info.value)  # the library names no CLI flag; the CLI adds it


def test_garbage_name_clash() -> None:
    bits, labels = prototypes(60, n_classes=2)
    with pytest.raises(RetrainError, match="already called"):
        retrain(bits, labels, bits, labels, config=TINY, digit_names=("x", GARBAGE))


def test_count_names_mirror_methods(mnist_files: tuple[Path, Path]) -> None:
    code, _, stderr = invoke([*small_args(mnist_files), "--count", "bogus"])
    assert code == 2 and f"choose {', '.join(COUNT_METHODS)}" in stderr


# --------------------------------------------------------------------------- the command


def write_idx(path: Path, array: np.ndarray) -> Path:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))
    return path


@pytest.fixture
def mnist_files(tmp_path: Path) -> tuple[Path, Path]:
    """200 28×28 images of ten block prototypes with noise (3×3 after downsampling)."""
    rng = np.random.default_rng(0)
    blocks = rng.random((10, 3, 3)) < 0.5
    labels = np.arange(200) % 10
    images = np.kron(blocks[labels], np.ones((10, 10)))[:, :28, :28] * 255
    noise = rng.random((200, 3, 3)) < 0.05
    images = np.where(np.kron(noise, np.ones((10, 10)))[:, :28, :28], 255 - images, images)
    return (
        write_idx(tmp_path / "img-idx3-ubyte.gz", images),
        write_idx(tmp_path / "lab-idx1-ubyte.gz", labels),
    )


def invoke(args: list[str]) -> tuple[int, str, str]:
    app = typer.Typer(add_completion=False)
    app.command("retrain")(retrain_command)

    @app.callback()
    def _root() -> None:
        pass

    result = CliRunner().invoke(app, ["retrain", *args])
    return result.exit_code, result.stdout, result.stderr


def small_args(files: tuple[Path, Path]) -> list[str]:
    images, labels = files
    return [
        "--images",
        str(images),
        "--labels",
        str(labels),
        "--size",
        "3",
        "--hidden",
        "6",
        "--rounds",
        "1",
        "--samples",
        "2",
        "--probe",
        "2",
        "--initial-epochs",
        "2",
        "--epochs",
        "1",
        "--batch-size",
        "20",
    ]


def test_command_writes_the_report(mnist_files: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "out" / "deeper"
    code, stdout, stderr = invoke(
        [*small_args(mnist_files), "-o", str(out), "--count", "montecarlo", "--mc-samples", "999"]
    )
    assert code == 0, stderr
    assert "9-6-10 on MNIST 3x3" in stdout
    assert "input space → digits" in stdout and "garbage" in stdout
    assert "estimated from 999 uniform random inputs" in stdout
    assert "round 1: retraining on 160 digits + " in stderr
    for name in ("retrain.md", "retrain.json", "retrain.png", "retrain-final.bnn"):
        assert (out / name).is_file()
        assert f"wrote {out / name}" in stdout


def test_command_json(mnist_files: tuple[Path, Path]) -> None:
    code, stdout, stderr = invoke([*small_args(mnist_files), "--json"])
    assert code == 0, stderr
    record = json.loads(stdout)
    assert record["count_method"] == "enumerate"
    assert record["n_inputs"] == 9 and record["written"] == []
    first, second = record["rounds"]
    assert [first["classes"], second["classes"]] == [10, 11]
    assert all(0 <= r["test_accuracy"] <= 1 for r in record["rounds"])
    assert sum(s["count"] for s in first["shares"]) == 2**9
    assert sum(s["count"] for s in second["shares"]) == 2**9
    # a label the sampler found no input for is one that no input reaches (count 0)
    empty = [s["label"] for s in first["shares"] if s["count"] == 0]
    assert second["unreachable"] == empty
    assert second["garbage_train"] + second["garbage_dropped"] == 2 * (10 - len(empty))
    assert second["probe_drawn"] == 2 * (10 - len(empty))


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--rounds", "-1"], 2, "rounds must be ≥ 0"),
        (["--encoding", "bogus"], 2, "unknown encoding 'bogus'"),
        (["--hidden", "x"], 2, "--hidden: 'x'"),
        (["--size", "6", "--count", "enumerate"], 2, "at most 30 inputs"),
        (["--size", "40"], 3, "image size 40"),
    ],
)
def test_command_errors(
    mnist_files: tuple[Path, Path], extra: list[str], code: int, message: str
) -> None:
    got, stdout, stderr = invoke([*small_args(mnist_files), *extra])
    assert got == code
    lines = stderr.strip().splitlines()
    prefix = "bnnc: usage error: " if code == 2 else "bnnc: error: "
    assert len(lines) == 1 and lines[0].startswith(prefix)
    assert message in lines[0]
    assert stdout == ""


def test_command_data_errors(mnist_files: tuple[Path, Path], tmp_path: Path) -> None:
    images, _ = mnist_files
    code, _, stderr = invoke(["--images", str(images)])
    assert code == 2 and "--images and --labels go together" in stderr
    missing = tmp_path / "missing.gz"
    code, _, stderr = invoke(["--images", str(missing), "--labels", str(missing)])
    assert code == 3 and stderr.startswith("bnnc: error: ") and "no such file" in stderr
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, stderr = invoke([*small_args(mnist_files), "-o", str(blocker / "sub")])
    assert code == 5 and stderr.startswith("bnnc: error: ")
