"""Output scores that are per-class monotone functions of the class sums: staircase comparisons.

When "class c ranks above class j" is no threshold on s_c − s_j (per-class output scales, e.g.
BinaryNet's batch norm after the last layer, or biases within float rounding of an integer
apart), bnnc tabulates the exact relation and encodes it with unary counters of the two rows.
Every test here checks the formula against the reference (and onnxruntime) on every input, and
parsimony (one model per input) with an exact counter on small cases.
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
from bnnc.frontend.text import parse_text
from bnnc.ir.bnn import BnnModel, OutputBlock
from bnnc.ir.cnf import CnfFormula
from bnnc.ir.ilp import ArgmaxLayer, IlpModel, Staircase
from bnnc.ir.reference import predict
from bnnc.ir.tensor import frozen, ternary
from bnnc.passes.pipeline import Compilation
from tests.helpers import all_inputs, solved_labels
from tests.paths import FIXTURES

FIXTURES = FIXTURES
ENCODINGS = ["adder", "totalizer", "seqcounter"]


def unprojected_count(formula: CnfFormula) -> int:
    pyganak = pytest.importorskip("pyganak")
    counter = pyganak.Counter()
    counter.new_vars(formula.num_vars)
    for clause in formula.clauses:
        counter.add_clause(clause)
    return int(counter.count())


def agrees_everywhere(model: BnnModel, encoding: str = "adder") -> Compilation:
    compiled = bnnc.compile(model, encoding)
    inputs = all_inputs(model.n_inputs)
    expected = predict(model, inputs)
    assert solved_labels(compiled.formula, inputs) == [[int(c)] for c in expected]
    return compiled


def staircases(compiled: Compilation) -> tuple[Staircase, ...]:
    assert compiled.ilp is not None
    return compiled.ilp.output.staircases


# --------------------------------------------------------------------------- text language


def test_biases_within_rounding_of_an_integer_compile_exactly() -> None:
    """Biases 0 and 1e-300: at equal integer scores 0 the float comparison says class 1 wins,
    at equal scores 2 the bias rounds away and class 0 wins.  No threshold on s_0 − s_1
    expresses that; the staircase does (this was bnnc's one documented refusal)."""
    output = OutputBlock("out", ternary([[1, 1], [1, 1]]), frozen([0.0, 1e-300], np.float64))
    model = BnnModel("tiny_bias", (2,), (), output)
    # Equal rows: s_0 = s_1 always.  Input (−1, +1) gives s = 0: class 1 wins by 1e-300;
    # input (+1, +1) gives s = 2, where 2 + 1e-300 rounds to 2: a tie, so class 0 wins.
    assert predict(model, np.array([[False, True], [True, True]])).tolist() == [1, 0]
    assert 2.0 + 1e-300 == 2.0
    for encoding in ENCODINGS:
        compiled = agrees_everywhere(model, encoding)
        assert staircases(compiled) == (Staircase(0, 1, ((0, 2),)),)
        assert unprojected_count(compiled.formula) == 2**model.n_inputs
    sums = np.array([-2, 0, 2])  # class 0 ranks above class 1 except at s_0 = s_1 = 0
    assert Staircase(0, 1, ((0, 2),)).holds(sums, sums).tolist() == [True, False, True]


TEXT = """
network near_integer
input 6
block h {{
  weights {{
    +-+-0+
    ++--+-
    -+++-+
    0+-+++
    +++---
  }}
  bias 0 0 0 0 0
}}
output out {{
  weights {{
    +-+-0
    ++0--
    -++0+
    0++++
  }}
  bias {biases}
}}
"""


@pytest.mark.parametrize(
    "biases",
    [
        "0 1e-300 -1e-300 5e-324",
        "1e-300 0 2.0000000000000004 -2",
        "0.5 0.5000000000000001 -1e-300 1e-300",
        "1 1.0000000000000002 3 2.9999999999999996",
    ],
)
def test_text_models_with_near_integer_biases_agree_on_every_input(biases: str) -> None:
    model = parse_text(TEXT.format(biases=biases))
    assert isinstance(model, BnnModel)
    compiled = agrees_everywhere(model, "totalizer")
    assert staircases(compiled) or biases.startswith("0.5")
    assert unprojected_count(compiled.formula) == 2**model.n_inputs


def test_staircase_models_refuse_the_text_and_opb_stages_in_one_line() -> None:
    model = parse_text(TEXT.format(biases="0 1e-300 -1e-300 5e-324"))
    assert isinstance(model, BnnModel)
    for stage, phrase in (("ilp", "lowered text form cannot express"), ("card", "OPB")):
        with pytest.raises(ModelError, match=phrase) as info:
            bnnc.emit(model, stage)
        assert "\n" not in str(info.value)
    assert bnnc.emit(model, "cnf").startswith("c ")


def test_staircases_are_verified() -> None:
    weights = ternary([[1, -1], [1, 1]])
    beats = frozen(np.zeros((2, 2)), np.int64)

    def model(*stairs: Staircase, corner: int = 0) -> IlpModel:
        table = np.zeros((2, 2), dtype=np.int64)
        table[0, 1] = corner
        out = ArgmaxLayer("out", weights, frozen(table, np.int64), stairs)
        return IlpModel("m", (2,), (), out)

    model(Staircase(0, 1, ((0, 2),))).verify()
    for bad, phrase in [
        (model(Staircase(1, 0, ((0, 2),))), "above < below"),
        (model(Staircase(0, 1, ())), "at least one step"),
        (model(Staircase(0, 1, ((0, 2), (0, 3)))), "increase strictly"),
        (model(Staircase(0, 1, ((0, 2),)), Staircase(0, 1, ((0, 2),))), "one per pair"),
        (model(Staircase(0, 1, ((0, 2),)), corner=3), "must be 0"),
    ]:
        with pytest.raises(ModelError, match=phrase):
            bad.verify()
    assert beats.shape == (2, 2)


def test_a_score_that_is_not_monotone_is_refused() -> None:
    table = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])

    def oracle(s: np.ndarray) -> np.ndarray:
        index = np.clip((s + 2) // 2, 0, 2)
        return np.stack([table[0][index[..., 0]], table[1][index[..., 1]]], axis=-1)

    output = OutputBlock(
        "out", ternary([[1, 1], [1, -1]]), frozen([0.0, 0.0], np.float64), oracle=oracle
    )
    model = BnnModel("bumpy", (2,), (), output)
    with pytest.raises(ModelError, match="score of class 0 rises and falls"):
        bnnc.compile(model)


# --------------------------------------------------------------------------- ONNX tails


def affine_tail_model(path: Path, seed: int, n: int = 5, hidden: int = 5, classes: int = 4) -> Path:
    """x ≥ 0 → ±1 → Gemm (±1) → Sign → Gemm (±1) → BatchNormalization (per-class, mixed-sign
    γ) → ArgMax: BinaryNet's output layer."""
    rng = np.random.default_rng(seed)
    w1 = rng.choice([-1.0, 1.0], size=(hidden, n)).astype(np.float32)
    w2 = rng.choice([-1.0, 0.0, 1.0], size=(classes, hidden), p=[0.4, 0.2, 0.4])
    gamma = rng.choice([-1.0, 1.0], size=classes) * rng.uniform(0.2, 3.0, size=classes)
    inits = {
        "zero": np.array(0.0, np.float32),
        "one": np.array(1.0, np.float32),
        "minus_one": np.array(-1.0, np.float32),
        "w1": w1,
        "w2": w2.astype(np.float32),
        "gamma": gamma.astype(np.float32),
        "beta": rng.normal(0, 1.5, size=classes).astype(np.float32),
        "mean": rng.normal(0, 1, size=classes).astype(np.float32),
        "var": rng.uniform(0.5, 2.0, size=classes).astype(np.float32),
    }
    nodes = [
        helper.make_node("GreaterOrEqual", ["x", "zero"], ["ge"], name="ge"),
        helper.make_node("Where", ["ge", "one", "minus_one"], ["b0"], name="binarise_input"),
        helper.make_node("Gemm", ["b0", "w1"], ["s1"], name="dense1", transB=1),
        helper.make_node("Sign", ["s1"], ["b1"], name="sign1"),
        helper.make_node("Gemm", ["b1", "w2"], ["s2"], name="dense2", transB=1),
        helper.make_node(
            "BatchNormalization", ["s2", "gamma", "beta", "mean", "var"], ["z"], name="bn_out"
        ),
        helper.make_node("ArgMax", ["z"], ["y"], name="argmax", axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
        [helper.make_tensor_value_info("y", TensorProto.INT64, [1])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def onnxruntime_labels(path: Path, inputs: np.ndarray) -> list[int]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    tensors = np.where(inputs, np.float32(1.0), np.float32(-1.0))
    return [
        int(np.asarray(sess.run(None, {"x": row[None, :]})[0]).reshape(-1)[0]) for row in tensors
    ]


@pytest.mark.parametrize("seed", range(6))
def test_per_class_batch_norm_after_the_last_layer_agrees_with_onnxruntime(
    tmp_path: Path, seed: int
) -> None:
    path = affine_tail_model(tmp_path / f"affine{seed}.onnx", seed)
    model = bnnc.load(path)
    assert isinstance(model, BnnModel)
    inputs = all_inputs(model.n_inputs)
    expected = onnxruntime_labels(path, inputs)
    assert predict(model, inputs).tolist() == expected
    compiled = bnnc.compile(model)
    assert staircases(compiled), "per-class scales of different sizes need a staircase"
    assert solved_labels(compiled.formula, inputs) == [[c] for c in expected]


def test_per_class_batch_norm_is_parsimonious(tmp_path: Path) -> None:
    path = affine_tail_model(tmp_path / "small.onnx", 0, n=3, hidden=3, classes=3)
    model = bnnc.load(path)
    compiled = bnnc.compile(model, "totalizer")
    assert staircases(compiled)
    inputs = all_inputs(model.n_inputs)
    assert solved_labels(compiled.formula, inputs) == [
        [c] for c in onnxruntime_labels(path, inputs)
    ]
    assert unprojected_count(compiled.formula) == 2**model.n_inputs


@pytest.mark.parametrize("name", ["torch_legacy_sign_bias.onnx", "torch_dynamo_sign_bias.onnx"])
def test_torch_fixtures_with_an_output_batch_norm(name: str) -> None:
    """BinaryNet's output batch norm (legacy: a node; dynamo: merged into the last Gemm)."""
    model = bnnc.load(FIXTURES / name)
    assert isinstance(model, BnnModel) and model.framework_predict is not None
    compiled = bnnc.compile(model)
    assert staircases(compiled)
    inputs = all_inputs(model.n_inputs)
    expected = model.framework_predict(inputs).tolist()
    assert solved_labels(compiled.formula, inputs) == [[c] for c in expected]
    assert unprojected_count(compiled.formula) == 2**model.n_inputs


@pytest.mark.parametrize("biases", ["0 1e-300 -1e-300 5e-324", "1e-300 0 2.0000000000000004 -2"])
def test_the_lowered_model_predicts_like_the_trained_one(biases: str) -> None:
    """An IlpModel with staircases (Python API: compile(until="ilp")) keeps the labels, in the
    reference inference and in the witness search."""
    from bnnc.engines.search import search
    from bnnc.frontend.text import parse_text
    from bnnc.ir.query import Query
    from bnnc.ir.region import Region

    model = parse_text(TEXT.format(biases=biases))
    ilp = bnnc.compile(model, until="ilp").ilp
    assert ilp is not None and ilp.output.staircases
    inputs = all_inputs(model.n_inputs)
    assert np.array_equal(bnnc.predict(ilp, inputs), bnnc.predict(model, inputs))
    for label in range(model.n_classes):
        found = search(ilp, Query(Region.everything(model.n_inputs), label=label))
        assert found.witness is None or bnnc.predict(ilp, found.witness) == label
