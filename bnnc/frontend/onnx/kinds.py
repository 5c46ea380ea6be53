"""What the walk over the graph knows about each dynamic tensor (``bnnc.frontend.onnx.patterns``).

A tensor is the model input or an elementwise function of it (:class:`Raw`), the binarised
values ±scale of a bits layer (:class:`Bits`), or inside a block's tail (:class:`TailOf`).
Convolutional models move values between layouts (NCHW, NHWC, flattened): a tensor may then
carry an ``index`` array of its own shape (batch axis included) that says, per element, which
bit (``Bits``), input element (``Raw``) or neuron (``TailOf``) it holds.  ``None`` means the
plain flattened order, as in a fully connected model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from numpy.typing import NDArray

from bnnc.frontend.onnx.engine import Engine
from bnnc.frontend.onnx.load import OnnxSource
from bnnc.frontend.onnx.pixels import PixelLayer
from bnnc.frontend.onnx.tails import Block, prefix_engine
from bnnc.ir.conv import Pool2d
from bnnc.ir.domain import InputDomain

Index = NDArray[np.int64]


@dataclass
class Bits:
    layer: int
    scale: float  # the bits take the values ±scale
    index: Index | None = None


@dataclass
class Raw:
    """The model input, or an elementwise function of it (before the first binarisation)."""

    index: Index | None = None  # per element, the input element (after a Transpose)
    last: str | None = None  # with an index: the last tensor computed from the input


@dataclass
class PendingPool:
    """A MaxPool inside a convolution's tail (before the binarisation): the tail runs it as
    Identity; the pooling becomes its own layer when the block ends."""

    node: onnx.NodeProto
    structure: Pool2d
    index: Index  # per element of the tensor, the pooled neuron
    before: str  # the last tensor computed before the pool
    before_index: Index


@dataclass
class TailOf:
    block: int  # index into the blocks
    # Convolution blocks: per element, the neuron; and the last tensor the tail computes
    # (layout operators after it only move values) with its index.  After a pending pool,
    # ``index`` is at the convolution's resolution (the engine runs the pool as Identity).
    index: Index | None = None
    last: str | None = None
    last_index: Index | None = None
    pool: PendingPool | None = None


Kind = Raw | Bits | TailOf


@dataclass
class Walk:
    """The walk's progress, in graph order (mutable: each node adds to it)."""

    kinds: dict[str, Kind]
    blocks: list[Block] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)  # width of each bits layer
    input_bits: str | None = None  # the tensor of the input bits, once found
    ends: set[str] = field(default_factory=set)  # scores read by a Softmax (not the tail)
    domain: InputDomain | None = None  # the declared input domain (--input-domain)
    # Under a binary declared domain: the first layer's input values (v_false, v_true) and
    # whether the domain's values are swapped (its first value is the true bit).
    declared: tuple[float, float, bool] | None = None
    # Under int:LO..HI with a first layer that reads the values themselves (expand_int): the
    # order encoding of the elements (bnnc.frontend.onnx.pixels).
    expand_int: bool = False
    pixel: PixelLayer | None = None
    _prefix: Engine | None = None

    def prefix(self, source: OnnxSource) -> Engine:
        """The graph from the model input to the input bits, in the model's engine (built
        once)."""
        assert self.input_bits is not None
        if self._prefix is None:
            self._prefix = prefix_engine(source, self.input_bits)
        return self._prefix
