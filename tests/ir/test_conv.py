"""Convolution and pooling in the IR: the expanded rows against an independent direct
convolution (hypothesis over random geometries), pooling as OR/AND of its window, and a conv
model in the text language against an independent numpy forward pass, through every stage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bnnc
from bnnc.errors import ModelError, ParseError
from bnnc.frontend.text import parse_text
from bnnc.ir.bnn import BnnModel
from bnnc.ir.conv import Conv2d, Pool2d, conv_reference, flat_index
from bnnc.ir.reference import hidden_activations, predict
from tests.helpers import all_inputs, solved_labels

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _to_flat(x: np.ndarray, layout: str) -> np.ndarray:
    """(batch, C, H, W) → (batch, C·H·W) in ``layout`` order."""
    return (x if layout == "NCHW" else x.transpose(0, 2, 3, 1)).reshape(len(x), -1)


@st.composite
def convs(draw: st.DrawFn) -> Conv2d:
    groups = draw(st.sampled_from([1, 1, 2]))
    c = groups * draw(st.integers(1, 2))
    o = groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - pads[0] - pads[2]), 6))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - pads[1] - pads[3]), 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kernel = rng.integers(-1, 2, size=(o, c // groups, kh, kw)).astype(np.int8)
    return Conv2d(
        in_shape=(c, h, w),
        kernel=kernel,
        stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        padding=pads,  # type: ignore[arg-type]
        pad_value=draw(st.sampled_from([0, -1, 1])),
        dilation=(dh, dw),
        groups=groups,
        layout=draw(st.sampled_from(["NCHW", "NHWC"])),
    )


@SETTINGS
@given(conv=convs(), seed=st.integers(0, 2**32 - 1))
def test_expanded_rows_are_the_direct_convolution(conv: Conv2d, seed: int) -> None:
    conv.verify("conv")
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([-1, 1]), size=(8, *conv.in_shape))
    direct = conv_reference(
        x, conv.kernel, conv.stride, conv.padding, conv.pad_value, conv.dilation, conv.groups
    )
    assert direct.shape[1:] == conv.out_shape
    flat = _to_flat(x, conv.layout)
    assert np.array_equal(
        flat @ conv.weights.T.astype(np.int64) + conv.shift, _to_flat(direct, conv.layout)
    )
    channel = conv.channel_of_neuron()
    expected = np.broadcast_to(np.arange(conv.out_channels)[:, None, None], conv.out_shape)
    assert np.array_equal(channel, _to_flat(expected[None], conv.layout)[0])


@SETTINGS
@given(
    c=st.integers(1, 2),
    h=st.integers(2, 6),
    w=st.integers(2, 6),
    k=st.integers(1, 3),
    s=st.integers(1, 3),
    pad=st.integers(0, 1),
    ceil=st.booleans(),
    layout=st.sampled_from(["NCHW", "NHWC"]),
    reduce=st.sampled_from(["max", "min"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_pooling_is_or_and_of_the_window(
    c: int,
    h: int,
    w: int,
    k: int,
    s: int,
    pad: int,
    ceil: bool,
    layout: str,
    reduce: str,
    seed: int,
) -> None:
    pad = min(pad, k - 1)
    pool = Pool2d((c, h, w), (k, k), (s, s), (pad,) * 4, (1, 1), ceil, layout, reduce)  # type: ignore[arg-type]
    if min(h, w) + 2 * pad < k:
        with pytest.raises(ModelError):
            pool.verify("pool")
        return
    pool.verify("pool")
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([-1, 1]), size=(6, c, h, w))
    fill = -np.inf if reduce == "max" else np.inf
    padded = np.full((6, c, h + 2 * pad, w + 2 * pad), fill)
    padded[:, :, pad : pad + h, pad : pad + w] = x
    _, ho, wo = pool.out_shape
    direct = np.empty((6, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            window = padded[:, :, i * s : i * s + k, j * s : j * s + k]
            direct[:, :, i, j] = (
                window.max(axis=(2, 3)) if reduce == "max" else window.min(axis=(2, 3))
            )
    sums = _to_flat(x, layout) @ pool.weights.T.astype(np.int64)
    fires = sums + pool.bias() >= 0
    assert np.array_equal(np.where(fires, 1, -1), _to_flat(direct, layout))


TINY_CONV = """
network tiny_conv
input 1x3x3
conv c1 {
  input 1x3x3
  kernel 2x2x2
  padding 1x1x0x0
  pad +1
  weights {
    +- -+
    0+ ++
  }
  bias 0.5 -1
  batchnorm {
    gamma 1.0 -0.5
    beta 0 0.25
    mean 0.1 0
    var 1 2
    eps 1e-5
  }
}
maxpool p1 {
  input 2x3x3
  kernel 2x2
  stride 1x1
}
conv c2 {
  input 2x2x2
  kernel 2x2x2
  groups 2
  weights {
    +- -+
    ++ -+
  }
}
output out {
  weights {
    +-
    -+
    +0
  }
  bias 0 0.5 -0.25
}
"""


def _numpy_forward(x: np.ndarray) -> np.ndarray:
    """TINY_CONV written out with numpy, independently of the IR."""
    k1 = np.array([[[[1, -1], [-1, 1]]], [[[0, 1], [1, 1]]]], dtype=np.int8)
    y = conv_reference(x, k1, (1, 1), (1, 1, 0, 0), 1, (1, 1), 1).astype(np.float64)
    y = y + np.array([0.5, -1])[None, :, None, None]
    gamma, beta = np.array([1.0, -0.5]), np.array([0.0, 0.25])
    mean, var = np.array([0.1, 0.0]), np.array([1.0, 2.0])
    shape = (1, 2, 1, 1)
    z = (y - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-5) * gamma.reshape(shape)
    h = np.where(z + beta.reshape(shape) >= 0, 1, -1)
    pooled = np.stack(
        [
            np.stack([h[:, :, i : i + 2, j : j + 2].max(axis=(2, 3)) for j in range(2)], -1)
            for i in range(2)
        ],
        -2,
    )
    k2 = np.array([[[[1, -1], [-1, 1]]], [[[1, 1], [-1, 1]]]], dtype=np.int8)
    h2 = np.where(conv_reference(pooled, k2, (1, 1), (0, 0, 0, 0), 0, (1, 1), 2) >= 0, 1, -1)
    h2 = h2.reshape(len(x), -1)
    scores = h2 @ np.array([[1, -1], [-1, 1], [1, 0]]).T + np.array([0, 0.5, -0.25])
    return np.argmax(scores, axis=1)


def _tiny() -> BnnModel:
    model = parse_text(TINY_CONV)
    assert isinstance(model, BnnModel)
    return model


def test_text_conv_model_matches_numpy_on_every_input_and_every_stage() -> None:
    model = _tiny()
    model.verify()
    inputs = all_inputs(9)
    x = np.where(inputs, 1, -1).reshape(-1, 1, 3, 3)
    expected = _numpy_forward(x)
    assert np.array_equal(predict(model, inputs), expected)
    compiled = bnnc.compile(model, "totalizer")
    assert np.array_equal(predict(compiled.ilp, inputs), expected)
    assert solved_labels(compiled.formula, inputs) == [[int(c)] for c in expected]


def test_text_conv_model_is_parsimonious() -> None:
    pyganak = pytest.importorskip("pyganak")
    model = _tiny()
    formula = bnnc.compile(model, "totalizer").formula
    brute = np.bincount(predict(model, all_inputs(9)), minlength=3)

    def count(extra: list[list[int]]) -> int:
        counter = pyganak.Counter()
        counter.new_vars(formula.num_vars)
        for clause in [*formula.clauses, *extra]:
            counter.add_clause(clause)
        return int(counter.count())

    assert count([]) == 2**9
    for label in range(3):
        assert count([[formula.layout.output_var(label)]]) == brute[label]


def test_conv_model_prints_and_reads_back() -> None:
    model = _tiny()
    text = bnnc.emit(model, "bnn")
    assert "conv 2x1x2x2 shared by 18 neurons" in text and "max pool (OR) 2x2" in text
    again = parse_text(text)
    assert isinstance(again, BnnModel)
    for a, b in zip(model.blocks, again.blocks, strict=True):
        assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
        assert type(a.structure) is type(b.structure)
    assert "conv 2x1x2x2 shared by 18 neurons" in bnnc.emit(model, "milp")
    for stage in ("ilp", "card", "cnf"):
        assert bnnc.emit(model, stage)
    hidden = hidden_activations(model, all_inputs(9))
    assert [h.shape[1] for h in hidden] == [18, 8, 2]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("groups 2", "groups 3"), "groups 3 must divide"),
        (("pad +1", "pad 2"), "the pad value is -1, 0 or +1"),
        (("kernel 2x2x2\n  padding", "kernel 2x2\n  padding"), "kernel takes 3 number"),
        (("input 1x3x3\n  kernel", "input 1x3x2\n  kernel"), "this input has 6 values, expected 9"),
        (("    0+ ++", "    0+ +"), "expected 4"),
        (("stride 1x1\n}", "stride 1x1\n  pad 1\n}"), "a pooling layer ignores padded"),
        (("kernel 2x2\n  stride", "kernel 4x4\n  stride"), "does not fit"),
    ],
)
def test_bad_conv_geometry_is_refused_in_place(edit: tuple[str, str], message: str) -> None:
    source = TINY_CONV.replace(*edit, 1)
    assert source != TINY_CONV
    with pytest.raises(ParseError) as info:
        parse_text(source)
    assert message in str(info.value), str(info.value)


def test_flat_index_layouts() -> None:
    assert flat_index((2, 1, 2), "NCHW").tolist() == [[[0, 1]], [[2, 3]]]
    assert flat_index((2, 1, 2), "NHWC").tolist() == [[[0, 2]], [[1, 3]]]


@st.composite
def conv_models(draw: st.DrawFn) -> BnnModel:
    """conv (random geometry and ±1 padding, batch norm) → max/min pool → output, ≤ 9 inputs."""
    from bnnc.ir.bnn import BatchNorm, InnerBlock, OutputBlock
    from bnnc.ir.tensor import frozen, ternary

    conv = draw(convs().filter(lambda c: 2 <= np.prod(c.in_shape) <= 9))
    conv.verify("conv")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    channel = conv.channel_of_neuron()
    o = conv.out_channels
    per = {k: rng.normal(0, 1, o) for k in ("bias", "gamma", "beta", "mean")}
    per["gamma"] = np.where(rng.random(o) < 0.3, -1, 1) * (np.abs(per["gamma"]) + 0.2)
    bn = BatchNorm(
        *(frozen(per[k][channel], np.float64) for k in ("gamma", "beta", "mean")),
        var=frozen(rng.uniform(0.5, 2, o)[channel], np.float64),
        eps=1e-5,
    )
    first = InnerBlock("c", conv.weights, frozen(per["bias"][channel], np.float64), bn, None, conv)
    blocks = [first]
    _, ho, wo = conv.out_shape
    if min(ho, wo) >= 2 and draw(st.booleans()):
        pool = Pool2d(conv.out_shape, (2, 2), (1, 1), layout=conv.layout,
                      reduce=draw(st.sampled_from(["max", "min"])))  # fmt: skip
        blocks.append(InnerBlock("p", pool.weights, pool.bias(), None, None, pool))
    width = blocks[-1].n_out
    weights = ternary(rng.integers(-1, 2, size=(3, width)))
    output = OutputBlock("out", weights, frozen(rng.choice([0, 0.5, 1], 3), np.float64))
    model = BnnModel("m", conv.in_shape, tuple(blocks), output)
    model.verify()
    return model


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=conv_models(), seed=st.integers(0, 2**32 - 1))
def test_random_conv_models_compile_exactly(model: BnnModel, seed: int) -> None:
    """Every input: reference = ILP = CNF; a specialised query region agrees too."""
    inputs = all_inputs(model.n_inputs)
    expected = predict(model, inputs)
    compiled = bnnc.compile(model, "totalizer")
    assert np.array_equal(predict(compiled.ilp, inputs), expected)
    assert solved_labels(compiled.formula, inputs) == [[int(c)] for c in expected]
    rng = np.random.default_rng(seed)
    center = rng.random(model.n_inputs) < 0.5
    query = bnnc.query(model, near=center, max_flips=2)
    special = bnnc.compile(model, "totalizer", region=query.region)
    inside = inputs[(inputs != center).sum(axis=1) <= 2]
    assert solved_labels(special.formula, inside) == [[int(c)] for c in predict(model, inside)]
