"""The text language's convolution and pooling layers (``conv``, ``maxpool``, ``minpool``):
the geometry and the shared kernel become a :class:`~bnnc.ir.conv.Conv2d` or
:class:`~bnnc.ir.conv.Pool2d` and the inner block that expands it (docs/language.md,
"Convolutions").  Per-channel bias and batch norm are repeated for every neuron of a channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from bnnc.errors import ModelError
from bnnc.ir.bnn import BatchNorm, InnerBlock
from bnnc.ir.conv import Conv2d, Layout, Pool2d
from bnnc.ir.tensor import frozen, ternary

if TYPE_CHECKING:
    from lark import Token

    from bnnc.frontend.text.build import Builder
    from bnnc.frontend.text.syntax import Node


@dataclass
class _Geometry:
    in_shape: tuple[int, int, int]
    layout: Layout
    options: dict[str, tuple[int, ...]] = field(default_factory=dict)
    pad_value: int = 0
    ceil: bool = False


_DIMS = {"kernel": (3,), "stride": (2,), "padding": (4, 2), "dilation": (2,), "groups": (1,)}


def _geometry(builder: Builder, node: Node, width: int, why: str, pool: bool) -> _Geometry:
    from lark import Token

    tokens = [c for c in node.children if isinstance(c, Token)]
    shape_token = tokens[0]
    dims = builder.shape(shape_token)
    if len(dims) != 3:
        raise builder.error(shape_token, "a layer's input is CxHxW (channels, rows, columns)")
    if math.prod(dims) != width:
        raise builder.error(
            shape_token, f"this input has {math.prod(dims)} values, expected {width} ({why})"
        )
    layout: Layout = "NHWC" if len(tokens) > 1 and tokens[1] == "nhwc" else "NCHW"
    geometry = _Geometry((dims[0], dims[1], dims[2]), layout)
    seen: dict[str, Token | Node] = {}
    for option in (c for c in node.children if not isinstance(c, Token)):
        parts = [c for c in option.children if isinstance(c, Token)]
        if not parts:
            key = "ceil"
        elif parts[0].type == "GEOMETRY_KEY":
            key = str(parts[0])
        else:
            key = "pad"
        where: Token | Node = parts[0] if parts else option
        if key in seen:
            raise builder.error(where, f"{key} is given twice")
        seen[key] = where
        if key == "ceil":
            if not pool:
                raise builder.error(option, "'ceil' applies to pooling layers only")
            geometry.ceil = True
            continue
        if key == "pad":
            if pool:
                raise builder.error(where, "a pooling layer ignores padded positions: no 'pad'")
            value = builder.integer(parts[0], "the pad value")
            if value not in (-1, 0, 1):
                raise builder.error(parts[0], "the pad value is -1, 0 or +1")
            geometry.pad_value = value
            continue
        if pool and key == "groups":
            raise builder.error(where, "a pooling layer has no groups")
        values = tuple(int(d) for d in str(parts[1]).split("x"))
        allowed = _DIMS[key] if not (pool and key == "kernel") else (2,)
        if len(values) not in allowed:
            forms = " or ".join(str(n) for n in allowed)
            raise builder.error(parts[1], f"{key} takes {forms} number(s) joined by 'x'")
        if key == "padding" and len(values) == 2:
            values = (values[0], values[1], values[0], values[1])
        geometry.options[key] = values
    if "kernel" not in geometry.options:
        raise builder.error(node, "the layer needs a kernel (conv: OUTxKHxKW, pool: KHxKW)")
    return geometry


def _pair(values: tuple[int, ...] | None, default: int) -> tuple[int, int]:
    if values is None:
        return (default, default)
    return (values[0], values[-1]) if len(values) <= 2 else (values[0], values[1])


def conv_block(builder: Builder, node: Node, width: int, why: str) -> InnerBlock:
    from lark import Tree

    name = builder.name(next(c for c in node.children if not isinstance(c, Tree)))
    geometry_node, weights_node, *rest = [c for c in node.children if isinstance(c, Tree)]
    geo = _geometry(builder, geometry_node, width, why, pool=False)
    out_channels, kh, kw = geo.options["kernel"]
    groups = geo.options.get("groups", (1,))[0]
    c = geo.in_shape[0]
    if groups < 1 or c % groups or out_channels % groups:
        raise builder.error(
            geometry_node,
            f"groups {groups} must divide the {c} input and {out_channels} output channels",
        )
    per_row = c // groups * kh * kw
    rows = builder.weights(weights_node, per_row, f"in-channels/groups x kh x kw = {per_row}")
    if rows.shape[0] != out_channels:
        raise builder.error(
            weights_node, f"{rows.shape[0]} kernel rows for {out_channels} output channels"
        )
    pads = geo.options.get("padding", (0, 0, 0, 0))
    structure = Conv2d(
        in_shape=geo.in_shape,
        kernel=ternary(rows.reshape(out_channels, c // groups, kh, kw)),
        stride=_pair(geo.options.get("stride"), 1),
        padding=(pads[0], pads[1], pads[2], pads[3]),
        pad_value=geo.pad_value,
        dilation=_pair(geo.options.get("dilation"), 1),
        groups=groups,
        layout=geo.layout,
    )
    try:
        structure.verify(f"conv {name!r}")
    except ModelError as err:
        raise builder.error(geometry_node, err.message) from None
    channel = structure.channel_of_neuron()
    bias = np.zeros(out_channels)
    batchnorm = None
    from bnnc.frontend.text.build import _numbers

    for part in rest:
        if part.data == "bias":
            bias = builder.reals(part, _numbers(part), out_channels, "bias", "channel")
        else:
            bn = builder.batchnorm(part, out_channels)
            batchnorm = BatchNorm(
                gamma=frozen(bn.gamma[channel], np.float64),
                beta=frozen(bn.beta[channel], np.float64),
                mean=frozen(bn.mean[channel], np.float64),
                var=frozen(bn.var[channel], np.float64),
                eps=bn.eps,
            )
    return InnerBlock(
        name,
        structure.weights,
        frozen(np.asarray(bias)[channel], np.float64),
        batchnorm,
        structure=structure,
    )


def pool_block(builder: Builder, node: Node, width: int, why: str) -> InnerBlock:
    from lark import Tree

    kind, name_token = [c for c in node.children if not isinstance(c, Tree)][:2]
    name = builder.name(name_token)
    geometry_node = next(c for c in node.children if isinstance(c, Tree))
    geo = _geometry(builder, geometry_node, width, why, pool=True)
    kernel = _pair(geo.options["kernel"], 1)
    pads = geo.options.get("padding", (0, 0, 0, 0))
    structure = Pool2d(
        in_shape=geo.in_shape,
        kernel=kernel,
        stride=_pair(geo.options.get("stride"), 0) if "stride" in geo.options else kernel,
        padding=(pads[0], pads[1], pads[2], pads[3]),
        dilation=_pair(geo.options.get("dilation"), 1),
        ceil_mode=geo.ceil,
        layout=geo.layout,
        reduce="min" if kind == "minpool" else "max",
    )
    try:
        structure.verify(f"{kind} {name!r}")
    except ModelError as err:
        raise builder.error(geometry_node, err.message) from None
    return InnerBlock(
        name,
        structure.weights,
        frozen(structure.bias(), np.float64),
        None,
        structure=structure,
    )


def kernel_rows(structure: Conv2d) -> list[str]:
    """The kernel as text rows, one per output channel (for the printer)."""
    chars = np.array(["-", "0", "+"])
    flat = structure.kernel.reshape(structure.out_channels, -1).astype(np.intp) + 1
    return ["".join(chars[row]) for row in flat]
