"""Stage 1 — the BNN as trained (paper appendix A, eq. 1–4).

A model is a stack of inner blocks (binarised linear layer → batch norm → sign) and an output
block (binarised linear layer → argmax).  Values are ±1; an input bit that is *true* means +1.

The arithmetic that defines the network (the *reference*) lives here too, in
:func:`block_activation` and :func:`output_scores`, so that the numpy reference inference
(``bnnc.ir.reference``) and the exact threshold derivation (``bnnc.ir.ilp``) evaluate literally the
same floating-point operations.  Frontends record which float precision their framework uses
(``arithmetic``): the text language uses float64, ONNX models float32.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import ModelError
from bnnc.ir.conv import Conv2d, Pool2d, Structure
from bnnc.ir.domain import InputDomain
from bnnc.ir.names import check_name
from bnnc.ir.region import Region

Arithmetic = Literal["float64", "float32"]

# The most input bits a model may declare: bnnc keeps per-bit arrays (regions, variable maps,
# formulas), so a declared `input 100000x100000` is refused here rather than allocated.
MAX_INPUT_BITS = 1 << 24

# An oracle maps integer pre-activations s = A·x (neurons or classes on the last axis) to what
# the model's own engine computes from them: activations (True = +1) for an inner block, scores
# for the output block.  Frontends whose framework arithmetic is not the formula below (ONNX
# graphs run by onnxruntime) supply one; the threshold derivation then evaluates it directly.
ActivationOracle = Callable[[NDArray[np.int64]], NDArray[np.bool_]]
ScoreOracle = Callable[[NDArray[np.int64]], NDArray[np.floating]]


@dataclass(frozen=True, eq=False)
class BatchNorm:
    """z = (y − mean) / sqrt(var + eps) · gamma + beta, element-wise (inference mode)."""

    gamma: NDArray[np.float64]
    beta: NDArray[np.float64]
    mean: NDArray[np.float64]
    var: NDArray[np.float64]
    eps: float


@dataclass(frozen=True, eq=False)
class InnerBlock:
    """x_{k+1} = sign(BN(A x_k + b)), with sign(0) = +1 (paper eq. 1–3)."""

    name: str
    weights: NDArray[np.int8]  # (n_out, n_in), entries in {-1, 0, +1}
    bias: NDArray[np.float64]  # (n_out,)
    batchnorm: BatchNorm | None  # None: the block binarises A x + b directly
    oracle: ActivationOracle | None = None  # overrides bias and batch norm when given
    # A convolution or pooling whose expansion ``weights`` is (bnnc.ir.conv): the shared
    # weights, kept for printing and checked by ``verify``; the passes read ``weights``.
    structure: Structure | None = None

    @property
    def n_in(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weights.shape[0])

    @property
    def shift(self) -> NDArray[np.int64] | None:
        """Per neuron, the constant that ±1 padding adds to ⟨row, x⟩ (None: nothing)."""
        if isinstance(self.structure, Conv2d) and self.structure.pad_value != 0:
            return self.structure.shift
        return None


@dataclass(frozen=True, eq=False)
class OutputBlock:
    """label = argmax(A x + b), ties to the lowest index (paper eq. 4)."""

    name: str
    weights: NDArray[np.int8]  # (n_classes, n_in)
    bias: NDArray[np.float64]  # (n_classes,)
    oracle: ScoreOracle | None = None  # overrides the bias when given

    @property
    def n_in(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_classes(self) -> int:
        return int(self.weights.shape[0])


@dataclass(frozen=True)
class TrainedForm:
    """A model's blocks in bnnc's trained form, read back from the file of a model whose blocks
    are defined by their framework's arithmetic (oracles), e.g. an ONNX graph.

    Per inner block, candidate blocks in order of preference: the graph's own parameters (bias,
    batch norm) when the tail is literally bias → batch norm → binarisation with ±1 weights and
    activations, then the tail's affine map as one batch norm (γ = the merged scale, β = the
    merged shift; e.g. PyTorch dynamo's c_j and bias).  Then the output block's candidates.  A
    candidate is only a proposal: ``bnnc.backend.onnx_text`` keeps it only if it compiles to
    the same integer thresholds as the model.  ``missing`` says why some block has none.
    """

    source: str
    inner: tuple[tuple[InnerBlock, ...], ...]
    output: tuple[OutputBlock, ...]
    missing: str


@dataclass(frozen=True, eq=False)
class BnnModel:
    """A whole BNN: input shape (flattened row-major), inner blocks, output block."""

    name: str
    input_shape: tuple[int, ...]
    blocks: tuple[InnerBlock, ...]
    output: OutputBlock
    class_names: tuple[str, ...] | None = None
    arithmetic: Arithmetic = "float64"
    # Frontends that read another framework's file say, per input bit, what it means on that
    # model's own input (e.g. "x[0,0,3,4] >= 0.5"), and give its own inference on the input
    # tensor that a bit vector stands for: witnesses are checked against it too.
    input_conditions: tuple[str, ...] | None = None
    framework_predict: Callable[[NDArray[np.bool_]], NDArray[np.int64]] | None = None
    # A region the model file declares (text language ``fix``/``near``): every verb's default.
    region: Region | None = None
    # The trained form a frontend read back from the file (ONNX), for ``--emit bnn``: only a
    # proposal, checked against the blocks when printed, so it never takes part in equality.
    trained_form: TrainedForm | None = dataclasses.field(default=None, compare=False, repr=False)
    # The input domain the user declared when loading (``--input-domain``), if any.
    input_domain: InputDomain | None = None
    # An integer first layer (``int:LO..HI`` read as values, bnnc.frontend.onnx.pixels): each
    # input element is this many order-encoded bits (the last axis of ``input_shape``), and
    # every formula carries the order clauses (``domain.order_clauses``); 0 otherwise.
    order_encoded: int = 0

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.input_shape, dtype=np.int64))

    @property
    def n_classes(self) -> int:
        return self.output.n_classes

    def verify(self) -> None:
        """Check shapes, weight ranges and parameter sanity; raise :class:`ModelError`."""
        verify_common(self.name, self.input_shape, self.class_names, self.output.n_classes)
        width = self.n_inputs
        for block in self.blocks:
            _verify_linear(block.name, block.weights, block.bias, width)
            if block.batchnorm is not None:
                _verify_batchnorm(block.name, block.batchnorm, block.n_out)
            if block.structure is not None:
                _verify_structure(block)
            width = block.n_out
        _verify_linear(self.output.name, self.output.weights, self.output.bias, width)
        names = [b.name for b in self.blocks] + [self.output.name]
        for layer_name in names:
            check_name("layer name", layer_name)
        if len(set(names)) != len(names):
            raise ModelError(f"model {self.name!r}: layer names must be unique, got {names}")
        if self.input_conditions is not None:
            if len(self.input_conditions) != self.n_inputs:
                raise ModelError(f"model {self.name!r}: one input condition per input bit")
            for condition in self.input_conditions:
                check_name("input condition", condition)


def check_input_size(input_shape: tuple[int, ...]) -> None:
    """Refuse an input of more than :data:`MAX_INPUT_BITS` bits, before anything is allocated."""
    size = math.prod(input_shape)
    if size > MAX_INPUT_BITS:
        shape = "x".join(map(str, input_shape))
        raise ModelError(
            f"the input {shape} has {size:,} bits; bnnc reads at most {MAX_INPUT_BITS:,} "
            f"(each bit costs bytes in every per-bit array: about {size / 2**30:,.1f} GiB here)"
        )


def verify_common(
    name: str, input_shape: tuple[int, ...], class_names: tuple[str, ...] | None, n_classes: int
) -> None:
    """Checks shared by every stage's model: its name, input shape and class names."""
    check_name("model name", name)
    if not input_shape or any(d <= 0 for d in input_shape):
        raise ModelError(f"model {name!r}: input shape {input_shape} must have positive sizes")
    check_input_size(input_shape)
    if n_classes < 1:
        raise ModelError(f"model {name!r}: the output block needs at least one class")
    if class_names is not None:
        if len(class_names) != n_classes:
            raise ModelError(
                f"model {name!r}: {len(class_names)} class names for {n_classes} classes"
            )
        for class_name in class_names:
            check_name("class name", class_name)
        if len(set(class_names)) != len(class_names):
            raise ModelError(f"model {name!r}: class names must be distinct")


def _verify_linear(
    name: str, weights: NDArray[np.int8], bias: NDArray[np.float64], n_in: int
) -> None:
    if weights.ndim != 2 or weights.shape[0] == 0:
        raise ModelError(f"layer {name!r}: weights must be a non-empty matrix")
    if weights.shape[1] != n_in:
        raise ModelError(
            f"layer {name!r}: weight rows have {weights.shape[1]} entries, expected {n_in} "
            "(the width of the previous layer)"
        )
    if not np.isin(weights, (-1, 0, 1)).all():
        raise ModelError(f"layer {name!r}: weights must be -1, 0 or +1")
    if bias.shape != (weights.shape[0],):
        raise ModelError(f"layer {name!r}: {bias.size} bias values for {weights.shape[0]} neurons")
    if not np.isfinite(bias).all():
        raise ModelError(f"layer {name!r}: bias values must be finite")


def _verify_structure(block: InnerBlock) -> None:
    structure = block.structure
    assert structure is not None
    what = f"layer {block.name!r}"
    structure.verify(what)
    if not np.array_equal(structure.weights, block.weights):
        raise ModelError(f"{what}: the weights are not the expansion of its {structure.describe()}")
    if isinstance(structure, Pool2d) and (
        block.batchnorm is not None
        or block.oracle is not None
        or not np.array_equal(block.bias, structure.bias())
    ):
        raise ModelError(f"{what}: a pooling layer has the bias of its windows and no batch norm")


def _verify_batchnorm(name: str, bn: BatchNorm, n_out: int) -> None:
    for field in ("gamma", "beta", "mean", "var"):
        values: NDArray[np.float64] = getattr(bn, field)
        if values.shape != (n_out,):
            raise ModelError(
                f"layer {name!r}: batch norm {field} has {values.size} values for {n_out} neurons"
            )
        if not np.isfinite(values).all():
            raise ModelError(f"layer {name!r}: batch norm {field} values must be finite")
    if not np.isfinite(bn.eps) or bn.eps < 0:
        raise ModelError(f"layer {name!r}: batch norm eps must be finite and ≥ 0")
    bad = np.flatnonzero(~(bn.var + bn.eps > 0))
    if bad.size:
        raise ModelError(
            f"layer {name!r}: neuron {int(bad[0])} has var + eps = "
            f"{float(bn.var[bad[0]] + bn.eps)!r}; it must be > 0"
        )


def _dtype(arithmetic: Arithmetic) -> type[np.floating]:
    return np.float32 if arithmetic == "float32" else np.float64


def block_activation(
    block: InnerBlock, preactivation: NDArray[np.int64], arithmetic: Arithmetic
) -> NDArray[np.bool_]:
    """The reference sign(BN(s + b)) ≥ 0 for integer pre-activations s = A·x.

    ``preactivation`` has the neurons on its last axis (any leading batch shape).  The result is
    True for +1.  sign(0) = +1: z ≥ 0 gives +1, as in the paper.
    """
    shift = block.shift
    if shift is not None:  # ±1 padding: a constant part of every border neuron's sum
        preactivation = preactivation + shift
    if block.oracle is not None:
        return np.asarray(block.oracle(preactivation), dtype=bool)
    dt = _dtype(arithmetic)
    y = preactivation.astype(dt) + block.bias.astype(dt)
    if block.batchnorm is None:
        return np.asarray(y >= 0)
    bn = block.batchnorm
    with np.errstate(all="ignore"):
        z = (y - bn.mean.astype(dt)) / np.sqrt(bn.var.astype(dt) + dt(bn.eps)) * bn.gamma.astype(
            dt
        ) + bn.beta.astype(dt)
    return np.asarray(z >= 0)


def output_scores(
    block: OutputBlock, preactivation: NDArray[np.int64], arithmetic: Arithmetic
) -> NDArray[np.floating]:
    """The reference scores s + b for integer pre-activations s = A·x (classes on the last axis)."""
    if block.oracle is not None:
        return np.asarray(block.oracle(preactivation))
    dt = _dtype(arithmetic)
    return np.asarray(preactivation.astype(dt) + block.bias.astype(dt))
