"""The ONNX frontend on the real models in ../shared/models (skipped, with a message, when the
shared folder is absent)."""

from __future__ import annotations

import gzip
import itertools

import numpy as np
import pytest

import bnnc
from bnnc.engines import decide as solve
from bnnc.ir.bnn import BnnModel
from bnnc.passes.pipeline import Compilation
from tests.paths import SHARED

SHARED = SHARED
BREVITAS = SHARED / "models" / "brevitas-fc-1layer.onnx"
TFC = SHARED / "models" / "qonnx-tfc-w1a1.onnx"
MNIST_IMAGES = SHARED / "data" / "t10k-images-idx3-ubyte.gz"
MNIST_LABELS = SHARED / "data" / "t10k-labels-idx1-ubyte.gz"

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"shared models not found at {SHARED} (../shared beside the repo)"
)


def formula_labels(compiled: Compilation, inputs: np.ndarray) -> list[int]:
    """The one label the formula gives each input (asserts exactly one)."""
    labels = []
    for true in solve.formula_labels(compiled.formula, inputs):
        assert len(true) == 1, true
        labels.append(true[0])
    return labels


def mnist_bits(count: int) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(MNIST_IMAGES) as images_file, gzip.open(MNIST_LABELS) as labels_file:
        images = np.frombuffer(images_file.read()[16:], np.uint8).reshape(-1, 784)[:count]
        labels = np.frombuffer(labels_file.read()[8:], np.uint8)[:count]
    return (images / 255.0).astype(np.float32) >= 0.5, labels


@pytest.fixture(scope="module")
def tfc() -> tuple[BnnModel, Compilation]:
    model = bnnc.load(TFC)
    assert isinstance(model, BnnModel)
    return model, bnnc.compile(model)


@needs_shared
def test_brevitas_one_layer_agrees_exhaustively() -> None:
    model = bnnc.load(BREVITAS)
    assert isinstance(model, BnnModel)
    assert model.input_conditions == ("x.1[0,0] >= 0.0", "x.1[0,1] >= 0.0", "x.1[0,2] >= 0.0")
    inputs = np.array(list(itertools.product([False, True], repeat=3)))
    framework = model.framework_predict(inputs) if model.framework_predict else None
    assert framework is not None
    assert bnnc.predict(model, inputs).tolist() == framework.tolist()
    assert formula_labels(bnnc.compile(model), inputs) == framework.tolist()


@needs_shared
def test_tfc_decoded_network_has_the_models_test_accuracy(
    tfc: tuple[BnnModel, Compilation],
) -> None:
    model, _ = tfc
    bits, labels = mnist_bits(10_000)
    accuracy = float((bnnc.predict(model, bits) == labels).mean())
    assert accuracy == pytest.approx(0.9296, abs=5e-5)  # the model's own: 92.96 %


@needs_shared
def test_tfc_formula_agrees_with_the_model(tfc: tuple[BnnModel, Compilation]) -> None:
    """The first 200 test images and 100 random inputs (bench/onnx_tfc.py runs 1,000 each)."""
    model, compiled = tfc
    bits, _ = mnist_bits(200)
    rng = np.random.default_rng(0)
    inputs = np.concatenate([bits, rng.random((100, 784)) < 0.5])
    assert model.framework_predict is not None
    framework = model.framework_predict(inputs)
    assert bnnc.predict(model, inputs).tolist() == framework.tolist()
    assert formula_labels(compiled, inputs) == framework.tolist()


@needs_shared
def test_tfc_variable_map_records_input_conditions(tfc: tuple[BnnModel, Compilation]) -> None:
    _, compiled = tfc
    data = bnnc.variable_map(compiled)
    assert data["inputs"][0]["condition"] == "0[0,0,0,0] >= 0.5"
    assert data["inputs"][783]["condition"] == "0[0,0,27,27] >= 0.5"
    assert [len(data["hidden"]), len(data["outputs"])] == [192, 10]
