"""A first layer that reads integer input values themselves (issue 15, item 2): inputs
p_j ∈ LO..HI (8-bit pixels, or pixels scaled by a constant) through ±c weights.

Each element is order-encoded: p_j = LO + Σ_k u_jk over K = HI − LO bits with u_j1 ≥ u_j2 ≥ …
(the chain makes the encoding parsimonious: one assignment per value; whoever solves adds it,
see :func:`order_clauses`).  Every unary bit of element j carries the same weight as the
element, so the first layer is an ordinary ternary layer over the n·K unary bits (columns
repeated K times), read as 0/1 values: ⟨c·s, v(p)⟩ = gain·t + offset for the ±1 sum t of the
repeated row, with v the graph's preprocessing of the input (the identity, ``Mul``, ``Div``…).

Exactness.  v is read in the model's engine at every value LO..HI and fitted by the affine map
a·p + b₀ through its ends; δ = max |v(p) − (a·p + b₀)| is exact (float64 differences of
float32 values, widened).  When v is integer-valued and affine (δ = 0) with power-of-two c and
α and an integer-grid bias, every partial sum is an integer multiple of c below 2²⁴: exact.
Otherwise the layer's float32 result lies within Higham's bound (over the n original terms,
each at most |c|·max|v|) plus n′·|α·c|·δ of gain·t + offset, and the tail is checked at both
ends of that band, as for any other inexact row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray

from bnnc.frontend.onnx.engine import Engine
from bnnc.frontend.onnx.exactness import exact_in_every_order, rounding_bound
from bnnc.frontend.onnx.inputs import prefix_run
from bnnc.frontend.onnx.load import OnnxSource
from bnnc.ir.domain import InputDomain
from bnnc.ir.tensor import ternary

MAX_LEVELS = 1 << 12  # HI − LO: each element becomes this many bits


@dataclass(frozen=True)
class PixelLayer:
    low: int  # LO
    unary: int  # K = HI − LO bits per element
    values: NDArray[np.float64]  # v(LO), …, v(HI): what the first layer reads
    slope: float  # a
    intercept: float  # b₀
    error: float  # δ


def pixel_layer(
    source: OnnxSource, engine: Engine | None, node: onnx.NodeProto, domain: InputDomain
) -> PixelLayer:
    assert domain.low is not None and domain.high is not None
    low, high = domain.low, domain.high
    if high - low > MAX_LEVELS or high == low:
        raise source.error(
            f"--input-domain {domain}: bnnc encodes 1 to {MAX_LEVELS:,} levels per element",
            node,
        )
    n = int(np.prod(source.input_shape))
    values = []
    for p in range(low, high + 1):
        out = prefix_run(source, engine, np.full(n, float(p))).astype(np.float64).reshape(-1)
        if out.size != n or np.unique(out).size != 1 or not np.isfinite(out).all():
            raise source.error(
                f"with --input-domain {domain}, the elements at the value {p} reach this layer "
                "as different values; bnnc needs one elementwise function of the input",
                node,
            )
        values.append(float(out[0]))
    v = np.array(values)
    if not (np.diff(v) > 0).all():
        raise source.error(
            f"with --input-domain {domain}, the values this layer reads do not increase with "
            "the input",
            node,
        )
    slope = (v[-1] - v[0]) / (high - low)
    intercept = v[0] - slope * low
    fit = slope * np.arange(low, high + 1) + intercept
    error = float(np.abs(v - fit).max())
    if error:
        error = error * (1 + 2.0**-20) + 2.0**-60 * float(np.abs(v).max())
    return PixelLayer(low, high - low, v, float(slope), float(intercept), error)


def expand(
    pixel: PixelLayer,
    rows: NDArray[np.int8],
    magnitude: NDArray[np.float64],
    alpha: float,
    gemm_offset: NDArray[np.float64],
) -> tuple[NDArray[np.int8], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]:
    """The first layer over the unary bits: repeated rows, gain, offset and the per-row bound
    (None when every row is exact)."""
    k, a = pixel.unary, pixel.slope
    expanded = ternary(np.repeat(rows, k, axis=1))
    row_sum = rows.sum(axis=1).astype(np.float64)
    gain = alpha * magnitude * a / 2
    offset = gemm_offset + alpha * magnitude * row_sum * (
        a * pixel.low + pixel.intercept + a * k / 2
    )
    n_active = np.count_nonzero(rows, axis=1)
    largest = float(np.abs(pixel.values).max())
    integer = bool(pixel.error == 0 and (pixel.values == np.round(pixel.values)).all())
    if integer:
        # Partial sums are integer multiples of c up to n′·c·max|v|: the ±a argument with n′
        # scaled by max|v|.
        exact = exact_in_every_order(alpha, magnitude, gemm_offset, n_active * int(largest))
    else:
        exact = np.zeros(rows.shape[0], dtype=bool)
    if exact.all():
        return expanded, gain, offset, None
    bound = rounding_bound(alpha * magnitude * largest, gemm_offset, n_active, rows.shape[1])
    bound = bound + n_active * np.abs(alpha * magnitude) * pixel.error
    bound = bound + 2.0**-40 * (np.abs(offset) + np.abs(gain) * n_active * k)
    return expanded, gain, offset, np.where(exact, 0.0, bound)


def pixel_conditions(source: OnnxSource, pixel: PixelLayer) -> list[str]:
    """Unary bit k of element j: ``x[j] >= LO + k + 1``."""
    shape = source.input_shape
    out = []
    for flat in range(int(np.prod(shape))):
        index = ",".join(map(str, np.unravel_index(flat, shape)))
        out += [f"{source.input.name}[{index}] >= {pixel.low + k + 1}" for k in range(pixel.unary)]
    return out


def order_clauses(n_elements: int, unary: int, var: Any) -> list[list[int]]:
    """u_j,k+1 → u_j,k for every element (``var(bit)``: the CNF variable of a unary bit)."""
    return [
        [-var(j * unary + k + 1), var(j * unary + k)]
        for j in range(n_elements)
        for k in range(unary - 1)
    ]
