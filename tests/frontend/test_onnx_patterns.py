"""ONNX patterns (FINN, Larq via tf2onnx, QONNX with real Gemm biases) and refusals, on committed
fixtures; every input."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import bnnc
from bnnc.errors import BnncWarning, ModelError
from bnnc.ir.bnn import BnnModel
from tests.frontend.test_onnx_shared_models import formula_labels
from tests.paths import FIXTURES

FIXTURES = FIXTURES
PATTERNS = {
    "finn_multithreshold_argmax.onnx": "x[0,0] >= 127.5",
    "finn_multithreshold_topk.onnx": "x[0,0] >= 127.5",
    "larq_tf2onnx.onnx": "input[0,0] >= 0.0",
    "qonnx_real_bias.onnx": "x[0,0] >= 0.0",  # real-valued (not integer) Gemm biases
}


@pytest.mark.parametrize(("name", "condition"), PATTERNS.items())
def test_pattern_fixture_agrees_with_its_framework_on_every_input(
    name: str, condition: str
) -> None:
    model = bnnc.load(FIXTURES / name)
    assert isinstance(model, BnnModel) and model.framework_predict is not None
    assert model.input_conditions is not None and model.input_conditions[0] == condition
    inputs = np.array(list(itertools.product([False, True], repeat=model.n_inputs)))
    framework = model.framework_predict(inputs).tolist()
    assert len(set(framework)) > 1, "a useful fixture gives several labels"
    assert bnnc.predict(model, inputs).tolist() == framework
    assert formula_labels(bnnc.compile(model), inputs) == framework


def _save(
    tmp_path: Path,
    nodes: list[onnx.NodeProto],
    inits: dict[str, np.ndarray],
    inputs: list[onnx.ValueInfoProto] | None = None,
) -> Path:
    graph = helper.make_graph(
        nodes,
        "g",
        inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_real_valued_weights_are_refused_naming_the_node(tmp_path: Path) -> None:
    path = _save(
        tmp_path,
        [
            helper.make_node("Sign", ["x"], ["b"], name="bin"),
            helper.make_node("MatMul", ["b", "w"], ["y"], name="dense/MatMul"),
        ],
        {"w": np.array([[0.5, 1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]], np.float32)},
    )
    with pytest.raises(ModelError, match=r"node dense/MatMul \(MatMul\): weights are not ±c"):
        bnnc.load(path)


def test_unsupported_operator_is_refused_naming_the_node(tmp_path: Path) -> None:
    path = _save(
        tmp_path,
        [
            helper.make_node("Sign", ["x"], ["b"], name="bin"),
            helper.make_node("MatMul", ["b", "w"], ["s"], name="mm"),
            helper.make_node("Exp", ["s"], ["y"], name="probs"),
        ],
        {"w": np.ones((4, 2), np.float32)},
    )
    with pytest.raises(ModelError, match=r"node probs \(Exp\): not part of a BNN block"):
        bnnc.load(path)


def test_two_inputs_are_refused(tmp_path: Path) -> None:
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
        helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4]),
    ]
    path = _save(tmp_path, [helper.make_node("Add", ["x", "z"], ["y"])], {}, inputs)
    with pytest.raises(ModelError, match="2 inputs"):
        bnnc.load(path)


def test_unreadable_file_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a protobuf")
    with pytest.raises(ModelError, match=r"broken\.onnx"):
        bnnc.load(path)


def test_hidden_sign_of_zero_is_plus_one_with_a_warning_naming_the_node(tmp_path: Path) -> None:
    """Four ±1 weights: the hidden sum reaches 0, where ONNX Sign gives 0; bnnc reads +1."""
    nodes = [
        helper.make_node("GreaterOrEqual", ["x", "zero"], ["ge"], name="ge"),
        helper.make_node("Where", ["ge", "one", "minus_one"], ["b0"], name="binarise_input"),
        helper.make_node("MatMul", ["b0", "w1"], ["s1"], name="dense1"),
        helper.make_node("Sign", ["s1"], ["b1"], name="hidden_sign"),
        helper.make_node("MatMul", ["b1", "w2"], ["y"], name="dense2"),
    ]
    inits = {
        "zero": np.array(0.0, np.float32),
        "one": np.array(1.0, np.float32),
        "minus_one": np.array(-1.0, np.float32),
        "w1": np.array([[1, -1], [1, 1], [-1, 1], [1, 1]], np.float32),
        "w2": np.array([[1, -1], [-1, 1]], np.float32),
    }
    with pytest.warns(BnncWarning, match=r"node hidden_sign \(Sign\)"):
        model = bnnc.load(_save(tmp_path, nodes, inits))
    assert isinstance(model, BnnModel) and model.blocks[0].oracle is not None
    fires = model.blocks[0].oracle(np.array([[0, 0], [-2, 2]], dtype=np.int64))
    assert fires.tolist() == [[True, True], [False, True]]
    # Input (+1, +1, +1, +1): both hidden sums are 2 → no zero; the model and bnnc agree.
    everything = np.ones((1, 4), dtype=bool)
    assert model.framework_predict is not None
    assert bnnc.predict(model, everything).tolist() == model.framework_predict(everything).tolist()
