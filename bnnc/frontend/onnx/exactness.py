"""Float exactness: when the engine's float32 linear layer computes exactly gain·t + offset, and
when it does not, the proof that the tail decides the same for every summation order.

The linear layer computes gain·t + offset for the integer sum t = ⟨s, x⟩ of a ±1 row s.  When
gain is a power of two and the bias sits on a fine enough grid, every partial sum is exact in
float32 (:func:`exact_in_every_order`).  Otherwise the float32 result lies within a rigorous
bound of the real value for every summation order (:func:`rounding_bound`); the tail is then
evaluated at both ends of that interval for every reachable t (the per-neuron tables of
:func:`reachable`), and the block is accepted only if its decision is the same at both ends
(:func:`check_band_fires`, :func:`check_band_scores`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import ModelError
from bnnc.frontend.onnx.load import OnnxSource
from bnnc.frontend.onnx.tails import (
    MONOTONE_IN_ANY_OPERAND,
    Block,
    tail_operators,
    tail_oracle,
    tail_run,
)

UNIT_ROUNDOFF = 2.0**-24  # float32, round to nearest
SMALLEST_SUBNORMAL = 2.0**-149


def _lowest_bit(x: float) -> float:
    """The value of the lowest set bit of a finite nonzero float (x = odd · that)."""
    mantissa, exponent = math.frexp(abs(x))
    integer = int(mantissa * 2**53)  # exact: a float64 mantissa has 53 bits
    return math.ldexp(float(integer & -integer), exponent - 53)


def _is_power_of_two(x: float) -> bool:
    return x != 0 and math.isfinite(x) and math.frexp(abs(x))[0] == 0.5


def exact_in_every_order(
    alpha: float,
    per_term: NDArray[np.float64],
    offset: NDArray[np.float64],
    n_active: NDArray[np.int64],
) -> NDArray[np.bool_]:
    """Per neuron: is the float32 result exactly gain·t + offset in every summation order?

    It is when each product ±a·c is a power of two p (so exact), α is a power of two, the
    offset β·bias is a float32 value, and every partial sum k·α·p (+ offset), |k| ≤ n′, lies on
    a grid g (the lowest bit of α·p and of the offset) with fewer than 2²⁴ steps: then every
    partial sum is a float32 value and no addition rounds.
    """
    exact = np.zeros(per_term.shape, dtype=bool)
    if not _is_power_of_two(alpha):
        return exact
    rows = zip(per_term.tolist(), offset.tolist(), n_active.tolist(), strict=True)
    for j, (p, b, n) in enumerate(rows):
        if float(np.float32(b)) != b or (n > 0 and not _is_power_of_two(p)):
            continue
        grid = [_lowest_bit(alpha * p)] if n > 0 else []
        if b != 0:
            grid.append(_lowest_bit(b))
        span = n * abs(alpha * p) + abs(b)
        exact[j] = not grid or span < 2.0**24 * min(grid)
    return exact


def rounding_bound(
    gain: NDArray[np.float64], offset: NDArray[np.float64], n_active: NDArray[np.int64], n_in: int
) -> NDArray[np.float64]:
    """Per neuron, a bound on |fl32(Gemm) − (gain·t + offset)| for every summation order.

    The Gemm adds n_in + 1 terms (n_in products x_i·w_i, exact zeros included, and β·bias);
    each term carries at most two roundings of its own (the product, then α or β), and each
    addition one.  Higham's bound for a sum in any order (Accuracy and Stability of Numerical
    Algorithms, §3.1/§4.2) then gives |error| ≤ γ_k · Σ|terms| with k = n_in + 3 and
    γ_k = k·u / (1 − k·u), u = 2⁻²⁴; FMA only removes roundings.  Σ|terms| = |gain|·n′ + |offset|
    whatever x is.  The bound is widened for the float64 arithmetic that computes it and for
    gradual underflow (k smallest subnormals).
    """
    k = n_in + 3
    gamma = k * UNIT_ROUNDOFF / (1 - k * UNIT_ROUNDOFF)
    magnitude = np.abs(gain) * n_active + np.abs(offset)
    return np.asarray(gamma * magnitude * (1 + 2.0**-20) + k * SMALLEST_SUBNORMAL)


def reachable(weights: NDArray[np.int8]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Row m holds every neuron's m-th smallest reachable sum −n′ + 2m (0 past n′)."""
    n_active = np.count_nonzero(weights, axis=1)
    m = np.arange(int(n_active.max(initial=0)) + 1)[:, None]
    reached = m <= n_active
    return np.where(reached, 2 * m - n_active, 0).astype(np.int64), reached


def tail_values(source: OnnxSource, block: Block) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    """The tail at every reachable pre-activation of every neuron (rows: −n′ + 2m)."""
    sums, reached = reachable(block.weights)
    return tail_oracle(source, block)(sums), reached


def _band(source: OnnxSource, block: Block) -> tuple[NDArray[Any], NDArray[Any], NDArray[np.bool_]]:
    """The tail at the float32 ends of [v − E, v + E] (v = gain·t + offset, E the rounding
    bound), rounded outwards, for every reachable t: every float32 result of the linear
    layer lies between them."""
    assert block.bound is not None
    sums, reached = reachable(block.weights)
    exact = sums * block.gain + block.offset
    low, high = exact - block.bound, exact + block.bound
    low32, high32 = low.astype(np.float32), high.astype(np.float32)
    low32 = np.where(low32 > low, np.nextafter(low32, np.float32(-np.inf)), low32)
    high32 = np.where(high32 < high, np.nextafter(high32, np.float32(np.inf)), high32)
    run = tail_run(source, block)
    return run(low32), run(high32), reached


def _check_monotone(source: OnnxSource, block: Block) -> None:
    """The interval argument needs a tail that is monotone in the linear output.  Every
    elementwise operator bnnc accepts is monotone in each operand on its own, except a
    division by the value and the parameters (not the data) of batch norms, clips and
    quantisers; those are refused."""
    for node in tail_operators(source, block):
        position = next(k for k, name in enumerate(node.input) if name in source.dynamic)
        if position != 0 and node.op_type not in MONOTONE_IN_ANY_OPERAND:
            raise source.error(
                f"{node.op_type} reads the pre-activation as operand {position}, so the "
                "block is not monotone in it; bnnc needs that to bound float summation "
                "errors",
                node,
            )


def _order_error(source: OnnxSource, block: Block, detail: str) -> ModelError:
    return source.error(
        f"{detail}, so the model's decision there depends on the order in which the float "
        "sum is accumulated; bnnc refuses rather than guess",
        block.node,
    )


def _value(block: Block, neuron: int, t: int) -> str:
    exact = float(block.gain[neuron] * t + block.offset[neuron])
    assert block.bound is not None
    return f"{exact:.9g} ± {float(block.bound[neuron]):.2g}"


def check_band_fires(source: OnnxSource, block: Block) -> None:
    """A binarising tail must give the same value at both ends of every band."""
    if block.bound is None or block.band_checked:
        return
    _check_monotone(source, block)
    low, high, reached = _band(source, block)
    undecided = reached & (low != high)
    if undecided.any():
        m, neuron = (int(k) for k in np.argwhere(undecided)[0])
        t = 2 * m - int(np.count_nonzero(block.weights[neuron]))
        raise _order_error(
            source,
            block,
            f"neuron {neuron} at the integer sum {t}: the layer's float32 result "
            f"({_value(block, neuron, t)}) may fall on either side of the point where "
            "the next operators switch",
        )
    block.band_checked = True


def check_band_scores(source: OnnxSource, block: Block) -> None:
    """Scores: every reachable pair of classes must compare the same way everywhere in
    their bands (class c < j wins ties, as ArgMax does)."""
    if block.bound is None or block.band_checked:
        return
    _check_monotone(source, block)
    low_raw, high_raw, _ = _band(source, block)
    low = np.minimum(low_raw, high_raw).astype(np.float64)
    high = np.maximum(low_raw, high_raw).astype(np.float64)
    n_active = np.count_nonzero(block.weights, axis=1)
    for c in range(block.weights.shape[0]):
        for j in range(c + 1, block.weights.shape[0]):
            lo_c, hi_c = low[: n_active[c] + 1, c], high[: n_active[c] + 1, c]
            lo_j, hi_j = low[: n_active[j] + 1, j], high[: n_active[j] + 1, j]
            decided = (lo_c[:, None] >= hi_j[None, :]) | (hi_c[:, None] < lo_j[None, :])
            if not decided.all():
                m_c, m_j = (int(k) for k in np.argwhere(~decided)[0])
                t_c, t_j = 2 * m_c - int(n_active[c]), 2 * m_j - int(n_active[j])
                raise _order_error(
                    source,
                    block,
                    f"classes {c} and {j} at the integer sums {t_c} and {t_j}: their "
                    f"float32 scores ({_value(block, c, t_c)} and "
                    f"{_value(block, j, t_j)}) may compare either way",
                )
    block.band_checked = True


def score_bands(
    source: OnnxSource, block: Block
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """For every reachable sum (rows −n′ + 2m, as :func:`reachable`) of every class of an
    output block: the lowest and highest score the model's float32 arithmetic can give in any
    summation order (equal where the row is exact).  VNN-LIB constraints on the scores
    themselves need these, not only the comparisons."""
    if block.bound is None:
        values, _ = tail_values(source, block)
        exact = np.asarray(values, dtype=np.float64)
        return exact, exact
    _check_monotone(source, block)
    low, high, _ = _band(source, block)
    low64, high64 = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    return np.minimum(low64, high64), np.maximum(low64, high64)
