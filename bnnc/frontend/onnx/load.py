"""Reading an ONNX file: the model with its external data, its one input and static shape, the
tensors that do not depend on the input (folded once from a zero input), and the slicing of
sub-graphs out of it (a block's tail, the input's preprocessing) for the engine to run.

:class:`OnnxSource` is that file once read: a frozen record that the other modules of
this package take explicitly.  Errors and warnings name the file and, when there is one, the
node (:meth:`OnnxSource.error`, :func:`warn`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper
from onnx.external_data_helper import ExternalDataInfo, load_external_data_for_model

from bnnc.errors import ModelError
from bnnc.frontend.onnx.attributes import check_finite_operands, check_node_attributes
from bnnc.frontend.onnx.engine import STANDARD_DOMAINS, constant_values, uses_custom_ops
from bnnc.frontend.onnx.warn import warn as warn  # re-exported: the reader's modules use it
from bnnc.ir.bnn import check_input_size
from bnnc.ir.names import check_name, shown

QONNX_DOMAIN = "qonnx.custom_op.general"
QONNX_OPS = {"Quant", "BipolarQuant", "MultiThreshold"}  # not standard ONNX operators


def model_error(path: Path, message: str, node: onnx.NodeProto | None = None) -> ModelError:
    """A :class:`ModelError` that names the file and, if given, the node."""
    where = str(path)
    if node is not None:
        where += f": node {shown(node.name) if node.name else '(unnamed)'} ({node.op_type})"
    return ModelError(message, where=where)


@dataclass(frozen=True, eq=False)
class OnnxSource:
    """An ONNX file as bnnc reads it (built by :func:`read_source`)."""

    path: Path
    model: onnx.ModelProto
    graph: onnx.GraphProto  # model.graph
    input: onnx.ValueInfoProto  # the one graph input that is not an initialiser
    input_shape: tuple[int, ...]
    input_dtype: np.dtype[Any]
    custom: bool  # custom-domain operators: the engine is onnx's ReferenceEvaluator
    values: dict[str, Any]  # every tensor's value for a zero input (constants are folded)
    dynamic: frozenset[str]  # the tensors that depend on the input
    producer: dict[str, onnx.NodeProto]  # tensor name → the node that computes it

    def error(self, message: str, node: onnx.NodeProto | None = None) -> ModelError:
        return model_error(self.path, message, node)

    def const(self, name: str) -> NDArray[Any] | None:
        if not name or name in self.dynamic:
            return None
        return np.asarray(self.values[name])

    def slice(
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

    def sub_model(
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

    def path_between(self, start: str, end: str) -> list[onnx.NodeProto]:
        """The operators on the dynamic path from tensor ``start`` to tensor ``end``, in order."""
        path: list[onnx.NodeProto] = []
        name = end
        while name != start:
            node = self.producer[name]
            path.append(node)
            name = next(i for i in node.input if i in self.dynamic)
        return path[::-1]


def read_source(path: Path) -> OnnxSource:
    """Load the file, check that it has one input of static shape and one output, and fold the
    tensors that do not depend on the input."""
    model = _load_model(path)
    graph = model.graph
    _check_names(path, graph)
    # Older QONNX files write Quant/BipolarQuant/MultiThreshold in the default domain, where
    # onnx knows no such operator: read them as QONNX's own (their only definition).
    for node in graph.node:
        if node.domain in STANDARD_DOMAINS and node.op_type in QONNX_OPS:
            node.domain = QONNX_DOMAIN
    # QONNX zoo files often use a custom domain without importing it; declare it here.
    declared = {opset.domain for opset in model.opset_import}
    for domain in sorted({node.domain for node in graph.node} - declared):
        model.opset_import.append(helper.make_opsetid(domain, 1))
    initialisers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialisers]
    if len(inputs) != 1:
        names = ", ".join(shown(i.name) for i in inputs)
        raise model_error(path, f"the model has {len(inputs)} inputs ({names}); bnnc needs one")
    graph_input = inputs[0]
    input_shape = _static_shape(path, graph_input)
    input_dtype = helper.tensor_dtype_to_np_dtype(graph_input.type.tensor_type.elem_type)
    if len(graph.output) != 1:
        raise model_error(path, f"the model has {len(graph.output)} outputs; bnnc needs one")
    custom = uses_custom_ops(model)
    _check_model(path, model)
    dynamic = {graph_input.name}
    for node in graph.node:
        # Shape and Size of the input are static: its shape is (the flatten pattern).
        if node.op_type not in ("Shape", "Size") and any(
            name in dynamic for name in node.input if name
        ):
            dynamic.update(node.output)
    for node in graph.node:
        if any(name in dynamic for name in node.input if name):
            check_node_attributes(node, lambda message, n: model_error(path, message, n))
    zero = np.zeros(input_shape, dtype=input_dtype)
    try:
        values = constant_values(model, {graph_input.name: zero})
    except ModelError:
        raise
    except Exception as err:
        raise model_error(path, f"cannot evaluate the graph: {err}") from None
    constants = {name: value for name, value in values.items() if name not in dynamic}
    for node in graph.node:
        if any(name in dynamic for name in node.input if name):
            check_finite_operands(node, constants, lambda message, n: model_error(path, message, n))
    producer = {out: node for node in graph.node for out in node.output}
    return OnnxSource(
        path=path,
        model=model,
        graph=graph,
        input=graph_input,
        input_shape=input_shape,
        input_dtype=input_dtype,
        custom=custom,
        values=values,
        dynamic=frozenset(dynamic),
        producer=producer,
    )


def _check_model(path: Path, model: onnx.ModelProto) -> None:
    """onnx's own checker, with shape inference (``full_check``): a graph it rejects (an output
    defined twice, a node reading an undefined tensor, a bad attribute type) is not a model."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as err:
        raise model_error(path, f"invalid ONNX model: {err}") from None
    except ValueError as err:  # e.g. a model over 2 GB, which the checker only reads from disk
        raise model_error(path, f"invalid ONNX model: {err}") from None


def _check_names(path: Path, graph: onnx.GraphProto) -> None:
    """Refuse names that could not be printed on one line (they reach messages, conditions)."""
    values = [*graph.input, *graph.output, *graph.value_info]
    for what, name in [
        *(("node name", node.name) for node in graph.node),
        *(("tensor name", name) for node in graph.node for name in [*node.input, *node.output]),
        *(("tensor name", value.name) for value in values),
    ]:
        if not isinstance(name, str):  # protobuf hands over bytes that are not UTF-8
            raise model_error(path, f"a {what} is not UTF-8 text ({bytes(name)[:40]!r})")
        try:
            check_name(what, name)
        except ModelError as err:
            raise ModelError(err.message, where=str(path)) from None


def _static_shape(path: Path, value: onnx.ValueInfoProto) -> tuple[int, ...]:
    dims = []
    for k, dim in enumerate(value.type.tensor_type.shape.dim):
        if dim.dim_value > 0:
            dims.append(dim.dim_value)
        elif k == 0:
            dims.append(1)  # a symbolic batch dimension: bnnc reads one input at a time
        else:
            raise model_error(
                path,
                f"input {value.name!r} has a dynamic dimension {k} ({dim.dim_param!r}); "
                "bnnc needs a static input shape",
            )
    try:
        check_input_size(tuple(dims))
    except ModelError as err:
        raise model_error(path, err.message) from None
    return tuple(dims)


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
