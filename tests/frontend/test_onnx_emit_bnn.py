"""``bnnc MODEL.onnx --emit bnn``: the model in bnnc's text language, exactly.

For every ONNX fixture and the shared models, the printed text parses and compiles to the same
integer model (ILP thresholds and argmax tables) as the ONNX model itself.  The trained form is
printed when the parameters read back from the graph reproduce those thresholds; otherwise the
lowered form, with a leading comment that says why.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import bnnc
from bnnc.errors import ModelError
from bnnc.frontend.text import parse_text
from bnnc.ir.bnn import BnnModel
from bnnc.ir.ilp import IlpModel
from bnnc.passes.pipeline import model_hash
from tests.frontend.test_onnx_shared_models import BREVITAS, TFC, needs_shared
from tests.frontend.test_onnx_torch_fixtures import EXPECTED_COMPILE_REFUSALS
from tests.helpers import all_inputs
from tests.paths import FIXTURES

# Compiled (through staircase comparisons) but with no text form: per-class output scales.
NO_TEXT_FORM = "lowered text form cannot express"
EXPECTED_EMIT_REFUSALS = {
    **{name: phrase for name, (_, phrase) in EXPECTED_COMPILE_REFUSALS.items()},
    "torch_legacy_sign_bias.onnx": NO_TEXT_FORM,
    "torch_dynamo_sign_bias.onnx": NO_TEXT_FORM,
}

FIXTURES = FIXTURES
ALL = sorted(p.name for p in FIXTURES.glob("*.onnx"))


@functools.cache
def ilp_hash(path: Path) -> str:
    model = bnnc.load(path)
    ilp = bnnc.compile(model, until="ilp").ilp
    assert ilp is not None
    return model_hash(ilp)


def text_hash(text: str) -> tuple[str, BnnModel | IlpModel]:
    parsed = parse_text(text, "<emitted>")
    ilp = bnnc.compile(parsed, until="ilp").ilp
    assert ilp is not None
    return model_hash(ilp), parsed


def check_exact(path: Path) -> str:
    text = bnnc.emit(bnnc.load(path), "bnn")
    digest, parsed = text_hash(text)
    assert digest == ilp_hash(path)
    # Every fixture's blocks read back in the trained form.
    assert isinstance(parsed, BnnModel), text.splitlines()[0]
    assert text.startswith("# bnnc: trained form read back from")
    return text


@pytest.mark.parametrize("name", [n for n in ALL if n not in EXPECTED_EMIT_REFUSALS])
def test_emitted_text_compiles_to_the_same_integer_model(name: str) -> None:
    check_exact(FIXTURES / name)


@pytest.mark.parametrize("name", sorted(EXPECTED_EMIT_REFUSALS))
def test_a_model_without_a_text_form_is_refused(name: str) -> None:
    phrase = EXPECTED_EMIT_REFUSALS[name]
    with pytest.raises(ModelError, match=phrase):
        bnnc.emit(bnnc.load(FIXTURES / name), "bnn")


@needs_shared
@pytest.mark.parametrize("path", [BREVITAS, TFC], ids=lambda p: p.name)
def test_shared_models_emit_exact_text(path: Path) -> None:
    text = check_exact(path)
    assert "batchnorm {" in text or path == BREVITAS


def test_dynamo_merged_batch_norm_prints_as_scale_and_shift() -> None:
    """Rows c_j·s_j and bias b_j: the block prints s_j with γ = c_j and β = b_j."""
    text = check_exact(FIXTURES / "torch_dynamo_sign_nobias.onnx")
    model = parse_text(text)
    assert isinstance(model, BnnModel) and model.arithmetic == "float32"
    graph = onnx.load(str(FIXTURES / "torch_dynamo_sign_nobias.onnx")).graph
    gemm = next(n for n in graph.node if n.op_type == "Gemm")
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    weights, bias = inits[gemm.input[1]], inits[gemm.input[2]]
    bn = model.blocks[0].batchnorm
    assert bn is not None
    np.testing.assert_array_equal(bn.gamma, np.abs(weights).max(axis=1))
    np.testing.assert_array_equal(bn.beta, bias)
    np.testing.assert_array_equal(model.blocks[0].weights, np.sign(weights))


def test_negative_output_scale_prints_negated_rows() -> None:
    text = check_exact(FIXTURES / "torch_legacy_negscale.onnx")
    model = parse_text(text)
    onnx_model = bnnc.load(FIXTURES / "torch_legacy_negscale.onnx")
    assert isinstance(model, BnnModel) and isinstance(onnx_model, BnnModel)
    np.testing.assert_array_equal(model.output.weights, -onnx_model.output.weights)
    inputs = all_inputs(model.n_inputs)
    assert onnx_model.framework_predict is not None
    framework = onnx_model.framework_predict(inputs).tolist()
    assert bnnc.predict(model, inputs).tolist() == framework


def _save(tmp_path: Path, tail: list[onnx.NodeProto], inits: dict[str, np.ndarray]) -> Path:
    """4 input bits → MatMul → ``tail`` (from s1 to b1) → MatMul → scores."""
    nodes = [
        helper.make_node("GreaterOrEqual", ["x", "zero"], ["ge"], name="ge"),
        helper.make_node("Where", ["ge", "one", "minus_one"], ["b0"], name="binarise_input"),
        helper.make_node("MatMul", ["b0", "w1"], ["s1"], name="dense1"),
        *tail,
        helper.make_node("MatMul", ["b1", "w2"], ["y"], name="dense2"),
    ]
    base = {
        "zero": np.array(0.0, np.float32),
        "one": np.array(1.0, np.float32),
        "minus_one": np.array(-1.0, np.float32),
        "w1": np.array([[1, -1, 1], [1, 1, -1], [-1, 1, 1], [1, 1, 1]], np.float32),
        "w2": np.array([[1, -1], [-1, 1], [1, 1]], np.float32),
    }
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(v, k) for k, v in {**base, **inits}.items()],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def _lowered(path: Path) -> str:
    text = bnnc.emit(bnnc.load(path), "bnn")
    digest, parsed = text_hash(text)
    assert isinstance(parsed, IlpModel)
    assert digest == ilp_hash(path)
    return text.splitlines()[0]


def test_a_tail_without_a_trained_form_prints_the_lowered_form_and_says_why(
    tmp_path: Path,
) -> None:
    tail = [
        helper.make_node("Relu", ["s1"], ["r1"], name="relu"),
        helper.make_node("Sub", ["r1", "half"], ["h1"], name="shift"),
        helper.make_node("Sign", ["h1"], ["b1"], name="sign"),
    ]
    first = _lowered(_save(tmp_path, tail, {"half": np.array(0.5, np.float32)}))
    assert first.startswith("# bnnc: ") and "in the lowered form, which is exact" in first
    assert "block layer1 (node dense1): Sub after a Clip" in first


def test_parameters_that_do_not_reproduce_the_thresholds_give_the_lowered_form(
    tmp_path: Path,
) -> None:
    """Where(x ≥ 1, −1, +1) inverts the comparison: the read-back block (fires ⇔ z ≥ 1) is
    checked against the model's thresholds, fails, and the lowered form is printed."""
    tail = [
        helper.make_node("GreaterOrEqual", ["s1", "one"], ["ge1"], name="ge1"),
        helper.make_node("Where", ["ge1", "minus_one", "one"], ["b1"], name="inverted"),
    ]
    first = _lowered(_save(tmp_path, tail, {}))
    assert "no parameters read back for block layer1 give the model's integer thresholds" in first


def test_the_command_line_prints_the_text(tmp_path: Path) -> None:
    path = FIXTURES / "torch_dynamo_argmax.onnx"
    out = tmp_path / "model.bnn"
    result = subprocess.run(
        [sys.executable, "-m", "bnnc", str(path), "--emit", "bnn", "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    digest, _ = text_hash(out.read_text(encoding="utf-8"))
    assert digest == ilp_hash(path)
