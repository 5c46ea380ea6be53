"""Blocks and their tails: the operators bnnc accepts after a binarised linear layer, and the
tail cut out of the graph and run in the model's own engine (so that bnnc never re-implements
the tail's arithmetic, see the package docstring).  The input's preprocessing, up to its first
binarisation, is cut out and run the same way (:func:`prefix_engine`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper

from bnnc.frontend.onnx.engine import Engine
from bnnc.frontend.onnx.load import OnnxSource
from bnnc.ir.conv import Structure

SHAPE_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}
BINARISERS = {"BipolarQuant", "Quant", "MultiThreshold", "Sign"}
ELEMENTWISE = {
    "Add", "Sub", "Mul", "Div", "BatchNormalization", "Clip", "Relu", "Sign", "Neg",
    "Identity", "Cast", "BipolarQuant", "Quant", "MultiThreshold", "GreaterOrEqual", "Greater",
    "Where", "HardTanh", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
}  # fmt: skip
LABEL_OPS = {"ArgMax", "TopK"}
NO_OPS = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze"}
# Monotone in whichever operand is the dynamic one (the others constant); the rest only in x.
MONOTONE_IN_ANY_OPERAND = {"Add", "Sub", "Mul", "Where", "GreaterOrEqual", "Greater"}

Tail = Callable[[NDArray[np.int64]], NDArray[Any]]


@dataclass
class Block:
    """A binarised linear layer and its tail.  Mutable: the walk sets ``end`` when it reaches
    the next layer, and the engine runs and checks are cached here, built once."""

    layer: int  # the bits layer it reads (0 = input bits)
    node: onnx.NodeProto  # the MatMul or Gemm
    weights: NDArray[np.int8]  # (n_out, n_in) ternary
    # Per neuron, the linear layer's output is gain·t + offset in real arithmetic, for the
    # integer sum t = ⟨weights row, x⟩ over x ∈ {−1, +1}ⁿ.
    gain: NDArray[np.float64]
    offset: NDArray[np.float64]
    # Per neuron, a bound on |float32 result − (gain·t + offset)| valid for every summation
    # order, or None when the float32 result is exactly gain·t + offset in every order.
    bound: NDArray[np.float64] | None
    start: str  # the tensor the tail starts from (the MatMul / Gemm output)
    end: str = ""  # the last tensor of the tail
    run: Callable[[NDArray[np.float32]], NDArray[Any]] | None = None  # the tail, built once
    oracle: Callable[[NDArray[np.int64]], NDArray[Any]] | None = None  # built once, on demand
    band_checked: bool = False
    # Convolution and pooling blocks (bnnc.frontend.onnx.conv): the shared structure, and per
    # element of the tail's first and last tensors (batch axis included), the neuron it is.
    structure: Structure | None = None
    in_index: NDArray[np.int64] | None = None
    end_index: NDArray[np.int64] | None = None
    # A MaxPool inside the tail (before the binarisation): run as Identity, so the tail gives
    # each conv neuron's own bit; the pooling becomes a layer of its own.
    pool_node: onnx.NodeProto | None = None


def tail_operators(source: OnnxSource, block: Block) -> list[onnx.NodeProto]:
    """The tail's operators from the linear output to the block's end, in order."""
    return source.path_between(block.start, block.end)


def _tail_model(source: OnnxSource, block: Block) -> onnx.ModelProto:
    """The sub-graph from the linear layer's output to the block's end, with its constants."""
    nodes = source.slice(block.end, block.start, skip=block.node)
    if block.pool_node is not None:
        pool = block.pool_node
        nodes = [
            helper.make_node("Identity", [pool.input[0]], [pool.output[0]], name="bnnc_pool")
            if list(node.output) == list(pool.output)
            else node
            for node in nodes
        ]
    pre = "bnnc_preactivation"
    head = helper.make_node("Identity", [pre], [block.start])
    # Keep the order topological: after the constants, before the first use of the block.
    first_use = next((k for k, node in enumerate(nodes) if block.start in node.input), len(nodes))
    nodes.insert(first_use, head)
    graph_input = helper.make_tensor_value_info(pre, TensorProto.FLOAT, None)
    return source.sub_model(nodes, graph_input, block.end)


def tail_run(source: OnnxSource, block: Block) -> Callable[[NDArray[np.float32]], NDArray[Any]]:
    """The block's tail, run by the model's engine, on linear-layer outputs (float32)."""
    if block.run is not None:
        return block.run
    engine = Engine(_tail_model(source, block), custom=source.custom)

    def run(values: NDArray[np.float32]) -> NDArray[Any]:
        flat = np.asarray(values, dtype=np.float32).reshape(-1, values.shape[-1])
        if block.in_index is not None:  # neurons → the start tensor's layout (NCHW, NHWC)
            flat = flat[:, block.in_index.reshape(-1)].reshape(-1, *block.in_index.shape[1:])
        try:
            out = engine.run({"bnnc_preactivation": flat})[0]
        except Exception:  # a tail with batch-1 reshapes: one row at a time
            out = np.concatenate([engine.run({"bnnc_preactivation": row[None]})[0] for row in flat])
        out = np.asarray(out).reshape(len(flat), -1)
        if block.end_index is not None:  # the end tensor's layout → neurons
            ordered = np.empty_like(out)
            ordered[:, block.end_index.reshape(-1)] = out
            out = ordered
        return out.reshape(values.shape)

    block.run = run
    return run


def tail_oracle(source: OnnxSource, block: Block) -> Callable[[NDArray[np.int64]], NDArray[Any]]:
    """The block's tail as a function of integer sums t: the engine's tail at the float32
    value of gain·t + offset (exact, or inside the band that
    :func:`~bnnc.frontend.onnx.exactness.check_band_fires` proves decides the same as every
    float32 result the linear layer can give)."""
    if block.oracle is not None:
        return block.oracle
    run = tail_run(source, block)
    gain, offset = block.gain, block.offset

    def evaluate(preactivation: NDArray[np.int64]) -> NDArray[Any]:
        return run((preactivation * gain + offset).astype(np.float32))

    block.oracle = evaluate
    return evaluate


def prefix_engine(source: OnnxSource, input_bits: str) -> Engine:
    """The graph from the model input to the input bits (the tensor ``input_bits``), in the
    model's engine."""
    nodes = source.slice(input_bits, None)
    if not nodes:  # the first layer reads the graph input itself
        nodes = [helper.make_node("Identity", [input_bits], ["bnnc_input_bits"])]
        input_bits = "bnnc_input_bits"
    model = source.sub_model(nodes, source.input, input_bits)
    return Engine(model, custom=source.custom)


def fires(tail: Tail) -> Callable[[NDArray[np.int64]], NDArray[np.bool_]]:
    """A binarising tail as an activation: values ≥ 0 are +1 (a bare Sign's 0 included)."""
    return lambda s: np.asarray(tail(s) >= 0)


def scores(tail: Tail) -> Callable[[NDArray[np.int64]], NDArray[np.float64]]:
    return lambda s: np.asarray(tail(s), dtype=np.float64)
