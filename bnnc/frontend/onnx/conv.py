"""Convolutional layers in the walk over an ONNX graph: ``Conv`` as a block of threshold neurons
that share a kernel, ``MaxPool`` over binarised values as a layer of ORs, and the layout
operators (``Transpose``, reshapes) that tf2onnx and Larq put around each ``Conv`` to move
between NHWC and NCHW.

A layout operator changes no value, only where it sits: the walk follows it with an index array
(``bnnc.frontend.onnx.kinds``), so the next layer's columns, a block's tail and the model input
are matched element by element.  A convolution's neurons are numbered in its input's layout
(NCHW, or NHWC when the graph transposed an NHWC tensor into the ``Conv``), which keeps the
sharing visible as a :class:`~bnnc.ir.conv.Conv2d`; any other arrangement is refused.

Refused by name: ``AveragePool`` and ``GlobalAveragePool`` (the mean of ±1 values is not a bit:
bnnc would have to know the next threshold; not supported), ``Conv`` with ``auto_pad`` SAME_*,
``MaxPool`` with ``storage_order`` 1 or its indices output.  A ``MaxPool`` before the
binarisation (Larq: conv → max pool → batch norm → sign) is read as its own layer of ORs (or
ANDs, on channels whose batch norm reverses the order) after the convolution's bits.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import onnx
from onnx import helper

from bnnc.errors import ModelError
from bnnc.frontend.onnx.exactness import (
    exact_in_every_order,
    rounding_bound,
    tail_values,
)
from bnnc.frontend.onnx.inputs import input_scale
from bnnc.frontend.onnx.kinds import Bits, Index, Kind, PendingPool, Raw, TailOf, Walk
from bnnc.frontend.onnx.load import OnnxSource
from bnnc.frontend.onnx.tails import Block
from bnnc.ir.conv import Conv2d, Layout, Pool2d, flat_index
from bnnc.ir.tensor import ternary

LAYOUT_OPS = {"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}
REFUSED = {
    "AveragePool": "AveragePool is not supported: the mean of ±1 values is not binarised, so "
    "bnnc cannot read it as a layer of bits (use MaxPool)",
    "GlobalAveragePool": "GlobalAveragePool is not supported: the mean of ±1 values is not "
    "binarised (use MaxPool)",
    "Pad": "Pad is not supported: bnnc reads the padding of Conv itself (pads with 0)",
}
TailScale = Callable[[OnnxSource, Block, onnx.NodeProto], float]
FirstScale = Callable[[OnnxSource, Walk, onnx.NodeProto], float]


def _shape(source: OnnxSource, name: str) -> tuple[int, ...]:
    return tuple(int(d) for d in np.shape(source.values[name]))


def _index_of(source: OnnxSource, name: str, index: Index | None) -> Index:
    return (
        index
        if index is not None
        else np.arange(math.prod(_shape(source, name))).reshape(_shape(source, name))
    )


def moves(kind: Kind | None, node: onnx.NodeProto) -> bool:
    """Does the walk follow ``node`` as a layout move (rather than as before)?"""
    if node.op_type not in LAYOUT_OPS or kind is None:
        return False
    return node.op_type == "Transpose" or getattr(kind, "index", None) is not None


def move(source: OnnxSource, walk: Walk, node: onnx.NodeProto) -> None:
    """A layout operator: the same values, moved; follow them with the index."""
    name, out = node.input[0], node.output[0]
    kind = walk.kinds[name]
    if isinstance(kind, TailOf) and kind.index is None:
        raise source.error("a Transpose of a fully connected layer's output", node)
    index = _index_of(source, name, kind.index)
    perm: list[int] = []
    if node.op_type == "Transpose":
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        perm = list(attrs.get("perm", list(range(index.ndim))[::-1]))
        moved = np.transpose(index, perm)
    else:
        moved = index.reshape(_shape(source, out))
    if isinstance(kind, Bits):
        walk.kinds[out] = Bits(kind.layer, kind.scale, moved)
    elif isinstance(kind, Raw):
        walk.kinds[out] = Raw(moved, kind.last if kind.index is not None else name)
    elif kind.pool is not None:  # two resolutions: the engine's (no pooling) and the pooled
        pool = kind.pool
        if node.op_type == "Transpose":
            pooled = np.transpose(pool.index, perm)
        else:  # the engine's tensors are larger: nothing may be computed after this
            moved, pooled = np.empty(0, dtype=np.int64), pool.index.reshape(_shape(source, out))
        walk.kinds[out] = TailOf(
            kind.block, moved, kind.last, kind.last_index,
            PendingPool(pool.node, pool.structure, pooled, pool.before, pool.before_index),
        )  # fmt: skip
    else:
        walk.kinds[out] = TailOf(kind.block, moved, kind.last, kind.last_index)


def elementwise(source: OnnxSource, walk: Walk, node: onnx.NodeProto, kind: Kind) -> None:
    """An elementwise operator on a tensor that carries an index (a convolution's tail)."""
    name, out = node.input[0], node.output[0]
    if not isinstance(kind, TailOf):
        where = "the input" if isinstance(kind, Raw) else "binarised values"
        raise source.error(
            f"{node.op_type} on {where} after a Transpose: bnnc reads layout moves only "
            "between the binarisation and the next layer",
            node,
        )
    dyn = next(i for i in node.input if i in source.dynamic)
    if _shape(source, out) != _shape(source, dyn):
        raise source.error(
            f"{node.op_type} changes the shape {_shape(source, dyn)} of a convolution's output "
            f"to {_shape(source, out)}; bnnc needs per-channel operands",
            node,
        )
    del name
    if kind.index is not None and kind.index.size == 0:
        raise source.error(
            f"{node.op_type} after a reshape of a max pool that comes before the "
            "binarisation: bnnc reads elementwise operators there only before reshapes",
            node,
        )
    walk.kinds[out] = TailOf(kind.block, kind.index, out, kind.index, kind.pool)


def consume(
    source: OnnxSource,
    walk: Walk,
    node: onnx.NodeProto,
    name: str,
    tail_scale: TailScale,
    first_scale: FirstScale | None = None,
) -> Bits:
    """The bits a layer reads from tensor ``name``: the previous block ends here, or the input
    bits are found here."""
    kind = walk.kinds.get(name)
    if isinstance(kind, TailOf):
        prev = walk.blocks[kind.block]
        if prev.in_index is not None:
            prev.end, prev.end_index = kind.last or name, kind.last_index
        else:
            prev.end = name
        scale = tail_scale(source, prev, node)
        walk.widths.append(prev.weights.shape[0])
        if kind.pool is not None:
            _pool_layer(source, walk, kind.pool, prev, kind.block + 1, scale)
            return Bits(kind.block + 2, scale, kind.pool.index)
        return Bits(kind.block + 1, scale, kind.index)
    if isinstance(kind, Raw):
        walk.input_bits = kind.last if kind.index is not None and kind.last else name
        if first_scale is not None:  # a linear layer: the declared input domains apply
            scale = first_scale(source, walk, node)
        else:
            scale = input_scale(source, walk.prefix(source), node)
        walk.widths.append(int(np.prod(source.input_shape)))
        return Bits(0, scale, kind.index)
    if isinstance(kind, Bits):
        return kind
    raise source.error("a linear layer reads a tensor bnnc has not classified", node)


def columns(
    source: OnnxSource, node: onnx.NodeProto, weights: np.ndarray, index: Index | None, width: int
) -> np.ndarray:
    """Weights over a tensor's elements → weights over the layer's bits (``index``)."""
    if index is None:
        return weights
    flat = index.reshape(-1)
    if flat.size != width or not np.array_equal(np.sort(flat), np.arange(width)):
        raise source.error(
            f"reads {flat.size} values that are not the {width} bits of the previous layer, "
            "each once",
            node,
        )
    moved = np.zeros_like(weights)
    moved[:, flat] = weights
    return moved


def _image(
    source: OnnxSource, walk: Walk, node: onnx.NodeProto, bits: Bits
) -> tuple[tuple[int, int, int], Layout]:
    """The (C, H, W) image a Conv/MaxPool reads, and the layout its bits are in."""
    if bits.layer != len(walk.blocks):
        raise source.error("a layer reads an earlier layer (skip connections)", node)
    shape = _shape(source, node.input[0])
    if len(shape) != 4 or shape[0] != 1:
        raise source.error(
            f"{node.op_type} reads a tensor of shape {shape}, not (1, C, H, W)", node
        )
    image = (shape[1], shape[2], shape[3])
    width = walk.widths[bits.layer]
    if math.prod(image) != width:
        raise source.error(f"reads {math.prod(image)} values; the previous layer has {width}", node)
    index = _index_of(source, node.input[0], bits.index)[0]
    layouts: tuple[Layout, ...] = ("NCHW", "NHWC")
    for layout in layouts:
        if np.array_equal(index, flat_index(image, layout)):
            return image, layout
    raise source.error(
        f"{node.op_type} reads the previous layer in a layout other than NCHW or NHWC", node
    )


def _geometry(
    source: OnnxSource, node: onnx.NodeProto, kernel: tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int, int, int], tuple[int, int]]:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if auto_pad not in ("NOTSET", "VALID"):
        raise source.error(
            f"{node.op_type} auto_pad={auto_pad} is not supported (bnnc "
            "needs NOTSET with explicit pads, or VALID)",
            node,
        )
    if "kernel_shape" in attrs and tuple(attrs["kernel_shape"]) != kernel:
        raise source.error(
            f"kernel_shape {attrs['kernel_shape']} is not the kernel's {kernel}", node
        )
    strides = tuple(attrs.get("strides", (1, 1)))
    pads = tuple(attrs.get("pads", (0, 0, 0, 0))) if auto_pad == "NOTSET" else (0, 0, 0, 0)
    dilations = tuple(attrs.get("dilations", (1, 1)))
    if len(strides) != 2 or len(pads) != 4 or len(dilations) != 2:
        raise source.error(f"{node.op_type} must be 2-D (two strides, four pads)", node)
    return (
        (strides[0], strides[1]),
        (pads[0], pads[1], pads[2], pads[3]),
        (dilations[0], dilations[1]),
    )


def convolution(
    source: OnnxSource, walk: Walk, node: onnx.NodeProto, tail_scale: TailScale
) -> None:
    """A ``Conv`` reading binarised values through a constant kernel of c·{−1, 0, +1} per
    output channel starts a block: one neuron per output position."""
    bits = consume(source, walk, node, node.input[0], tail_scale)
    image, layout = _image(source, walk, node, bits)
    kernel = source.const(node.input[1])
    if kernel is None or kernel.ndim != 4:
        raise source.error("the kernel must be a constant (out, in / group, kh, kw) tensor", node)
    if kernel.dtype != np.float32:
        raise source.error(f"the kernel is {kernel.dtype}; bnnc reads float32 layers", node)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    stride, pads, dilation = _geometry(source, node, (int(kernel.shape[2]), int(kernel.shape[3])))
    magnitude = np.abs(kernel).reshape(len(kernel), -1).max(axis=1)
    safe = np.where(magnitude > 0, magnitude, 1)[:, None, None, None]
    rows = np.where(magnitude[:, None, None, None] > 0, kernel / safe, 0)
    if not np.isin(rows, (-1.0, 0.0, 1.0)).all():
        raise source.error(
            "the kernel is not ±c multiples of ternary filters (not binarised)", node
        )
    structure = Conv2d(
        in_shape=image,
        kernel=ternary(rows),
        stride=stride,
        padding=pads,
        dilation=dilation,
        groups=int(attrs.get("group", 1)),
        layout=layout,
    )
    try:
        structure.verify("Conv")
    except ModelError as err:
        raise source.error(err.message, node) from None
    channel = structure.channel_of_neuron()
    offset = np.zeros(channel.size)
    if len(node.input) > 2 and node.input[2]:
        bias = source.const(node.input[2])
        if bias is None or bias.shape != (structure.out_channels,):
            raise source.error("the Conv bias must be a constant, one value per channel", node)
        offset = bias.astype(np.float64)[channel]
    per_term = np.float64(bits.scale) * magnitude.astype(np.float64)[channel]
    weights = structure.weights
    n_active = np.count_nonzero(weights, axis=1)
    exact = exact_in_every_order(1.0, per_term, offset, n_active)
    taps = int(np.prod(kernel.shape[1:]))
    bound = None if exact.all() else rounding_bound(per_term, offset, n_active, taps)
    out_index = flat_index(structure.out_shape, layout)[None]
    block = Block(
        bits.layer, node, weights, per_term, offset, bound, node.output[0],
        structure=structure, in_index=out_index,
    )  # fmt: skip
    walk.blocks.append(block)
    walk.kinds[node.output[0]] = TailOf(len(walk.blocks) - 1, out_index, node.output[0], out_index)


def max_pool(source: OnnxSource, walk: Walk, node: onnx.NodeProto, tail_scale: TailScale) -> None:
    """``MaxPool`` over binarised values ±a: a layer whose bit is the OR of its window."""
    kind = walk.kinds.get(node.input[0])
    if len([o for o in node.output if o]) > 1:
        raise source.error("MaxPool's Indices output is not supported", node)
    if isinstance(kind, Raw):
        raise source.error("MaxPool of the input before its binarisation is not supported", node)
    if isinstance(kind, TailOf):
        prev = walk.blocks[kind.block]
        if prev.in_index is None:
            raise source.error("MaxPool of a fully connected layer's output", node)
        if kind.pool is not None:
            raise source.error("two MaxPools before one binarisation", node)
        prev.end, prev.end_index = kind.last or node.input[0], kind.last_index
        values, reached = tail_values(source, prev)
        prev.end, prev.end_index, prev.run, prev.oracle = "", None, None, None
        magnitudes = np.unique(np.abs(values[reached]))
        if magnitudes.size != 1 or magnitudes[0] == 0:
            _pending_pool(source, walk, node, kind)
            return
    bits = consume(source, walk, node, node.input[0], tail_scale)
    image, layout = _image(source, walk, node, bits)
    structure = _pool_structure(source, node, image, layout)
    bias = structure.bias()
    scale = bits.scale
    weights = structure.weights
    n = weights.shape[0]
    out = node.output[0]
    block = Block(
        bits.layer, node, weights, np.ones(n), bias, None, out, end=out, band_checked=True,
        structure=structure,
    )  # fmt: skip
    block.oracle = lambda t: np.where(t + bias >= 0, scale, -scale).astype(np.float32)
    walk.blocks.append(block)
    walk.widths.append(n)
    # The output tensor is NCHW; its element (c, h, w) is the pooled neuron of that index.
    walk.kinds[out] = Bits(bits.layer + 1, scale, flat_index(structure.out_shape, layout)[None])


def _pool_structure(
    source: OnnxSource, node: onnx.NodeProto, image: tuple[int, int, int], layout: Layout
) -> Pool2d:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if attrs.get("storage_order", 0) != 0:
        raise source.error("MaxPool storage_order=1 is not supported", node)
    kernel_shape = tuple(attrs.get("kernel_shape", ()))
    if len(kernel_shape) != 2:
        raise source.error("MaxPool must be 2-D (kernel_shape of two sizes)", node)
    kernel = (int(kernel_shape[0]), int(kernel_shape[1]))
    stride, pads, dilation = _geometry(source, node, kernel)
    structure = Pool2d(
        image, kernel, stride, pads, dilation, bool(attrs.get("ceil_mode", 0)), layout, "max"
    )
    try:
        structure.verify("MaxPool")
    except ModelError as err:
        raise source.error(err.message, node) from None
    if _shape(source, node.output[0])[1:] != structure.out_shape:
        raise source.error(
            f"MaxPool's output {_shape(source, node.output[0])} is not the expected "
            f"{structure.out_shape}",
            node,
        )
    return structure


def _pending_pool(source: OnnxSource, walk: Walk, node: onnx.NodeProto, kind: TailOf) -> None:
    """A MaxPool before the binarisation (Larq: conv → max pool → batch norm → sign).  The
    pooled bit is sign(q(max p(t))) for the monotone parts p before and q after the pool; the
    engine runs the tail with the pool as Identity, giving each conv neuron h = q∘p, and the
    pooling becomes the OR (or, where p and h run opposite ways, the AND) of those bits."""
    prev = walk.blocks[kind.block]
    assert kind.index is not None and kind.last is not None and kind.last_index is not None
    shape = _shape(source, node.input[0])
    if len(shape) != 4 or shape[0] != 1:
        raise source.error(f"MaxPool reads a tensor of shape {shape}, not (1, C, H, W)", node)
    image = (shape[1], shape[2], shape[3])
    layouts: tuple[Layout, ...] = ("NCHW", "NHWC")
    layout = next((x for x in layouts if np.array_equal(kind.index[0], flat_index(image, x))), None)
    if layout is None or math.prod(image) != prev.weights.shape[0]:
        raise source.error("MaxPool reads its convolution in a layout other than NCHW/NHWC", node)
    structure = _pool_structure(source, node, image, layout)
    prev.pool_node = node
    pooled = flat_index(structure.out_shape, layout)[None]
    pending = PendingPool(node, structure, pooled, kind.last, kind.last_index)
    out = node.output[0]
    walk.kinds[out] = TailOf(kind.block, kind.index, out, kind.index, pending)


def _pool_layer(
    source: OnnxSource, walk: Walk, pending: PendingPool, conv: Block, layer: int, scale: float
) -> None:
    """The layer of a pending pool, once its convolution's block has ended (its bits h)."""
    h_values, reached = tail_values(source, conv)
    probe = Block(
        conv.layer, conv.node, conv.weights, conv.gain, conv.offset, conv.bound, conv.start,
        pending.before, in_index=conv.in_index, end_index=pending.before_index,
    )  # fmt: skip
    p_values, _ = tail_values(source, probe)
    last = np.count_nonzero(conv.weights, axis=1)
    columns = np.arange(conv.weights.shape[0])

    def direction(values: np.ndarray) -> np.ndarray:
        low = values[0].astype(np.float64)
        high = values[last, columns].astype(np.float64)
        return np.asarray(np.sign(high - low))  # +1 rising, −1 falling, 0 constant

    h_dir, p_dir = direction(h_values), direction(p_values)
    del reached
    pool = pending.structure
    # Per conv neuron: does its window take the OR (p and h the same way) or the AND?
    opposite = (h_dir * p_dir) < 0
    channel = np.empty(conv.weights.shape[0], dtype=np.int64)
    channel[flat_index(pool.in_shape, pool.layout)] = np.arange(pool.in_shape[0])[:, None, None]
    flipped = sorted({int(c) for c in channel[opposite]})
    mixed = {int(c) for c in channel[(h_dir * p_dir) > 0]} & set(flipped)
    if mixed:
        raise source.error(
            f"MaxPool before the binarisation: channel {min(mixed)} is neither increasing "
            "nor decreasing throughout",
            pending.node,
        )
    structure = Pool2d(
        pool.in_shape, pool.kernel, pool.stride, pool.padding, pool.dilation, pool.ceil_mode,
        pool.layout, "max", tuple(flipped),
    )  # fmt: skip
    bias = structure.bias()
    n = structure.weights.shape[0]
    out = pending.node.output[0]
    block = Block(
        layer, pending.node, structure.weights, np.ones(n), bias, None, out, end=out,
        band_checked=True, structure=structure,
    )  # fmt: skip
    block.oracle = lambda t: np.where(t + bias >= 0, scale, -scale).astype(np.float32)
    walk.blocks.append(block)
    walk.widths.append(n)
