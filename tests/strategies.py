"""Hypothesis strategies for BNNs that stress the exact lowering.

Neurons are drawn in several modes: plain random floats; a batch-norm zero crossing exactly *on*
a reachable pre-activation (z = 0 there, so sign(0) = +1 decides); a crossing one float step
*next to* it; γ = 0 (constant neuron, including β = 0 and β = −0.0); γ < 0; blocks without batch
norm.  Weights include zeros.  Output biases are either random or drawn from a small grid so
that scores tie and the lowest index must win.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from bnnc.ir.bnn import BatchNorm, BnnModel, InnerBlock, OutputBlock
from bnnc.ir.tensor import frozen, ternary

finite = st.floats(-6.0, 6.0, allow_nan=False, allow_infinity=False)
quarter = st.integers(-12, 12).map(lambda k: k / 4)  # exact in binary: sums stay exact


@st.composite
def weight_rows(draw: st.DrawFn, n_out: int, n_in: int) -> np.ndarray:
    zero_share = draw(st.sampled_from([0.0, 0.0, 0.2, 0.6]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n_out, n_in))
    return np.where(rng.random((n_out, n_in)) < zero_share, 0, signs).astype(np.int8)


@st.composite
def inner_blocks(draw: st.DrawFn, name: str, n_in: int, n_out: int) -> InnerBlock:
    weights = draw(weight_rows(n_out, n_in))
    use_bn = draw(st.booleans()) or draw(st.booleans())
    bias, gamma, beta, mean, var = [], [], [], [], []
    eps = 1.0
    for i in range(n_out):
        n_active = int(np.count_nonzero(weights[i]))
        mode = draw(st.sampled_from(["random", "on", "next", "gamma0", "negative"]))
        b = draw(quarter)
        g = draw(st.sampled_from([0.5, 1.0, 2.0, 3.0]))
        s = draw(st.integers(-n_active, n_active))
        s0 = s - (s + n_active) % 2  # a reachable sum: same parity as n_active
        if mode == "random":
            b, g, bt, mu, v = draw(finite), draw(finite), draw(finite), draw(finite), 3.0
            v = draw(st.floats(0.0, 50.0))
        elif mode in ("on", "negative"):
            # z = (s + b − (s0 + b)) / 2 · γ: exactly 0 at the reachable sum s0.
            g = -g if mode == "negative" else g
            bt, mu, v = 0.0, s0 + b, 3.0
        elif mode == "next":
            direction = draw(st.sampled_from([-np.inf, np.inf]))
            g = g * draw(st.sampled_from([-1, 1]))
            bt, mu, v = 0.0, float(np.nextafter(s0 + b, direction)), 3.0
        else:  # gamma0: a constant neuron, sign(β); β = 0 or −0.0 must give +1
            g, mu, v = 0.0, draw(finite), 3.0
            bt = draw(st.sampled_from([0.0, -0.0, 1.5, -1.5]))
        bias.append(b)
        gamma.append(g)
        beta.append(bt)
        mean.append(mu)
        var.append(v)
    batchnorm = None
    if use_bn:
        batchnorm = BatchNorm(
            frozen(gamma, np.float64),
            frozen(beta, np.float64),
            frozen(mean, np.float64),
            frozen(var, np.float64),
            eps,
        )
    return InnerBlock(name, ternary(weights), frozen(bias, np.float64), batchnorm)


@st.composite
def bnn_models(
    draw: st.DrawFn, max_inputs: int = 12, max_width: int = 6, max_blocks: int = 2
) -> BnnModel:
    """1–3 blocks in all: up to ``max_blocks`` inner blocks, then the output block."""
    n_in = draw(st.integers(1, max_inputs))
    widths = [n_in] + [
        draw(st.integers(1, max_width)) for _ in range(draw(st.integers(0, max_blocks)))
    ]
    blocks = tuple(
        draw(inner_blocks(f"h{k + 1}", widths[k], widths[k + 1])) for k in range(len(widths) - 1)
    )
    n_classes = draw(st.integers(1, 5))
    tied = draw(st.booleans())
    bias_values = st.sampled_from([0.0, 0.5, -0.5, 1.0]) if tied else finite
    out_bias = [draw(bias_values) for _ in range(n_classes)]
    output = OutputBlock(
        "out", ternary(draw(weight_rows(n_classes, widths[-1]))), frozen(out_bias, np.float64)
    )
    shape: tuple[int, ...] = (n_in,)
    if n_in % 3 == 0 and n_in > 3:
        shape = (n_in // 3, 3)
    model = BnnModel("hyp", shape, blocks, output)
    model.verify()
    return model
