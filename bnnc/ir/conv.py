"""Convolution and pooling over ±1 values: the weight sharing of a layer, kept in the IR.

A binarised 2-D convolution is a layer of threshold neurons, one per output position, whose
weight rows are copies of one kernel per output channel.  :class:`Conv2d` records that
structure (shapes, kernel, stride, padding and its value, dilation, groups, layout) and expands
it to the dense ternary matrix that every pass reads (``InnerBlock.weights``): the stages after
the trained form need no special case, and ``BnnModel.verify`` checks that the matrix is the
expansion.  Printing the trained form shows the kernel once ("conv 8x1x3x3 shared by 676
neurons").

Padding.  ONNX and PyTorch pad with 0 (a zero weight column); binary frameworks (Larq's
``pad_values=1``) pad with +1 or −1, which adds a constant to each border neuron's sum:
``shift`` (an integer per neuron) that ``bnnc.ir.bnn.block_activation`` adds to ⟨row, x⟩.

Max pooling over ±1 values is the OR of the window (min pooling the AND): a threshold neuron
with unit weights on the window, bias ``k − 1`` (OR: s ≥ 2 − k) or ``−k`` (AND: s = k) for a
window of k valid positions (padding takes no part in a max).  The pooled bit is a function of
its inputs, so the formula stays parsimonious.

Layout: tensors are flattened row-major in ``NCHW`` (channels, rows, columns) or ``NHWC``
order, for the layer's input and output alike.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import ModelError

Layout = Literal["NCHW", "NHWC"]
Shape3 = tuple[int, int, int]  # (channels, rows, columns)
Pair = tuple[int, int]
Pads = tuple[int, int, int, int]  # top, left, bottom, right


def flat_index(shape: Shape3, layout: Layout) -> NDArray[np.int64]:
    """index[c, h, w] = the position of element (c, h, w) in the flattened tensor."""
    c, h, w = shape
    if layout == "NCHW":
        return np.arange(c * h * w, dtype=np.int64).reshape(c, h, w)
    return np.arange(c * h * w, dtype=np.int64).reshape(h, w, c).transpose(2, 0, 1)


def _out_size(size: int, kernel: int, stride: int, pad: Pair, dilation: int, ceil: bool) -> int:
    span = size + pad[0] + pad[1] - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    n = (math.ceil if ceil else math.floor)(span / stride) + 1
    if ceil and (n - 1) * stride >= size + pad[0]:  # the last window must start inside
        n -= 1
    return int(n)


def _windows(
    in_shape: Shape3, kernel: Pair, stride: Pair, pads: Pads, dilation: Pair, ceil: bool
) -> tuple[int, int, NDArray[np.int64], NDArray[np.int64]]:
    """(Ho, Wo, rows, cols): rows[i, a] / cols[j, b] is the input row / column of tap (a, b)
    of the window at output (i, j) (out of range where it falls into the padding)."""
    _, h, w = in_shape
    ho = _out_size(h, kernel[0], stride[0], (pads[0], pads[2]), dilation[0], ceil)
    wo = _out_size(w, kernel[1], stride[1], (pads[1], pads[3]), dilation[1], ceil)
    rows = (
        np.arange(ho)[:, None] * stride[0] - pads[0] + np.arange(kernel[0])[None, :] * dilation[0]
    )
    cols = (
        np.arange(wo)[:, None] * stride[1] - pads[1] + np.arange(kernel[1])[None, :] * dilation[1]
    )
    return ho, wo, rows.astype(np.int64), cols.astype(np.int64)


def _check_geometry(
    what: str, in_shape: Shape3, kernel: Pair, stride: Pair, pads: Pads, dilation: Pair
) -> None:
    if len(in_shape) != 3 or min(in_shape) <= 0:
        raise ModelError(f"{what}: input shape {in_shape} must be 3 positive sizes (C, H, W)")
    for name, values, low in (
        ("kernel", kernel, 1),
        ("stride", stride, 1),
        ("dilation", dilation, 1),
        ("padding", pads, 0),
    ):
        if any(v < low for v in values):
            raise ModelError(f"{what}: {name} {values} must be ≥ {low}")


@dataclass(frozen=True, eq=False)
class Conv2d:
    """A binarised 2-D convolution: output channel o at (i, j) is
    Σ_{c, a, b} kernel[o, c, a, b] · x[g·C/G + c, i·sh − pt + a·dh, j·sw − pl + b·dw]
    (g = o's group), the input outside the image reading ``pad_value``."""

    in_shape: Shape3
    kernel: NDArray[np.int8]  # (out channels, in channels / groups, kh, kw) in {−1, 0, +1}
    stride: Pair = (1, 1)
    padding: Pads = (0, 0, 0, 0)
    pad_value: int = 0  # 0, −1 or +1
    dilation: Pair = (1, 1)
    groups: int = 1
    layout: Layout = "NCHW"

    @property
    def out_channels(self) -> int:
        return int(self.kernel.shape[0])

    @property
    def out_shape(self) -> Shape3:
        return (self.out_channels, *self._expanded[2])

    def verify(self, what: str) -> None:
        kh, kw = (int(d) for d in self.kernel.shape[2:]) if self.kernel.ndim == 4 else (0, 0)
        if self.kernel.ndim != 4 or min(self.kernel.shape) <= 0:
            raise ModelError(f"{what}: the kernel must be (out, in / groups, kh, kw)")
        _check_geometry(what, self.in_shape, (kh, kw), self.stride, self.padding, self.dilation)
        c, g, o = self.in_shape[0], self.groups, self.out_channels
        if g < 1 or c % g or o % g:
            raise ModelError(
                f"{what}: groups {g} must divide the {c} input and {o} output channels"
            )
        if self.kernel.shape[1] != c // g:
            raise ModelError(
                f"{what}: the kernel reads {self.kernel.shape[1]} channels per group; the "
                f"input has {c} channels in {g} group(s)"
            )
        if self.pad_value not in (-1, 0, 1):
            raise ModelError(f"{what}: pad value {self.pad_value} must be -1, 0 or +1")
        if self.layout not in ("NCHW", "NHWC"):
            raise ModelError(f"{what}: layout {self.layout!r} must be NCHW or NHWC")
        if min(self.out_shape[1:]) <= 0:
            raise ModelError(f"{what}: the kernel does not fit in the padded input")
        if not np.isin(self.kernel, (-1, 0, 1)).all():
            raise ModelError(f"{what}: kernel weights must be -1, 0 or +1")

    @functools.cached_property
    def _expanded(self) -> tuple[NDArray[np.int8], NDArray[np.int64], Pair]:
        o, cg, kh, kw = (int(d) for d in self.kernel.shape)
        ho, wo, rows, cols = _windows(
            self.in_shape, (kh, kw), self.stride, self.padding, self.dilation, False
        )
        _, h, w = self.in_shape
        in_index = flat_index(self.in_shape, self.layout)
        out_index = flat_index((o, ho, wo), self.layout)
        weights = np.zeros((o * ho * wo, math.prod(self.in_shape)), dtype=np.int8)
        shift = np.zeros(o * ho * wo, dtype=np.int64)
        per_group = o // self.groups
        # Broadcast over (o, i, j, c, a, b).
        oo = np.arange(o)[:, None, None, None, None, None]
        ii = np.arange(ho)[None, :, None, None, None, None]
        jj = np.arange(wo)[None, None, :, None, None, None]
        cc = np.arange(cg)[None, None, None, :, None, None]
        aa = np.arange(kh)[None, None, None, None, :, None]
        bb = np.arange(kw)[None, None, None, None, None, :]
        r = rows[ii, aa]
        q = cols[jj, bb]
        channel = (oo // per_group) * cg + cc
        inside = (r >= 0) & (r < h) & (q >= 0) & (q < w)
        shape = (o, ho, wo, cg, kh, kw)
        value = np.broadcast_to(self.kernel[oo, cc, aa, bb], shape)
        neuron = np.broadcast_to(out_index[oo, ii, jj], shape)
        column = in_index[channel, np.clip(r, 0, h - 1), np.clip(q, 0, w - 1)]
        column = np.broadcast_to(column, shape)
        mask = np.broadcast_to(inside, shape)
        weights[neuron[mask], column[mask]] = value[mask]
        if self.pad_value:
            outside = (~mask) * value.astype(np.int64) * self.pad_value
            np.add.at(shift, neuron.reshape(-1), outside.reshape(-1))
        weights.setflags(write=False)
        shift.setflags(write=False)
        return weights, shift, (ho, wo)

    @property
    def weights(self) -> NDArray[np.int8]:
        """The dense (neurons, inputs) matrix: one row per output position."""
        return self._expanded[0]

    @property
    def shift(self) -> NDArray[np.int64]:
        """Per neuron, the padding's constant contribution to its sum (0 without ±1 padding)."""
        return self._expanded[1]

    def channel_of_neuron(self) -> NDArray[np.int64]:
        """The output channel of each neuron, in flattened order."""
        o, ho, wo = self.out_shape
        channel = np.empty(o * ho * wo, dtype=np.int64)
        channel[flat_index(self.out_shape, self.layout)] = np.arange(o)[:, None, None]
        return channel

    def describe(self) -> str:
        o, cg, kh, kw = self.kernel.shape
        n = math.prod(self.out_shape)
        return f"conv {o}x{cg}x{kh}x{kw} shared by {n} neurons"


@dataclass(frozen=True, eq=False)
class Pool2d:
    """Max pooling (``reduce="max"``: the OR of the window's ±1 values) or min pooling
    (``"min"``: the AND), per channel.  Padded positions take no part."""

    in_shape: Shape3
    kernel: Pair
    stride: Pair
    padding: Pads = (0, 0, 0, 0)
    dilation: Pair = (1, 1)
    ceil_mode: bool = False
    layout: Layout = "NCHW"
    reduce: Literal["max", "min"] = "max"
    # Channels pooled the other way (min for a max pool): a max pool before a batch norm whose
    # scale is negative on some channels, read after the sign (bnnc.frontend.onnx.conv).
    flipped: tuple[int, ...] = ()

    @property
    def out_shape(self) -> Shape3:
        return (self.in_shape[0], *self._expanded[2])

    def verify(self, what: str) -> None:
        _check_geometry(what, self.in_shape, self.kernel, self.stride, self.padding, self.dilation)
        if self.layout not in ("NCHW", "NHWC") or self.reduce not in ("max", "min"):
            raise ModelError(f"{what}: layout must be NCHW or NHWC, reduce max or min")
        if min(self.out_shape[1:]) <= 0:
            raise ModelError(f"{what}: the window does not fit in the padded input")
        if (self.window_sizes() == 0).any():
            raise ModelError(f"{what}: a window lies entirely in the padding")

    @functools.cached_property
    def _expanded(self) -> tuple[NDArray[np.int8], NDArray[np.int64], Pair]:
        c, h, w = self.in_shape
        ho, wo, rows, cols = _windows(
            self.in_shape, self.kernel, self.stride, self.padding, self.dilation, self.ceil_mode
        )
        in_index = flat_index(self.in_shape, self.layout)
        out_index = flat_index((c, ho, wo), self.layout)
        weights = np.zeros((c * ho * wo, c * h * w), dtype=np.int8)
        cc = np.arange(c)[:, None, None, None, None]
        ii = np.arange(ho)[None, :, None, None, None]
        jj = np.arange(wo)[None, None, :, None, None]
        r = rows[ii, np.arange(self.kernel[0])[None, None, None, :, None]]
        q = cols[jj, np.arange(self.kernel[1])[None, None, None, None, :]]
        shape = (c, ho, wo, *self.kernel)
        inside = np.broadcast_to((r >= 0) & (r < h) & (q >= 0) & (q < w), shape)
        neuron = np.broadcast_to(out_index[cc, ii, jj], shape)
        column = np.broadcast_to(in_index[cc, np.clip(r, 0, h - 1), np.clip(q, 0, w - 1)], shape)
        weights[neuron[inside], column[inside]] = 1
        sizes = np.count_nonzero(weights, axis=1).astype(np.int64)
        weights.setflags(write=False)
        sizes.setflags(write=False)
        return weights, sizes, (ho, wo)

    @property
    def weights(self) -> NDArray[np.int8]:
        return self._expanded[0]

    def window_sizes(self) -> NDArray[np.int64]:
        """Per pooled neuron, the number k of valid positions in its window."""
        return self._expanded[1]

    def bias(self) -> NDArray[np.float64]:
        """The bias that makes sign(s + bias) the OR (k − 1) or the AND (−k) of the window."""
        k = self.window_sizes().astype(np.float64)
        is_max = np.full(k.size, self.reduce == "max")
        if self.flipped:
            channel = np.empty(k.size, dtype=np.int64)
            channel[flat_index(self.out_shape, self.layout)] = np.arange(self.in_shape[0])[
                :, None, None
            ]
            is_max ^= np.isin(channel, self.flipped)
        return np.where(is_max, k - 1, -k)

    def describe(self) -> str:
        n = math.prod(self.out_shape)
        kind = "max pool (OR)" if self.reduce == "max" else "min pool (AND)"
        if self.flipped:
            kind += f" (channels {', '.join(map(str, self.flipped))} the other way)"
        return f"{kind} {self.kernel[0]}x{self.kernel[1]} over {n} windows"


Structure = Conv2d | Pool2d


def conv_reference(
    x: NDArray[np.int64],
    kernel: NDArray[np.int8],
    stride: Pair,
    padding: Pads,
    pad_value: int,
    dilation: Pair,
    groups: int,
) -> NDArray[np.int64]:
    """A direct convolution of ±1 tensors (batch, C, H, W) → (batch, O, Ho, Wo), written
    independently of :class:`Conv2d`'s matrix (the tests compare the two)."""
    batch, c, h, w = x.shape
    o, cg, kh, kw = kernel.shape
    padded = np.full(
        (batch, c, h + padding[0] + padding[2], w + padding[1] + padding[3]),
        pad_value,
        dtype=np.int64,
    )
    padded[:, :, padding[0] : padding[0] + h, padding[1] : padding[1] + w] = x
    ho = (padded.shape[2] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (padded.shape[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((batch, o, ho, wo), dtype=np.int64)
    per_group = o // groups
    for oc in range(o):
        g = oc // per_group
        for a in range(kh):
            for b in range(kw):
                rows = slice(a * dilation[0], a * dilation[0] + (ho - 1) * stride[0] + 1, stride[0])
                cols = slice(b * dilation[1], b * dilation[1] + (wo - 1) * stride[1] + 1, stride[1])
                window = padded[:, g * cg : (g + 1) * cg, rows, cols]
                out[:, oc] += np.einsum("nchw,c->nhw", window, kernel[oc, :, a, b].astype(np.int64))
    return out
