"""Pass 2: MILP → ILP, exact integer thresholds read off the reference arithmetic at every
reachable pre-activation (the method is described in ``bnnc.ir.ilp``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import ModelError
from bnnc.ir.bnn import (
    Arithmetic,
    BnnModel,
    InnerBlock,
    OutputBlock,
    block_activation,
    output_scores,
)
from bnnc.ir.ilp import ArgmaxLayer, IlpModel, Staircase, ThresholdLayer
from bnnc.ir.milp import MilpModel
from bnnc.ir.tensor import frozen, ternary

# --------------------------------------------------------------------------- the pass


def lower_milp_to_ilp(milp: MilpModel) -> IlpModel:
    """Derive exact integer thresholds from the reference arithmetic of ``milp.source``."""
    return lower_bnn_to_ilp(milp.source)


def lower_bnn_to_ilp(model: BnnModel) -> IlpModel:
    """The same from the BNN itself: the thresholds come from the reference arithmetic, not
    from the MILP's constraints, so the pipeline skips building the MILP unless it is asked
    for (it costs 0.24 s on TFC-w1a1)."""
    arithmetic = model.arithmetic
    layers: list[ThresholdLayer] = []
    incoming = np.zeros(model.n_inputs, dtype=np.int8)  # constant values of the layer's inputs
    for block in model.blocks:
        weights, shift = _fold_constant_inputs(block.weights, incoming)
        thresholds, directions = _layer_thresholds(block, weights, shift, arithmetic)
        # γ < 0 flips the direction (negated row); constant neurons get zero rows.
        weights = (weights * directions[:, None]).astype(np.int8)
        layer = ThresholdLayer(block.name, ternary(weights), frozen(thresholds, np.int64))
        layers.append(layer)
        incoming = layer.constant_values()

    out = model.output
    weights, shift = _fold_constant_inputs(out.weights, incoming)
    weights, beats, staircases = _output_comparisons(out, weights, shift, arithmetic)
    return IlpModel(
        name=model.name,
        input_shape=model.input_shape,
        layers=tuple(layers),
        output=ArgmaxLayer(out.name, ternary(weights), frozen(beats, np.int64), staircases),
        class_names=model.class_names,
    )


def _reachable_grid(
    weights: NDArray[np.int8],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Row m holds every row's m-th smallest reachable sum −n′ + 2m (masked past n′)."""
    n_active = np.count_nonzero(weights, axis=1).astype(np.int64)
    m = np.arange(int(n_active.max(initial=0)) + 1, dtype=np.int64)[:, None]
    return n_active, 2 * m - n_active[None, :], m <= n_active[None, :]


def _fold_constant_inputs(
    weights: NDArray[np.int8], constants: NDArray[np.int8]
) -> tuple[NDArray[np.int8], NDArray[np.int64]]:
    """Zero the columns of constant inputs; return the weights and each row's constant part."""
    shift = weights.astype(np.int64) @ constants.astype(np.int64)
    folded = np.where(constants[None, :] != 0, 0, weights).astype(np.int8)
    return folded, shift


def _layer_thresholds(
    block: InnerBlock, weights: NDArray[np.int8], shift: NDArray[np.int64], arithmetic: Arithmetic
) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    """Per neuron (C, direction): the neuron is +1 ⇔ direction·⟨row, x⟩ ≥ C, on every x.

    direction is +1 or −1 for a neuron that depends on x, and 0 for a constant neuron, whose
    threshold is then 0 (always +1) or 1 (always −1).
    """
    n_active, sums, reachable = _reachable_grid(weights)
    # The reference sees ⟨row, x⟩ plus the contribution of folded constant inputs.
    fires = block_activation(block, np.where(reachable, sums, 0) + shift, arithmetic)

    thresholds = np.empty(block.n_out, dtype=np.int64)
    directions = np.empty(block.n_out, dtype=np.int8)
    for i in range(block.n_out):
        column = fires[: n_active[i] + 1, i]
        column_sums = sums[: n_active[i] + 1, i]
        if column.all() or not column.any():
            thresholds[i], directions[i] = (0 if column[0] else 1), 0
            continue
        steps = np.diff(column.astype(np.int8))
        if (steps >= 0).all():  # −1 … −1 +1 … +1: fires ⇔ s ≥ first firing sum
            thresholds[i], directions[i] = column_sums[np.argmax(column)], 1
        elif (steps <= 0).all():  # +1 … +1 −1 … −1: fires ⇔ −s ≥ −(last firing sum)
            last = column.size - 1 - int(np.argmax(column[::-1]))
            thresholds[i], directions[i] = -column_sums[last], -1
        else:
            raise ModelError(
                f"layer {block.name!r}, neuron {i}: the activation is not monotone in the "
                "pre-activation"
            )
    return thresholds, directions


def _output_comparisons(
    out: OutputBlock, weights: NDArray[np.int8], shift: NDArray[np.int64], arithmetic: Arithmetic
) -> tuple[NDArray[np.int8], NDArray[np.int64], tuple[Staircase, ...]]:
    """(weights, beats, staircases): class c < j ranks above j ⇔ ⟨w_c − w_j, x⟩ ≥ beats[c, j],
    or by the pair's staircase where no threshold on the difference exists.

    Every class's score is tabulated at every reachable pre-activation and must be monotone in
    it.  If every score that varies falls (a negative output scale), all rows are negated; if
    some rise and others fall (per-class scales of both signs), the falling classes' rows are
    negated.  Either way every table is then non-decreasing in its class's sum.
    """
    n_active, sums, reachable = _reachable_grid(weights)
    scores = output_scores(out, np.where(reachable, sums, 0) + shift, arithmetic)
    tables = [scores[: n_active[c] + 1, c] for c in range(out.n_classes)]
    steps = [np.sign(np.diff(t.astype(np.float64))) for t in tables]
    rises = np.array([(st > 0).any() for st in steps], dtype=bool)
    falls = np.array([(st < 0).any() for st in steps], dtype=bool)
    bad = np.flatnonzero(rises & falls)
    if bad.size:
        raise ModelError(
            f"layer {out.name!r}: the score of class {int(bad[0])} rises and falls with its "
            "pre-activation (it is not monotone), so the argmax is not a comparison of "
            "weighted sums"
        )
    flip = falls if rises.any() else np.full(out.n_classes, falls.any())
    if flip.any():  # s ↦ −s reverses a table; the reachable sums are symmetric
        weights = np.where(flip[:, None], -weights, weights).astype(np.int8)
        tables = [t[::-1] if f else t for t, f in zip(tables, flip.tolist(), strict=True)]
    beats = np.zeros((out.n_classes, out.n_classes), dtype=np.int64)
    staircases: list[Staircase] = []
    for c in range(out.n_classes):
        for j in range(c + 1, out.n_classes):
            threshold = _pair_threshold(tables[c], tables[j])
            if threshold is not None:
                beats[c, j] = threshold
            else:
                staircases.append(_pair_staircase(out.name, c, j, tables[c], tables[j]))
    return weights, beats, tuple(staircases)


def _pair_threshold(table_c: NDArray[np.floating], table_j: NDArray[np.floating]) -> int | None:
    """T such that score_c ≥ score_j ⇔ v_c − v_j ≥ T on every reachable (v_c, v_j), or None.

    Each class's variable part v is reachable on its own (a superset of the joint pairs), so
    the answer holds on every input.  If the float comparison is not a function of v_c − v_j
    (per-class scales, or biases within rounding of an integer apart), no T exists.
    """
    v_c = np.arange(-(table_c.size - 1), table_c.size, 2, dtype=np.int64)
    v_j = np.arange(-(table_j.size - 1), table_j.size, 2, dtype=np.int64)
    wins = table_c[:, None] >= table_j[None, :]
    diffs = v_c[:, None] - v_j[None, :]
    if not wins.any():
        return int(diffs.max()) + 1
    first_win = int(diffs[wins].min())
    if (~wins).any() and first_win <= int(diffs[~wins].max()):
        return None
    return first_win


def _pair_staircase(
    name: str, c: int, j: int, table_c: NDArray[np.floating], table_j: NDArray[np.floating]
) -> Staircase:
    """The exact relation score_c ≥ score_j over every reachable (v_c, v_j), as a staircase.

    Both tables are non-decreasing, so class c wins at (v_c, v_j) ⇔ v_c ≥ g(v_j), g the least
    winning v_c (n_c + 2 if none), non-decreasing in v_j.  A step is kept wherever g rises.
    The staircase is checked against the whole table (scores that are NaN would break it).
    """
    n_c, n_j = table_c.size - 1, table_j.size - 1
    wins = table_c[:, None] >= table_j[None, :]
    first = np.where(wins.any(axis=0), np.argmax(wins, axis=0), n_c + 1)  # per v_j, an index
    rows = np.arange(n_c + 1)[:, None]
    if (np.diff(first) < 0).any() or not np.array_equal(wins, rows >= first[None, :]):
        raise ModelError(
            f"layer {name!r}: comparing the scores of classes {c} and {j} is not monotone in "
            "their pre-activations, so bnnc cannot encode it"
        )
    steps: list[tuple[int, int]] = []
    previous = 0
    for m, g in enumerate(first.tolist()):
        if g > previous:
            steps.append((2 * m - n_j, 2 * g - n_c))
            previous = g
    if not steps:  # c always wins: one step that always holds
        steps.append((-n_j, -n_c))
    return Staircase(c, j, tuple(steps))
