"""The walk over the graph that recognises the blocks, whichever exporter wrote them.

Every dynamic tensor is classified as it is computed: the model input or an elementwise
function of it (``Raw``), binarised values ±scale of a bits layer (``Bits``), or inside a
block's tail (``TailOf``).  A ``MatMul``/``Gemm`` that reads bits through a constant matrix of
±c multiples of ternary rows starts a block (:func:`_linear`); the elementwise operators after
it are its tail; the next linear layer ends it and checks that the tail gives two values ±a.
The exporters' patterns all fit this walk:

- Brevitas/QONNX: ``BipolarQuant`` or 1-bit ``Quant`` (custom domain) as the activations and on
  the float weights (a constant sub-graph, folded); ``MatMul``/``Gemm``, then
  ``BatchNormalization`` or its arithmetic spelled out;
- FINN: bipolar ``MultiThreshold`` (``out_scale``/``out_bias``) as the input binarisation and
  as the folded batch norm + sign; ``ArgMax`` or ``TopK`` at the end;
- Larq via tf2onnx: ``Sign`` → ``Add`` → ``Sign`` (``ste_sign``), the batch norm folded into
  ``Mul`` + ``Add``;
- PyTorch's legacy exporter: ``Gemm``/``MatMul``, ``BatchNormalization``, then ``Sign``,
  ``Clip`` + ``Sign`` (Hardtanh) or ``GreaterOrEqual`` + ``Where``;
- PyTorch's dynamo exporter: each batch norm merged into its ``Gemm`` (rows c·s with a real
  bias), exact only within the bounds of :mod:`bnnc.frontend.onnx.exactness`.

:func:`read` then assembles the stage-1 model: one oracle per block (the tail in the engine),
the input conditions, the framework's own inference, and the trained form read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from bnnc.frontend.onnx import conv
from bnnc.frontend.onnx.engine import Engine
from bnnc.frontend.onnx.exactness import (
    check_band_fires,
    check_band_scores,
    exact_in_every_order,
    rounding_bound,
    tail_values,
)
from bnnc.frontend.onnx.inputs import (
    binarises,
    declared_values,
    domain_conditions,
    input_conditions,
    input_scale,
)
from bnnc.frontend.onnx.kinds import Bits, Raw, TailOf, Walk
from bnnc.frontend.onnx.load import OnnxSource, read_source, warn
from bnnc.frontend.onnx.pixels import expand, pixel_conditions, pixel_layer
from bnnc.frontend.onnx.predict import Predictor, UnaryPredictor
from bnnc.frontend.onnx.readback import read_back
from bnnc.frontend.onnx.tails import (
    BINARISERS,
    ELEMENTWISE,
    LABEL_OPS,
    SHAPE_OPS,
    Block,
    fires,
    scores,
    tail_oracle,
)
from bnnc.ir.bnn import BnnModel, InnerBlock, OutputBlock, TrainedForm
from bnnc.ir.conv import Pool2d
from bnnc.ir.domain import InputDomain
from bnnc.ir.names import safe_name
from bnnc.ir.tensor import frozen, ternary

_PREDICTOR_FIELDS = (
    "input_name", "input_shape", "input_dtype", "on_values", "off_values", "single_label",
    "make_engine",
)  # fmt: skip


@dataclass(frozen=True)
class OnnxReading:
    """A model read from ONNX, with the file and the blocks it was read from (for tests that
    look inside)."""

    model: BnnModel
    source: OnnxSource
    blocks: tuple[Block, ...]


CONV_NOT_TRAINED = (
    "convolution and pooling layers are read as threshold neurons of the model's own engine; "
    "their trained form is not read back"
)


def read(
    path: Path, input_domain: InputDomain | None = None, *, expand_int: bool = False
) -> OnnxReading:
    """Read a BNN from an ONNX file; see the package docstring for the patterns.  Under a
    declared ``input_domain`` (pm1, 01) the first linear layer may read the input unbinarised."""
    source = read_source(path)
    walk = Walk(kinds={source.input.name: Raw()}, domain=input_domain, expand_int=expand_int)
    kinds, blocks = walk.kinds, walk.blocks
    label_of: str | None = None
    for node in source.graph.node:
        dyn = [name for name in node.input if name in source.dynamic]
        if not dyn or node.op_type in ("Shape", "Size"):  # static: folded as constants
            continue
        kind = kinds.get(dyn[0])
        if node.op_type in ("MatMul", "Gemm"):
            _linear(source, walk, node)
        elif node.op_type == "Conv":
            conv.convolution(source, walk, node, _tail_scale)
        elif node.op_type == "MaxPool":
            conv.max_pool(source, walk, node, _tail_scale)
        elif node.op_type in conv.REFUSED:
            raise source.error(conv.REFUSED[node.op_type], node)
        elif node.op_type == "Softmax" and isinstance(kind, TailOf) and kind.index is None:
            # Monotone in each score with the others fixed: the argmax is the scores' argmax.
            blocks[kind.block].end = dyn[0]
            walk.ends.add(node.output[0])
            kinds[node.output[0]] = kind
        elif conv.moves(kind, node):
            conv.move(source, walk, node)
        elif node.op_type in ELEMENTWISE and getattr(kind, "index", None) is not None:
            assert kind is not None
            conv.elementwise(source, walk, node, kind)
        elif node.op_type in LABEL_OPS:
            if not isinstance(kind, TailOf):
                raise source.error("the label is taken before the output layer", node)
            if dyn[0] not in walk.ends:
                blocks[kind.block].end = dyn[0]
            label_of = node.output[1] if node.op_type == "TopK" else node.output[0]
            for out in node.output:
                kinds[out] = kind
        elif len(dyn) != 1 or node.op_type not in ELEMENTWISE | SHAPE_OPS:
            raise source.error(
                "not part of a BNN block bnnc understands (expected a MatMul/Gemm reading "
                "binarised values, or an elementwise operator with constant operands)",
                node,
            )
        elif isinstance(kind, Bits):
            if node.op_type not in SHAPE_OPS:
                raise source.error(
                    "only reshapes may sit between a binarisation and the next MatMul", node
                )
            kinds[node.output[0]] = kind
        elif kind is not None:
            kinds[node.output[0]] = kind
        else:
            raise source.error("reads a tensor bnnc has not classified", node)

    output = source.graph.output[0].name
    kind = kinds.get(output)
    if not isinstance(kind, TailOf):
        raise source.error(f"the output {output!r} is not computed by a final linear layer")
    last = blocks[kind.block]
    if not last.end:
        last.end = output
    if label_of is not None and output != label_of:
        raise source.error(f"the output {output!r} is not the index output of ArgMax/TopK")
    return OnnxReading(_build(source, walk), source, tuple(blocks))


def _linear(source: OnnxSource, walk: Walk, node: onnx.NodeProto) -> None:
    kinds, blocks, widths = walk.kinds, walk.blocks, walk.widths
    a_name, b_name = node.input[0], node.input[1]
    # The previous block ends here (its tail feeds this layer), or the input bits are found.
    kind = conv.consume(source, walk, node, a_name, _tail_scale, _input_layer_scale)
    if kind.layer != len(blocks):
        raise source.error("a linear layer reads an earlier layer (skip connections)", node)
    matrix = source.const(b_name)
    if matrix is None or matrix.ndim != 2:
        raise source.error("the weight operand must be a constant matrix", node)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    offset = np.zeros(0)
    if node.op_type == "Gemm":
        if attrs.get("transA", 0):
            raise source.error("Gemm with transA=1 is not supported", node)
        weights = matrix if attrs.get("transB", 0) else matrix.T
        alpha = float(attrs.get("alpha", 1.0))
        if len(node.input) > 2 and node.input[2]:
            bias = source.const(node.input[2])
            if bias is None:
                raise source.error("the Gemm bias must be a constant", node)
            try:
                bias = np.broadcast_to(bias, (1, weights.shape[0]))[0]
            except ValueError:
                raise source.error(
                    f"the Gemm bias has shape {bias.shape}, not one value per neuron", node
                ) from None
            # β·bias is exact in float64 (a product of two float32 values).
            offset = float(attrs.get("beta", 1.0)) * bias.astype(np.float64)
    else:
        weights, alpha = matrix.T, 1.0
    if kind.index is not None:  # after a convolution: the columns follow its layout
        weights = conv.columns(source, node, weights, kind.index, widths[kind.layer])
    if weights.shape[1] != widths[kind.layer]:
        raise source.error(
            f"weights have {weights.shape[1]} inputs, the previous layer has {widths[kind.layer]}",
            node,
        )
    if matrix.dtype != np.float32:
        raise source.error(f"weights are {matrix.dtype}; bnnc reads float32 layers", node)
    magnitude = np.abs(weights).max(axis=1)
    safe = np.where(magnitude > 0, magnitude, 1)[:, None]
    ternary_rows = np.where(magnitude[:, None] > 0, weights / safe, 0)
    if not np.isin(ternary_rows, (-1.0, 0.0, 1.0)).all():
        raise source.error(
            "weights are not ±c multiples of ternary rows (not a binarised layer)", node
        )
    rows = ternary(ternary_rows)
    n_out = rows.shape[0]
    if offset.size == 0:
        offset = np.zeros(n_out)
    # Each product is ±a·c (exact in float64: two float32 factors); α scales the sum.
    per_term = np.float64(kind.scale) * magnitude.astype(np.float64)
    gain = alpha * per_term
    n_active = np.count_nonzero(rows, axis=1)
    exact = exact_in_every_order(alpha, per_term, offset, n_active)
    gemm_offset = offset
    if kind.layer == 0 and walk.pixel is not None:
        rows, gain, offset, bound = expand(
            walk.pixel, rows, magnitude.astype(np.float64), alpha, gemm_offset
        )
        block = Block(0, node, rows, gain, offset, bound, node.output[0])
        blocks.append(block)
        kinds[node.output[0]] = TailOf(len(blocks) - 1)
        return
    if kind.layer == 0 and walk.declared is not None and sum(walk.declared[:2]) != 0:
        # Inputs v_false/v_true = mid ∓ half: ⟨c·s, v⟩ = c·half·t + c·mid·Σs for the ±1 sum t.
        v_false, v_true, _ = walk.declared
        mid = (v_false + v_true) / 2
        offset = gemm_offset + alpha * magnitude.astype(np.float64) * mid * rows.sum(axis=1)
        largest = max(abs(v_false), abs(v_true)) * magnitude.astype(np.float64)
        # The products are c·v_false and c·v_true: with one of them 0 (01 inputs) the partial
        # sums lie on the grid of the other, as for ±a inputs; otherwise they are bounded.
        exact = (
            exact_in_every_order(alpha, largest, gemm_offset, n_active)
            if min(abs(v_false), abs(v_true)) == 0
            else np.zeros(n_out, dtype=bool)
        )
        bound_gain = alpha * largest
    else:
        bound_gain = gain
    # Per row: a row whose every partial sum is exact has no rounding error at all (bound 0),
    # so pairs of such rows compare exactly whatever the other rows do (issue 15, item 4).
    bound = (
        None
        if exact.all()
        else np.where(exact, 0.0, rounding_bound(bound_gain, gemm_offset, n_active, rows.shape[1]))
    )
    start = node.output[0]
    block = Block(kind.layer, node, rows, gain, offset, bound, start)
    blocks.append(block)
    kinds[node.output[0]] = TailOf(len(blocks) - 1)


def _input_layer_scale(source: OnnxSource, walk: Walk, node: onnx.NodeProto) -> float:
    """The first layer's input scale a (inputs ±a), or under a binary declared domain half
    the distance between the two values the layer reads (recorded in ``walk.declared``)."""
    engine = walk.prefix(source)
    domain = walk.domain
    raw_integers = domain is not None and domain.kind == "int" and walk.expand_int
    if raw_integers and domain is not None and not binarises(source, engine):
        walk.pixel = pixel_layer(source, engine, node, domain)
        return walk.pixel.slope / 2
    if domain is None or not domain.binary:
        if domain is not None and not binarises(source, engine):
            raise source.error(
                f"with --input-domain {domain} this first layer reads the input values "
                "themselves; bnnc compiles such a layer for binary inputs (--input-domain "
                "pm1 or 01), and for integer ones (int:LO..HI) in bnnc compile and bnnc vnnlib",
                node,
            )
        return input_scale(source, engine, node)
    if binarises(source, engine):
        warn(
            f"{source.path}: --input-domain {domain} is redundant: the graph binarises its "
            "input itself (bnnc checks that the two domain values give the two bits)"
        )
    v_false, v_true, swapped = declared_values(source, engine, node, domain)
    walk.declared = (v_false, v_true, swapped)
    return (v_true - v_false) / 2


def _tail_scale(source: OnnxSource, block: Block, consumer: onnx.NodeProto) -> float:
    check_band_fires(source, block)
    values, reachable = tail_values(source, block)
    seen = np.unique(np.abs(values[reachable]))
    nonzero = seen[seen != 0]
    end_node = source.producer.get(block.end)
    ends_in_sign = end_node is not None and end_node.op_type == "Sign"
    if nonzero.size != 1 or (0 in seen and not ends_in_sign):
        raise source.error(
            f"the block ending at {block.end!r} does not produce two values ±a before the "
            f"next linear layer (found magnitudes {seen[:6].tolist()})",
            consumer,
        )
    if (values[reachable] == 0).any():
        assert end_node is not None
        sign = f"{end_node.name or '(unnamed)'} (Sign)"
        warn(
            f"{source.path}: node {sign}: ONNX Sign maps a reachable zero pre-activation to 0; "
            "bnnc binarises it as +1 (sign(0) = +1), so on such inputs the formula follows "
            "sign(0) = +1, not the graph"
        )
    return float(nonzero[0])


def _build(source: OnnxSource, walk: Walk) -> BnnModel:
    blocks = walk.blocks
    inner = []
    for k, block in enumerate(blocks[:-1]):
        if isinstance(block.structure, Pool2d):  # an OR per window: its own bias, no tail
            pool = block.structure
            inner.append(InnerBlock(f"layer{k + 1}", pool.weights, pool.bias(), None, None, pool))
            continue
        oracle = tail_oracle(source, block)
        inner.append(
            InnerBlock(
                name=f"layer{k + 1}",
                weights=block.weights,
                bias=frozen(np.zeros(block.weights.shape[0]), np.float64),
                batchnorm=None,
                oracle=fires(oracle),
                structure=block.structure,
            )
        )
    last = blocks[-1]
    values, reachable = tail_values(source, last)
    magnitudes = np.unique(np.abs(values[reachable]))
    score_oracle = tail_oracle(source, last)  # cached by tail_values
    n_classes = last.weights.shape[0]
    binarised_output = bool(
        magnitudes.size == 1 and magnitudes[0] > 0 and _ends_in_binariser(source, last)
    )
    if binarised_output:
        # A binarised output (±1 per class): an inner block, then argmax over its bits.
        check_band_fires(source, last)
        inner.append(
            InnerBlock(
                name=f"layer{len(blocks)}",
                weights=last.weights,
                bias=frozen(np.zeros(n_classes), np.float64),
                batchnorm=None,
                oracle=fires(score_oracle),
            )
        )
        output = OutputBlock(
            "argmax", ternary(np.eye(n_classes)), frozen(np.zeros(n_classes), np.float64)
        )
    else:
        check_band_scores(source, last)
        output = OutputBlock(
            "output",
            last.weights,
            frozen(np.zeros(n_classes), np.float64),
            oracle=scores(score_oracle),
        )
    if walk.input_bits is None:
        raise source.error("the input is never binarised")
    if walk.pixel is not None:
        conditions = pixel_conditions(source, walk.pixel)
        on_values = off_values = np.zeros(1)
    elif walk.declared is not None and walk.domain is not None:
        conditions, on_values, off_values = domain_conditions(source, walk.domain, walk.declared[2])
    else:
        conditions, on_values, off_values = input_conditions(source, walk.prefix(source))
    onnx_model, custom = source.model, source.custom
    run_model = Predictor(
        input_name=source.input.name,
        input_shape=source.input_shape,
        input_dtype=np.dtype(source.input_dtype).str,
        on_values=np.asarray(on_values).reshape(-1),
        off_values=np.asarray(off_values).reshape(-1),
        single_label=_label_output(source),
        # Built on first use: most runs check no witness against the model.
        make_engine=lambda: Engine(onnx_model, custom=custom),
    )
    input_shape = source.input_shape
    if walk.pixel is not None:
        run_model = UnaryPredictor(
            **{f: getattr(run_model, f) for f in _PREDICTOR_FIELDS},
            low=walk.pixel.low,
            unary=walk.pixel.unary,
        )
        input_shape = (*input_shape, walk.pixel.unary)

    model = BnnModel(
        name=safe_name(Path(source.path).stem.replace("-", "_").replace(".", "_")),
        input_shape=input_shape,
        blocks=tuple(inner),
        output=output,
        arithmetic="float32",
        input_conditions=tuple(conditions),
        framework_predict=run_model,
        # Read back now, while the blocks are at hand: it takes well under a millisecond, and
        # the model then carries a plain value rather than the reader's state (package
        # docstring, "The trained form").
        trained_form=None
        if walk.pixel is not None
        else read_back(source, blocks, binarised_output)
        if all(block.structure is None for block in blocks)
        else TrainedForm(str(source.path), (), (), CONV_NOT_TRAINED),
        input_domain=walk.domain,
        order_encoded=0 if walk.pixel is None else walk.pixel.unary,
    )
    model.verify()
    return model


def _ends_in_binariser(source: OnnxSource, block: Block) -> bool:
    node = source.producer.get(block.end)
    return node is not None and node.op_type in BINARISERS | {"Where"}


def _label_output(source: OnnxSource) -> bool:
    node = source.producer.get(source.graph.output[0].name)
    return node is not None and node.op_type in LABEL_OPS
