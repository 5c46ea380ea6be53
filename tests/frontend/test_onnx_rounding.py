"""Float summation order in the linear layers of ONNX models (PyTorch's dynamo exporter merges
batch norm into the weights: rows c·s with real c; biases may be real).

bnnc bounds the float32 error of the layer's sum for every summation order and compiles only
when no reachable integer sum lands within that bound of where the rest of the block switches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import bnnc
from bnnc.errors import ModelError
from bnnc.frontend.onnx.exactness import exact_in_every_order
from bnnc.frontend.onnx.patterns import read
from bnnc.frontend.onnx.tails import tail_run
from bnnc.ir.bnn import BnnModel
from tests.helpers import all_inputs, solved_labels
from tests.paths import FIXTURES

FIXTURES = FIXTURES
THIRD = np.float32(1 / 3)


def _third_rows_model(tmp_path: Path, bias: float) -> Path:
    """3 input bits → Gemm with rows ±(1/3)·s and a bias → Greater(0) + Where → 2 classes.

    With bias −1 and every input +1 the real value is 3·fl(1/3) − 1 = 2.98e-8: onnxruntime
    (bias added last) computes exactly 0, so Greater gives −1, but adding the bias first gives
    5.96e-8, so Greater gives +1.  The model's decision depends on the summation order.
    """
    w1 = np.array([[1, 1, 1], [1, -1, 1]], np.float32) * THIRD
    nodes = [
        helper.make_node("GreaterOrEqual", ["x", "zero"], ["ge0"], name="ge0"),
        helper.make_node("Where", ["ge0", "one", "minus_one"], ["b0"], name="binarise_input"),
        helper.make_node("Gemm", ["b0", "w1", "bias1"], ["s1"], name="merged", transB=1),
        helper.make_node("Greater", ["s1", "zero"], ["gt1"], name="gt1"),
        helper.make_node("Where", ["gt1", "one", "minus_one"], ["b1"], name="binarise_hidden"),
        helper.make_node("MatMul", ["b1", "w2"], ["y"], name="scores"),
    ]
    inits = {
        "zero": np.array(0.0, np.float32),
        "one": np.array(1.0, np.float32),
        "minus_one": np.array(-1.0, np.float32),
        "w1": w1,
        "bias1": np.array([bias, 0.25], np.float32),
        "w2": np.array([[1, -1], [1, 1]], np.float32),
    }
    graph = helper.make_graph(
        nodes,
        "third",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    path = tmp_path / "third.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_the_handmade_row_really_depends_on_the_order(tmp_path: Path) -> None:
    session = ort.InferenceSession(
        str(_third_rows_model(tmp_path, -1.0)), providers=["CPUExecutionProvider"]
    )
    bias, ones = np.float32(-1.0), np.ones(3, np.float32)
    bias_last = np.float32(np.float32(THIRD + THIRD) + THIRD) + bias
    bias_first = np.float32(np.float32(bias + THIRD) + THIRD) + THIRD
    assert bias_last == 0 and bias_first > 0  # two orders, two decisions of Greater(·, 0)
    # onnxruntime adds the bias last: hidden bits (−1, +1), scores (0, 2), label 1; adding it
    # first would give hidden bits (+1, +1), scores (2, 0), label 0.
    out = session.run(None, {"x": ones[None, :]})[0]
    assert out.tolist() == [[0.0, 2.0]]


def test_a_reachable_sum_within_the_rounding_bound_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        bnnc.load(_third_rows_model(tmp_path, -1.0))
    message = str(info.value)
    assert "\n" not in message
    assert "node merged (Gemm)" in message
    assert "neuron 0 at the integer sum 3" in message
    assert "depends on the order in which the float sum is accumulated" in message


def test_a_clear_band_compiles_and_agrees_with_onnxruntime_on_every_input(tmp_path: Path) -> None:
    path = _third_rows_model(tmp_path, -0.9)
    model = bnnc.load(path)
    assert isinstance(model, BnnModel) and model.framework_predict is not None
    inputs = all_inputs(3)
    expected = model.framework_predict(inputs)
    assert len(set(expected.tolist())) == 2
    assert bnnc.predict(model, inputs).tolist() == expected.tolist()
    formula = solved_labels(bnnc.compile(model).formula, inputs)
    assert formula == [[int(c)] for c in expected]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for row, label in zip(inputs, expected, strict=True):
        x = np.where(row, np.float32(1), np.float32(-1))[None, :]
        assert int(np.argmax(session.run(None, {"x": x})[0])) == label


def test_exactness_needs_power_of_two_products_and_a_bias_on_the_grid() -> None:
    ones, n = np.ones(2), np.array([784, 784])
    integer_bias = np.array([3.0, -200.0])  # Brevitas: an integer bias, ±1 products
    assert exact_in_every_order(1.0, ones, integer_bias, n).all()
    assert exact_in_every_order(1.0, 0.5 * ones, np.array([0.25, -1.75]), n).all()
    real_bias = np.array([float(np.float32(0.1)), 0.0])
    assert exact_in_every_order(1.0, ones, real_bias, n).tolist() == [False, True]
    assert not exact_in_every_order(1.0, float(THIRD) * ones, np.zeros(2), n).any()
    assert not exact_in_every_order(3.0, ones, np.zeros(2), n).any()  # Gemm alpha = 3
    assert not exact_in_every_order(1.0, ones, np.array([2.0**30, 0.0]), n)[0]  # too wide


def _sum_in_order(terms: np.ndarray, bias: float, order: np.ndarray) -> np.float32:
    values = [np.float32(v) for v in terms] + [np.float32(bias)]
    total = np.float32(0)
    for k in order:
        total = np.float32(total + values[k])
    return total


@pytest.mark.parametrize(
    "name", ["torch_dynamo_sign_nobias.onnx", "torch_dynamo_hardtanh.onnx", "qonnx_real_bias.onnx"]
)
def test_the_bound_holds_for_random_summation_orders(name: str) -> None:
    """Sum a row's float32 terms (and the bias) in random orders: every result lies within
    the bound bnnc uses around the real value gain·t + offset."""
    reading = read(FIXTURES / name)
    rng = np.random.default_rng(0)
    banded = [block for block in reading.blocks if block.bound is not None]
    assert banded
    for block in banded:
        assert block.bound is not None
        n_out, n_in = block.weights.shape
        for _ in range(300):
            x = rng.choice([-1, 1], size=n_in)
            j = int(rng.integers(n_out))
            terms = (block.weights[j] * x).astype(np.float64) * block.gain[j]
            total = _sum_in_order(terms, block.offset[j], rng.permutation(n_in + 1))
            exact = float(block.gain[j] * int(block.weights[j] @ x) + block.offset[j])
            assert abs(float(total) - exact) <= float(block.bound[j])


def test_every_input_in_random_summation_orders_gets_bnncs_label() -> None:
    """torch_dynamo_argmax (6 → 4 → 4): run the model with each Gemm summed in random orders
    (the tails in onnxruntime) on every input; the label is always bnnc's."""
    reading = read(FIXTURES / "torch_dynamo_argmax.onnx")
    model = reading.model
    first, last = reading.blocks
    rng = np.random.default_rng(1)
    inputs = all_inputs(model.n_inputs)
    expected = bnnc.predict(model, inputs)
    for row, label in zip(inputs, expected, strict=True):
        for _ in range(3):
            x = np.where(row, 1, -1)
            hidden = np.array(
                [
                    _sum_in_order(
                        first.weights[j] * x * first.gain[j], first.offset[j], rng.permutation(7)
                    )
                    for j in range(first.weights.shape[0])
                ],
                np.float32,
            )
            bits = np.sign(tail_run(reading.source, first)(hidden[None, :])[0]).astype(int)
            scores = [
                _sum_in_order(
                    last.weights[c] * bits * last.gain[c], last.offset[c], rng.permutation(5)
                )
                for c in range(last.weights.shape[0])
            ]
            assert int(np.argmax(scores)) == label
