"""Regression tests for the bugs of issue 13 (model content): each once gave a wrong formula,
a traceback, a wrong exit code or a multi-line error."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from typer.testing import CliRunner

from bnnc.cli import app
from tests.fuzz.contract import onnx_source
from tests.paths import EXAMPLES

TINY = (EXAMPLES / "tiny.bnn").read_text()


def run(tmp_path: Path, model: Path) -> tuple[int, list[str]]:
    out = tmp_path / "out.cnf"
    result = CliRunner().invoke(app, [str(model), "-o", str(out)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code != 0:
        assert not out.exists()
    return result.exit_code, result.stderr.splitlines()


def text_model(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.bnn"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("network tiny", 'network "a\\np cnf 1 1\\n-1 0"', "control character '\\n'"),
        ("classes other bar", 'classes "x\\u2028y" bar', "control character '\\u2028'"),
        ("network tiny", 'network "\\ud800"', "a surrogate '\\ud800'"),
    ],
)
def test_names_that_would_break_an_output_are_refused(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    code, lines = run(tmp_path, text_model(tmp_path, TINY.replace(old, new)))
    assert code == 3 and message in lines[0] and len(lines) == 3


def test_gamma_1e308_compiles_to_what_the_network_computes(tmp_path: Path) -> None:
    """The network is well defined (its float arithmetic saturates), and the ILP pass reads
    its thresholds off that arithmetic: the formula agrees with the reference on every input.
    Only the MILP form (eq. 6) has no finite coefficients: ``--emit milp`` refuses, one line."""
    import bnnc.api as bnnc
    from tests.helpers import all_inputs, solved_labels

    model_path = text_model(tmp_path, TINY.replace("gamma 1 1 1 -2", "gamma 1e308 1 1 -2"))
    code, lines = run(tmp_path, model_path)
    assert code == 0, lines
    model = bnnc.load(model_path)
    inputs = all_inputs(model.n_inputs)
    expected = bnnc.predict(model, inputs).tolist()
    assert solved_labels(bnnc.compile(model).formula, inputs) == [[c] for c in expected]
    out = tmp_path / "m.lp"
    result = CliRunner().invoke(app, [str(model_path), "--emit", "milp", "-o", str(out)])
    assert result.exit_code == 3 and not out.exists()
    errors = result.stderr.splitlines()
    assert len(errors) == 1 and "overflows float64" in errors[0]


def test_a_long_source_line_is_cut_around_the_caret(tmp_path: Path) -> None:
    model = text_model(tmp_path, TINY.replace("bias 0 0 0 -0.5", "bias " + "1 " * 100_000 + "x"))
    code, lines = run(tmp_path, model)
    assert code == 3 and len(lines) == 3
    assert len(lines[1]) < 120 and lines[1].rstrip().endswith("x")
    assert lines[2].index("^") == lines[1].index("x")


def test_a_huge_declared_input_is_refused_before_allocating(tmp_path: Path) -> None:
    text = TINY.replace("input 3x3", "input 100000x100000") + "\nfix { + }\n"
    code, lines = run(tmp_path, text_model(tmp_path, text))
    assert code == 3 and "10,000,000,000 bits" in lines[0]


def _node(model: onnx.ModelProto, op: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if n.op_type == op)


def _set(node: onnx.NodeProto, name: str, value: object) -> None:
    for attribute in list(node.attribute):
        if attribute.name == name:
            node.attribute.remove(attribute)
    node.attribute.append(helper.make_attribute(name, value))


def _bias(model: onnx.ModelProto, name: str, value: float) -> None:
    tensor = next(t for t in model.graph.initializer if t.name == name)
    array = numpy_helper.to_array(tensor).copy()
    array[0] = value
    tensor.CopyFrom(numpy_helper.from_array(array, name))


def _dup_output(model: onnx.ModelProto) -> None:
    model.graph.node[1].output[0] = model.graph.node[0].output[0]


ONNX_CASES = {
    "argmax select_last_index": (
        lambda m: _set(_node(m, "ArgMax"), "select_last_index", 1),
        "select_last_index=1 is not supported",
    ),
    "argmax axis": (lambda m: _set(_node(m, "ArgMax"), "axis", 0), "axis=0 is not supported"),
    "gemm transA": (lambda m: _set(_node(m, "Gemm"), "transA", 1), "transA=1 is not supported"),
    "nan output bias": (lambda m: _bias(m, "decision/bias", np.nan), "non-finite"),
    "inf gemm bias": (lambda m: _bias(m, "features/bias", np.inf), "non-finite"),
    "output defined twice": (_dup_output, "invalid ONNX model"),
    "unknown IR version": (lambda m: setattr(m, "ir_version", 99), "invalid ONNX model"),
    "unknown opset": (
        lambda m: setattr(m.opset_import[0], "version", 99),
        "onnxruntime cannot load the graph",
    ),
    "duplicate node names": (
        lambda m: [setattr(n, "name", "same") for n in m.graph.node],
        "two nodes with same node name",
    ),
}


@pytest.mark.parametrize("case", sorted(ONNX_CASES))
def test_onnx_models_bnnc_cannot_honour_are_refused_in_one_line(tmp_path: Path, case: str) -> None:
    mutate, message = ONNX_CASES[case]
    model = copy.deepcopy(onnx_source())
    mutate(model)
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    code, lines = run(tmp_path, path)
    assert code == 3 and len(lines) == 1 and message in lines[0], lines


def test_a_bit_flipped_onnx_file_is_one_line(tmp_path: Path) -> None:
    data = bytearray(onnx_source().SerializeToString())
    data[data.find(b"select_last_index") - 3] ^= 0x40
    path = tmp_path / "m.onnx"
    path.write_bytes(bytes(data))
    code, lines = run(tmp_path, path)
    assert code == 3 and len(lines) == 1


def test_an_overflowing_batch_norm_in_onnx_warns_nothing_on_stderr(tmp_path: Path) -> None:
    model = copy.deepcopy(onnx_source())
    _bias(model, "features/bn_gamma", 3e38)
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    code, lines = run(tmp_path, path)
    assert code == 0 and not [ln for ln in lines if "Warning" in ln]


def test_a_model_past_the_memory_limit_is_refused_before_compiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BNNC_MAX_MEMORY", "0.00001")  # 10 KiB: tiny.bnn needs ~36 KB
    code, lines = run(tmp_path, text_model(tmp_path, TINY))
    assert code == 4 and len(lines) == 1 and "GiB" in lines[0] and "BNNC_MAX_MEMORY" in lines[0]
