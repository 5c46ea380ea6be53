"""bnnc.backend.onnx_export: the ONNX graph agrees with onnxruntime, bnnc's ONNX frontend and its
formula; the text form round-trips.  Each file is checked against its own arithmetic (ONNX: float32
in onnxruntime; text: float64), which may legitimately differ near a threshold (see the last
tests)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import bnnc
from bnnc.backend.onnx_export import save_onnx, save_text, to_onnx
from bnnc.errors import ModelError, OutputError
from bnnc.ir.bnn import BnnModel, InnerBlock, OutputBlock
from bnnc.ir.tensor import frozen, ternary
from bnnc.training.generate import random_bnn
from bnnc.training.train import TrainConfig, train
from tests.helpers import all_inputs, solved_labels

STANDARD_OPS = {"GreaterOrEqual", "Where", "Flatten", "Gemm", "BatchNormalization", "ArgMax"}


@functools.cache
def trained_3x3() -> BnnModel:
    """A trained 9-6-3 network on 3×3 images (class prototypes with noise)."""
    rng = np.random.default_rng(5)
    protos = rng.random((3, 9)) < 0.5
    labels = rng.integers(0, 3, 300)
    bits = protos[labels] ^ (rng.random((300, 9)) < 0.15)
    result = train(
        bits, labels, (9, 6, 3), config=TrainConfig(epochs=5, batch_size=30, seed=1),
        input_shape=(3, 3), class_names=["a", "b", "c"], name="tiny3x3",
    )  # fmt: skip
    return result.model


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(path: Path, images: np.ndarray) -> np.ndarray:
    sess = session(path)
    return np.asarray(sess.run(None, {"image": images.astype(np.float32)})[0])


def same_thresholds(a: bnnc.Compilation, b: bnnc.Compilation) -> bool:
    """Equal lowered forms (weights, integer thresholds, argmax table): equal on every input."""
    ia, ib = a.ilp, b.ilp
    assert ia is not None and ib is not None
    return (
        len(ia.layers) == len(ib.layers)
        and all(
            np.array_equal(x.weights, y.weights) and np.array_equal(x.thresholds, y.thresholds)
            for x, y in zip(ia.layers, ib.layers, strict=True)
        )
        and np.array_equal(ia.output.weights, ib.output.weights)
        and np.array_equal(np.triu(ia.output.beats, 1), np.triu(ib.output.beats, 1))
    )


def test_graph_uses_standard_operators_only() -> None:
    proto = to_onnx(trained_3x3())
    onnx.checker.check_model(proto, full_check=True)
    assert {node.op_type for node in proto.graph.node} == STANDARD_OPS
    assert [o.domain for o in proto.opset_import] == [""]
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["bnnc_class_names"] == '["a", "b", "c"]'
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 3, 3]


def test_onnx_agrees_with_onnxruntime_frontend_and_formula_on_every_input(
    tmp_path: Path,
) -> None:
    model = trained_3x3()
    path = tmp_path / "tiny.onnx"
    save_onnx(model, path)
    inputs = all_inputs(9)
    images = inputs.reshape(-1, 3, 3)
    runtime = run_onnx(path, images.astype(np.float32))  # 0/1 pixels
    np.testing.assert_array_equal(run_onnx(path, np.where(images, 1.0, -1.0)), runtime)  # ±1
    loaded = bnnc.load(path)
    assert isinstance(loaded, BnnModel) and loaded.n_inputs == 9
    np.testing.assert_array_equal(bnnc.predict(loaded, inputs), runtime)
    assert loaded.framework_predict is not None
    np.testing.assert_array_equal(loaded.framework_predict(inputs), runtime)
    compiled = bnnc.compile(loaded)
    assert solved_labels(compiled.formula, inputs) == [[int(c)] for c in runtime]
    # the float32 graph and the float64 model: no input of this network is near a threshold
    assert np.count_nonzero(runtime != bnnc.predict(model, inputs)) == 0
    assert same_thresholds(compiled, bnnc.compile(model))


def test_text_round_trip_has_the_same_predictions_and_formula(tmp_path: Path) -> None:
    model = trained_3x3()
    path = tmp_path / "tiny.bnn"
    save_text(model, path)
    loaded = bnnc.load(path)
    assert isinstance(loaded, BnnModel)
    assert loaded.class_names == ("a", "b", "c") and loaded.input_shape == (3, 3)
    assert loaded.blocks[0].batchnorm is not None and model.blocks[0].batchnorm is not None
    np.testing.assert_array_equal(loaded.blocks[0].batchnorm.var, model.blocks[0].batchnorm.var)
    np.testing.assert_array_equal(loaded.output.bias, model.output.bias)
    inputs = all_inputs(9)
    expected = bnnc.predict(model, inputs)
    np.testing.assert_array_equal(bnnc.predict(loaded, inputs), expected)
    compiled = bnnc.compile(loaded)
    assert solved_labels(compiled.formula, inputs) == [[int(c)] for c in expected]


def test_grey_input_is_binarised_at_the_threshold(tmp_path: Path) -> None:
    model = trained_3x3()
    path = tmp_path / "grey.onnx"
    save_onnx(model, path, threshold=0.2)
    rng = np.random.default_rng(0)
    grey = rng.random((500, 3, 3)).astype(np.float32)
    grey[np.abs(grey - 0.2) < 1e-3] = 0.5  # keep clear of the threshold
    bits = grey.reshape(500, -1) >= np.float32(0.2)
    np.testing.assert_array_equal(run_onnx(path, grey), bnnc.predict(bnnc.load(path), bits))


def test_bigger_network_with_scores_output(tmp_path: Path) -> None:
    model = random_bnn((100, 20, 10), seed=3, input_shape=(10, 10))
    rng = np.random.default_rng(1)
    inputs = rng.random((2000, 100)) < rng.random((2000, 1))  # all densities
    for output in ("label", "scores"):
        path = tmp_path / f"{output}.onnx"
        save_onnx(model, path, output=output)
        raw = run_onnx(path, inputs.reshape(-1, 10, 10))
        runtime = raw if output == "label" else raw.argmax(axis=1)
        loaded = bnnc.load(path)
        np.testing.assert_array_equal(bnnc.predict(loaded, inputs), runtime)
        if output == "label":
            compiled = bnnc.compile(loaded)
            assert solved_labels(compiled.formula, inputs[:40]) == [[int(c)] for c in runtime[:40]]
            # float32 graph vs float64 model: only inputs within rounding of a threshold may
            # differ; here the exact thresholds are equal, so they agree on all 2^100 inputs
            assert np.count_nonzero(runtime != bnnc.predict(model, inputs)) == 0
            assert same_thresholds(compiled, bnnc.compile(model))


def float_sensitive_model() -> BnnModel:
    """One neuron whose bias 2 − 1e-12 is 2.0 in float32: at x = (−1, −1) the float64 model
    computes −1e-12 < 0 (−1), the float32 graph 0 ≥ 0 (+1)."""
    return BnnModel(
        name="edge",
        input_shape=(2,),
        blocks=(InnerBlock("h1", ternary([[1, 1]]), frozen([2.0 - 1e-12], np.float64), None),),
        output=OutputBlock("out", ternary([[1], [-1]]), frozen([0.0, 0.0], np.float64)),
    )


def test_float32_and_float64_may_differ_and_each_formula_follows_its_own(tmp_path: Path) -> None:
    model = float_sensitive_model()
    path = tmp_path / "edge.onnx"
    save_onnx(model, path)
    inputs = all_inputs(2)
    runtime = run_onnx(path, inputs.astype(np.float32))
    text = bnnc.predict(model, inputs)
    assert runtime.tolist() == [0, 0, 0, 0] and text.tolist() == [1, 0, 0, 0]
    loaded = bnnc.load(path)
    np.testing.assert_array_equal(bnnc.predict(loaded, inputs), runtime)
    assert solved_labels(bnnc.compile(loaded).formula, inputs) == [[int(c)] for c in runtime]
    assert solved_labels(bnnc.compile(model).formula, inputs) == [[int(c)] for c in text]


def test_refusals_and_atomic_writes(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    save_onnx(trained_3x3(), path)
    with pytest.raises(ModelError, match="only trained-form models"):
        to_onnx(bnnc.load(path))  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="threshold"):
        to_onnx(trained_3x3(), threshold=float("nan"))
    missing = tmp_path / "no" / "m.onnx"
    with pytest.raises(OutputError, match="cannot write"):
        save_onnx(trained_3x3(), missing)
    with pytest.raises(OutputError):
        save_text(trained_3x3(), tmp_path / "no" / "m.bnn")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_conv_model_with_padding_exports_and_reads_back(tmp_path: Path) -> None:
    """examples/conv-tiny.bnn (±1 padding, max pooling) as ONNX: onnxruntime, bnnc's ONNX
    frontend and the text model agree on every input of the 4x4 image."""
    from tests.paths import EXAMPLES

    model = bnnc.load(EXAMPLES / "conv-tiny.bnn")
    assert isinstance(model, BnnModel)
    path = tmp_path / "conv.onnx"
    save_onnx(model, path)
    inputs = all_inputs(16)
    runtime = run_onnx(path, inputs.reshape(-1, 1, 4, 4).astype(np.float32))
    np.testing.assert_array_equal(runtime, bnnc.predict(model, inputs))
    loaded = bnnc.load(path, cache=False)
    np.testing.assert_array_equal(bnnc.predict(loaded, inputs), runtime)
