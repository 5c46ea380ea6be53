"""The input bits: the first binarisation of the model input, after elementwise preprocessing
(``Mul``, ``Sub``, ``Div``, a flatten).  Their two values ±a are checked in the engine, and each
bit's condition on the original input element is found by bisection in the engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray

from bnnc.frontend.onnx.engine import Engine
from bnnc.frontend.onnx.load import OnnxSource, warn
from bnnc.ir.domain import InputDomain


def input_scale(source: OnnxSource, engine: Engine, consumer: onnx.NodeProto) -> float:
    """The input bits take two values ±a: check at the extremes and around zero.  ``engine``
    runs the graph from the model input to the input bits."""
    dtype = np.dtype(source.input_dtype)
    probes: list[float]
    if np.issubdtype(dtype, np.integer):
        probes = [float(np.iinfo(dtype).min), 0.0, 1.0, float(np.iinfo(dtype).max)]
    else:
        probes = [-3e38, -1.0, 0.0, 0.5, 1.0, 255.0, 3e38]
    seen: set[float] = set()
    for value in probes:
        tensor = np.full(source.input_shape, value).astype(dtype)
        with np.errstate(all="ignore"):
            out = engine.run({source.input.name: tensor})[0]
        seen.update(np.unique(np.asarray(out, dtype=np.float64)).tolist())
    producer = source.producer.get(consumer.input[0])
    if 0.0 in seen and producer is not None and producer.op_type == "Sign":
        warn(
            f"{source.path}: node {producer.name or '(unnamed)'} (Sign): ONNX Sign maps an "
            "input of exactly 0 to 0; bnnc binarises it as +1 (sign(0) = +1), so for such "
            "inputs the formula follows sign(0) = +1, not the graph"
        )
        seen.discard(0.0)
    magnitudes = {abs(v) for v in seen}
    if len(magnitudes) != 1 or 0.0 in magnitudes:
        raise source.error(
            f"the input reaches this layer with values {sorted(seen)[:6]}, not ±a: the "
            "input must be binarised (e.g. BipolarQuant, Sign, MultiThreshold) first, or "
            + OPTION_HINT,
            consumer,
        )
    return magnitudes.pop()


def input_conditions(
    source: OnnxSource, engine: Engine
) -> tuple[list[str], NDArray[Any], NDArray[Any]]:
    """Per input element: the condition on the original input that makes its bit +1, and
    an input value with the bit +1 and one with the bit −1 (for witness tensors).  ``engine``
    runs the graph from the model input to the input bits."""
    shape, dtype = source.input_shape, np.dtype(source.input_dtype)
    n = int(np.prod(shape))

    def bit(values: NDArray[Any]) -> NDArray[np.bool_]:
        with np.errstate(all="ignore"):  # the probes at ±3e38 overflow on purpose
            out = engine.run({source.input.name: values.astype(dtype).reshape(shape)})[0]
        return np.asarray(out).reshape(-1) >= 0  # a bare Sign's 0 counts as +1

    # Bisection over the input type's values in order: integers directly, float32 through
    # order-preserving integer keys (negative floats have their bit patterns reversed).
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        lo, hi = np.full(n, int(info.min), np.int64), np.full(n, int(info.max), np.int64)

        def to_value(key: NDArray[np.int64]) -> NDArray[Any]:
            return key
    else:
        limit = int(np.array(3e38, dtype=np.float32).view(np.int32))
        lo, hi = np.full(n, -limit, np.int64), np.full(n, limit, np.int64)

        def to_value(key: NDArray[np.int64]) -> NDArray[Any]:
            raw = np.where(key >= 0, key, -(2**31) - key).astype(np.int32)
            return raw.view(np.float32)

    rising = bit(to_value(hi))  # the bit is +1 for large inputs: x ≥ t; else x ≤ t
    constant = bit(to_value(lo)) == rising
    if constant.any():
        bad = int(np.flatnonzero(constant)[0])
        raise source.error(f"input element {bad} is binarised to a constant")
    while (hi - lo > 1).any():  # invariant: bit(lo) != rising, bit(hi) == rising
        mid = (lo + hi) // 2
        same = bit(to_value(mid)) == rising
        hi, lo = np.where(same, mid, hi), np.where(same, lo, mid)
    first_high, last_low = to_value(hi), to_value(lo)
    on = np.where(rising, first_high, last_low)
    off = np.where(rising, last_low, first_high)
    # Prefer round values when they fall on the right sides (e.g. 1.0 and 0.0 for images).
    for nice_on, nice_off in ((1, 0), (255, 0), (1, -1), (0, 1)):
        try_on = np.full(n, nice_on).astype(dtype)
        try_off = np.full(n, nice_off).astype(dtype)
        if bit(try_on).all() and not bit(try_off).any():
            on, off = try_on, try_off
            break
    conditions = []
    for flat in range(n):
        index = ",".join(map(str, np.unravel_index(flat, shape)))
        op = ">=" if rising[flat] else "<="
        value = first_high[flat] if rising[flat] else last_low[flat]
        conditions.append(f"{source.input.name}[{index}] {op} {np.asarray(value).item()!r}")
    return conditions, on, off


OPTION_HINT = "declare what the model is fed with --input-domain pm1|01|int:LO..HI|real"


def prefix_run(source: OnnxSource, engine: Engine | None, values: NDArray[Any]) -> NDArray[Any]:
    """The input bits' tensor for one input tensor (``engine`` None: the first layer reads
    the graph input itself)."""
    tensor = values.astype(np.dtype(source.input_dtype)).reshape(source.input_shape)
    if engine is None:
        return tensor
    with np.errstate(all="ignore"):
        return np.asarray(engine.run({source.input.name: tensor})[0])


def declared_values(
    source: OnnxSource, engine: Engine | None, consumer: onnx.NodeProto, domain: InputDomain
) -> tuple[float, float, bool]:
    """Under a binary input domain: the value the first linear layer reads for an input
    element at the domain's false and true value (v_false < v_true, the same for every
    element), and whether the domain's values had to be swapped so that the larger one is true
    (``True``: the domain's first value is the true bit)."""
    low, high = domain.values
    n = int(np.prod(source.input_shape))
    out_low = prefix_run(source, engine, np.full(n, low)).astype(np.float64).reshape(-1)
    out_high = prefix_run(source, engine, np.full(n, high)).astype(np.float64).reshape(-1)
    if out_low.size != n or out_high.size != n:
        raise source.error(
            f"the input's preprocessing does not map {n} input elements to {n} values", consumer
        )
    for what, out in (("low", out_low), ("high", out_high)):
        if not np.isfinite(out).all() or np.unique(out).size != 1:
            raise source.error(
                f"with --input-domain {domain}, the input elements at the domain's {what} "
                f"value reach this layer as different values ({np.unique(out)[:4].tolist()}); "
                "bnnc needs one value per domain value",
                consumer,
            )
    v_low, v_high = float(out_low[0]), float(out_high[0])
    if v_low == v_high:
        raise source.error(
            f"with --input-domain {domain}, both domain values reach this layer as {v_low}: "
            "the inputs would not matter",
            consumer,
        )
    return min(v_low, v_high), max(v_low, v_high), v_high < v_low


def domain_conditions(
    source: OnnxSource, domain: InputDomain, swapped: bool
) -> tuple[list[str], NDArray[Any], NDArray[Any]]:
    """Per input element under a binary domain: the condition for a true bit (``x[i] == v``)
    and the input values of a true and a false bit."""
    shape, dtype = source.input_shape, np.dtype(source.input_dtype)
    n = int(np.prod(shape))
    off, on = domain.values[::-1] if swapped else domain.values
    conditions = []
    shown = np.asarray(on).astype(dtype).item()
    for flat in range(n):
        index = ",".join(map(str, np.unravel_index(flat, shape)))
        conditions.append(f"{source.input.name}[{index}] == {shown!r}")
    return conditions, np.full(n, on).astype(dtype), np.full(n, off).astype(dtype)


def binarises(source: OnnxSource, engine: Engine | None) -> bool:
    """Whether the graph binarises its input itself (the probes of :func:`input_scale` give
    two values ±a)."""
    if engine is None:
        return False
    n = int(np.prod(source.input_shape))
    seen: set[float] = set()
    for value in (-3e38, -1.0, 0.0, 0.5, 1.0, 255.0, 3e38):
        out = prefix_run(source, engine, np.full(n, value))
        seen.update(np.unique(np.asarray(out, dtype=np.float64)).tolist())
    seen.discard(0.0)  # a bare Sign's 0 (read as +1)
    return len({abs(v) for v in seen}) == 1
