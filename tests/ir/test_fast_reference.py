"""The fast reference (bnnc.ir.fast_reference, bnnc.passes.fast_predict) against the float
reference (bnnc.ir.reference.predict, the model's own arithmetic): same labels on every input.

Small networks are compared on every input, wider ones (widths that do not fill a 64-bit word)
on random inputs and on inputs whose first-layer sums sit exactly on, and next to, each neuron's
threshold.  Both kernels are checked everywhere; a mutant (one threshold off by one) shows that
the comparisons can fail.
"""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bnnc
from bnnc.errors import InternalError, ModelError, UsageError
from bnnc.ir import fast_reference
from bnnc.ir.bnn import BnnModel, InnerBlock, OutputBlock
from bnnc.ir.fast_reference import KERNELS, PackedNet, pack_bits, unpack_bits
from bnnc.ir.ilp import ArgmaxLayer, IlpModel, Staircase, ThresholdLayer
from bnnc.ir.reference import predict
from bnnc.ir.tensor import frozen, ternary
from bnnc.passes import fast_predict as glue
from bnnc.passes.pipeline import compile_model
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs
from tests.paths import SHARED
from tests.strategies import bnn_models, inner_blocks, weight_rows

TFC = SHARED / "models" / "qonnx-tfc-w1a1.onnx"
MNIST_IMAGES = SHARED / "data" / "t10k-images-idx3-ubyte.gz"
needs_shared = pytest.mark.skipif(
    not TFC.is_file() or not MNIST_IMAGES.is_file(),
    reason=f"TFC-w1a1 or MNIST not found under {SHARED} (../shared beside the repo)",
)


def ilp_of(model: BnnModel) -> IlpModel:
    ilp = compile_model(model, until="ilp").ilp
    assert ilp is not None
    return ilp


def assert_agrees(model: BnnModel, inputs: np.ndarray) -> None:
    """Both kernels, on bool rows and on packed rows, give the float reference's labels."""
    expected = predict(model, inputs)
    ilp = ilp_of(model)
    for kernel in KERNELS:
        net = PackedNet.from_ilp(ilp, kernel)
        np.testing.assert_array_equal(net.predict(inputs), expected, err_msg=kernel)
        np.testing.assert_array_equal(
            net.labels_of_packed(pack_bits(inputs)), expected, err_msg=kernel
        )


# --------------------------------------------------------------------------- every input


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bnn_models(max_inputs=12, max_width=6, max_blocks=2))
def test_small_networks_agree_on_every_input(model: BnnModel) -> None:
    """Thresholds on reachable sums, zero weights, γ ≤ 0, constant neurons, tied scores."""
    assert_agrees(model, all_inputs(model.n_inputs))


@pytest.mark.parametrize("seed", range(4))
def test_random_networks_with_many_negative_gammas_agree_on_every_input(seed: int) -> None:
    model = random_bnn([11, 7, 5, 4], seed=seed, negative_gamma=0.5)
    assert_agrees(model, all_inputs(model.n_inputs))


@st.composite
def scaled_outputs(draw: st.DrawFn) -> BnnModel:
    """Per-class output scales (as a batch norm after the last layer): staircase comparisons."""
    n_in = draw(st.integers(1, 10))
    hidden = draw(st.integers(1, 6))
    classes = draw(st.integers(2, 5))
    block = draw(inner_blocks("h1", n_in, hidden))
    scales = np.array(
        [draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, -1.0, -2.5])) for _ in range(classes)]
    )
    if draw(st.booleans()):  # every scale of one sign: the pass negates all rows or none
        scales = np.abs(scales)
    bias = np.array([draw(st.sampled_from([0.0, 0.5, -1.0, 2.0, 1e-300])) for _ in range(classes)])

    def oracle(s: np.ndarray) -> np.ndarray:
        return np.asarray(s * scales + bias)

    weights = ternary(draw(weight_rows(classes, hidden)))
    output = OutputBlock("out", weights, frozen(np.zeros(classes), np.float64), oracle=oracle)
    model = BnnModel("scaled", (n_in,), (block,), output)
    model.verify()
    return model


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scaled_outputs())
def test_staircase_comparisons_agree_on_every_input(model: BnnModel) -> None:
    assert_agrees(model, all_inputs(model.n_inputs))


def test_per_class_output_batch_norms_make_staircases_and_agree(tmp_path: Path) -> None:
    """BinaryNet's output layer from ONNX (as in test_output_scales): staircases do occur."""
    from tests.frontend.test_output_scales import affine_tail_model

    found = 0
    for seed in range(6):
        model = bnnc.load(affine_tail_model(tmp_path / f"affine{seed}.onnx", seed))
        assert isinstance(model, BnnModel)
        found += len(ilp_of(model).output.staircases)
        assert_agrees(model, all_inputs(model.n_inputs))
    assert found > 0


def test_argmax_ties_go_to_the_lowest_index() -> None:
    rows = ternary([[1, -1, 0], [1, -1, 0], [-1, 1, 1], [1, -1, 0]])
    output = OutputBlock("out", rows, frozen([0.0, 0.0, -0.5, 0.0], np.float64))
    model = BnnModel("ties", (3,), (), output)
    inputs = all_inputs(3)
    assert set(predict(model, inputs).tolist()) == {0, 2}
    assert_agrees(model, inputs)


def test_a_constant_network_and_a_single_class() -> None:
    dead = InnerBlock("h1", ternary([[0, 0, 0], [1, 0, -1]]), frozen([-1.0, 0.0], np.float64), None)
    output = OutputBlock("out", ternary([[1, -1]]), frozen([0.0], np.float64))
    model = BnnModel("one_class", (3,), (dead,), output)
    assert_agrees(model, all_inputs(3))


# --------------------------------------------------------------------------- wide networks


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_in=st.sampled_from([63, 64, 65, 100, 127, 129, 130]),
    hidden=st.sampled_from([1, 7, 63, 64, 65]),
    data=st.data(),
)
def test_widths_that_do_not_fill_a_word_agree(n_in: int, hidden: int, data: st.DataObject) -> None:
    first = data.draw(inner_blocks("h1", n_in, hidden))
    second = data.draw(inner_blocks("h2", hidden, 9))
    output = OutputBlock(
        "out", ternary(data.draw(weight_rows(5, 9))), frozen([0.0] * 5, np.float64)
    )
    model = BnnModel("wide", (n_in,), (first, second), output)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    inputs = np.vstack([rng.random((300, n_in)) < p for p in (0.1, 0.5, 0.9)])
    assert_agrees(model, np.vstack([inputs, on_and_next_to_thresholds(model, rng)]))


def on_and_next_to_thresholds(model: BnnModel, rng: np.random.Generator) -> np.ndarray:
    """For each first-layer neuron, inputs whose sum ⟨a, x⟩ is its threshold C and the
    reachable sums next to it (C − 2 … C + 2): the sums where a rounding or off-by-one
    error would show."""
    layer = ilp_of(model).layers[0]
    rows = []
    for weights, threshold in zip(layer.weights, layer.thresholds.tolist(), strict=True):
        active = np.flatnonzero(weights)
        for target in range(threshold - 2, threshold + 3):
            flips = (active.size - target) // 2  # sum n′ − 2k for k flipped signs
            if (active.size - target) % 2 or not 0 <= flips <= active.size:
                continue
            x = rng.random(model.n_inputs) < 0.5
            x[active] = weights[active] > 0  # every sign agrees: sum n′
            x[rng.choice(active, flips, replace=False)] ^= True
            rows.append(x)
    return np.array(rows, dtype=bool).reshape(-1, model.n_inputs)


@pytest.mark.parametrize("seed", range(3))
def test_random_100_20_10_on_and_next_to_its_thresholds(seed: int) -> None:
    model = random_bnn([100, 20, 10], seed=seed, negative_gamma=0.3)
    rng = np.random.default_rng(seed)
    edges = on_and_next_to_thresholds(model, rng)
    assert len(edges) >= 20 * 2
    assert_agrees(model, np.vstack([edges, rng.random((2000, 100)) < 0.5]))


# --------------------------------------------------------------------------- the ILP itself


@st.composite
def ilp_models(draw: st.DrawFn) -> IlpModel:
    """ILP models as a file may write them: thresholds anywhere (also far outside the reachable
    sums), comparison tables that need not rank consistently, staircases."""
    n_in = draw(st.integers(1, 9))
    hidden = draw(st.integers(1, 5))
    classes = draw(st.integers(1, 4))
    big = st.integers(-(10**12), 10**12)
    thresholds = [draw(st.one_of(st.integers(-n_in - 3, n_in + 3), big)) for _ in range(hidden)]
    layer = ThresholdLayer(
        "h1", ternary(draw(weight_rows(hidden, n_in))), frozen(thresholds, np.int64)
    )
    beats = np.zeros((classes, classes), dtype=np.int64)
    stairs = []
    for c, j in itertools.combinations(range(classes), 2):
        if draw(st.booleans()):
            k = draw(st.integers(1, 3))
            vs = sorted(draw(st.sets(st.integers(-hidden - 2, hidden + 2), min_size=k, max_size=k)))
            us = sorted(draw(st.sets(st.integers(-hidden - 2, hidden + 2), min_size=k, max_size=k)))
            stairs.append(Staircase(c, j, tuple(zip(vs, us, strict=True))))
        else:
            beats[c, j] = draw(st.one_of(st.integers(-2 * hidden - 2, 2 * hidden + 2), big))
    output = ArgmaxLayer(
        "out", ternary(draw(weight_rows(classes, hidden))), frozen(beats, np.int64), tuple(stairs)
    )
    model = IlpModel("ilp", (n_in,), (layer,), output)
    model.verify()
    return model


@settings(max_examples=200, deadline=None)
@given(ilp_models())
def test_ilp_models_agree_or_fail_alike(model: IlpModel) -> None:
    """Labels equal to ``_ilp_argmax``'s; where the table ranks no single winner for some
    input, both raise the same ModelError."""
    inputs = all_inputs(model.n_inputs)
    # Both ways of comparing the classes: every pair (the default up to 24 classes) and the
    # knockout (forced by allowing no class for pairs).
    for pairwise in (fast_reference.PAIRWISE_MAX_CLASSES, 0):
        with mock.patch.object(fast_reference, "PAIRWISE_MAX_CLASSES", pairwise):
            try:
                expected = predict(model, inputs)
            except ModelError as err:
                for kernel in KERNELS:
                    with pytest.raises(ModelError, match="no single winner") as caught:
                        PackedNet.from_ilp(model, kernel).predict(inputs)
                    assert str(caught.value) == str(err)
                continue
            for kernel in KERNELS:
                net = PackedNet.from_ilp(model, kernel)
                np.testing.assert_array_equal(net.predict(inputs), expected, err_msg=kernel)


def test_many_classes_are_compared_by_a_knockout_with_the_same_labels() -> None:
    model = random_bnn([12, 8, fast_reference.PAIRWISE_MAX_CLASSES + 6], seed=3)
    inputs = all_inputs(12)
    net = glue.fast_predictor(model)
    assert net is not None
    np.testing.assert_array_equal(net.predict(inputs), predict(model, inputs))


def test_a_threshold_off_by_one_is_caught() -> None:
    """The mutants a broken threshold conversion would make (C + 1, C + 2, C − 2: C − 1 is the
    same threshold, sums having the parity of n′): the exhaustive comparison catches them."""
    model = random_bnn([10, 6, 3], seed=4)
    ilp = ilp_of(model)
    inputs = all_inputs(10)
    expected = predict(model, inputs)
    for kernel in KERNELS:
        caught = []
        for neuron, delta in itertools.product(range(ilp.layers[0].n_out), (1, 2, -2)):
            thresholds = ilp.layers[0].thresholds.copy()
            thresholds[neuron] += delta
            layer = ThresholdLayer("h1", ilp.layers[0].weights, frozen(thresholds, np.int64))
            mutant = IlpModel(ilp.name, ilp.input_shape, (layer,), ilp.output)
            labels = PackedNet.from_ilp(mutant, kernel).predict(inputs)
            caught.append(not np.array_equal(labels, expected))
        assert sum(caught) >= len(caught) * 2 // 3, (kernel, caught)


# --------------------------------------------------------------------------- packing, inputs


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 200), st.integers(0, 2**32 - 1))
def test_pack_and_unpack_are_inverse(n: int, seed: int) -> None:
    bits = np.random.default_rng(seed).random((7, n)) < 0.5
    words = pack_bits(bits)
    assert words.shape == (7, -(-n // 64)) and words.dtype == np.dtype("<u8")
    np.testing.assert_array_equal(unpack_bits(words, n), bits)
    assert all(int(words[0, i // 64]) >> (i % 64) & 1 == bits[0, i] for i in range(n))


def test_padding_bits_are_ignored() -> None:
    model = random_bnn([70, 65, 10], seed=2)
    inputs = np.random.default_rng(0).random((500, 70)) < 0.5
    words = pack_bits(inputs)
    words[:, -1] |= np.uint64(0xFFFF_FFFF_FFFF_FFC0)  # every bit past input 69
    for kernel in KERNELS:
        net = PackedNet.from_ilp(ilp_of(model), kernel)
        np.testing.assert_array_equal(net.labels_of_packed(words), predict(model, inputs))


def test_inputs_are_checked_and_batch_shapes_kept() -> None:
    model = random_bnn([12, 5, 3], seed=1)
    net = PackedNet.from_ilp(ilp_of(model))
    one = np.arange(12) % 3 == 0
    assert net.predict(one).shape == () and int(net.predict(one)) == int(predict(model, one))
    grid = all_inputs(12)[:60].reshape(3, 4, 5, 12)
    np.testing.assert_array_equal(net.predict(grid), predict(model, grid))
    assert net.predict(np.zeros((0, 12), dtype=bool)).shape == (0,)
    np.testing.assert_array_equal(net.predict(grid.astype(np.int8)), predict(model, grid))
    for bad in (np.zeros((2, 11), dtype=bool), np.full((1, 12), 2)):
        with pytest.raises(ModelError) as theirs:
            predict(model, bad)
        with pytest.raises(ModelError) as ours:
            net.predict(bad)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(UsageError, match="unknown kernel"):
        PackedNet.from_ilp(ilp_of(model), "simd")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the glue


def test_fast_predict_compiles_once_enough_inputs_were_asked() -> None:
    model = random_bnn([30, 10, 4], seed=3)
    inputs = np.random.default_rng(0).random((glue.MIN_ROWS, 30)) < 0.5
    np.testing.assert_array_equal(
        glue.fast_predict(model, inputs[:10]), predict(model, inputs[:10])
    )
    assert glue._CACHE[model].net is None  # ten inputs: the float reference answered
    np.testing.assert_array_equal(glue.fast_predict(model, inputs), predict(model, inputs))
    net = glue._CACHE[model].net
    assert net is not None and glue.fast_predictor(model) is net
    np.testing.assert_array_equal(bnnc.predict(model, inputs), predict(model, inputs))


def test_a_model_the_ilp_stage_refuses_keeps_the_float_reference() -> None:
    def bumpy(s: np.ndarray) -> np.ndarray:  # fires at −1 and +1 sums only: not monotone
        return np.asarray(np.abs(s) == 1)

    block = InnerBlock("h1", ternary([[1, 1, 1]]), frozen([0.0], np.float64), None, oracle=bumpy)
    output = OutputBlock("out", ternary([[1], [-1]]), frozen([0.0, 0.0], np.float64))
    model = BnnModel("bumpy", (3,), (block,), output)
    inputs = np.tile(all_inputs(3), (glue.MIN_ROWS // 8 + 1, 1))
    assert glue.fast_predictor(model) is None
    np.testing.assert_array_equal(glue.fast_predict(model, inputs), predict(model, inputs))


def test_a_model_changed_in_place_is_compiled_again() -> None:
    weights = np.array([[1, -1, 1, 1], [1, 1, -1, 1]], dtype=np.int8)  # writeable on purpose
    block = InnerBlock("h1", weights, np.zeros(2), None)
    output = OutputBlock("out", ternary([[1, -1], [-1, 1]]), frozen([0.0, 0.0], np.float64))
    model = BnnModel("mutable", (4,), (block,), output)
    inputs = np.tile(all_inputs(4), (glue.MIN_ROWS // 16, 1))
    np.testing.assert_array_equal(glue.fast_predict(model, inputs), predict(model, inputs))
    weights[0] = -weights[0]
    np.testing.assert_array_equal(glue.fast_predict(model, inputs), predict(model, inputs))


def test_a_wrong_packed_network_is_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    model = random_bnn([16, 8, 10], seed=5)
    real = PackedNet.from_ilp

    def always_zero(ilp: IlpModel, kernel: str = "auto") -> PackedNet:
        out = ilp.output
        beats = np.full_like(out.beats, -(10**6))  # class 0 ranks above every other, always
        lying = ArgmaxLayer(out.name, out.weights, frozen(beats, np.int64))
        return real(IlpModel(ilp.name, ilp.input_shape, ilp.layers, lying))

    monkeypatch.setattr(PackedNet, "from_ilp", always_zero)
    inputs = np.random.default_rng(0).random((glue.MIN_ROWS, 16)) < 0.5
    with pytest.raises(InternalError, match="please report"):
        glue.fast_predict(model, inputs)


def test_counting_by_enumeration_and_montecarlo_use_exact_labels() -> None:
    from bnnc.engines.enumerate import enumerate_counts, montecarlo_counts

    model = random_bnn([14, 30, 5], seed=6)  # 30 hidden neurons: labels per input, not per pattern
    expected = np.bincount(predict(model, all_inputs(14)), minlength=5)
    np.testing.assert_array_equal(enumerate_counts(model), expected)
    rng = np.random.default_rng(0)
    bits = rng.random((5000, 14)) < 0.5
    counts = montecarlo_counts(model, 5000, seed=0, chunk=5000)
    np.testing.assert_array_equal(counts, np.bincount(predict(model, bits), minlength=5))


# --------------------------------------------------------------------------- TFC-w1a1


def mnist_bits(count: int) -> np.ndarray:
    with gzip.open(MNIST_IMAGES) as images_file:
        images = np.frombuffer(images_file.read()[16:], np.uint8).reshape(-1, 784)[:count]
    return np.asarray(images >= 128)


@needs_shared
def test_tfc_w1a1_on_mnist_and_random_inputs() -> None:
    model = bnnc.load(TFC)
    assert isinstance(model, BnnModel)
    rng = np.random.default_rng(0)
    inputs = np.vstack(
        [
            mnist_bits(3000),
            rng.random((1000, 784)) < 0.5,
            rng.random((500, 784)) < 0.1,
            on_and_next_to_thresholds(model, rng),
        ]
    )
    assert_agrees(model, inputs)
    np.testing.assert_array_equal(bnnc.predict(model, inputs), predict(model, inputs))
