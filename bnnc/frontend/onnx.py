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
pre-activation, so the thresholds agree with the engine on every input.  The input bits are the
first binarisation of the model input; the preprocessing before it (``Mul``, ``Sub``, ``Div``, a
flatten) must be elementwise, and each bit's condition on the original input element is found by
bisection in the engine.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from bnnc.bnn import BnnModel, InnerBlock, OutputBlock
from bnnc.errors import ModelError
from bnnc.frontend.onnx_engine import Engine, constant_values, uses_custom_ops
from bnnc.tensor import frozen, ternary

SHAPE_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}
BINARISERS = {"BipolarQuant", "Quant", "MultiThreshold", "Sign"}
ELEMENTWISE = {
    "Add", "Sub", "Mul", "Div", "BatchNormalization", "Clip", "Relu", "Sign", "Neg",
    "Identity", "Cast", "BipolarQuant", "Quant", "MultiThreshold", "GreaterOrEqual", "Greater",
    "Where", "HardTanh", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
}  # fmt: skip
LABEL_OPS = {"ArgMax", "TopK"}


def warn(message: str) -> None:
    print(f"bnnc: warning: {message}", file=sys.stderr)


@dataclass
class _Block:
    layer: int  # the bits layer it reads (0 = input bits)
    node: onnx.NodeProto  # the MatMul or Gemm
    weights: NDArray[np.int8]  # (n_out, n_in) ternary
    unit: NDArray[np.float32]  # engine value of the pre-activation is unit · s, per neuron
    start: str  # the tensor the tail starts from (MatMul output / Gemm's product)
    end: str = ""  # the last tensor of the tail
    oracle: Callable[[NDArray[np.int64]], NDArray[Any]] | None = None  # built once, on demand


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


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.model = onnx.load(str(path))
        except FileNotFoundError:
            raise ModelError("no such file", where=str(path)) from None
        except Exception as err:  # onnx raises many types for a damaged file
            raise ModelError(f"not a readable ONNX model: {err}", where=str(path)) from None
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
        if node.op_type == "Gemm":
            if attrs.get("transA", 0):
                raise self.error("Gemm with transA=1 is not supported", node)
            weights = matrix if attrs.get("transB", 0) else matrix.T
            alpha = float(attrs.get("alpha", 1.0))
        else:
            weights, alpha = matrix.T, 1.0
        if weights.shape[1] != widths[kind.layer]:
            raise self.error(
                f"weights have {weights.shape[1]} inputs, the previous layer has "
                f"{widths[kind.layer]}",
                node,
            )
        magnitude = np.abs(weights).max(axis=1)
        safe = np.where(magnitude > 0, magnitude, 1)[:, None]
        ternary_rows = np.where(magnitude[:, None] > 0, weights / safe, 0)
        if not np.isin(ternary_rows, (-1.0, 0.0, 1.0)).all():
            raise self.error(
                "weights are not ±c multiples of ternary rows (not a binarised layer)", node
            )
        unit = (np.float64(kind.scale) * magnitude * alpha).astype(np.float64)
        mantissa, _ = np.frexp(unit[unit > 0])
        if (mantissa != 0.5).any():
            raise self.error(
                "the ±1 weights and activations are scaled by factors that are not powers of two "
                "(e.g. batch norm merged into the weights by the dynamo exporter); float "
                "accumulation would then depend on the order of the sum, which bnnc does not "
                "support yet",
                node,
            )
        start = node.output[0]
        block = _Block(kind.layer, node, ternary(ternary_rows), unit.astype(np.float32), start)
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
        """The sub-graph from the block's pre-activation to its end, with its constants."""
        # The block's own Gemm is replaced below, but its bias operand is still needed.
        gemm_bias = block.node.input[2:3] if block.node.op_type == "Gemm" else []
        nodes = self._slice(block.end, block.start, skip=block.node, also=gemm_bias)
        n_out = block.weights.shape[0]
        pre = "bnnc_preactivation"
        if gemm_bias and gemm_bias[0]:
            # Re-run the Gemm on the pre-activation times the identity: the engine adds the
            # bias exactly as it does in the model.
            attrs = {a.name: helper.get_attribute_value(a) for a in block.node.attribute}
            identity = numpy_helper.from_array(np.eye(n_out, dtype=np.float32), "bnnc_identity")
            gemm = helper.make_node(
                "Gemm",
                [pre, "bnnc_identity", gemm_bias[0]],
                [block.start],
                alpha=1.0,
                beta=float(attrs.get("beta", 1.0)),
            )
            head, extra = gemm, [identity]
        else:
            head, extra = helper.make_node("Identity", [pre], [block.start]), []
        # Keep the order topological: after the constants, before the first use of the block.
        first_use = next(
            (k for k, node in enumerate(nodes) if block.start in node.input), len(nodes)
        )
        nodes.insert(first_use, head)
        graph_input = helper.make_tensor_value_info(pre, TensorProto.FLOAT, None)
        return self._sub_model(nodes, graph_input, block.end, extra)

    def tail_oracle(self, block: _Block) -> Callable[[NDArray[np.int64]], NDArray[Any]]:
        """The block's tail, run by the model's engine, as a function of integer sums."""
        if block.oracle is not None:
            return block.oracle
        engine = Engine(self._tail_model(block), custom=self.custom)
        unit = block.unit

        def evaluate(preactivation: NDArray[np.int64]) -> NDArray[Any]:
            flat = preactivation.reshape(-1, preactivation.shape[-1])
            values = (flat.astype(np.float32) * unit).astype(np.float32)
            try:
                out = engine.run({"bnnc_preactivation": values})[0]
            except Exception:  # a tail with batch-1 reshapes: one row at a time
                out = np.concatenate(
                    [engine.run({"bnnc_preactivation": row[None, :]})[0] for row in values]
                )
            return np.asarray(out).reshape(preactivation.shape)

        block.oracle = evaluate
        return evaluate

    def _tail_values(self, block: _Block) -> tuple[NDArray[Any], NDArray[np.bool_]]:
        """The tail at every reachable pre-activation of every neuron (rows: −n′ + 2m)."""
        n_active = np.count_nonzero(block.weights, axis=1)
        m = np.arange(int(n_active.max(initial=0)) + 1)[:, None]
        sums = np.where(m <= n_active, 2 * m - n_active, 0)
        return self.tail_oracle(block)(sums.astype(np.int64)), m <= n_active

    def _tail_scale(self, block: _Block, consumer: onnx.NodeProto) -> float:
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
        if magnitudes.size == 1 and magnitudes[0] > 0 and self._ends_in_binariser(last):
            # A binarised output (±1 per class): an inner block, then argmax over its bits.
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

    def _prefix_engine(self) -> Engine:
        """The graph from the model input to the input bits, in the model's engine."""
        assert self.input_bits is not None
        if self._prefix is None:
            nodes = self._slice(self.input_bits, None)
            model = self._sub_model(nodes, self.input, self.input_bits)
            self._prefix = Engine(model, custom=self.custom)
        return self._prefix


Tail = Callable[[NDArray[np.int64]], NDArray[Any]]


def _fires(tail: Tail) -> Callable[[NDArray[np.int64]], NDArray[np.bool_]]:
    """A binarising tail as an activation: values ≥ 0 are +1 (a bare Sign's 0 included)."""
    return lambda s: np.asarray(tail(s) >= 0)


def _scores(tail: Tail) -> Callable[[NDArray[np.int64]], NDArray[np.float64]]:
    return lambda s: np.asarray(tail(s), dtype=np.float64)


def load_onnx(path: str | Path) -> BnnModel:
    """Read a BNN from an ONNX file; see the module docstring for the patterns."""
    return _Reader(Path(path)).read()
