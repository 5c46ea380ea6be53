"""Reading the blocks back in bnnc's trained form (:class:`~bnnc.ir.bnn.TrainedForm`), from the
operators of each tail: the graph's own bias and batch norm when the tail is literally
bias → batch norm → binarisation, else the tail's affine map z = p·t + q and its threshold θ.

The candidates are proposals only; ``bnnc.backend.onnx_text`` keeps one only if it compiles to
the model's own integer thresholds.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper

from bnnc.frontend.onnx.load import OnnxSource
from bnnc.frontend.onnx.tails import BINARISERS, NO_OPS, Block, tail_operators
from bnnc.ir.bnn import BatchNorm, InnerBlock, OutputBlock, TrainedForm
from bnnc.ir.tensor import frozen, ternary


class _NoTrainedForm(Exception):
    """A block's tail has no counterpart in the trained form (the message says why)."""


@dataclass(frozen=True)
class _Chain:
    """A tail read as z = p·t + q (real arithmetic, per neuron) and, for an inner block, the
    binarisation +1 ⇔ z ≥ θ; ``trained`` holds the graph's own bias and batch norm if any."""

    p: NDArray[np.float64]
    q: NDArray[np.float64]
    theta: NDArray[np.float64]
    trained: tuple[NDArray[np.float64], BatchNorm | None] | None


def read_back(source: OnnxSource, blocks: list[Block], binarised_output: bool) -> TrainedForm:
    """The blocks in bnnc's trained form, read back from the graph (:class:`TrainedForm`)."""
    inner: list[tuple[InnerBlock, ...]] = []
    output: tuple[OutputBlock, ...] = ()
    missing = ""
    for k, block in enumerate(blocks):
        name = f"layer{k + 1}"
        scores = k == len(blocks) - 1 and not binarised_output
        try:
            chain = _chain(source, block, scores)
        except _NoTrainedForm as why:
            missing = missing or f"block {name} (node {block.node.name}): {why}"
            chain = None
        if scores:
            output = () if chain is None else _output_options(block, chain)
            if chain is not None and not output:
                missing = missing or (
                    f"the output block (node {block.node.name}) scales each class by its "
                    "own factor (e.g. a batch norm after the last layer), which "
                    "argmax(A x + b) cannot express"
                )
        else:
            inner.append(() if chain is None else _inner_options(name, block, chain))
    if binarised_output:
        n = blocks[-1].weights.shape[0]
        output = (OutputBlock("argmax", ternary(np.eye(n)), frozen(np.zeros(n), np.float64)),)
    return TrainedForm(str(source.path), tuple(inner), output, missing)


def _chain(source: OnnxSource, block: Block, scores: bool) -> _Chain:
    """Read the block's tail as z = p·t + q (real arithmetic) followed, for an inner block,
    by a binarisation z ≥ θ; raise :class:`_NoTrainedForm` for anything else."""
    n = block.weights.shape[0]
    p, q = block.gain.copy(), block.offset.copy()
    # The graph's own parameters, if the tail is bias → batch norm → binarisation.
    literal = bool(np.all(block.gain == 1.0))
    bias, batchnorm = block.offset.copy(), None
    clip_low, clip_high = -math.inf, math.inf
    clipped = False
    for node in tail_operators(source, block):
        op = node.op_type
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if op in NO_OPS or (op == "Cast" and attrs.get("to") == TensorProto.FLOAT):
            continue
        dynamic = next(k for k, name in enumerate(node.input) if name in source.dynamic)
        operands = [source.const(name) for name in node.input]
        vector = functools.partial(_per_neuron, operands, op, n)

        if op in BINARISERS | {"GreaterOrEqual", "Greater"}:
            theta = _binariser_threshold(node, dynamic, operands, attrs, vector, n)
            if scores:
                raise _NoTrainedForm(f"the scores pass through {op}")
            if clipped and not bool(np.all((clip_low < theta) & (theta <= clip_high))):
                raise _NoTrainedForm("a Clip before the binarisation makes it constant")
            literal = literal and not bool(np.any(theta != 0))
            trained = (bias, batchnorm) if literal else None
            return _Chain(p, q, theta, trained)
        if clipped:
            raise _NoTrainedForm(f"{op} after a Clip or Relu")
        if op == "Add" or (op == "Sub" and dynamic == 0):
            k = vector(1 - dynamic) if op == "Add" else -vector(1)
            q = q + k
            literal = literal and batchnorm is None
            bias = bias + k
        elif op == "Sub":
            p, q, literal = -p, vector(0) - q, False
        elif op == "Mul":
            k = vector(1 - dynamic)
            p, q, literal = p * k, q * k, False
        elif op == "Div" and dynamic == 0:
            k = vector(1)
            p, q, literal = p / k, q / k, False
        elif op == "Neg":
            p, q, literal = -p, -q, False
        elif op == "BatchNormalization" and dynamic == 0:
            gamma, beta, mean, var = (vector(k) for k in range(1, 5))
            eps = float(attrs.get("epsilon", 1e-5))
            scale = gamma / np.sqrt(var + eps)
            p, q = p * scale, (q - mean) * scale + beta
            literal = literal and batchnorm is None
            batchnorm = BatchNorm(
                frozen(gamma, np.float64),
                frozen(beta, np.float64),
                frozen(mean, np.float64),
                frozen(var, np.float64),
                eps,
            )
        elif op in ("Clip", "Relu"):
            low, high = (0.0, math.inf) if op == "Relu" else _clip_bounds(node, operands)
            clip_low, clip_high, clipped = max(clip_low, low), min(clip_high, high), True
        else:
            raise _NoTrainedForm(f"{op} has no counterpart in bnnc's trained form")
    if not scores:
        raise _NoTrainedForm("the block is not binarised")
    if clipped:
        raise _NoTrainedForm("the scores are clipped")
    return _Chain(p, q, np.zeros(n), None)


def _binariser_threshold(
    node: onnx.NodeProto,
    dynamic: int,
    operands: list[NDArray[Any] | None],
    attrs: dict[str, Any],
    vector: Callable[[int], NDArray[np.float64]],
    n: int,
) -> NDArray[np.float64]:
    """θ per neuron such that the binariser gives +1 (a value ≥ 0) ⇔ its input ≥ θ."""
    op = node.op_type
    if dynamic != 0:
        raise _NoTrainedForm(f"{op} reads the pre-activation as its second operand")
    if op in ("BipolarQuant", "Quant"):
        scale = operands[1]
        bits = operands[3] if op == "Quant" and len(operands) > 3 else None
        if op == "Quant" and (bits is None or float(bits) != 1 or not attrs.get("signed", 1)):
            raise _NoTrainedForm("Quant is not a 1-bit signed quantiser")
        if scale is None or not bool(np.all(scale > 0)):
            raise _NoTrainedForm(f"{op} has a scale that is not positive")
    elif op == "MultiThreshold":
        thresholds = operands[1]
        low = float(attrs.get("out_bias", 0.0))
        high = float(attrs.get("out_scale", 1.0)) + low
        if thresholds is None or thresholds.ndim != 2 or thresholds.shape[1] != 1:
            raise _NoTrainedForm("MultiThreshold has more than one threshold per channel")
        if not low < 0 <= high:
            raise _NoTrainedForm("MultiThreshold does not give −/+ values")
        return np.array(np.broadcast_to(thresholds[:, 0].astype(np.float64), (n,)))
    elif op == "GreaterOrEqual":
        return vector(1)
    elif op == "Greater":  # x > k ⇔ x ≥ the next float32 above k
        k = vector(1).astype(np.float32)
        return np.nextafter(k, np.float32(np.inf)).astype(np.float64)
    elif op != "Sign":
        raise _NoTrainedForm(f"{op} is not a binarisation bnnc can read back")
    return np.zeros(n)


def _per_neuron(
    operands: list[NDArray[Any] | None], op: str, n: int, k: int
) -> NDArray[np.float64]:
    """Constant operand k of an elementwise operator, one value per neuron."""
    value = operands[k] if k < len(operands) else None
    if value is None:
        raise _NoTrainedForm(f"{op} has no constant operand {k}")
    try:
        flat = np.broadcast_to(np.asarray(value, np.float64), (1, n))
    except ValueError:
        raise _NoTrainedForm(f"the operand of {op} is not one value per neuron") from None
    return np.array(flat[0])


def _clip_bounds(node: onnx.NodeProto, operands: list[NDArray[Any] | None]) -> tuple[float, float]:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    bounds = [float(attrs.get("min", -math.inf)), float(attrs.get("max", math.inf))]
    for k in (1, 2):
        if len(node.input) > k and node.input[k]:
            value = operands[k]
            if value is None or value.size != 1:
                raise _NoTrainedForm("Clip bounds are not constant scalars")
            bounds[k - 1] = float(value.reshape(-1)[0])
    return bounds[0], bounds[1]


def _inner_options(name: str, block: Block, chain: _Chain) -> tuple[InnerBlock, ...]:
    n = block.weights.shape[0]
    options = []
    if chain.trained is not None:
        bias, batchnorm = chain.trained
        options.append(InnerBlock(name, block.weights, frozen(bias, np.float64), batchnorm))
    shift = chain.q - chain.theta
    if np.all(chain.p == 1.0):
        options.append(InnerBlock(name, block.weights, frozen(shift, np.float64), None))
    else:
        merged = BatchNorm(
            gamma=frozen(chain.p, np.float64),
            beta=frozen(shift, np.float64),
            mean=frozen(np.zeros(n), np.float64),
            var=frozen(np.ones(n), np.float64),
            eps=0.0,
        )
        options.append(InnerBlock(name, block.weights, frozen(np.zeros(n), np.float64), merged))
    return tuple(b for b in options if _finite(b))


def _finite(block: InnerBlock) -> bool:
    bn = block.batchnorm
    arrays = [block.bias] + ([] if bn is None else [bn.gamma, bn.beta, bn.mean, bn.var])
    return all(bool(np.isfinite(a).all()) for a in arrays)


def _output_options(block: Block, chain: _Chain) -> tuple[OutputBlock, ...]:
    """argmax(p·t + q) with one common p ≠ 0 is argmax(sign(p)·t + q/|p|)."""
    scale = float(chain.p[0])
    if not bool(np.all(chain.p == scale)) or scale == 0 or not math.isfinite(scale):
        return ()
    weights = ternary(np.sign(scale) * block.weights)
    bias = chain.q / abs(scale)
    if not bool(np.isfinite(bias).all()):
        return ()
    return (OutputBlock("output", weights, frozen(bias, np.float64)),)
