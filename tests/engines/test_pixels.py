"""Integer first layers in the main verbs (issue 15, item 2): formulas over order-encoded
pixels are parsimonious over pixel vectors (exact counts against onnxruntime on every pixel
vector of a tiny model), and ε-boxes (``--box-near/--eps``) are exact regions of them."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import bnnc
from bnnc.cli import app
from bnnc.errors import ModelError, UsageError
from tests.paths import TESTS

DOMAINS = TESTS / "fixtures" / "domains"
runner = CliRunner()
N, LO, HI = 6, 0, 3  # int_pixels.onnx: 6 pixels 0..3 → 3 classes


def onnx_labels(path: Path, pixels: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    out = [session.run(None, {name: p.reshape(1, -1).astype(np.float32)})[0] for p in pixels]
    return np.array([int(np.argmax(o)) for o in out])


def every_pixel_vector(low: list[int], high: list[int]) -> np.ndarray:
    ranges = [range(a, b + 1) for a, b in zip(low, high, strict=True)]
    return np.array(list(itertools.product(*ranges)))


@pytest.fixture(scope="module")
def model() -> bnnc.Model:
    return bnnc.load(
        DOMAINS / "int_pixels.onnx", cache=False, input_domain="int:0..3", integer_inputs=True
    )


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    return onnx_labels(DOMAINS / "int_pixels.onnx", every_pixel_vector([LO] * N, [HI] * N))


def test_without_integer_inputs_the_layer_is_still_refused() -> None:
    with pytest.raises(ModelError, match="--input-domain"):
        bnnc.load(DOMAINS / "int_pixels.onnx", cache=False, input_domain="int:0..3")


def test_counts_over_the_whole_domain_are_counts_of_pixel_vectors(
    model: bnnc.Model, labels: np.ndarray
) -> None:
    compiled = bnnc.compile(model)
    label = int(np.argmin(np.bincount(labels)))  # the rarest label: Ganak's quickest count
    result = bnnc.count(model, compiled, label=label, method="exact")
    assert result.count == int((labels == label).sum())
    assert result.space == len(labels) == 4**6  # pixel vectors, not 2^18 bit vectors


@settings(max_examples=6, deadline=None)
@given(
    center=st.lists(st.integers(LO, HI), min_size=N, max_size=N),
    eps=st.integers(0, 2),
    label=st.integers(0, 2),
)
def test_box_counts_agree_with_onnxruntime(
    model: bnnc.Model, center: list[int], eps: int, label: int
) -> None:
    query = bnnc.query(model, label=str(label), box_near=np.array(center), eps=eps)
    compiled = bnnc.compile(model, region=query.region)
    got = bnnc.count(model, compiled, query=query, method="exact").count
    low = [max(LO, c - eps) for c in center]
    high = [min(HI, c + eps) for c in center]
    pixels = every_pixel_vector(low, high)
    assert got == int((onnx_labels(DOMAINS / "int_pixels.onnx", pixels) == label).sum())
    result = bnnc.check_sat(model, compiled, query=query)
    assert result.satisfiable == (got > 0)
    if got:
        assert result.witness is not None
        unary = result.witness.reshape(N, HI - LO).astype(int)
        assert (np.diff(unary, axis=1) <= 0).all()  # the canonical (ordered) encoding
        values = LO + unary.sum(axis=1)
        assert (np.array(low) <= values).all() and (values <= np.array(high)).all()
        assert onnx_labels(DOMAINS / "int_pixels.onnx", values[None, :])[0] == label


def test_a_box_needs_an_integer_first_layer() -> None:
    binary = bnnc.load(DOMAINS / "larq_noquantizer.onnx", cache=False, input_domain="01")
    with pytest.raises(UsageError, match="integer"):
        bnnc.query(binary, box_near=np.zeros(binary.n_inputs), eps=1)


def test_cli_box_dimacs_and_check_sat(tmp_path: Path, labels: np.ndarray) -> None:
    image = tmp_path / "img.npy"
    np.save(image, np.array([1, 2, 0, 3, 1, 2]))
    out = tmp_path / "box.cnf"
    args = [str(DOMAINS / "int_pixels.onnx"), "--input-domain", "int:0..3", "--no-cache",
            "--box-near", str(image), "--eps", "1"]  # fmt: skip
    result = runner.invoke(app, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "c ind " in text and text.count("\n") > 10
    pixels = every_pixel_vector([0, 1, 0, 2, 0, 1], [2, 3, 1, 3, 2, 3])
    present = set(onnx_labels(DOMAINS / "int_pixels.onnx", pixels).tolist())
    for label in range(3):
        sat = runner.invoke(app, [*args, "--target-label", str(label), "--check-sat"])
        assert sat.exit_code == (10 if label in present else 20), sat.output
    bad = runner.invoke(app, [*args[:-2], "--eps", "-1", "--check-sat"])
    assert bad.exit_code == 2 and "--eps" in bad.output
    out_of_domain = tmp_path / "bad.npy"
    np.save(out_of_domain, np.array([1, 2, 0, 9, 1, 2]))
    bad = runner.invoke(app, [*args[:4], "--box-near", str(out_of_domain), "--eps", "1"])
    assert bad.exit_code == 2 and "int:0..3" in bad.output


def test_cli_count_and_sample_over_a_box(tmp_path: Path) -> None:
    image = tmp_path / "img.npy"
    np.save(image, np.array([1, 2, 0, 3, 1, 2]))
    args = [str(DOMAINS / "int_pixels.onnx"), "--input-domain", "int:0..3", "--no-cache",
            "--box-near", str(image), "--eps", "1"]  # fmt: skip
    pixels = every_pixel_vector([0, 1, 0, 2, 0, 1], [2, 3, 1, 3, 2, 3])  # 324 vectors
    expected = np.bincount(onnx_labels(DOMAINS / "int_pixels.onnx", pixels), minlength=3)
    result = runner.invoke(app, ["count", *args, "--all-labels", "--json"])
    assert result.exit_code == 0, result.output
    assert "324" in result.output
    for label in range(3):
        assert f'"count": {expected[label]}' in result.output
    enumerate_bits = runner.invoke(app, ["count", *args, "--label", "0", "--enumerate"])
    assert enumerate_bits.exit_code == 2 and "integer" in enumerate_bits.output
    out = tmp_path / "s.npy"
    label = int(np.argmax(expected))
    drawn = runner.invoke(app, ["sample", *args, "--label", str(label), "-n", "4", "-o", str(out)])
    assert drawn.exit_code == 0, drawn.output
    bits = (np.load(out) > 0).reshape(-1, N, HI - LO)  # ±1 per bit
    assert (np.diff(bits.astype(int), axis=2) <= 0).all()  # ordered: one encoding per value
    values = LO + bits.sum(axis=2)
    assert (onnx_labels(DOMAINS / "int_pixels.onnx", values) == label).all()
