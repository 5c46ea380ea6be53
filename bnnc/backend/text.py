"""Write models in bnnc's text language (docs/language.md); ``bnnc.frontend.text`` reads them back.

On a model that passes ``verify()``, parsing the printed text gives the same model again: the
same names, shapes and class names, and arrays that are exactly equal.  Reals are printed with
``repr(float(x))``, the shortest text that reads back as the same float64 (including ``-0.0``
and subnormals); weights print as ``+``, ``-`` and ``0``.  The output is deterministic.

Only the strict upper triangle of an :class:`~bnnc.ir.ilp.ArgmaxLayer`'s ``beats`` table has a
meaning, so only it is printed; the parser fills the rest with zeros, as the lowering pass does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import ModelError
from bnnc.frontend.text import KEYWORDS
from bnnc.ir.bnn import BnnModel, InnerBlock, OutputBlock
from bnnc.ir.conv import Conv2d, Pool2d
from bnnc.ir.ilp import ArgmaxLayer, IlpModel, ThresholdLayer
from bnnc.ir.region import FREE, Region

__all__ = ["print_bnn", "print_ilp"]

LOWERED_FORM_COMMENT = (
    "# bnnc lowered form: integer threshold layers and pairwise argmax comparisons"
    " (see bnnc.ir.ilp)"
)

_INDENT = "  "
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WEIGHT_CHARS = np.frombuffer(b"-0+", dtype=np.uint8)  # index = weight + 1


def print_bnn(model: BnnModel) -> str:
    """The trained form of ``model``: ``block``s, then the ``output`` block."""
    lines = _header(model.name, model.input_shape, model.class_names)
    if model.arithmetic != "float64":  # float64 is the language's default
        lines.insert(2, f"arithmetic {model.arithmetic}")
    group = _group_size(model.input_shape)
    for block in model.blocks:
        lines += ["", *_inner_block(block, group)]
        group = 0  # only the first layer's columns have a shape worth showing
    lines += ["", *_output_block(model.output, group)]
    lines += _region_lines(model.region, model.input_shape)
    return "\n".join(lines) + "\n"


def print_ilp(model: IlpModel, region: Region | None = None) -> str:
    """The lowered form of ``model``: ``threshold`` blocks, then the ``argmax`` block, then the
    input region (``region``, or the model's own).

    The language has no syntax for staircase comparisons (per-class output scales), so a model
    with any is refused in one line."""
    if model.output.staircases:
        st = model.output.staircases[0]
        raise ModelError(
            f"layer {model.output.name!r}: classes {st.above} and {st.below} compare by a "
            "staircase (per-class output scales), which the lowered text form cannot express; "
            "compile to CNF instead"
        )
    lines = [LOWERED_FORM_COMMENT, *_header(model.name, model.input_shape, model.class_names)]
    group = _group_size(model.input_shape)
    for layer in model.layers:
        lines += ["", *_threshold_layer(layer, group)]
        group = 0
    lines += ["", *_argmax_layer(model.output, group)]
    lines += _region_lines(region or model.region, model.input_shape)
    return "\n".join(lines) + "\n"


def _region_lines(region: Region | None, input_shape: tuple[int, ...]) -> list[str]:
    """``fix`` and ``near`` statements, one row of bits per row of the input picture."""
    if region is None or region.is_everything:
        return []
    width = input_shape[-1] if len(input_shape) > 1 else len(region.fixed)

    def rows(chars: str) -> list[str]:
        return [_INDENT + chars[i : i + width] for i in range(0, len(chars), width)]

    lines: list[str] = []
    if region.n_fixed:
        mask = "".join("." if v == FREE else "+" if v == 1 else "-" for v in region.fixed.tolist())
        lines += ["", "fix {", *rows(mask), "}"]
    for ball in region.balls:
        center = "".join("+" if b else "-" for b in ball.center.tolist())
        lines += ["", "near {", *rows(center), f"}} within {ball.max_flips}"]
    return lines


# --------------------------------------------------------------------------- blocks


def _header(name: str, input_shape: Sequence[int], class_names: Sequence[str] | None) -> list[str]:
    lines = [f"network {_name(name)}", f"input {'x'.join(str(int(d)) for d in input_shape)}"]
    if class_names is not None:
        lines.append(f"classes {' '.join(_name(c) for c in class_names)}")
    return lines


def _inner_block(block: InnerBlock, group: int) -> list[str]:
    if isinstance(block.structure, Pool2d) and not block.structure.flipped:
        return _pool_block(block.name, block.structure)
    if isinstance(block.structure, Conv2d):
        printed = _conv_block(block, block.structure)
        if printed is not None:
            return printed
    lines = [f"block {_name(block.name)} {{", *_weights(block.weights, group)]
    lines.append(f"{_INDENT}bias {_reals(block.bias)}")
    bn = block.batchnorm
    if bn is not None:
        lines += [
            f"{_INDENT}batchnorm {{",
            f"{_INDENT * 2}gamma {_reals(bn.gamma)}",
            f"{_INDENT * 2}beta {_reals(bn.beta)}",
            f"{_INDENT * 2}mean {_reals(bn.mean)}",
            f"{_INDENT * 2}var {_reals(bn.var)}",
            f"{_INDENT * 2}eps {float(bn.eps)!r}",
            f"{_INDENT}}}",
        ]
    return [*lines, "}"]


def _geometry(
    in_shape: tuple[int, int, int], layout: str, options: Sequence[tuple[str, tuple[int, ...]]]
) -> list[str]:
    shape = "x".join(map(str, in_shape))
    lines = [f"{_INDENT}input {shape}" + (" nhwc" if layout == "NHWC" else "")]
    for key, values in options:
        lines.append(f"{_INDENT}{key} {'x'.join(map(str, values))}")
    return lines


def _pool_block(name: str, pool: Pool2d) -> list[str]:
    keyword = "maxpool" if pool.reduce == "max" else "minpool"
    options: list[tuple[str, tuple[int, ...]]] = [("kernel", pool.kernel), ("stride", pool.stride)]
    if any(pool.padding):
        options.append(("padding", pool.padding))
    if pool.dilation != (1, 1):
        options.append(("dilation", pool.dilation))
    lines = [f"{keyword} {_name(name)} {{  # {pool.describe()}"]
    lines += _geometry(pool.in_shape, pool.layout, options)
    if pool.ceil_mode:
        lines.append(f"{_INDENT}ceil")
    return [*lines, "}"]


def _conv_block(block: InnerBlock, conv: Conv2d) -> list[str] | None:
    """The conv syntax, with per-channel parameters; None if they vary within a channel."""
    channel = conv.channel_of_neuron()
    first = np.zeros(conv.out_channels, dtype=np.int64)
    first[channel[::-1]] = np.arange(channel.size)[::-1]  # a neuron of each channel

    def per_channel(values: NDArray[np.float64]) -> NDArray[np.float64] | None:
        picked = values[first]
        return picked if np.array_equal(picked[channel], values) else None

    arrays = [block.bias]
    bn = block.batchnorm
    if bn is not None:
        arrays += [bn.gamma, bn.beta, bn.mean, bn.var]
    picked = [per_channel(a) for a in arrays]
    if block.oracle is not None or any(p is None for p in picked):
        return None
    o, _, kh, kw = conv.kernel.shape
    options: list[tuple[str, tuple[int, ...]]] = [("kernel", (o, kh, kw))]
    if conv.stride != (1, 1):
        options.append(("stride", conv.stride))
    if any(conv.padding):
        options.append(("padding", conv.padding))
    if conv.dilation != (1, 1):
        options.append(("dilation", conv.dilation))
    if conv.groups != 1:
        options.append(("groups", (conv.groups,)))
    lines = [f"conv {_name(block.name)} {{  # {conv.describe()}"]
    lines += _geometry(conv.in_shape, conv.layout, options)
    if conv.pad_value:
        lines.append(f"{_INDENT}pad {conv.pad_value:+d}")
    lines += _weights(conv.kernel.reshape(o, -1), kw)
    values = [p for p in picked if p is not None]
    lines.append(f"{_INDENT}bias {_reals(values[0])}")
    if bn is not None:
        lines += [
            f"{_INDENT}batchnorm {{",
            *(
                f"{_INDENT * 2}{key} {_reals(v)}"
                for key, v in zip(("gamma", "beta", "mean", "var"), values[1:], strict=True)
            ),
            f"{_INDENT * 2}eps {float(bn.eps)!r}",
            f"{_INDENT}}}",
        ]
    return [*lines, "}"]


def _output_block(block: OutputBlock, group: int) -> list[str]:
    return [
        f"output {_name(block.name)} {{",
        *_weights(block.weights, group),
        f"{_INDENT}bias {_reals(block.bias)}",
        "}",
    ]


def _threshold_layer(layer: ThresholdLayer, group: int) -> list[str]:
    rows = _rows(layer.weights, group)
    body = [f"{_INDENT}{row} >= {int(c)}" for row, c in zip(rows, layer.thresholds, strict=True)]
    return [f"threshold {_name(layer.name)} {{", *body, "}"]


def _argmax_layer(layer: ArgmaxLayer, group: int) -> list[str]:
    lines = [f"argmax {_name(layer.name)} {{", *_weights(layer.weights, group)]
    n = layer.n_classes
    for c in range(n):
        for j in range(c + 1, n):
            lines.append(f"{_INDENT}beats {c} {j} >= {int(layer.beats[c, j])}")
    return [*lines, "}"]


# --------------------------------------------------------------------------- pieces


def _weights(weights: NDArray[np.int8], group: int) -> list[str]:
    rows = [f"{_INDENT * 2}{row}" for row in _rows(weights, group)]
    return [f"{_INDENT}weights {{", *rows, f"{_INDENT}}}"]


def _rows(weights: NDArray[np.int8], group: int) -> list[str]:
    """Each row as '+-0' text, in groups of ``group`` weights (0: one run) for readability."""
    chars = _WEIGHT_CHARS[weights.astype(np.intp) + 1]  # one lookup for the whole matrix
    rows = [row.tobytes().decode("ascii") for row in chars]
    if group <= 0:
        return rows
    return [" ".join(row[i : i + group] for i in range(0, len(row), group)) for row in rows]


def _group_size(input_shape: Sequence[int]) -> int:
    """Split first-layer rows by the input's innermost size (e.g. 28 for 28x28), if it has one."""
    return int(input_shape[-1]) if len(input_shape) >= 2 else 0


def _reals(values: NDArray[np.float64]) -> str:
    return " ".join(repr(float(x)) for x in values.tolist())


def _name(name: str) -> str:
    """A name as written: bare if it is an identifier and no keyword, else a JSON string."""
    if _IDENTIFIER.fullmatch(name) and name not in KEYWORDS:
        return name
    return json.dumps(name, ensure_ascii=False)
