"""Stage 3 — integer threshold ILP (paper eq. 8 and 10), derived exactly from the reference.

Every hidden neuron becomes ``v_i ⇔ ⟨a_i, x⟩ ≥ C_i`` over x ∈ {−1, +1}ⁿ with an integer C_i, and
every pair of classes c < j becomes ``c ranks above j ⇔ ⟨a_c − a_j, x⟩ ≥ T_cj``.

Exactness.  A neuron with n' non-zero weights can only see the pre-activations
s ∈ {−n', −n'+2, …, n'}.  Instead of rounding a float expression such as μ − b − β·σ/γ (which is
wrong whenever the float lands next to an integer), :func:`lower_milp_to_ilp` evaluates the
reference arithmetic (``bnnc.ir.bnn.block_activation``) at *every* reachable s and reads the
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

from bnnc.errors import ModelError
from bnnc.ir.bnn import (
    verify_common,
)
from bnnc.ir.names import check_name
from bnnc.ir.region import Region


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
        for layer_name in names:
            check_name("layer name", layer_name)
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
