"""The sweep's inputs are binarised as the model binarises them: an ONNX model by its own
first quantiser (checked against onnxruntime on the raw images), a text model as bnnc train
prepared its training data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import bnnc.api as bnnc
from bnnc.sweep.inputs import check_with_model, load_inputs, parse_images
from bnnc.training.data import DataError, load_mnist, read_idx_images
from tests.paths import EXAMPLES, SHARED

TFC = SHARED / "models" / "qonnx-tfc-w1a1.onnx"
DATA = SHARED / "data"
needs_shared = pytest.mark.skipif(
    not (TFC.exists() and (DATA / "t10k-images-idx3-ubyte.gz").exists()),
    reason="../shared (TFC-w1a1, MNIST) is not here",
)


@pytest.fixture
def shared_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNNC_DATA", str(DATA))


@needs_shared
@pytest.mark.usefixtures("shared_data")
def test_tfc_bits_are_the_models_own_binarisation() -> None:
    model = bnnc.load(TFC)
    inputs = load_inputs(model, "mnist", "0:60")
    assert inputs.raw is not None and inputs.bits.shape == (60, 784)
    pixels = read_idx_images(DATA / "t10k-images-idx3-ubyte.gz")[:60].reshape(60, -1)
    assert (inputs.bits == (pixels / 255.0 >= 0.5)).all()
    labels = bnnc.predict(model, inputs.bits)
    check_with_model(model, inputs, labels)  # onnxruntime on the raw images agrees
    assert (labels == inputs.truth).mean() > 0.9
    with pytest.raises(DataError, match="the binarisation is not the model's"):
        check_with_model(model, inputs, (labels + 1) % 10)


@needs_shared
@pytest.mark.usefixtures("shared_data")
def test_text_model_bits_are_bnnc_trains() -> None:
    model = bnnc.load(EXAMPLES / "paper" / "mnist10x10-100-20-10.bnn")
    inputs = load_inputs(model, "mnist", "4:200:5")  # i % 5 == 4: the test split
    data = load_mnist(size=10)
    assert (inputs.bits == data.test_bits[:40]).all()
    assert (inputs.truth == data.test_labels[:40]).all()


def test_npy_values_go_through_the_conditions_or_must_be_bits(tmp_path: Path) -> None:
    model = bnnc.load(EXAMPLES / "tiny.bnn")
    npy = tmp_path / "x.npy"
    np.save(npy, np.array([[0.2] * 9]))
    with pytest.raises(DataError, match="the model takes bits"):
        load_inputs(model, str(npy))
    np.save(npy, np.array([[-1, 1, 1, -1, 1, 1, -1, 1, 1]]))
    assert load_inputs(model, str(npy)).bits.tolist() == [[False, True, True] * 3]
    np.save(npy, np.zeros((2, 5)))
    with pytest.raises(DataError, match="rows of 5 values; the model takes 9"):
        load_inputs(model, str(npy))


def test_parse_images_refuses_what_it_cannot_read() -> None:
    assert parse_images("3,1,3", 5).tolist() == [3, 1]
    for bad in ("x", "1:2:3:4", "-1:3", "7", "4:4"):
        with pytest.raises(bnnc.BnncError):
            parse_images(bad, 5)
