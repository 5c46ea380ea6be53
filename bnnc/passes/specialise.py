"""Pass 2½: specialise the ILP to a query's region (ILP → ILP, between the ILP and card stages).

Most questions range over a small part of the input space: a Hamming ball of radius K around an
image, some bits fixed.  Over such a region most neurons of a real network cannot change, and a
formula that still encodes them is as hard for the solver as the whole network.  This pass finds
them and folds them away, exactly:

* **Input layer.**  Fixed bits contribute constants: their columns are dropped (zeroed) and
  their contribution moves into the thresholds.  For the free bits, the exact range of ⟨a, x⟩
  over a ball of radius K around c is [s₀ − 2·D, s₀ + 2·U]: s₀ is the sum at the centre, U
  (D) the sum of the K′ largest contributions |a_j| that a flip can add (take), and K′ is K
  less the flips that the fixed bits already force.  (For ±1 rows U is the number of such
  bits, at most K′; comparison rows a_c − a_j have weights up to 2.)  Several balls: the
  intersection of their ranges (sound).  No ball: every free non-zero weight may go either way.
* **Deeper layers.**  Interval propagation over the values +1 / −1 / free: a neuron whose
  threshold lies outside the range of its pre-activation is constant; its value is folded into
  the next layer's threshold (columns of constant neurons are zero, as the ILP stage requires).
* **Output.**  Constant contributions move into the comparison thresholds (``beats``) and into
  the staircases' steps; a comparison decided over the region gets a threshold outside every
  reachable difference, which the next pass turns into a constant.

A constant neuron keeps its place (an all-zero row with threshold 0 or 1), so the variable
layout, the input variables and the projection are unchanged; it just gets no variable.

**Exactness and parsimony.**  For every input *in the region* the specialised network computes
the same labels (each fold replaces a value by the constant it has on the whole region); the
formula is only ever used together with the region's clauses (``CnfFormula.region``, checked
by ``bnnc.passes.lower_query``), so inputs outside the region have no model, and every input
inside has exactly one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from bnnc.ir.ilp import ArgmaxLayer, IlpModel, Staircase, ThresholdLayer
from bnnc.ir.region import FREE, Region
from bnnc.ir.tensor import frozen, ternary

Ranges = tuple[NDArray[np.int64], NDArray[np.int64]]  # per row: lowest and highest sum
RangeFn = Callable[[NDArray[np.int64]], Ranges]  # rows over the previous layer → their ranges


@dataclass(frozen=True)
class LayerReport:
    """How many neurons of a layer still depend on the input after specialisation."""

    name: str
    neurons: int
    free: int

    def to_json(self) -> dict[str, object]:
        return {"layer": self.name, "neurons": self.neurons, "free": self.free}


@dataclass(frozen=True, eq=False)
class Specialisation:
    """The specialised ILP, the region it is exact on, and what the pass folded."""

    ilp: IlpModel
    region: Region
    layers: tuple[LayerReport, ...]
    comparisons: int  # pairs of classes
    comparisons_decided: int  # pairs whose order is the same on every input of the region
    empty: bool  # the region has no input at all (every query over it is unsatisfiable)

    def verify(self) -> None:
        self.ilp.verify()

    def to_json(self) -> dict[str, object]:
        return {
            "layers": [layer.to_json() for layer in self.layers],
            "comparisons": self.comparisons,
            "comparisons_decided": self.comparisons_decided,
            "empty_region": self.empty,
        }


def specialise(ilp: IlpModel, region: Region) -> Specialisation:
    """``ilp`` with every neuron and comparison that is constant over ``region`` folded."""
    fixed = region.fixed != FREE
    values = np.where(fixed, np.where(region.fixed == 1, 1, -1), 0).astype(np.int64)
    input_ranges, empty = _input_ranges(region, values)

    layers: list[ThresholdLayer] = []
    reports: list[LayerReport] = []
    prev_values = values  # per input/neuron of the previous layer: +1, −1, or 0 when free
    first = True
    for layer in ilp.layers:
        weights = layer.weights.astype(np.int64)
        shift = weights @ prev_values  # the constant part of each pre-activation
        weights = np.where(prev_values == 0, weights, 0)  # drop constant columns
        thresholds = layer.thresholds.astype(np.int64) - shift
        low, high = input_ranges(weights) if first else _free_range(weights)
        always, never = thresholds <= low, thresholds > high
        constant = always | never  # (a row left all zero has the range [0, 0]: one of them)
        thresholds = np.where(constant, np.where(always, 0, 1), thresholds)
        weights = np.where(constant[:, None], 0, weights)
        layers.append(ThresholdLayer(layer.name, ternary(weights), frozen(thresholds, np.int64)))
        reports.append(LayerReport(layer.name, layer.n_out, int((~constant).sum())))
        prev_values = np.where(constant, np.where(thresholds <= 0, 1, -1), 0).astype(np.int64)
        first = False

    output, decided = _specialise_output(
        ilp.output, prev_values, input_ranges if first else _free_range
    )
    specialised = replace(ilp, layers=tuple(layers), output=output)
    n_pairs = ilp.n_classes * (ilp.n_classes - 1) // 2
    return Specialisation(specialised, region, tuple(reports), n_pairs, decided, empty)


def _free_range(weights: NDArray[np.int64]) -> Ranges:
    """Range of ⟨row, x⟩ when every column with a non-zero weight may be +1 or −1."""
    spread = np.abs(weights).sum(axis=1)
    return -spread, spread


def _input_ranges(region: Region, values: NDArray[np.int64]) -> tuple[RangeFn, bool]:
    """The exact range function of rows over the region's free input bits (fixed columns are
    already zero in the rows it is given), and whether the region is empty."""
    balls = []
    empty = False
    fixed = values != 0
    for ball in region.balls:
        centre = np.where(ball.center, 1, -1).astype(np.int64)
        forced = int((fixed & (centre != values)).sum())  # flips the fixed bits already make
        budget = ball.max_flips - forced
        if budget < 0:
            empty = True
            budget = 0
        balls.append((np.where(fixed, 0, centre), budget))

    def ranges(weights: NDArray[np.int64]) -> Ranges:
        low, high = _free_range(weights)
        for centre, budget in balls:
            contributions = weights * centre  # per free column, at the centre
            at_centre = contributions.sum(axis=1)
            # Flipping column j moves the sum by −2·contributions[j]: with at most ``budget``
            # flips the sum rises by at most twice the largest ``budget`` negative
            # contributions, and falls by at most twice the largest positive ones.
            high = np.minimum(high, at_centre + 2 * _largest(-contributions, budget))
            low = np.maximum(low, at_centre - 2 * _largest(contributions, budget))
        return low, high

    return ranges, empty


def _largest(values: NDArray[np.int64], count: int) -> NDArray[np.int64]:
    """Per row, the sum of the ``count`` largest positive entries."""
    if count <= 0 or values.shape[1] == 0:
        return np.zeros(values.shape[0], dtype=np.int64)
    positive = np.maximum(values, 0)
    if count >= values.shape[1]:
        return np.asarray(positive.sum(axis=1), dtype=np.int64)
    top = -np.partition(-positive, count - 1, axis=1)[:, :count]
    return np.asarray(top.sum(axis=1), dtype=np.int64)


def _specialise_output(
    out: ArgmaxLayer, prev_values: NDArray[np.int64], range_of: RangeFn
) -> tuple[ArgmaxLayer, int]:
    """Constant contributions moved into ``beats`` and the staircases; comparisons decided
    over the region get a threshold outside every difference the row can reach."""
    weights = out.weights.astype(np.int64)
    shift = weights @ prev_values  # constant part of each class's sum
    weights = np.where(prev_values == 0, weights, 0)
    n = out.n_classes
    beats = out.beats.astype(np.int64).copy()
    staircases = {(st.above, st.below): st for st in out.staircases}
    decided = 0
    pairs = [(c, j) for c in range(n) for j in range(c + 1, n) if (c, j) not in staircases]
    if pairs:
        diffs = np.stack([weights[c] - weights[j] for c, j in pairs])
        low, high = range_of(diffs)
        spread = np.abs(diffs).sum(axis=1)
        for k, (c, j) in enumerate(pairs):
            threshold = int(beats[c, j] - (shift[c] - shift[j]))
            if threshold <= low[k]:
                threshold = -int(spread[k])  # always: below every difference the row can reach
                decided += 1
            elif threshold > high[k]:
                threshold = int(spread[k]) + 1  # never
                decided += 1
            beats[c, j] = threshold
    shifted = tuple(
        Staircase(
            st.above,
            st.below,
            tuple((int(v - shift[st.below]), int(u - shift[st.above])) for v, u in st.steps),
        )
        for st in out.staircases
    )
    return ArgmaxLayer(out.name, ternary(weights), frozen(beats, np.int64), shifted), decided
