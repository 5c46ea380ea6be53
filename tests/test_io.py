"""Every writer creates its files atomically with the mode a plain ``open()`` gives: 0644
under umask 022 (``mkstemp`` alone would leave 0600)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import bnnc.api as bnnc
from bnnc.io import write_atomic
from bnnc.training.generate import random_bnn
from tests.paths import ROOT
from tests.training.test_train import tiny_mnist

ROOT = ROOT


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_api_writer_gives_0644(tmp_path: Path, umask_022: None) -> None:
    model = random_bnn([9, 4, 2], seed=0)
    compiled = bnnc.compile(model)
    samples = bnnc.sample(model, compiled, label=0, n=2).samples
    writers = {
        "f.cnf": lambda p: bnnc.write_dimacs(compiled, p),
        "f.json": lambda p: bnnc.write_variable_map(compiled, p),
        "f.txt": lambda p: bnnc.write_file(p, "text\n"),
        "f.bnn": lambda p: bnnc.save_text(model, p),
        "f.onnx": lambda p: bnnc.save_onnx(model, p),
        "f.npy": lambda p: bnnc.save_samples(p, samples, model.input_shape),
        "f.png": lambda p: bnnc.save_png_grid(p, samples, (3, 3)),
        "f.bin": lambda p: write_atomic(p, b"\x00\x01"),
    }
    for name, write in writers.items():
        path = tmp_path / name
        write(path)
        assert mode(path) == 0o644, name
        assert not list(tmp_path.glob(f".{name}.*")), f"{name}: temporary file left behind"


def test_train_onnx_and_text_get_0644(tmp_path: Path) -> None:
    images, labels = tiny_mnist(tmp_path, 60)
    out, onnx_out = tmp_path / "m.bnn", tmp_path / "m.onnx"
    args = [
        "--images", images, "--labels", labels, "--size", "5", "--arch", "25-4-10",
        "--epochs", "1", "--batch-size", "10", "-o", out, "--onnx", onnx_out,
    ]  # fmt: skip
    # A real process, so that the umask is the process's own, as a user's shell sets it.
    done = subprocess.run(
        ["sh", "-c", 'umask 022 && exec "$@"', "sh", sys.executable, "-m", "bnnc", "train",
         *map(str, args)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert mode(out) == 0o644 and mode(onnx_out) == 0o644


def test_umask_is_respected(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "private", "x")
    finally:
        os.umask(old)
    assert mode(tmp_path / "private") == 0o600
    assert np.array_equal(np.frombuffer((tmp_path / "private").read_bytes(), np.uint8), [120])
