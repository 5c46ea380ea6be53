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
reachable pre-activation of each class (or computed by the block's oracle).  Each class's score
must be monotone in its own pre-activation (a class whose score falls has its row negated, so
that every score rises).  Usually the comparison is then a function of d = s_c − s_j alone: a
threshold ``beats[c, j]`` on the difference.  Where it is not (per-class output scales, such as
a batch norm after the last layer, or biases within float rounding of an integer apart), the pass
tabulates the exact relation over every reachable (s_c, s_j) pair, which for monotone scores is a
*staircase*: c ranks above j ⇔ s_c ≥ g(s_j) for a non-decreasing g, kept as the steps where g
rises (:class:`Staircase`).
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


@dataclass(frozen=True)
class Staircase:
    """Class ``above`` ranks above class ``below`` (above < below) ⇔ for every step (v, u):
    ⟨weights[below], x⟩ ≥ v → ⟨weights[above], x⟩ ≥ u.

    Steps are strictly increasing in both v and u, so the comparison is s_above ≥ g(s_below)
    with g the largest u whose v is reached (−∞ if none): a non-decreasing staircase.
    """

    above: int
    below: int
    steps: tuple[tuple[int, int], ...]  # (v, u) pairs

    def holds(self, s_above: NDArray[np.int64], s_below: NDArray[np.int64]) -> NDArray[np.bool_]:
        """The comparison at integer sums (any broadcastable shapes)."""
        result = np.ones(np.broadcast(s_above, s_below).shape, dtype=bool)
        for v, u in self.steps:
            result &= (s_below < v) | (s_above >= u)
        return result


@dataclass(frozen=True, eq=False)
class ArgmaxLayer:
    """Output: class c < j ranks above j ⇔ ⟨weights[c] − weights[j], x⟩ ≥ beats[c, j], except
    for the pairs listed in ``staircases``, which compare the two sums by a staircase (their
    ``beats`` entry is 0 and ignored).

    The label is the class that ranks above every other (ties went to the lower index when
    ``beats`` was derived).  Only the strict upper triangle of ``beats`` is meaningful.
    """

    name: str
    weights: NDArray[np.int8]  # (n_classes, n_in)
    beats: NDArray[np.int64]  # (n_classes, n_classes)
    staircases: tuple[Staircase, ...] = ()  # sorted by (above, below), each pair at most once

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
        _verify_staircases(self.output)
        names = [layer.name for layer in self.layers] + [self.output.name]
        if len(set(names)) != len(names):
            raise ModelError(f"model {self.name!r}: layer names must be unique, got {names}")


def _verify_staircases(out: ArgmaxLayer) -> None:
    pairs = [(st.above, st.below) for st in out.staircases]
    if pairs != sorted(set(pairs)):
        raise ModelError(f"layer {out.name!r}: staircases must be sorted, one per pair of classes")
    for st in out.staircases:
        where = f"layer {out.name!r}, staircase {st.above} vs {st.below}"
        if not 0 <= st.above < st.below < out.n_classes:
            raise ModelError(f"{where}: needs classes 0 ≤ above < below < {out.n_classes}")
        if out.beats[st.above, st.below] != 0:
            raise ModelError(f"{where}: its beats entry must be 0 (it is not used)")
        if not st.steps or not all(isinstance(v, int) and isinstance(u, int) for v, u in st.steps):
            raise ModelError(f"{where}: needs at least one step of integers")
        for (v0, u0), (v1, u1) in zip(st.steps, st.steps[1:], strict=False):
            if not (v0 < v1 and u0 < u1):
                raise ModelError(f"{where}: steps must increase strictly in both sums")


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
