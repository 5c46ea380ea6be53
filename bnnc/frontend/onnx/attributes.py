"""Every operator bnnc reads on the input's path, the attributes it honours and their allowed
values: the one table that decides whether a node's attributes mean what bnnc compiles.

bnnc interprets some operators itself (``MatMul``/``Gemm`` become ternary rows, ``ArgMax``/
``TopK`` the formula's argmax with ties to the lowest class, the reshapes are read as no-ops
between layers) and runs the others in the model's own engine (the tails, see ``tails``), where
the engine honours their attributes.  Either way an attribute that is not in the table, or a
value the table does not allow, is refused here, by name, before anything is compiled: a
formula must never silently follow a different model than the file's (``ArgMax
select_last_index=1`` breaks ties to the highest class, which bnnc's argmax does not).

The same walk refuses NaN and infinite constants that a dynamic node reads (weights, biases,
batch-norm parameters, tail constants): bnnc's exactness bounds need finite numbers, and a NaN
score has no order for the argmax to follow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import onnx
from onnx import helper

from bnnc.errors import ModelError
from bnnc.ir.names import shown

Allowed = Callable[[Any, onnx.NodeProto], bool]


def _any(_value: Any, _node: onnx.NodeProto) -> bool:
    return True


def _equals(*allowed: Any) -> Allowed:
    return lambda value, _node: value in allowed


def _last_axis(value: Any, _node: onnx.NodeProto) -> bool:
    # The label ops read scores of shape (1, classes) or (classes,): the class axis is the last.
    return value in (-1, 1)


def _finite(value: Any, _node: onnx.NodeProto) -> bool:
    return bool(np.isfinite(value))


def _positive(value: Any, _node: onnx.NodeProto) -> bool:
    return all(int(v) > 0 for v in value)


def _text(*allowed: str) -> Allowed:
    def check(value: Any, _node: onnx.NodeProto) -> bool:
        text = value.decode() if isinstance(value, bytes) else str(value)
        return text in allowed

    return check


# op_type → {attribute: (allowed values described for the message, check)}.  An operator that
# is not listed is refused by the walk (patterns) when it sits on the input's path; constant
# sub-graphs are folded by onnx's reference evaluator, which honours every attribute.
_ENGINE = ("any value (the model's engine applies it)", _any)
TABLE: Mapping[str, Mapping[str, tuple[str, Allowed]]] = {
    "MatMul": {},
    "Gemm": {
        "transA": ("0", _equals(0)),
        "transB": ("0 or 1", _equals(0, 1)),
        "alpha": ("a finite number", _finite),
        "beta": ("a finite number", _finite),
    },
    "ArgMax": {
        "axis": ("the class axis (1 or -1)", _last_axis),
        "keepdims": ("0 or 1", _equals(0, 1)),
        "select_last_index": ("0 (ties go to the lowest class)", _equals(0)),
    },
    "TopK": {
        "axis": ("the class axis (1 or -1)", _last_axis),
        "largest": ("1", _equals(1)),
        "sorted": ("0 or 1", _equals(0, 1)),
    },
    "BatchNormalization": {
        "epsilon": ("a finite number ≥ 0", lambda v, _n: bool(np.isfinite(v) and v >= 0)),
        "momentum": _ENGINE,  # only used in training mode
        "training_mode": ("0 (inference)", _equals(0)),
        "spatial": ("1", _equals(1)),
        "is_test": ("1", _equals(1)),
        "consumed_inputs": _ENGINE,
    },
    "Flatten": {"axis": ("1", _equals(1))},
    # allowzero=1 (dynamo's flatten) only matters for a 0 in the shape, which gives an empty
    # tensor that no layer reads; bnnc follows the shape the engine computes.
    "Reshape": {"allowzero": ("0 or 1", _equals(0, 1))},
    "Squeeze": {"axes": _ENGINE},
    "Unsqueeze": {"axes": _ENGINE},
    "Identity": {},
    "Add": {"broadcast": _ENGINE, "axis": _ENGINE},
    "Sub": {"broadcast": _ENGINE, "axis": _ENGINE},
    "Mul": {"broadcast": _ENGINE, "axis": _ENGINE},
    "Div": {"broadcast": _ENGINE, "axis": _ENGINE},
    "Sign": {},
    "Neg": {},
    "Relu": {},
    "Clip": {"min": ("a number", _any), "max": ("a number", _any)},
    "HardTanh": {"min_val": ("a number", _any), "max_val": ("a number", _any)},
    "Cast": {"to": ("FLOAT", _equals(onnx.TensorProto.FLOAT)), "saturate": _ENGINE},
    "GreaterOrEqual": {},
    "Greater": {},
    "Where": {},
    # Convolutional layers (bnnc.frontend.onnx.conv reads their geometry itself).
    "Conv": {
        "auto_pad": ("NOTSET or VALID", _text("NOTSET", "VALID")),
        "dilations": ("positive sizes", _positive),
        "group": ("a positive number", lambda v, _n: isinstance(v, int) and v > 0),
        "kernel_shape": ("the kernel's size", _any),
        "pads": ("sizes ≥ 0", lambda v, _n: all(int(p) >= 0 for p in v)),
        "strides": ("positive sizes", _positive),
    },
    "MaxPool": {
        "auto_pad": ("NOTSET or VALID", _text("NOTSET", "VALID")),
        "ceil_mode": ("0 or 1", _equals(0, 1)),
        "dilations": ("positive sizes", _positive),
        "kernel_shape": ("positive sizes", _positive),
        "pads": ("sizes ≥ 0", lambda v, _n: all(int(p) >= 0 for p in v)),
        "storage_order": ("0", _equals(0)),
        "strides": ("positive sizes", _positive),
    },
    "Transpose": {"perm": ("a permutation", _any)},
    "Softmax": {"axis": ("the class axis (1 or -1)", _last_axis)},
    # Custom-domain operators that bnnc's engine implements (bnnc.frontend.onnx.engine).
    "BipolarQuant": {},
    "Quant": {
        "signed": ("0 or 1", _equals(0, 1)),
        "narrow": ("0 or 1", _equals(0, 1)),
        "rounding_mode": ("ROUND, CEIL or FLOOR", _text("ROUND", "CEIL", "FLOOR")),
    },
    "MultiThreshold": {
        "out_scale": ("a finite number", _finite),
        "out_bias": ("a finite number", _finite),
        "out_dtype": _ENGINE,  # an annotation (e.g. BIPOLAR); the values follow scale and bias
        "data_layout": ("NCHW or NC (channels on axis 1)", _text("NCHW", "NC")),
    },
    # Read only by their shape: their input is the model input, which is static.
    "Shape": {"start": _ENGINE, "end": _ENGINE},
    "Size": {},
}


def check_node_attributes(
    node: onnx.NodeProto, error: Callable[[str, onnx.NodeProto], ModelError]
) -> None:
    """Refuse an attribute of ``node`` that the table does not list, or a value it does not
    allow.  ``node`` is on the input's path; an operator missing from the table is left to
    the walk, which refuses it with its own message."""
    table = TABLE.get(node.op_type)
    if table is None:
        return
    for attribute in node.attribute:
        entry = table.get(attribute.name)
        if entry is None:
            honoured = ", ".join(sorted(table)) or "none"
            raise error(
                f"attribute {shown(attribute.name)} of {node.op_type} is not supported "
                f"(bnnc honours: {honoured})",
                node,
            )
        allowed, check = entry
        value = helper.get_attribute_value(attribute)
        try:
            ok = check(value, node)
        except (TypeError, ValueError, UnicodeDecodeError):
            ok = False
        if not ok:
            raise error(
                f"{node.op_type} {attribute.name}={_value_text(value)} is not supported "
                f"(bnnc needs {allowed})",
                node,
            )


def check_finite_operands(
    node: onnx.NodeProto,
    constants: Mapping[str, Any],
    error: Callable[[str, onnx.NodeProto], ModelError],
) -> None:
    """Refuse a NaN or infinite constant read by ``node`` (a node on the input's path)."""
    for name in node.input:
        value = constants.get(name)
        if value is None:
            continue
        array = np.asarray(value)
        if array.dtype.kind != "f" or array.size == 0:
            continue
        bad = ~np.isfinite(array)
        if bad.any():
            first = array.reshape(-1)[int(np.flatnonzero(bad.reshape(-1))[0])]
            raise error(
                f"operand {shown(name)} holds {int(bad.sum())} non-finite value(s) (first: "
                f"{float(first)}); bnnc needs finite parameters",
                node,
            )


def _value_text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
