"""Write a :class:`~bnnc.ir.bnn.BnnModel` as bnnc text or as a standard ONNX graph.

The ONNX graph uses only standard operators (opset 17, IR version 8), so onnxruntime runs it
and bnnc's own ONNX frontend reads it back::

    image [N, H, W] float32 ─ GreaterOrEqual(threshold) ─ Where(+1, −1) ─ Flatten
      ─ per inner block:  Gemm(±1 weights, bias, transB=1) ─ BatchNormalization (inference)
                          (a convolution is written expanded, as its rows; ±1 padding as a
                          Gemm bias of integers, then Add(bias))
                          ─ GreaterOrEqual(0) ─ Where(+1, −1)
      ─ output block:     Gemm(±1 weights, bias, transB=1) → "scores" [N, C]
      ─ ArgMax(axis 1, first index on ties) → "label" [N] int64 (or "scores" as the output)

**Input.** The graph binarises its input itself: an input element x gives the bit +1 iff
x ≥ ``threshold`` (default 0.5).  With ``threshold`` in (0, 1] the input may be 0/1 bits, ±1
values, or — with the threshold the data were binarised at (``bnnc.training.data``) — the
downsampled grey image in [0, 1].  A model with a 1-D input shape takes ``[N, n]``.

**Arithmetic.** The graph computes in float32 (weights ±1 exactly; biases and batch-norm
parameters rounded to float32), the text model in float64.  They agree except on inputs whose
pre-activation lies within float32 rounding of a threshold; bnnc reads each with its own
arithmetic (for ONNX: onnxruntime's), so each compiled formula is exact for its own file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from bnnc._version import __version__
from bnnc.backend.text import print_bnn
from bnnc.errors import ModelError
from bnnc.io import write_atomic
from bnnc.ir.bnn import BnnModel

if TYPE_CHECKING:
    import onnx

__all__ = ["IR_VERSION", "OPSET", "save_onnx", "save_text", "to_onnx"]

OPSET = 17
IR_VERSION = 8  # readable by every onnxruntime bnnc supports (≥ 1.18)
OnnxOutput = Literal["label", "scores"]


def _float32(values: NDArray[np.floating] | float, what: str) -> NDArray[np.float32]:
    array = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore"):
        result = array.astype(np.float32)
    if not np.isfinite(result).all():
        raise ModelError(f"{what} does not fit in float32 (ONNX computes in float32)")
    return result


def to_onnx(
    model: BnnModel, *, threshold: float = 0.5, output: OnnxOutput = "label"
) -> onnx.ModelProto:
    """The ONNX graph of ``model`` (see the module docstring); checked with onnx.checker."""
    # onnx takes ~0.1-0.2 s to import: only when a graph is built, not with `import bnnc`.
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if any(b.oracle is not None for b in model.blocks) or model.output.oracle is not None:
        raise ModelError(
            f"model {model.name!r} computes with its framework's own graph (read from ONNX); "
            "only trained-form models (text, bnnc.training.train) can be exported"
        )
    model.verify()
    if not (np.isfinite(threshold) and np.float32(threshold) == threshold):
        raise ModelError(f"the input threshold {threshold!r} must be a finite float32 value")
    if output not in ("label", "scores"):
        raise ModelError(f"output must be 'label' or 'scores', got {output!r}")

    inits: list[TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def const(name: str, values: NDArray[np.generic]) -> str:
        inits.append(numpy_helper.from_array(np.asarray(values), name))
        return name

    one = const("plus_one", np.array(1.0, np.float32))
    minus_one = const("minus_one", np.array(-1.0, np.float32))
    zero = const("zero", np.array(0.0, np.float32))
    cut = const("input_threshold", np.array(threshold, np.float32))

    def binarise(source: str, at: str, prefix: str) -> str:
        nodes.append(
            helper.make_node(
                "GreaterOrEqual", [source, at], [f"{prefix}/ge"], name=f"{prefix}/GreaterOrEqual"
            )
        )
        nodes.append(
            helper.make_node(
                "Where",
                [f"{prefix}/ge", one, minus_one],
                [f"{prefix}/sign"],
                name=f"{prefix}/Where",
            )
        )
        return f"{prefix}/sign"

    shape = tuple(int(d) for d in model.input_shape)
    bits = binarise("image", cut, "input")
    nodes.append(helper.make_node("Flatten", [bits], ["input/flat"], name="input/Flatten", axis=1))
    x = "input/flat"
    for block in model.blocks:
        p = block.name
        w = const(f"{p}/weight", block.weights.astype(np.float32))
        b = const(f"{p}/bias", _float32(block.bias, f"layer {p!r}: bias"))
        shift = block.shift
        if shift is None:
            nodes.append(
                helper.make_node("Gemm", [x, w, b], [f"{p}/linear"], name=f"{p}/Gemm", transB=1)
            )
        else:  # ±1 padding of a convolution: an integer per neuron, added before the bias
            s = const(f"{p}/pad_shift", shift.astype(np.float32))
            nodes.append(
                helper.make_node("Gemm", [x, w, s], [f"{p}/padded"], name=f"{p}/Gemm", transB=1)
            )
            nodes.append(
                helper.make_node("Add", [f"{p}/padded", b], [f"{p}/linear"], name=f"{p}/Add")
            )
        y = f"{p}/linear"
        bn = block.batchnorm
        if bn is not None:
            names = [
                const(
                    f"{p}/bn_{field}",
                    _float32(getattr(bn, field), f"layer {p!r}: batch norm {field}"),
                )
                for field in ("gamma", "beta", "mean", "var")
            ]
            eps = float(_float32(bn.eps, f"layer {p!r}: batch norm eps"))
            nodes.append(
                helper.make_node(
                    "BatchNormalization",
                    [y, *names],
                    [f"{p}/bn"],
                    name=f"{p}/BatchNormalization",
                    epsilon=eps,
                )
            )
            y = f"{p}/bn"
        x = binarise(y, zero, p)
    out = model.output
    w = const(f"{out.name}/weight", out.weights.astype(np.float32))
    b = const(f"{out.name}/bias", _float32(out.bias, f"layer {out.name!r}: bias"))
    nodes.append(helper.make_node("Gemm", [x, w, b], ["scores"], name=f"{out.name}/Gemm", transB=1))
    n_classes = out.n_classes
    if output == "label":
        nodes.append(
            helper.make_node(
                "ArgMax",
                ["scores"],
                ["label"],
                name="ArgMax",
                axis=1,
                keepdims=0,
                select_last_index=0,
            )
        )
        result = helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])
    else:
        result = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", n_classes])
    graph = helper.make_graph(
        nodes,
        model.name,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", *shape])],
        [result],
        inits,
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="bnnc",
        producer_version=__version__,
        doc_string=(
            f"BNN {model.name!r} exported by bnnc: input element >= {threshold!r} is the bit +1; "
            "Gemm + BatchNormalization + GreaterOrEqual/Where blocks; argmax, ties to the "
            "lowest index"
        ),
    )
    proto.ir_version = IR_VERSION
    meta = {"bnnc_model": model.name, "bnnc_input_threshold": repr(float(threshold))}
    if model.class_names is not None:
        meta["bnnc_class_names"] = json.dumps(list(model.class_names))
    helper.set_model_props(proto, meta)
    onnx.checker.check_model(proto)
    return proto


def save_onnx(
    model: BnnModel, path: str | Path, *, threshold: float = 0.5, output: OnnxOutput = "label"
) -> None:
    """Write :func:`to_onnx` to ``path`` atomically (a temporary file, then a rename)."""
    write_atomic(path, to_onnx(model, threshold=threshold, output=output).SerializeToString())


def save_text(model: BnnModel, path: str | Path) -> None:
    """Write ``model`` in bnnc's text language (trained form), atomically."""
    model.verify()
    write_atomic(path, print_bnn(model))
