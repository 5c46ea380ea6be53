"""Stage 3 — integer threshold ILP (paper eq. 8 and 10), derived exactly from the reference.

Every hidden neuron becomes ``v_i ⇔ ⟨a_i, x⟩ ≥ C_i`` over x ∈ {−1, +1}ⁿ with an integer C_i, and
every pair of classes c < j becomes ``c ranks above j ⇔ ⟨a_c − a_j, x⟩ ≥ T_cj``.

Exactness.  A neuron with n' non-zero weights can only see the pre-activations
s ∈ {−n', −n'+2, …, n'}.  Instead of rounding a float expression such as μ − b − β·σ/γ (which is
wrong whenever the float lands next to an integer), :func:`lower_milp_to_ilp` evaluates the
reference arithmetic (``bnnc.bnn.block_activation``) at *every* reachable s and reads the
threshold off the resulting step function.  Correctly rounded float operations are monotone, so
the activation is monotone in s: non-decreasing for γ > 0, non-increasing for γ < 0 (the weight
row is negated, which flips the direction), constant for γ = 0.  A neuron whose activation is the
same on every reachable s is *constant*: it gets the all-zero row with C = 0 (always +1) or C = 1
(always −1), and its value is folded into the next layer, which drops that column and moves the
contribution into its own threshold.

Output comparisons use the reference scores, e.g. fl(s_c + b_c) ≥ fl(s_j + b_j), tabulated at every
reachable pre-activation of each class (or computed by the block's oracle).  The comparison is a
function of d = s_c − s_j alone except when the biases differ by an amount within float rounding
of an integer; the pass checks every reachable (s_c, s_j) pair and refuses, with a clear message,
the case where the float comparison depends on more than d.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bnnc.bnn import (
    Arithmetic,
    InnerBlock,
    OutputBlock,
    block_activation,
    output_scores,
    verify_common,
)
from bnnc.errors import ModelError
from bnnc.milp import MilpModel
from bnnc.region import Region
from bnnc.tensor import frozen, ternary


@dataclass(frozen=True, eq=False)
class ThresholdLayer:
    """Hidden layer: neuron i is +1 ⇔ ⟨weights[i], x⟩ ≥ thresholds[i].

    An all-zero row is a constant neuron: threshold ≤ 0 means always +1, > 0 always −1.
    """

    name: str
    weights: NDArray[np.int8]  # (n_out, n_in) in {-1, 0, +1}
    thresholds: NDArray[np.int64]  # (n_out,)

    @property
    def n_in(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weights.shape[0])

    def constant_values(self) -> NDArray[np.int8]:
        """Per neuron: +1 / −1 for a constant neuron, 0 for a neuron that depends on x."""
        is_const = ~self.weights.any(axis=1)
        values = np.where(self.thresholds <= 0, 1, -1).astype(np.int8)
        return np.where(is_const, values, 0).astype(np.int8)


@dataclass(frozen=True, eq=False)
class ArgmaxLayer:
    """Output: class c < j ranks above j ⇔ ⟨weights[c] − weights[j], x⟩ ≥ beats[c, j].

    The label is the class that ranks above every other (ties went to the lower index when
    ``beats`` was derived).  Only the strict upper triangle of ``beats`` is meaningful.
    """

    name: str
    weights: NDArray[np.int8]  # (n_classes, n_in)
    beats: NDArray[np.int64]  # (n_classes, n_classes)

    @property
    def n_in(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_classes(self) -> int:
        return int(self.weights.shape[0])


@dataclass(frozen=True, eq=False)
class IlpModel:
    name: str
    input_shape: tuple[int, ...]
    layers: tuple[ThresholdLayer, ...]
    output: ArgmaxLayer
    class_names: tuple[str, ...] | None = None
    region: Region | None = None  # declared by the model file (text language fix/near)

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.input_shape, dtype=np.int64))

    @property
    def n_classes(self) -> int:
        return self.output.n_classes

    def verify(self) -> None:
        verify_common(self.name, self.input_shape, self.class_names, self.output.n_classes)
        width = self.n_inputs
        for layer in self.layers:
            _verify_rows(layer.name, layer.weights, width)
            if layer.thresholds.shape != (layer.n_out,):
                raise ModelError(
                    f"layer {layer.name!r}: {layer.thresholds.size} thresholds for "
                    f"{layer.n_out} neurons"
                )
            width = layer.n_out
        _verify_rows(self.output.name, self.output.weights, width)
        n = self.output.n_classes
        if self.output.beats.shape != (n, n):
            raise ModelError(f"layer {self.output.name!r}: comparison table must be {n}x{n}")
        names = [layer.name for layer in self.layers] + [self.output.name]
        if len(set(names)) != len(names):
            raise ModelError(f"model {self.name!r}: layer names must be unique, got {names}")


def _verify_rows(name: str, weights: NDArray[np.int8], n_in: int) -> None:
    if weights.ndim != 2 or weights.shape[0] == 0:
        raise ModelError(f"layer {name!r}: weights must be a non-empty matrix")
    if weights.shape[1] != n_in:
        raise ModelError(
            f"layer {name!r}: weight rows have {weights.shape[1]} entries, expected {n_in}"
        )
    if not np.isin(weights, (-1, 0, 1)).all():
        raise ModelError(f"layer {name!r}: weights must be -1, 0 or +1")


# --------------------------------------------------------------------------- the pass


def lower_milp_to_ilp(milp: MilpModel) -> IlpModel:
    """Derive exact integer thresholds from the reference arithmetic of ``milp.source``."""
    model = milp.source
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
    weights, beats = _output_comparisons(out, weights, shift, arithmetic)
    return IlpModel(
        name=model.name,
        input_shape=model.input_shape,
        layers=tuple(layers),
        output=ArgmaxLayer(out.name, ternary(weights), frozen(beats, np.int64)),
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
) -> tuple[NDArray[np.int8], NDArray[np.int64]]:
    """(weights, beats): class c < j ranks above j ⇔ ⟨w_c − w_j, x⟩ ≥ beats[c, j].

    Every class's score is tabulated at every reachable pre-activation.  Scores must all be
    non-decreasing in the pre-activation, or all non-increasing (a negative output scale); in
    the second case the rows are negated so that the comparison is again "difference ≥ T".
    """
    n_active, sums, reachable = _reachable_grid(weights)
    scores = output_scores(out, np.where(reachable, sums, 0) + shift, arithmetic)
    tables = [scores[: n_active[c] + 1, c] for c in range(out.n_classes)]
    steps = [np.sign(np.diff(t.astype(np.float64))) for t in tables]
    rising = any((st > 0).any() for st in steps)
    falling = any((st < 0).any() for st in steps)
    if rising and falling:
        raise ModelError(
            f"layer {out.name!r}: some class scores rise and others fall with the "
            "pre-activation, so the argmax is not a comparison of weighted sums"
        )
    if falling:  # s ↦ −s reverses every table; the reachable sums are symmetric
        weights = (-weights).astype(np.int8)
        tables = [t[::-1] for t in tables]
    beats = np.zeros((out.n_classes, out.n_classes), dtype=np.int64)
    for c in range(out.n_classes):
        for j in range(c + 1, out.n_classes):
            beats[c, j] = _pair_threshold(out.name, c, j, tables[c], tables[j], arithmetic)
    return weights, beats


def _pair_threshold(
    name: str,
    c: int,
    j: int,
    table_c: NDArray[np.floating],
    table_j: NDArray[np.floating],
    arithmetic: Arithmetic,
) -> int:
    """T such that score_c ≥ score_j ⇔ v_c − v_j ≥ T on every reachable (v_c, v_j).

    Each class's variable part v is reachable on its own (a superset of the joint pairs), so
    the answer holds on every input.  If the float comparison is not a function of v_c − v_j
    (biases within rounding of an integer apart), no T exists and bnnc refuses.
    """
    v_c = np.arange(-(table_c.size - 1), table_c.size, 2, dtype=np.int64)
    v_j = np.arange(-(table_j.size - 1), table_j.size, 2, dtype=np.int64)
    wins = table_c[:, None] >= table_j[None, :]
    diffs = v_c[:, None] - v_j[None, :]
    if not wins.any():
        return int(diffs.max()) + 1
    first_win = int(diffs[wins].min())
    if (~wins).any() and first_win <= int(diffs[~wins].max()):
        raise ModelError(
            f"layer {name!r}: comparing the scores of classes {c} and {j} depends on the size "
            "of the scores, not only on their difference, so no threshold on the difference "
            "expresses it; causes: per-class output scales (e.g. a batch norm after the last "
            f"layer), or biases within {arithmetic} rounding of an integer apart; bnnc cannot "
            "encode this exactly yet"
        )
    return first_win
