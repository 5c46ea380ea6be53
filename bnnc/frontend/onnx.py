"""ONNX frontend: BNNs as Brevitas/QONNX, FINN, PyTorch and Larq export them.

The graph is read as a chain of *blocks*.  A block starts where a ``MatMul`` or ``Gemm`` reads
binarised values (±a) through a constant weight matrix whose rows are ±c multiples of a ternary
row, and continues through elementwise operators with constant operands (bias ``Add``,
``BatchNormalization``, ``Mul``/``Div``/``Sub``, ``Clip``, ``Sign``, ``BipolarQuant``, 1-bit
``Quant``, ``MultiThreshold``, ``GreaterOrEqual`` + ``Where``, …): its *tail*.  A block whose tail
feeds the next ``MatMul`` is an inner block; the last one is the output block, whose tail gives
the scores (an ``ArgMax``/``TopK`` after it is allowed; a tail that ends in a binarisation gets
an identity argmax over its ±1 outputs).

Operators are matched by ``op_type`` whatever their domain.  Constant sub-graphs (weight
quantisers, ``Transpose``, the ``Shape → Gather → Unsqueeze → Concat → Reshape`` flatten) are
folded from the static input shape.

Exactness: bnnc never re-implements a tail's arithmetic.  It cuts the tail out of the graph and
evaluates it in the model's own engine (``onnx_engine``) at every reachable integer
pre-activation, so the thresholds agree with the engine on every input.  The linear layer itself
computes gain·t + offset for the integer sum t = ⟨s, x⟩ of a ±1 row s (gain = α·a·c for
activations ±a, weights ±c and Gemm's α; offset = β·bias).  When gain is a power of two and the
bias sits on a fine enough grid, every partial sum is exact in float32, so the result is exactly
gain·t + offset whatever order the engine adds in.  Otherwise (e.g. PyTorch's dynamo exporter,
which merges batch norm into the weights, or a real-valued Gemm bias) the float32 result lies
within a rigorous bound of the real value for *every* summation order (Higham's γ_k bound, see
:func:`_rounding_bound`); bnnc evaluates the tail at both ends of that interval for every
reachable t and compiles only if the tail's decision is the same at both ends (the tail is
monotone), refusing otherwise with a message that names the node.  The input bits are the
first binarisation of the model input; the preprocessing before it (``Mul``, ``Sub``, ``Div``, a
flatten) must be elementwise, and each bit's condition on the original input element is found by
bisection in the engine.

Weights may sit in an external data file next to the model (``model.onnx.data``).
"""

from __future__ import annotations

import functools
import math
import sys
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper
from onnx.external_data_helper import ExternalDataInfo, load_external_data_for_model

from bnnc.errors import ModelError
from bnnc.frontend.onnx_engine import Engine, constant_values, uses_custom_ops
from bnnc.ir.bnn import BatchNorm, BnnModel, InnerBlock, OutputBlock
from bnnc.ir.tensor import frozen, ternary

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

UNIT_ROUNDOFF = 2.0**-24  # float32, round to nearest
SMALLEST_SUBNORMAL = 2.0**-149


def warn(message: str) -> None:
    print(f"bnnc: warning: {message}", file=sys.stderr)


@dataclass
class _Block:
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


@dataclass(frozen=True)
class TrainedForm:
    """A model's blocks in bnnc's trained form, read back from its ONNX graph.

    Per inner block, candidate blocks in order of preference: the graph's own parameters (bias,
    batch norm) when the tail is literally bias → batch norm → binarisation with ±1 weights and
    activations, then the tail's affine map as one batch norm (γ = the merged scale, β = the
    merged shift; e.g. PyTorch dynamo's c_j and bias).  Then the output block's candidates.  A
    candidate is only a proposal: ``bnnc.backend.onnx_text`` keeps it only if it compiles to
    the same integer thresholds as the model.  ``missing`` says why some block has none.
    """

    source: str
    inner: tuple[tuple[InnerBlock, ...], ...]
    output: tuple[OutputBlock, ...]
    missing: str


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


@dataclass
class _Bits:
    layer: int
    scale: float  # the bits take the values ±scale


@dataclass
class _Raw:
    """The model input, or an elementwise function of it (before the first binarisation)."""


@dataclass
class _Tail:
    block: int  # index into the blocks


def _load_model(path: Path) -> onnx.ModelProto:
    """The model with its external data (weights in a ``.onnx.data`` file beside it) loaded."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except FileNotFoundError:
        raise ModelError("no such file", where=str(path)) from None
    except Exception as err:  # onnx raises many types for a damaged file
        raise ModelError(f"not a readable ONNX model: {err}", where=str(path)) from None
    external = [
        t
        for t in [*model.graph.initializer, *_constant_tensors(model.graph)]
        if t.data_location == TensorProto.EXTERNAL
    ]
    if not external:
        return model
    base = path.resolve().parent
    for tensor in external:
        location = ExternalDataInfo(tensor).location
        if not (base / location).is_file():
            raise ModelError(
                f"tensor {tensor.name!r} is stored in the external data file {location!r}, "
                f"which is missing (expected at {base / location}); keep it beside the model",
                where=str(path),
            )
    try:
        load_external_data_for_model(model, str(base))
    except Exception as err:
        location = ExternalDataInfo(external[0]).location
        raise ModelError(
            f"cannot read the external data file {location!r}: {err}", where=str(path)
        ) from None
    return model


def _constant_tensors(graph: onnx.GraphProto) -> list[onnx.TensorProto]:
    """Tensors held by ``Constant`` nodes (they may use external data too)."""
    return [
        attr.t
        for node in graph.node
        for attr in node.attribute
        if attr.type == onnx.AttributeProto.TENSOR
    ]


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.model = _load_model(path)
        self.graph = self.model.graph
        # QONNX zoo files often use a custom domain without importing it; declare it here.
        declared = {opset.domain for opset in self.model.opset_import}
        for domain in sorted({node.domain for node in self.graph.node} - declared):
            self.model.opset_import.append(helper.make_opsetid(domain, 1))
        initialisers = {t.name for t in self.graph.initializer}
        inputs = [i for i in self.graph.input if i.name not in initialisers]
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs)
            raise self.error(f"the model has {len(inputs)} inputs ({names}); bnnc needs one")
        self.input = inputs[0]
        self.input_shape = self._static_shape(self.input)
        self.input_dtype = helper.tensor_dtype_to_np_dtype(self.input.type.tensor_type.elem_type)
        if len(self.graph.output) != 1:
            raise self.error(f"the model has {len(self.graph.output)} outputs; bnnc needs one")
        self.custom = uses_custom_ops(self.model)
        zero = np.zeros(self.input_shape, dtype=self.input_dtype)
        try:
            self.values = constant_values(self.model, {self.input.name: zero})
        except Exception as err:
            raise self.error(f"cannot evaluate the graph: {err}") from None
        self._prefix: Engine | None = None
        self.blocks: list[_Block] = []
        self.binarised_output = False
        self.dynamic = {self.input.name}
        for node in self.graph.node:
            # Shape and Size of the input are static: its shape is (the flatten pattern).
            if node.op_type not in ("Shape", "Size") and any(
                name in self.dynamic for name in node.input if name
            ):
                self.dynamic.update(node.output)
        self.producer = {out: node for node in self.graph.node for out in node.output}

    def error(self, message: str, node: onnx.NodeProto | None = None) -> ModelError:
        where = str(self.path)
        if node is not None:
            where += f": node {node.name or '(unnamed)'} ({node.op_type})"
        return ModelError(message, where=where)

    def _static_shape(self, value: onnx.ValueInfoProto) -> tuple[int, ...]:
        dims = []
        for k, dim in enumerate(value.type.tensor_type.shape.dim):
            if dim.dim_value > 0:
                dims.append(dim.dim_value)
            elif k == 0:
                dims.append(1)  # a symbolic batch dimension: bnnc reads one input at a time
            else:
                raise self.error(
                    f"input {value.name!r} has a dynamic dimension {k} ({dim.dim_param!r}); "
                    "bnnc needs a static input shape"
                )
        return tuple(dims)

    def const(self, name: str) -> NDArray[Any] | None:
        if not name or name in self.dynamic:
            return None
        return np.asarray(self.values[name])

    # ------------------------------------------------------------------ the walk

    def read(self) -> BnnModel:
        kinds: dict[str, _Raw | _Bits | _Tail] = {self.input.name: _Raw()}
        blocks: list[_Block] = []
        widths: list[int] = []  # width of each bits layer
        self.input_bits: str | None = None
        label_of: str | None = None
        for node in self.graph.node:
            dyn = [name for name in node.input if name in self.dynamic]
            if not dyn or node.op_type in ("Shape", "Size"):  # static: folded as constants
                continue
            kind = kinds.get(dyn[0])
            if node.op_type in ("MatMul", "Gemm"):
                self._linear(node, kinds, blocks, widths)
            elif node.op_type in LABEL_OPS:
                if not isinstance(kind, _Tail):
                    raise self.error("the label is taken before the output layer", node)
                blocks[kind.block].end = dyn[0]
                label_of = node.output[1] if node.op_type == "TopK" else node.output[0]
                for out in node.output:
                    kinds[out] = kind
            elif len(dyn) != 1 or node.op_type not in ELEMENTWISE | SHAPE_OPS:
                raise self.error(
                    "not part of a BNN block bnnc understands (expected a MatMul/Gemm reading "
                    "binarised values, or an elementwise operator with constant operands)",
                    node,
                )
            elif isinstance(kind, _Bits):
                if node.op_type not in SHAPE_OPS:
                    raise self.error(
                        "only reshapes may sit between a binarisation and the next MatMul", node
                    )
                kinds[node.output[0]] = kind
            elif kind is not None:
                kinds[node.output[0]] = kind
            else:
                raise self.error("reads a tensor bnnc has not classified", node)

        output = self.graph.output[0].name
        kind = kinds.get(output)
        if not isinstance(kind, _Tail):
            raise self.error(f"the output {output!r} is not computed by a final linear layer")
        last = blocks[kind.block]
        if not last.end:
            last.end = output
        if label_of is not None and output != label_of:
            raise self.error(f"the output {output!r} is not the index output of ArgMax/TopK")
        self.blocks = blocks
        return self._build(blocks, widths)

    def _linear(
        self,
        node: onnx.NodeProto,
        kinds: dict[str, _Raw | _Bits | _Tail],
        blocks: list[_Block],
        widths: list[int],
    ) -> None:
        a_name, b_name = node.input[0], node.input[1]
        kind = kinds.get(a_name)
        if isinstance(kind, _Tail):  # the previous block ends here: its tail feeds this layer
            prev = blocks[kind.block]
            prev.end = a_name
            scale = self._tail_scale(prev, node)
            widths.append(prev.weights.shape[0])
            kind = _Bits(kind.block + 1, scale)
        if isinstance(kind, _Raw):  # the input bits: an elementwise function of the input
            self.input_bits = a_name
            kind = _Bits(0, self._input_scale(node))
            widths.append(int(np.prod(self.input_shape)))
        if not isinstance(kind, _Bits):
            raise self.error("a linear layer reads a tensor bnnc has not classified", node)
        if kind.layer != len(blocks):
            raise self.error("a linear layer reads an earlier layer (skip connections)", node)
        matrix = self.const(b_name)
        if matrix is None or matrix.ndim != 2:
            raise self.error("the weight operand must be a constant matrix", node)
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        offset = np.zeros(0)
        if node.op_type == "Gemm":
            if attrs.get("transA", 0):
                raise self.error("Gemm with transA=1 is not supported", node)
            weights = matrix if attrs.get("transB", 0) else matrix.T
            alpha = float(attrs.get("alpha", 1.0))
            if len(node.input) > 2 and node.input[2]:
                bias = self.const(node.input[2])
                if bias is None:
                    raise self.error("the Gemm bias must be a constant", node)
                try:
                    bias = np.broadcast_to(bias, (1, weights.shape[0]))[0]
                except ValueError:
                    raise self.error(
                        f"the Gemm bias has shape {bias.shape}, not one value per neuron", node
                    ) from None
                # β·bias is exact in float64 (a product of two float32 values).
                offset = float(attrs.get("beta", 1.0)) * bias.astype(np.float64)
        else:
            weights, alpha = matrix.T, 1.0
        if weights.shape[1] != widths[kind.layer]:
            raise self.error(
                f"weights have {weights.shape[1]} inputs, the previous layer has "
                f"{widths[kind.layer]}",
                node,
            )
        if matrix.dtype != np.float32:
            raise self.error(f"weights are {matrix.dtype}; bnnc reads float32 layers", node)
        magnitude = np.abs(weights).max(axis=1)
        safe = np.where(magnitude > 0, magnitude, 1)[:, None]
        ternary_rows = np.where(magnitude[:, None] > 0, weights / safe, 0)
        if not np.isin(ternary_rows, (-1.0, 0.0, 1.0)).all():
            raise self.error(
                "weights are not ±c multiples of ternary rows (not a binarised layer)", node
            )
        rows = ternary(ternary_rows)
        n_out = rows.shape[0]
        if offset.size == 0:
            offset = np.zeros(n_out)
        # Each product is ±a·c (exact in float64: two float32 factors); α scales the sum.
        per_term = np.float64(kind.scale) * magnitude.astype(np.float64)
        gain = alpha * per_term
        n_active = np.count_nonzero(rows, axis=1)
        exact = _exact_in_every_order(alpha, per_term, offset, n_active)
        bound = None if exact.all() else _rounding_bound(gain, offset, n_active, rows.shape[1])
        start = node.output[0]
        block = _Block(kind.layer, node, rows, gain, offset, bound, start)
        blocks.append(block)
        kinds[node.output[0]] = _Tail(len(blocks) - 1)

    # ------------------------------------------------------------------ tails

    def _slice(
        self,
        target: str,
        stop: str | None,
        skip: onnx.NodeProto | None = None,
        also: Sequence[str] = (),
    ) -> list[onnx.NodeProto]:
        """The nodes that compute ``target`` (and ``also``), in graph order, walking back no
        further than the tensor ``stop`` and leaving out the node ``skip``."""
        needed: set[str] = {target, *also}
        order: list[onnx.NodeProto] = []
        for node in reversed(self.graph.node):
            if node is skip or not any(out in needed for out in node.output):
                continue
            order.append(node)
            needed.update(name for name in node.input if name and name != stop)
        return list(reversed(order))

    def _sub_model(
        self,
        nodes: list[onnx.NodeProto],
        graph_input: onnx.ValueInfoProto,
        output: str,
        extra: Sequence[onnx.TensorProto] = (),
    ) -> onnx.ModelProto:
        """A model of ``nodes`` with the initialisers they read, the model's opsets and IR."""
        used = {name for node in nodes for name in node.input}
        graph = helper.make_graph(
            nodes,
            "bnnc_slice",
            [graph_input],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
            [t for t in self.graph.initializer if t.name in used] + list(extra),
        )
        model = helper.make_model(graph, opset_imports=list(self.model.opset_import))
        model.ir_version = self.model.ir_version
        return model

    def _tail_model(self, block: _Block) -> onnx.ModelProto:
        """The sub-graph from the linear layer's output to the block's end, with its constants."""
        nodes = self._slice(block.end, block.start, skip=block.node)
        pre = "bnnc_preactivation"
        head = helper.make_node("Identity", [pre], [block.start])
        # Keep the order topological: after the constants, before the first use of the block.
        first_use = next(
            (k for k, node in enumerate(nodes) if block.start in node.input), len(nodes)
        )
        nodes.insert(first_use, head)
        graph_input = helper.make_tensor_value_info(pre, TensorProto.FLOAT, None)
        return self._sub_model(nodes, graph_input, block.end)

    def tail_run(self, block: _Block) -> Callable[[NDArray[np.float32]], NDArray[Any]]:
        """The block's tail, run by the model's engine, on linear-layer outputs (float32)."""
        if block.run is not None:
            return block.run
        engine = Engine(self._tail_model(block), custom=self.custom)

        def run(values: NDArray[np.float32]) -> NDArray[Any]:
            flat = np.asarray(values, dtype=np.float32).reshape(-1, values.shape[-1])
            try:
                out = engine.run({"bnnc_preactivation": flat})[0]
            except Exception:  # a tail with batch-1 reshapes: one row at a time
                out = np.concatenate(
                    [engine.run({"bnnc_preactivation": row[None, :]})[0] for row in flat]
                )
            return np.asarray(out).reshape(values.shape)

        block.run = run
        return run

    def tail_oracle(self, block: _Block) -> Callable[[NDArray[np.int64]], NDArray[Any]]:
        """The block's tail as a function of integer sums t: the engine's tail at the float32
        value of gain·t + offset (exact, or inside the band that :meth:`_check_band_fires` proves
        decides the same as every float32 result the linear layer can give)."""
        if block.oracle is not None:
            return block.oracle
        run = self.tail_run(block)
        gain, offset = block.gain, block.offset

        def evaluate(preactivation: NDArray[np.int64]) -> NDArray[Any]:
            return run((preactivation * gain + offset).astype(np.float32))

        block.oracle = evaluate
        return evaluate

    def _tail_values(self, block: _Block) -> tuple[NDArray[Any], NDArray[np.bool_]]:
        """The tail at every reachable pre-activation of every neuron (rows: −n′ + 2m)."""
        sums, reachable = _reachable(block.weights)
        return self.tail_oracle(block)(sums), reachable

    def _band(self, block: _Block) -> tuple[NDArray[Any], NDArray[Any], NDArray[np.bool_]]:
        """The tail at the float32 ends of [v − E, v + E] (v = gain·t + offset, E the rounding
        bound), rounded outwards, for every reachable t: every float32 result of the linear
        layer lies between them."""
        assert block.bound is not None
        sums, reachable = _reachable(block.weights)
        exact = sums * block.gain + block.offset
        low, high = exact - block.bound, exact + block.bound
        low32, high32 = low.astype(np.float32), high.astype(np.float32)
        low32 = np.where(low32 > low, np.nextafter(low32, np.float32(-np.inf)), low32)
        high32 = np.where(high32 < high, np.nextafter(high32, np.float32(np.inf)), high32)
        run = self.tail_run(block)
        return run(low32), run(high32), reachable

    def _check_monotone(self, block: _Block) -> None:
        """The interval argument needs a tail that is monotone in the linear output.  Every
        elementwise operator bnnc accepts is monotone in each operand on its own, except a
        division by the value and the parameters (not the data) of batch norms, clips and
        quantisers; those are refused."""
        for node in self._path(block):
            position = next(k for k, name in enumerate(node.input) if name in self.dynamic)
            if position != 0 and node.op_type not in MONOTONE_IN_ANY_OPERAND:
                raise self.error(
                    f"{node.op_type} reads the pre-activation as operand {position}, so the "
                    "block is not monotone in it; bnnc needs that to bound float summation "
                    "errors",
                    node,
                )

    def _path(self, block: _Block) -> list[onnx.NodeProto]:
        """The tail's operators from the linear output to the block's end, in order."""
        path: list[onnx.NodeProto] = []
        name = block.end
        while name != block.start:
            node = self.producer[name]
            path.append(node)
            name = next(i for i in node.input if i in self.dynamic)
        return path[::-1]

    def _order_error(self, block: _Block, detail: str) -> ModelError:
        return self.error(
            f"{detail}, so the model's decision there depends on the order in which the float "
            "sum is accumulated; bnnc refuses rather than guess",
            block.node,
        )

    def _value(self, block: _Block, neuron: int, t: int) -> str:
        exact = float(block.gain[neuron] * t + block.offset[neuron])
        assert block.bound is not None
        return f"{exact:.9g} ± {float(block.bound[neuron]):.2g}"

    def _check_band_fires(self, block: _Block) -> None:
        """A binarising tail must give the same value at both ends of every band."""
        if block.bound is None or block.band_checked:
            return
        self._check_monotone(block)
        low, high, reachable = self._band(block)
        undecided = reachable & (low != high)
        if undecided.any():
            m, neuron = (int(k) for k in np.argwhere(undecided)[0])
            t = 2 * m - int(np.count_nonzero(block.weights[neuron]))
            raise self._order_error(
                block,
                f"neuron {neuron} at the integer sum {t}: the layer's float32 result "
                f"({self._value(block, neuron, t)}) may fall on either side of the point where "
                "the next operators switch",
            )
        block.band_checked = True

    def _check_band_scores(self, block: _Block) -> None:
        """Scores: every reachable pair of classes must compare the same way everywhere in
        their bands (class c < j wins ties, as ArgMax does)."""
        if block.bound is None or block.band_checked:
            return
        self._check_monotone(block)
        low_raw, high_raw, _ = self._band(block)
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
                    raise self._order_error(
                        block,
                        f"classes {c} and {j} at the integer sums {t_c} and {t_j}: their "
                        f"float32 scores ({self._value(block, c, t_c)} and "
                        f"{self._value(block, j, t_j)}) may compare either way",
                    )
        block.band_checked = True

    def _tail_scale(self, block: _Block, consumer: onnx.NodeProto) -> float:
        self._check_band_fires(block)
        values, reachable = self._tail_values(block)
        seen = np.unique(np.abs(values[reachable]))
        nonzero = seen[seen != 0]
        end_node = self.producer.get(block.end)
        ends_in_sign = end_node is not None and end_node.op_type == "Sign"
        if nonzero.size != 1 or (0 in seen and not ends_in_sign):
            raise self.error(
                f"the block ending at {block.end!r} does not produce two values ±a before the "
                f"next linear layer (found magnitudes {seen[:6].tolist()})",
                consumer,
            )
        if (values[reachable] == 0).any():
            assert end_node is not None
            sign = f"{end_node.name or '(unnamed)'} (Sign)"
            warn(
                f"{self.path}: node {sign}: ONNX Sign maps a reachable zero pre-activation to 0; "
                "bnnc binarises it as +1 (sign(0) = +1), so on such inputs the formula follows "
                "sign(0) = +1, not the graph"
            )
        return float(nonzero[0])

    def _input_scale(self, consumer: onnx.NodeProto) -> float:
        """The input bits take two values ±a: check at the extremes and around zero."""
        engine = self._prefix_engine()
        dtype = np.dtype(self.input_dtype)
        probes: list[float]
        if np.issubdtype(dtype, np.integer):
            probes = [float(np.iinfo(dtype).min), 0.0, 1.0, float(np.iinfo(dtype).max)]
        else:
            probes = [-3e38, -1.0, 0.0, 0.5, 1.0, 255.0, 3e38]
        seen: set[float] = set()
        for value in probes:
            tensor = np.full(self.input_shape, value).astype(dtype)
            with np.errstate(all="ignore"):
                out = engine.run({self.input.name: tensor})[0]
            seen.update(np.unique(np.asarray(out, dtype=np.float64)).tolist())
        producer = self.producer.get(consumer.input[0])
        if 0.0 in seen and producer is not None and producer.op_type == "Sign":
            warn(
                f"{self.path}: node {producer.name or '(unnamed)'} (Sign): ONNX Sign maps an "
                "input of exactly 0 to 0; bnnc binarises it as +1 (sign(0) = +1), so for such "
                "inputs the formula follows sign(0) = +1, not the graph"
            )
            seen.discard(0.0)
        magnitudes = {abs(v) for v in seen}
        if len(magnitudes) != 1 or 0.0 in magnitudes:
            raise self.error(
                f"the input reaches this layer with values {sorted(seen)[:6]}, not ±a: the "
                "input must be binarised (e.g. BipolarQuant, Sign, MultiThreshold) first",
                consumer,
            )
        return magnitudes.pop()

    # ------------------------------------------------------------------ assembling

    def _build(self, blocks: list[_Block], widths: list[int]) -> BnnModel:
        inner = []
        for k, block in enumerate(blocks[:-1]):
            oracle = self.tail_oracle(block)
            inner.append(
                InnerBlock(
                    name=f"layer{k + 1}",
                    weights=block.weights,
                    bias=frozen(np.zeros(block.weights.shape[0]), np.float64),
                    batchnorm=None,
                    oracle=_fires(oracle),
                )
            )
        last = blocks[-1]
        values, reachable = self._tail_values(last)
        magnitudes = np.unique(np.abs(values[reachable]))
        score_oracle = self.tail_oracle(last)  # cached by _tail_values
        n_classes = last.weights.shape[0]
        self.binarised_output = bool(
            magnitudes.size == 1 and magnitudes[0] > 0 and self._ends_in_binariser(last)
        )
        if self.binarised_output:
            # A binarised output (±1 per class): an inner block, then argmax over its bits.
            self._check_band_fires(last)
            inner.append(
                InnerBlock(
                    name=f"layer{len(blocks)}",
                    weights=last.weights,
                    bias=frozen(np.zeros(n_classes), np.float64),
                    batchnorm=None,
                    oracle=_fires(score_oracle),
                )
            )
            output = OutputBlock(
                "argmax", ternary(np.eye(n_classes)), frozen(np.zeros(n_classes), np.float64)
            )
        else:
            self._check_band_scores(last)
            output = OutputBlock(
                "output",
                last.weights,
                frozen(np.zeros(n_classes), np.float64),
                oracle=_scores(score_oracle),
            )
        conditions, on_values, off_values = self._input_conditions()
        engine = Engine(self.model, custom=self.custom)
        shape = self.input_shape
        dtype = self.input_dtype
        name = self.input.name
        single_label = self._label_output()

        def run_model(bits: NDArray[np.bool_]) -> NDArray[np.int64]:
            batch = np.asarray(bits, dtype=bool).reshape(-1, int(np.prod(shape)))
            labels = []
            for row in batch:
                tensor = np.where(row, on_values, off_values).astype(dtype).reshape(shape)
                out = engine.run({name: tensor})[0]
                flat = np.asarray(out).reshape(-1)
                labels.append(int(flat[0]) if single_label else int(np.argmax(flat)))
            return np.asarray(labels, dtype=np.int64).reshape(np.asarray(bits).shape[:-1])

        model = BnnModel(
            name=Path(self.path).stem.replace("-", "_").replace(".", "_"),
            input_shape=shape,
            blocks=tuple(inner),
            output=output,
            arithmetic="float32",
            input_conditions=tuple(conditions),
            framework_predict=run_model,
        )
        model.verify()
        _READERS[model] = self
        return model

    def _ends_in_binariser(self, block: _Block) -> bool:
        node = self.producer.get(block.end)
        return node is not None and node.op_type in BINARISERS | {"Where"}

    def _label_output(self) -> bool:
        node = self.producer.get(self.graph.output[0].name)
        return node is not None and node.op_type in LABEL_OPS

    def _input_conditions(self) -> tuple[list[str], NDArray[Any], NDArray[Any]]:
        """Per input element: the condition on the original input that makes its bit +1, and
        an input value with the bit +1 and one with the bit −1 (for witness tensors)."""
        if self.input_bits is None:
            raise self.error("the input is never binarised")
        engine = self._prefix_engine()
        shape, dtype = self.input_shape, np.dtype(self.input_dtype)
        n = int(np.prod(shape))

        def bit(values: NDArray[Any]) -> NDArray[np.bool_]:
            with np.errstate(all="ignore"):  # the probes at ±3e38 overflow on purpose
                out = engine.run({self.input.name: values.astype(dtype).reshape(shape)})[0]
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
            raise self.error(f"input element {bad} is binarised to a constant")
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
            conditions.append(f"{self.input.name}[{index}] {op} {np.asarray(value).item()!r}")
        return conditions, on, off

    # ------------------------------------------------------------------ trained form

    def trained_form(self) -> TrainedForm:
        """The blocks in bnnc's trained form, read back from the graph (:class:`TrainedForm`)."""
        inner: list[tuple[InnerBlock, ...]] = []
        output: tuple[OutputBlock, ...] = ()
        missing = ""
        for k, block in enumerate(self.blocks):
            name = f"layer{k + 1}"
            scores = k == len(self.blocks) - 1 and not self.binarised_output
            try:
                chain = self._chain(block, scores)
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
        if self.binarised_output:
            n = self.blocks[-1].weights.shape[0]
            output = (OutputBlock("argmax", ternary(np.eye(n)), frozen(np.zeros(n), np.float64)),)
        return TrainedForm(str(self.path), tuple(inner), output, missing)

    def _chain(self, block: _Block, scores: bool) -> _Chain:
        """Read the block's tail as z = p·t + q (real arithmetic) followed, for an inner block,
        by a binarisation z ≥ θ; raise :class:`_NoTrainedForm` for anything else."""
        n = block.weights.shape[0]
        p, q = block.gain.copy(), block.offset.copy()
        # The graph's own parameters, if the tail is bias → batch norm → binarisation.
        literal = bool(np.all(block.gain == 1.0))
        bias, batchnorm = block.offset.copy(), None
        clip_low, clip_high = -math.inf, math.inf
        clipped = False
        for node in self._path(block):
            op = node.op_type
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if op in NO_OPS or (op == "Cast" and attrs.get("to") == TensorProto.FLOAT):
                continue
            dynamic = next(k for k, name in enumerate(node.input) if name in self.dynamic)
            operands = [self.const(name) for name in node.input]
            vector = functools.partial(_per_neuron, operands, op, n)

            if op in BINARISERS | {"GreaterOrEqual", "Greater"}:
                theta = self._binariser_threshold(node, dynamic, operands, attrs, vector, n)
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

    @staticmethod
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

    def _prefix_engine(self) -> Engine:
        """The graph from the model input to the input bits, in the model's engine."""
        assert self.input_bits is not None
        if self._prefix is None:
            nodes = self._slice(self.input_bits, None)
            model = self._sub_model(nodes, self.input, self.input_bits)
            self._prefix = Engine(model, custom=self.custom)
        return self._prefix


Tail = Callable[[NDArray[np.int64]], NDArray[Any]]


def _lowest_bit(x: float) -> float:
    """The value of the lowest set bit of a finite nonzero float (x = odd · that)."""
    mantissa, exponent = math.frexp(abs(x))
    integer = int(mantissa * 2**53)  # exact: a float64 mantissa has 53 bits
    return math.ldexp(float(integer & -integer), exponent - 53)


def _is_power_of_two(x: float) -> bool:
    return x != 0 and math.isfinite(x) and math.frexp(abs(x))[0] == 0.5


def _exact_in_every_order(
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


def _rounding_bound(
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


def _reachable(weights: NDArray[np.int8]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Row m holds every neuron's m-th smallest reachable sum −n′ + 2m (0 past n′)."""
    n_active = np.count_nonzero(weights, axis=1)
    m = np.arange(int(n_active.max(initial=0)) + 1)[:, None]
    reachable = m <= n_active
    return np.where(reachable, 2 * m - n_active, 0).astype(np.int64), reachable


def _fires(tail: Tail) -> Callable[[NDArray[np.int64]], NDArray[np.bool_]]:
    """A binarising tail as an activation: values ≥ 0 are +1 (a bare Sign's 0 included)."""
    return lambda s: np.asarray(tail(s) >= 0)


def _scores(tail: Tail) -> Callable[[NDArray[np.int64]], NDArray[np.float64]]:
    return lambda s: np.asarray(tail(s), dtype=np.float64)


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


def _inner_options(name: str, block: _Block, chain: _Chain) -> tuple[InnerBlock, ...]:
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


def _output_options(block: _Block, chain: _Chain) -> tuple[OutputBlock, ...]:
    """argmax(p·t + q) with one common p ≠ 0 is argmax(sign(p)·t + q/|p|)."""
    scale = float(chain.p[0])
    if not bool(np.all(chain.p == scale)) or scale == 0 or not math.isfinite(scale):
        return ()
    weights = ternary(np.sign(scale) * block.weights)
    bias = chain.q / abs(scale)
    if not bool(np.isfinite(bias).all()):
        return ()
    return (OutputBlock("output", weights, frozen(bias, np.float64)),)


_READERS: weakref.WeakKeyDictionary[BnnModel, _Reader] = weakref.WeakKeyDictionary()


def trained_form(model: BnnModel) -> TrainedForm | None:
    """The trained form read back from the graph of a model that :func:`load_onnx` returned
    (None for any other model)."""
    reader = _READERS.get(model)
    return None if reader is None else reader.trained_form()


def load_onnx(path: str | Path) -> BnnModel:
    """Read a BNN from an ONNX file; see the module docstring for the patterns."""
    return _Reader(Path(path)).read()
