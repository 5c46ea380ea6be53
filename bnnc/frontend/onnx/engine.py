"""The oracle that runs ONNX graphs: the model's own arithmetic, as its framework computes it.

Graphs with only standard operators run in onnxruntime (float32, graph optimisations off, so
that every node computes exactly what the file says).  Graphs with custom-domain operators
(Brevitas/QONNX ``BipolarQuant`` and ``Quant``, FINN ``MultiThreshold``) run in onnx's
``ReferenceEvaluator`` with those operators implemented from their QONNX/FINN definitions.
Sub-graphs (a block's elementwise tail) run in the same engine as the whole model, so the
thresholds bnnc derives agree with the engine by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun

from bnnc.errors import ModelError

STANDARD_DOMAINS = {"", "ai.onnx"}


def _bipolar(x: NDArray[Any], scale: NDArray[Any]) -> NDArray[Any]:
    """QONNX BipolarQuant: +scale where x ≥ 0, −scale elsewhere."""
    return np.asarray(np.where(x >= 0, 1.0, -1.0).astype(x.dtype) * scale, dtype=x.dtype)


class _BipolarQuant(OpRun):
    def _run(self, x: NDArray[Any], scale: NDArray[Any]) -> tuple[NDArray[Any]]:
        return (_bipolar(x, scale),)


class _Quant(OpRun):
    """QONNX Quant: integer quantisation; 1-bit signed is bipolar (as FINN reads it)."""

    def _run(
        self,
        x: NDArray[Any],
        scale: NDArray[Any],
        zeropt: NDArray[Any],
        bitwidth: NDArray[Any],
        signed: int = 1,
        narrow: int = 0,
        rounding_mode: str | bytes = "ROUND",
    ) -> tuple[NDArray[Any]]:
        bits = float(bitwidth)
        if bits == 1 and signed:
            return (_bipolar(x, scale),)
        mode = rounding_mode.decode() if isinstance(rounding_mode, bytes) else rounding_mode
        q = x / scale + zeropt
        rounders: dict[str, Callable[[NDArray[Any]], NDArray[Any]]] = {
            "ROUND": np.round,  # half to even, as QONNX
            "CEIL": np.ceil,
            "FLOOR": np.floor,
        }
        rounded = rounders.get(mode.upper())
        if rounded is None:
            raise ValueError(f"Quant: unsupported rounding_mode {mode!r}")
        q = rounded(q)
        if signed:
            low, high = -(2 ** (bits - 1)) + (1 if narrow else 0), 2 ** (bits - 1) - 1
        else:
            low, high = 0.0, 2**bits - 1 - (1 if narrow else 0)
        y = (np.clip(q, low, high) - zeropt) * scale
        return (np.asarray(y, dtype=x.dtype),)


class _MultiThreshold(OpRun):
    """FINN MultiThreshold: out_scale · #(thresholds ≤ x) + out_bias, per channel."""

    def _run(
        self,
        x: NDArray[Any],
        thresholds: NDArray[Any],
        out_scale: float = 1.0,
        out_bias: float = 0.0,
        out_dtype: str | bytes = "",
        data_layout: str | bytes = "NCHW",
    ) -> tuple[NDArray[Any]]:
        channels = x.shape[1] if x.ndim > 1 else x.shape[0]
        t = np.broadcast_to(thresholds, (channels, thresholds.shape[-1]))
        moved = np.moveaxis(x, 1, -1) if x.ndim > 1 else x
        counts = (moved[..., None] >= t).sum(axis=-1).astype(x.dtype)
        y = out_scale * counts + out_bias
        y = np.moveaxis(y, -1, 1) if x.ndim > 1 else y
        return (np.asarray(y, dtype=x.dtype),)


class BatchNormalization(OpRun):
    """Inference-mode batch norm, as the ONNX spec defines it for a single output.

    onnx's reference implementation of opset-9 ``BatchNormalization`` mixes the batch's own
    statistics into the running ones whenever the ``momentum`` attribute is present (it is, in
    FINN/QONNX exports) — training semantics, which make the result depend on the batch.
    """

    op_domain = ""

    def _run(
        self,
        x: NDArray[Any],
        scale: NDArray[Any],
        bias: NDArray[Any],
        mean: NDArray[Any],
        var: NDArray[Any],
        epsilon: float = 1e-5,
        momentum: float | None = None,
        spatial: int = 1,
        training_mode: int = 0,
    ) -> tuple[NDArray[Any]]:
        shape = (-1,) + (1,) * (x.ndim - 2)
        s, b = scale.reshape(shape), bias.reshape(shape)
        m, v = mean.reshape(shape), var.reshape(shape)
        y = s * (x - m) / np.sqrt(v + np.asarray(epsilon, dtype=x.dtype)) + b
        return (np.asarray(y, dtype=x.dtype),)


def _custom_ops(domains: Sequence[str]) -> list[type[OpRun]]:
    ops: list[type[OpRun]] = [BatchNormalization]
    for domain in sorted(set(domains) - STANDARD_DOMAINS):
        for name, base in (
            ("BipolarQuant", _BipolarQuant),
            ("Quant", _Quant),
            ("MultiThreshold", _MultiThreshold),
        ):
            ops.append(type(name, (base,), {"op_domain": domain}))
    return ops


def uses_custom_ops(model: onnx.ModelProto) -> bool:
    return any(node.domain not in STANDARD_DOMAINS for node in model.graph.node)


class Engine:
    """Runs one ONNX model (or a sub-graph cut from it) with the model's own oracle."""

    def __init__(self, model: onnx.ModelProto, *, custom: bool | None = None) -> None:
        self.custom = uses_custom_ops(model) if custom is None else custom
        self.input_names = [i.name for i in model.graph.input]
        self.output_names = [o.name for o in model.graph.output]
        if self.custom:
            domains = [node.domain for node in model.graph.node]
            self._ref = ReferenceEvaluator(model, new_ops=_custom_ops(domains))
        else:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            options.log_severity_level = 3
            try:
                self._ort = ort.InferenceSession(
                    model.SerializeToString(), options, providers=["CPUExecutionProvider"]
                )
            except Exception as err:  # onnxruntime raises its own types for a graph it refuses
                raise ModelError(f"onnxruntime cannot load the graph: {err}") from None

    def run(self, feeds: dict[str, NDArray[Any]]) -> list[NDArray[Any]]:
        # The model's own arithmetic may overflow (a huge batch-norm scale): that is its result,
        # not something to warn about on stderr.
        with np.errstate(all="ignore"):
            if self.custom:
                return [np.asarray(v) for v in self._ref.run(None, feeds)]
            return [np.asarray(v) for v in self._ort.run(None, feeds)]


def constant_values(model: onnx.ModelProto, feeds: dict[str, NDArray[Any]]) -> dict[str, Any]:
    """Every tensor's value for one run with ``feeds`` (used to fold constant sub-graphs)."""
    domains = [node.domain for node in model.graph.node]
    ref = ReferenceEvaluator(model, new_ops=_custom_ops(domains))
    with np.errstate(all="ignore"):
        results = ref.run(None, feeds, intermediate=True)
    assert isinstance(results, dict)
    return results
