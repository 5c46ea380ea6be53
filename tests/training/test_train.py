"""bnnc.training.train (the numpy trainer) and the ``train`` command (through typer's CliRunner)."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import bnnc
from bnnc.cli.train import train_command
from bnnc.ir.bnn import BnnModel
from bnnc.training.train import (
    Progress,
    TrainConfig,
    TrainError,
    accuracy,
    init_state,
    parse_arch,
    recalibrate,
    train,
)
from tests.paths import SHARED

SHARED_DATA = SHARED / "data"


def prototypes(
    n: int, n_inputs: int = 16, n_classes: int = 4, noise: float = 0.1, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """A task a BNN learns easily: each class is a random ±1 prototype with noise bits flipped."""
    rng = np.random.default_rng(seed)
    protos = rng.random((n_classes, n_inputs)) < 0.5
    labels = rng.integers(0, n_classes, n)
    bits = protos[labels] ^ (rng.random((n, n_inputs)) < noise)
    return bits, labels.astype(np.int64)


BITS, LABELS = prototypes(400)
FAST = TrainConfig(epochs=10, batch_size=30)


def arrays(model: BnnModel) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for block in model.blocks:
        assert block.batchnorm is not None
        bn = block.batchnorm
        out += [block.weights, block.bias, bn.gamma, bn.beta, bn.mean, bn.var]
    return [*out, model.output.weights, model.output.bias]


def test_parse_arch() -> None:
    assert parse_arch("100-20-10") == (100, 20, 10)
    assert parse_arch("25-20-20-10") == (25, 20, 20, 10)
    for bad in ("100", "100-x-10", "100-0-10", ""):
        with pytest.raises(TrainError):
            parse_arch(bad)


def test_a_tiny_network_learns_a_learnable_task() -> None:
    result = train(
        BITS[:300], LABELS[:300], (16, 8, 4), config=FAST, test=(BITS[300:], LABELS[300:])
    )
    model = result.model
    model.verify()
    assert model.arithmetic == "float64" and model.blocks[0].batchnorm is not None
    assert model.blocks[0].batchnorm.eps == FAST.eps
    test_acc = accuracy(model, BITS[300:], LABELS[300:])
    assert test_acc >= 0.7  # chance is 0.25; about 0.9 in practice
    assert result.history[-1].test_accuracy == test_acc
    assert len(result.history) == FAST.epochs and result.seconds > 0
    # the accuracy is the reference inference's, i.e. of the network bnnc compiles
    assert test_acc == float(np.mean(bnnc.predict(model, BITS[300:]) == LABELS[300:]))


def test_deterministic_for_a_seed() -> None:
    config = TrainConfig(epochs=3, batch_size=40, seed=7)
    first = train(BITS, LABELS, (16, 6, 4), config=config)
    second = train(BITS, LABELS, (16, 6, 4), config=config)
    for a, b in zip(arrays(first.model), arrays(second.model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [h.loss for h in first.history] == [h.loss for h in second.history]
    other = train(BITS, LABELS, (16, 6, 4), config=TrainConfig(epochs=3, batch_size=40, seed=8))
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(arrays(first.model), arrays(other.model), strict=True)
    )


def test_weights_are_sign_of_clipped_latent_weights() -> None:
    result = train(BITS, LABELS, (16, 6, 5, 4), config=TrainConfig(epochs=2, batch_size=50, lr=0.5))
    state = result.state
    for key in ("w1", "w2", "w_out"):
        assert np.abs(state.params[key]).max() <= 1.0
    model = result.model
    assert len(model.blocks) == 2
    np.testing.assert_array_equal(model.blocks[0].weights, np.where(state.params["w1"] >= 0, 1, -1))
    assert set(np.unique(model.output.weights).tolist()) <= {-1, 1}


def test_progress_reports_every_batch_and_test_accuracy_per_epoch() -> None:
    seen: list[Progress] = []
    config = TrainConfig(epochs=2, batch_size=100)
    train(
        BITS[:300],
        LABELS[:300],
        (16, 4, 4),
        config=config,
        test=(BITS[300:], LABELS[300:]),
        progress=seen.append,
    )
    per_epoch = 300 // 100
    assert [(p.epoch, p.batch) for p in seen[: 2 * per_epoch]] == [
        (e, b) for e in (1, 2) for b in (1, 2, 3)
    ]
    assert len(seen) == 2 * per_epoch + 1  # + the final network after recalibration
    assert all(p.test_accuracy is None for p in seen if p.batch < per_epoch)
    assert all(p.test_accuracy is not None for p in seen if p.batch == per_epoch)
    assert all(0 <= p.accuracy <= 1 and p.loss > 0 for p in seen)


def test_recalibrated_statistics_are_the_training_set_statistics() -> None:
    result = train(BITS, LABELS, (16, 5, 4), config=TrainConfig(epochs=1, batch_size=50))
    bn = result.model.blocks[0].batchnorm
    assert bn is not None
    pre = np.where(BITS, 1, -1) @ result.model.blocks[0].weights.T.astype(np.int64)
    np.testing.assert_allclose(bn.mean, pre.mean(axis=0))
    np.testing.assert_allclose(bn.var, pre.var(axis=0, ddof=1))
    state = result.state.copy()
    recalibrate(state, BITS)
    np.testing.assert_array_equal(state.stats["mean1"], bn.mean)
    running = train(
        BITS, LABELS, (16, 5, 4), config=TrainConfig(epochs=1, batch_size=50, recalibrate=False)
    )
    running_bn = running.model.blocks[0].batchnorm
    assert running_bn is not None and not np.allclose(running_bn.mean, bn.mean)


def test_garbage_class_retraining_from_a_warm_start() -> None:
    """The retraining loop's shape: add class n ("garbage") and samples labelled with it."""
    first = train(BITS, LABELS, (16, 8, 4), config=FAST)
    assert first.model.n_classes == 4
    rng = np.random.default_rng(3)
    garbage = rng.random((100, 16)) < 0.5
    bits = np.vstack([BITS, garbage])
    labels = np.concatenate([LABELS, np.full(100, 4)])
    widened = first.state.with_classes(5)
    np.testing.assert_array_equal(widened.params["w1"], first.state.params["w1"])
    np.testing.assert_array_equal(widened.params["w_out"][:4], first.state.params["w_out"])
    second = train(
        bits,
        labels,
        (16, 8, 5),
        state=first.state,
        config=TrainConfig(epochs=5, batch_size=50),
        class_names=[*"0123", "garbage"],
    )
    assert second.model.n_classes == 5 and second.model.class_names == (
        "0",
        "1",
        "2",
        "3",
        "garbage",
    )
    assert second.state.step == first.state.step + 5 * (500 // 50)
    assert first.state.arch == (16, 8, 4)  # the earlier state is not changed
    assert accuracy(second.model, BITS, LABELS) >= 0.7
    with pytest.raises(TrainError, match="only the class count may grow"):
        train(bits, labels, (16, 9, 5), state=first.state, config=FAST)


def test_bad_data_and_parameters() -> None:
    with pytest.raises(TrainError, match=r"labels must lie in 0\.\.3"):
        train(BITS, LABELS + 1, (16, 4, 4), config=FAST)
    with pytest.raises(TrainError, match="takes 15 inputs"):
        train(BITS, LABELS, (15, 4, 4), config=FAST)
    with pytest.raises(TrainError, match="batch size"):
        train(BITS, LABELS, (16, 4, 4), config=TrainConfig(batch_size=1))
    with pytest.raises(TrainError):
        train(BITS, LABELS, config=FAST)
    state = init_state((16, 4, 4), seed=0)
    assert state.to_model().n_inputs == 16


# --------------------------------------------------------------------------- the command

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command("train")(train_command)


@app.command("noop")
def _noop() -> None:  # a second command, so that "train" is a subcommand as in bnnc's app
    pass


runner = CliRunner()


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["train", *map(str, args)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def write_idx(path: Path, array: np.ndarray) -> Path:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))
    return path


def tiny_mnist(tmp_path: Path, n: int = 200) -> tuple[Path, Path]:
    """28×28 images of class prototypes (5×5 blocks on or off) with noise."""
    rng = np.random.default_rng(0)
    blocks = rng.random((10, 5, 5)) < 0.4
    labels = np.arange(n) % 10
    images = np.kron(blocks[labels], np.ones((6, 6)))[:, :28, :28] * 255
    noise = rng.random(images.shape) < 0.05
    images = np.where(noise, 255 - images, images)
    return (
        write_idx(tmp_path / "img-idx3-ubyte.gz", images),
        write_idx(tmp_path / "lab-idx1-ubyte.gz", labels),
    )


def test_command_end_to_end(tmp_path: Path) -> None:
    images, labels = tiny_mnist(tmp_path)
    out, onnx_out = tmp_path / "m.bnn", tmp_path / "m.onnx"
    code, stdout, stderr = run(
        "--images", images, "--labels", labels, "--size", "5", "--arch", "25-12-10",
        "--epochs", "3", "--batch-size", "20", "-o", out, "--onnx", onnx_out, "--json",
    )  # fmt: skip
    assert code == 0, stderr
    assert stderr == ""  # no progress bar when stderr is not a terminal
    record = json.loads(stdout)
    assert record["arch"] == [25, 12, 10] and record["image_shape"] == [5, 5]
    assert record["train_samples"] == 160 and record["test_samples"] == 40
    assert len(record["history"]) == 3
    model = bnnc.load(out)
    assert isinstance(model, BnnModel) and model.input_shape == (5, 5)
    from bnnc.training.data import load_mnist

    data = load_mnist(images, labels, size=5)
    assert accuracy(model, data.test_bits, data.test_labels) == record["test_accuracy"]
    loaded = bnnc.load(onnx_out)
    assert loaded.n_inputs == 25 and loaded.n_classes == 10


def test_command_text_output(tmp_path: Path) -> None:
    images, labels = tiny_mnist(tmp_path, 60)
    code, stdout, _ = run(
        "--images", images, "--labels", labels, "--epochs", "1", "--batch-size", "10"
    )
    assert code == 0
    assert "trained 100-20-10 for 1 epochs" in stdout
    assert "(48 train, 12 test)" in stdout.splitlines()[0]
    assert stdout.splitlines()[3].startswith("test accuracy ")


def test_command_digits_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [",".join(map(str, [*rng.integers(0, 17, 64), i % 10])) for i in range(50)]
    path = tmp_path / "digits.csv"
    path.write_text("\n".join(rows) + "\n")
    code, stdout, _ = run(
        "--data", "digits", "--images", path, "--epochs", "1", "--batch-size", "10", "--json"
    )
    assert code == 0
    record = json.loads(stdout)
    assert record["arch"] == [64, 20, 10] and record["data"] == "digits"


@pytest.mark.parametrize(
    ("args", "code", "phrase"),
    [
        (["--images", "x.gz"], 2, "--images and --labels go together"),
        (["--data", "digits", "--labels", "y"], 2, "--labels, --test-images and --test-labels"),
        (["--arch", "100-x"], 2, "architecture '100-x'"),
    ],
)
def test_command_usage_errors(args: list[str], code: int, phrase: str) -> None:
    got, _, stderr = run(*args)
    assert got == code and phrase in stderr


def test_command_data_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNNC_DATA", str(tmp_path / "nowhere"))
    code, _, stderr = run("--epochs", "1")
    assert code == 3
    assert stderr.startswith("bnnc: error: ") and stderr.count("\n") == 1
    assert "t10k-images-idx3-ubyte.gz: no such file" in stderr and "BNNC_DATA" in stderr
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x03\x00")
    code, _, stderr = run("--images", bad, "--labels", bad)
    assert code == 3 and f"bnnc: error: {bad}: truncated IDX header" in stderr


def test_command_arch_mismatch_and_output_dir(tmp_path: Path) -> None:
    images, labels = tiny_mnist(tmp_path, 40)
    code, _, stderr = run(
        "--images", images, "--labels", labels, "--size", "5", "--arch", "100-20-10"
    )
    assert code == 2 and "use --arch 25-20-10" in stderr
    code, _, stderr = run("--images", images, "--labels", labels, "-o", tmp_path / "no" / "m.bnn")
    assert code == 5 and "no such directory" in stderr


@pytest.mark.skipif(
    not (SHARED_DATA / "t10k-images-idx3-ubyte.gz").exists(),
    reason=f"{SHARED_DATA} is absent (MNIST t10k lives there)",
)
def test_command_on_shared_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNNC_DATA", str(SHARED_DATA))
    code, stdout, _ = run("--epochs", "1", "--json")
    assert code == 0
    record = json.loads(stdout)
    assert record["train_samples"] == 8000 and record["test_samples"] == 2000
    assert record["test_accuracy"] > 0.5  # one epoch; 25 epochs reach about 0.8
