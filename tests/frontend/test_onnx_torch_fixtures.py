"""Real PyTorch-exported BNNs (tests/fixtures/onnx/torch_*.onnx, see make_torch_fixtures.py).

Every fixture is read by bnnc and checked on all 2^n inputs: bnnc's inference, the model's own
inference through ``framework_predict``, the CNF with the inputs fixed (unless the fixture is
listed in ``EXPECTED_COMPILE_REFUSALS`` with the reason, and then compiling must fail with a
clean ``ModelError``), and an independent onnxruntime run on the file itself, on real input
tensors at round values and at the edges of each bit's condition.  Nothing is skipped: a
fixture that is not listed fails.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import bnnc
from bnnc.errors import BnncWarning, ModelError
from bnnc.ir.bnn import BnnModel
from bnnc.passes.pipeline import model_hash
from tests.helpers import all_inputs, solved_labels
from tests.paths import FIXTURES

HERE = FIXTURES
FIXTURES = sorted(p.name for p in HERE.glob("torch_*.onnx"))

EXPECTED_LOADS = [
    "torch_legacy_sign_bias.onnx",  # where(x >= 0.5) input, Gemm + bias, BN, Sign; 2 hidden; BN out
    "torch_legacy_where_nobias.onnx",  # MatMul (Transpose of Sign(W)), BN, GreaterOrEqual+Where
    "torch_legacy_hardtanh.onnx",  # Sign input, Gemm, BN, Clip (Hardtanh), Sign
    "torch_legacy_argmax.onnx",  # where activation, Gemm + bias, ending in ArgMax
    "torch_legacy_sign_nobias.onnx",  # MatMul, BN, Sign; 2 hidden layers
    "torch_legacy_negscale.onnx",  # Gemm + bias, then Mul(-0.75) before ArgMax
    # The dynamo exporter folds Sign(W) and merges each batch norm into its Gemm: rows c·s with
    # real per-neuron c (the gammas of both signs) and a real Gemm bias.
    "torch_dynamo_sign_bias.onnx",  # Sign activations; the output BN merged too
    "torch_dynamo_where_nobias.onnx",  # GreaterOrEqual+Where; no Linear bias (Gemm bias from BN)
    "torch_dynamo_hardtanh.onnx",  # Clip then Sign
    "torch_dynamo_argmax.onnx",  # GreaterOrEqual+Where, ArgMax
    "torch_dynamo_sign_nobias.onnx",  # Sign activations, 2 hidden layers
    "torch_dynamo_sign_nobias_external.onnx",  # the same, weights in an external .onnx.data file
    "torch_dynamo_negscale.onnx",  # Mul(-0.75) before ArgMax
]
# Loaded (bnnc.predict and framework_predict are checked) but not compiled: fixture ->
# (why, a phrase the error message must contain).  Empty: BinaryNet's per-class output
# batch norm (torch_*_sign_bias.onnx) compiles through staircase comparisons
# (tests/test_output_scales.py).
EXPECTED_COMPILE_REFUSALS: dict[str, tuple[str, str]] = {}
# Warnings bnnc must print when reading a fixture (and no others).
SIGN_ZERO = "ONNX Sign maps an input of exactly 0 to 0"
EXPECTED_WARNINGS = {
    "torch_legacy_hardtanh.onnx": [SIGN_ZERO],
    "torch_dynamo_hardtanh.onnx": [SIGN_ZERO],
}

CONDITION = re.compile(r"^(?P<name>\w+)\[(?P<index>[\d,]+)\] (?P<op>>=|<=) (?P<value>\S+)$")


def test_every_fixture_is_accounted_for() -> None:
    assert FIXTURES, "no torch fixtures found"
    assert sorted(FIXTURES) == sorted(EXPECTED_LOADS)


@functools.cache
def load(name: str) -> BnnModel:
    model = bnnc.load(HERE / name)
    assert isinstance(model, BnnModel)
    return model


@functools.cache
def session(name: str, optimised: bool = False) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if optimised
        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    return ort.InferenceSession(str(HERE / name), options, providers=["CPUExecutionProvider"])


def formula_labels(model: BnnModel, inputs: np.ndarray) -> list[list[int]]:
    return solved_labels(bnnc.compile(model).formula, inputs)


def onnxruntime_labels(name: str, tensors: np.ndarray, optimised: bool = False) -> list[int]:
    """Run the file itself on each input tensor (rows of the flattened input)."""
    sess = session(name, optimised)
    (inp,) = sess.get_inputs()
    labels = []
    for row in tensors:
        (out,) = sess.run(None, {inp.name: row.astype(np.float32).reshape(inp.shape)})
        flat = np.asarray(out).reshape(-1)
        labels.append(int(flat[0]) if flat.dtype.kind in "iu" else int(np.argmax(flat)))
    return labels


def parsed_conditions(name: str, model: BnnModel) -> list[tuple[str, np.float32]]:
    """(op, threshold) per input bit, checked against the graph's input name and layout."""
    assert model.input_conditions is not None
    graph_input = onnx.load(str(HERE / name)).graph.input[0].name
    out = []
    for flat, condition in enumerate(model.input_conditions):
        match = CONDITION.match(condition)
        assert match, condition
        assert match["name"] == graph_input
        index = tuple(int(i) for i in match["index"].split(","))
        assert np.ravel_multi_index(index, model.input_shape) == flat, condition
        out.append((match["op"], np.float32(float(match["value"]))))
    return out


def holds(op: str, threshold: np.float32, x: np.float32) -> bool:
    return bool(x >= threshold) if op == ">=" else bool(x <= threshold)


def value_pairs(name: str, model: BnnModel) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per bit, a value of the original input that makes it +1 and one that makes it −1:
    round values (1 and 0, or 1 and −1 when 0 is on the +1 side), and the two float32 values
    either side of the condition's threshold."""
    conditions = parsed_conditions(name, model)
    round_on, round_off, edge_on, edge_off = [], [], [], []
    for op, t in conditions:
        on = next(np.float32(v) for v in (1, -1, 0) if holds(op, t, np.float32(v)))
        off = next(np.float32(v) for v in (0, -1, 1) if not holds(op, t, np.float32(v)))
        round_on.append(on)
        round_off.append(off)
        outward = np.float32(-np.inf) if op == ">=" else np.float32(np.inf)
        inward = np.float32(np.inf) if op == ">=" else np.float32(-np.inf)
        first = t
        if SIGN_ZERO in EXPECTED_WARNINGS.get(name, []) and t == 0:
            # The documented exception: the graph's Sign(0) is 0, the formula's sign(0) is +1.
            first = np.nextafter(t, inward)
        edge_on.append(first)
        edge_off.append(np.nextafter(t, outward))
    return {
        "round": (np.array(round_on), np.array(round_off)),
        "edge": (np.array(edge_on), np.array(edge_off)),
    }


@pytest.mark.parametrize("name", EXPECTED_LOADS)
def test_loads_with_the_expected_warnings(name: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bnnc.load(HERE / name)
    found = [w for w in caught if issubclass(w.category, BnncWarning)]
    expected = EXPECTED_WARNINGS.get(name, [])
    assert len(found) == len(expected), [str(w.message) for w in found]
    for warning, phrase in zip(found, expected, strict=True):
        assert phrase in str(warning.message)
        assert warning.filename == __file__  # attributed to the caller's line, not to bnnc


def test_the_command_line_prints_warnings_on_stderr(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bnnc", str(HERE / "torch_legacy_hardtanh.onnx"), "--emit", "ilp"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bnnc: warning: "), lines
    assert SIGN_ZERO in lines[0]


@pytest.mark.parametrize("name", EXPECTED_LOADS)
def test_agrees_on_every_input(name: str) -> None:
    model = load(name)
    inputs = all_inputs(model.n_inputs)
    expected = bnnc.predict(model, inputs)
    assert len(set(expected.tolist())) >= 3, "a useful fixture gives several labels"
    assert model.framework_predict is not None
    np.testing.assert_array_equal(model.framework_predict(inputs), expected)
    if name in EXPECTED_COMPILE_REFUSALS:
        _, phrase = EXPECTED_COMPILE_REFUSALS[name]
        with pytest.raises(ModelError, match=phrase):
            bnnc.compile(model)
    else:
        assert formula_labels(model, inputs) == [[int(c)] for c in expected]
    for kind, (on, off) in value_pairs(name, model).items():
        tensors = np.where(inputs, on, off)
        assert onnxruntime_labels(name, tensors) == expected.tolist(), kind
        if "dynamo" in name:
            # bnnc's guarantee for the merged Gemm covers every summation order, so it also
            # holds when onnxruntime optimises the graph (as it does by default).
            assert onnxruntime_labels(name, tensors, optimised=True) == expected.tolist(), kind


def test_external_data_gives_the_same_model() -> None:
    inline, external = (
        load("torch_dynamo_sign_nobias.onnx"),
        load("torch_dynamo_sign_nobias_external.onnx"),
    )
    assert (HERE / "torch_dynamo_sign_nobias_external.onnx.data").is_file()
    a, b = bnnc.compile(inline, until="ilp").ilp, bnnc.compile(external, until="ilp").ilp
    assert a is not None and b is not None
    assert model_hash(dataclasses.replace(a, name=b.name)) == model_hash(b)  # names differ


def test_missing_external_data_file_is_one_clear_line(tmp_path: Path) -> None:
    name = "torch_dynamo_sign_nobias_external.onnx"
    shutil.copy(HERE / name, tmp_path / name)  # without its .onnx.data
    with pytest.raises(ModelError) as info:
        bnnc.load(tmp_path / name)
    message = str(info.value)
    assert "\n" not in message
    assert f"external data file '{name}.data', which is missing" in message
