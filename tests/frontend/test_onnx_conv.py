"""Convolutional BNN fixtures (tests/fixtures/onnx/conv, made by make_conv_fixtures.py): PyTorch
legacy and dynamo exports, a Larq/tf2onnx NHWC graph and a FINN-CNV-like QONNX graph.

Each is read by bnnc and checked against the file itself (onnxruntime, or onnx's reference
evaluator for QONNX's custom operators) on 1,000 random inputs and on every input of the 3x3
ones; the CNF agrees on a sample (every input of the tiny ones) and counts exactly (Ganak) on
the tiny ones.  Bad conv attributes are refused by name.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

import bnnc
from bnnc.errors import ModelError
from bnnc.frontend.onnx.predict import Predictor
from bnnc.ir.bnn import BnnModel
from bnnc.ir.conv import Conv2d, Pool2d
from bnnc.ir.reference import predict
from tests.helpers import all_inputs, solved_labels
from tests.paths import FIXTURES

HERE = FIXTURES / "conv"
NAMES = sorted(p.name for p in HERE.glob("*.onnx"))
TINY = [name for name in NAMES if "tiny" in name]
EXPECTED = {
    "conv_legacy_tiny.onnx", "conv_dynamo_tiny.onnx", "conv_legacy_small.onnx",
    "conv_dynamo_small.onnx", "conv_legacy_strided.onnx", "conv_dynamo_strided.onnx",
    "conv_larq_nhwc.onnx", "conv_larq_pool_bn.onnx", "conv_finn_cnv.onnx", "conv_mnist.onnx",
}  # fmt: skip


def test_every_fixture_is_accounted_for() -> None:
    assert set(NAMES) == EXPECTED


@functools.cache
def load(name: str) -> BnnModel:
    model = bnnc.load(HERE / name, cache=False)
    assert isinstance(model, BnnModel)
    return model


def tensors(model: BnnModel, bits: np.ndarray) -> np.ndarray:
    predictor = model.framework_predict
    assert isinstance(predictor, Predictor)
    return np.where(bits, predictor.on_values, predictor.off_values).astype(np.float32)


def file_labels(name: str, model: BnnModel, bits: np.ndarray) -> np.ndarray:
    """The file itself on each input: onnxruntime (all optimisations on), or for QONNX's custom
    operators the model's own engine (onnx's reference evaluator)."""
    proto = onnx.load(str(HERE / name))
    if any(node.domain not in ("", "ai.onnx") for node in proto.graph.node):
        predictor = model.framework_predict
        assert predictor is not None
        return np.asarray(predictor(bits))
    session = ort.InferenceSession(str(HERE / name), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    labels = []
    for row in tensors(model, bits):
        (out,) = session.run(None, {inp.name: row.reshape(model.input_shape)})
        flat = np.asarray(out).reshape(-1)
        labels.append(int(flat[0]) if flat.dtype.kind in "iu" else int(np.argmax(flat)))
    return np.array(labels)


def sample(model: BnnModel, n: int, seed: int) -> np.ndarray:
    if model.n_inputs <= 10:
        return all_inputs(model.n_inputs)
    rng = np.random.default_rng(seed)
    bits = rng.random((n, model.n_inputs)) < rng.uniform(0.2, 0.8, (n, 1))
    bits[0], bits[1] = False, True
    return bits


@pytest.mark.parametrize("name", NAMES)
def test_fixture_agrees_with_the_file(name: str) -> None:
    model = load(name)
    assert any(isinstance(b.structure, Conv2d) for b in model.blocks)
    bits = sample(model, 1000, 1)
    expected = file_labels(name, model, bits)
    assert np.array_equal(predict(model, bits), expected)
    assert np.array_equal(np.asarray(model.framework_predict(bits)), expected)  # type: ignore[misc]
    assert len(set(expected.tolist())) > 1, "a fixture whose label never changes tests little"
    if name == "conv_mnist.onnx":  # 885k variables, 8.6M clauses: the ILP stage only here
        ilp = bnnc.compile(model, until="ilp").ilp
        assert np.array_equal(predict(ilp, bits), expected)  # type: ignore[arg-type]
        return
    compiled = bnnc.compile(model, "totalizer")
    assert np.array_equal(predict(compiled.ilp, bits), expected)
    few = bits[:: max(1, len(bits) // 150)]
    assert solved_labels(compiled.formula, few) == [[int(c)] for c in predict(model, few)]


@pytest.mark.parametrize("name", TINY)
def test_tiny_fixture_counts_exactly(name: str) -> None:
    pyganak = pytest.importorskip("pyganak")
    model = load(name)
    formula = bnnc.compile(model, "totalizer").formula
    brute = np.bincount(predict(model, all_inputs(model.n_inputs)), minlength=model.n_classes)

    def count(extra: list[list[int]]) -> int:
        counter = pyganak.Counter()
        counter.new_vars(formula.num_vars)
        for clause in [*formula.clauses, *extra]:
            counter.add_clause(clause)
        return int(counter.count())

    assert count([]) == 2**model.n_inputs
    for label in range(model.n_classes):
        assert count([[formula.layout.output_var(label)]]) == brute[label]


def test_layouts_and_sharing_are_read() -> None:
    larq = load("conv_larq_nhwc.onnx")
    structures = [b.structure for b in larq.blocks]
    assert [type(s).__name__ for s in structures] == ["Conv2d", "Pool2d", "Conv2d"]
    # The graph's Transposes cancel around each Conv/MaxPool: the neurons follow NCHW, and
    # the NHWC Reshape before the dense layer is matched element by element.
    assert all(s is not None and s.layout == "NCHW" for s in structures)
    strided = load("conv_legacy_strided.onnx")
    first = strided.blocks[0].structure
    assert isinstance(first, Conv2d) and first.stride == (2, 2) and first.groups == 2
    pool = strided.blocks[2].structure
    assert isinstance(pool, Pool2d) and pool.ceil_mode
    # Max pooling before the batch norm: the OR of the conv bits, the AND on the channels
    # whose batch-norm scale is negative (checked against the file in the agreement test).
    before = load("conv_larq_pool_bn.onnx").blocks[1].structure
    assert isinstance(before, Pool2d) and before.flipped == (1, 2)
    text = bnnc.emit(larq, "milp")
    assert "conv 3x1x3x3 shared by 108 neurons" in text


def _edited(tmp_path: Path, name: str, op: str, attribute: str, value: object) -> Path:
    proto = onnx.load(str(HERE / name))
    node = next(n for n in proto.graph.node if n.op_type == op)
    kept = [a for a in node.attribute if a.name != attribute]
    del node.attribute[:]
    node.attribute.extend([*kept, helper.make_attribute(attribute, value)])
    path = tmp_path / name
    onnx.save(proto, str(path))
    return path


@pytest.mark.parametrize(
    ("op", "attribute", "value", "message"),
    [
        ("Conv", "auto_pad", "SAME_UPPER", "auto_pad"),
        ("MaxPool", "storage_order", 1, "storage_order"),
        ("MaxPool", "auto_pad", "SAME_LOWER", "MaxPool auto_pad='SAME_LOWER' is not supported"),
    ],
)
def test_bad_attributes_are_refused_by_name(
    tmp_path: Path, op: str, attribute: str, value: object, message: str
) -> None:
    path = _edited(tmp_path, "conv_legacy_small.onnx", op, attribute, value)
    with pytest.raises(ModelError) as info:
        bnnc.load(path, cache=False)
    assert message in str(info.value)


def test_average_pooling_is_refused_by_name(tmp_path: Path) -> None:
    proto = onnx.load(str(HERE / "conv_legacy_small.onnx"))
    node = next(n for n in proto.graph.node if n.op_type == "MaxPool")
    node.op_type = "AveragePool"
    kept = [a for a in node.attribute if a.name in ("kernel_shape", "strides", "pads")]
    del node.attribute[:]
    node.attribute.extend(kept)
    path = tmp_path / "avg.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(ModelError) as info:
        bnnc.load(path, cache=False)
    assert "AveragePool is not supported" in str(info.value)
