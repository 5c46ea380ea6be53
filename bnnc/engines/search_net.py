"""The network as the witness search sees it (:mod:`bnnc.engines.search`): an exact form for
batches of inputs, and the smooth objective that guides the search.

The exact form: every inner block's reference activation (``bnnc.ir.bnn.block_activation``,
i.e. the block's own oracle when the frontend gave one) is tabulated at every reachable integer
pre-activation and read off as a threshold ``fires ⇔ ±⟨row, x⟩ ≥ θ``, and the output block's
reference scores are tabulated the same way (lowered :class:`~bnnc.ir.ilp.IlpModel` networks
already have this form).  :func:`exact_labels` then gives the reference labels of a batch from
its first-layer pre-activations.

The objective (:func:`evaluate`) relaxes each hidden neuron to a Gaussian, as the search's
module documentation explains, and comes with its gradient with respect to the first-layer
pre-activations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnnc.ir.bnn import BnnModel, block_activation, output_scores
from bnnc.ir.ilp import IlpModel

_LOGISTIC = 1.702  # Φ(z) ≈ 1 / (1 + exp(−1.702 z)), |error| < 0.01

Float = NDArray[np.float32]
Array = NDArray[Any]  # intermediate values of the relaxation


class Unsupported(Exception):
    """The network has a shape the search does not model (it then simply finds nothing)."""


@dataclass(frozen=True, eq=False)
class _Layer:
    """Hidden layer: neuron k is +1 ⇔ ⟨weights[k], x⟩ ≥ thresholds[k] (x in ±1)."""

    weights: Float  # (n_out, n_in), rows negated for neurons that fire on low sums
    squared: Float  # weights², for variances
    thresholds: Float  # (n_out,)
    noise: Float  # (n_out,) relaxation variance per unit τ²: the neuron's fan-in


@dataclass(frozen=True, eq=False)
class _Output:
    """Class c ranks above class j ⇔ ⟨weights[c] − weights[j], x⟩ ≥ beats[c, j] (any c ≠ j),
    or, for float score tables, by comparing the tabulated scores."""

    weights: Float  # (n_classes, n_in)
    beats: NDArray[np.int64] | None  # (C, C), ranks-above thresholds for every ordered pair
    tables: NDArray[np.float64] | None  # (M, C): score of class c at pre-activation 2m − n_c
    active: NDArray[np.int64]  # (C,) non-zero weights per class
    # Score tables per class over their reachable sums, in pre-activation units (the scores
    # divided by their typical change per unit of pre-activation), for the relaxation.
    grids: tuple[NDArray[np.float64], ...] = ()
    scaled: tuple[NDArray[np.float64], ...] = ()


@dataclass(frozen=True, eq=False)
class Net:
    layers: tuple[_Layer, ...]
    output: _Output
    n_inputs: int


# --------------------------------------------------------------------------- the exact form


def _reachable(weights: NDArray[np.int8]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(n′ per row, grid) where grid[m, k] = −n′_k + 2m, every reachable sum of row k."""
    active = np.count_nonzero(weights, axis=1).astype(np.int64)
    m = np.arange(int(active.max(initial=0)) + 1, dtype=np.int64)[:, None]
    return active, np.where(m <= active[None, :], 2 * m - active[None, :], 0)


def _threshold_layer(weights: NDArray[np.int8], fires: NDArray[np.bool_]) -> _Layer:
    """Thresholds read off the activation ``fires[m, k]`` at the reachable sums −n′ + 2m."""
    active, grid = _reachable(weights)
    rows = weights.astype(np.float32).copy()
    thresholds = np.empty(rows.shape[0], dtype=np.float32)
    for k in range(rows.shape[0]):
        column = fires[: active[k] + 1, k]
        sums = grid[: active[k] + 1, k]
        steps = np.diff(column.astype(np.int8))
        if column.all() or not column.any():  # constant: always or never fires
            thresholds[k] = -(active[k] + 2) if column[0] else active[k] + 2
        elif (steps >= 0).all():
            thresholds[k] = sums[np.argmax(column)]
        elif (steps <= 0).all():
            rows[k] = -rows[k]
            thresholds[k] = -sums[column.size - 1 - int(np.argmax(column[::-1]))]
        else:
            raise Unsupported
    return _Layer(rows, rows * rows, thresholds, np.maximum(active, 1).astype(np.float32))


def exact_form(model: BnnModel | IlpModel) -> Net:
    layers: list[_Layer] = []
    if isinstance(model, IlpModel):
        if model.output.staircases:  # pairs compared by a staircase: no difference threshold
            raise Unsupported
        for ilp in model.layers:
            rows = ilp.weights.astype(np.float32)
            active = np.maximum(np.count_nonzero(ilp.weights, axis=1), 1).astype(np.float32)
            layers.append(_Layer(rows, rows * rows, ilp.thresholds.astype(np.float32), active))
        n = model.n_classes
        upper = model.output.beats.astype(np.int64)
        beats = np.zeros((n, n), dtype=np.int64)
        for c in range(n):
            for j in range(c + 1, n):
                # c above j ⇔ d ≥ T, so j above c ⇔ −d ≥ 1 − T (sums are integers).
                beats[c, j], beats[j, c] = upper[c, j], 1 - upper[c, j]
        out_w = model.output.weights
        active = np.count_nonzero(out_w, axis=1).astype(np.int64)
        output = _Output(out_w.astype(np.float32), beats, None, active)
        return Net(tuple(layers), output, model.n_inputs)

    for block in model.blocks:
        _, grid = _reachable(block.weights)
        fires = block_activation(block, grid, model.arithmetic)
        layers.append(_threshold_layer(block.weights, fires))
    out = model.output
    active, grid = _reachable(out.weights)
    tables = np.asarray(output_scores(out, grid, model.arithmetic), dtype=np.float64)
    steps = [np.abs(np.diff(tables[: active[c] + 1, c])) for c in range(out.n_classes)]
    nonzero = np.concatenate([s[s > 0] for s in steps]) if steps else np.zeros(0)
    slope = float(np.median(nonzero)) / 2 if nonzero.size else 1.0
    if not np.isfinite(tables).all() or not np.isfinite(slope) or slope <= 0:
        raise Unsupported
    grids = tuple(np.arange(-n, n + 1, 2, dtype=np.float64) for n in active.tolist())
    scaled = tuple(tables[: n + 1, c] / slope for c, n in enumerate(active.tolist()))
    output = _Output(out.weights.astype(np.float32), None, tables, active, grids, scaled)
    return Net(tuple(layers), output, model.n_inputs)


def signs(bits: NDArray[np.bool_]) -> Float:
    return np.where(bits, np.float32(1), np.float32(-1))


def _labels(net: Net, sums: Float) -> NDArray[np.int64]:
    """Exact labels from the output pre-activations (batch, classes)."""
    out = net.output
    if out.tables is not None:
        index = ((np.rint(sums).astype(np.int64) + out.active) // 2).clip(0)
        scores = np.take_along_axis(out.tables, index, axis=0)  # (batch, C)
        return np.asarray(np.argmax(scores, axis=-1), dtype=np.int64)
    assert out.beats is not None
    n = out.beats.shape[0]
    above = np.ones((sums.shape[0], n), dtype=bool)
    for c in range(n):
        for j in range(c + 1, n):
            wins = (sums[:, c] - sums[:, j]) >= out.beats[c, j]
            above[:, c] &= wins
            above[:, j] &= ~wins
    return np.asarray(np.argmax(above, axis=-1), dtype=np.int64)


def first_weights(net: Net) -> Float:
    """The weights of the first linear layer, one row per input bit: flipping bit i changes
    the first pre-activations by −2·x_i·row i."""
    first = net.layers[0].weights if net.layers else net.output.weights
    return np.ascontiguousarray(first.T)


def exact_labels(net: Net, first: Float) -> NDArray[np.int64]:
    """Exact labels from the first layer's pre-activations (batch, n₁).

    Rows that agree on the first hidden layer agree on the label, and the flips of one point
    mostly do: the rest of the network runs once per distinct first-layer pattern.
    """
    if not net.layers:
        return _labels(net, first)
    fires = first >= net.layers[0].thresholds
    patterns, inverse = np.unique(np.packbits(fires, axis=1), axis=0, return_inverse=True)
    x = signs(np.unpackbits(patterns, axis=1, count=fires.shape[1]).astype(bool))
    for layer in net.layers[1:]:
        x = signs(x @ layer.weights.T >= layer.thresholds)
    return _labels(net, x @ net.output.weights.T)[inverse.reshape(-1)]


def answers(
    labels: NDArray[np.int64], label: int | None, not_label: int | None
) -> NDArray[np.bool_]:
    ok = np.ones(labels.shape, dtype=bool)
    if label is not None:
        ok &= labels == label
    if not_label is not None:
        ok &= labels != not_label
    return ok


# --------------------------------------------------------------------------- the objective


def _sigmoid(a: NDArray[np.floating]) -> Float:
    with np.errstate(over="ignore"):
        return np.asarray(1 / (1 + np.exp(-a)), dtype=np.float32)


def _relaxed_layers(net: Net, first: Float, tau2: float) -> list[tuple[Array, ...]]:
    """Forward pass of the Gaussian relaxation from the first pre-activations (batch, n₁).

    Per hidden layer: (p, mean, var, a, sigma), where the neuron fires with probability
    p = σ(κ·a), a = (μ − θ + 1)/sigma, and its ±1 value has the given mean and variance.
    """
    t2 = np.float32(tau2)
    caches: list[tuple[Array, ...]] = []
    mu, big_v = first, np.zeros_like(first)
    for index, layer in enumerate(net.layers):
        if index:
            _, mean, var, _, _ = caches[-1]
            mu, big_v = mean @ layer.weights.T, var @ layer.squared.T
        sigma = np.sqrt(big_v + t2 * layer.noise)
        a = (mu - layer.thresholds + 1) / sigma
        p = _sigmoid(_LOGISTIC * a)
        mean = 2 * p - 1
        caches.append((p, mean, 1 - mean * mean, a, sigma))
    return caches


@dataclass(frozen=True, eq=False)
class Goal:
    """The comparisons "class above[k] ranks above class below[k]" the objective scores, with
    what they need precomputed: the difference of the two weight rows and its square, and the
    one-hot maps from pairs to classes.  ``any_of``: one comparison suffices (``not_label``),
    otherwise all are needed (``label``)."""

    above: NDArray[np.intp]
    below: NDArray[np.intp]
    diff: Float  # (P, n_last)
    diff2: Float
    base_var: Float  # (P,): τ²-free part of the noise: non-zero entries of diff
    offset: Float  # (P,): −beats + 1 (comparison tables), or ±1 for ties (score tables)
    to_above: Float  # (P, C) one-hot
    to_below: Float
    any_of: bool


def goal_of(net: Net, label: int | None, not_label: int | None) -> Goal:
    out = net.output
    n = out.weights.shape[0]
    if label is not None:
        pairs = [(label, j) for j in range(n) if j != label]
    else:
        assert not_label is not None
        pairs = [(j, not_label) for j in range(n) if j != not_label]
    above = np.array([a for a, _ in pairs], dtype=np.intp)
    below = np.array([b for _, b in pairs], dtype=np.intp)
    diff = out.weights[above] - out.weights[below]
    if out.beats is not None:  # a above b ⇔ d ≥ T: midpoint T − 1, sums move in steps of 2
        offset = 1.0 - out.beats[above, below].astype(np.float32)
    else:  # equal scores go to the lower index
        offset = np.where(above < below, 1.0, -1.0).astype(np.float32)
    eye = np.eye(n, dtype=np.float32)
    return Goal(
        above,
        below,
        diff,
        diff * diff,
        np.maximum(np.count_nonzero(diff, axis=1), 1).astype(np.float32),
        offset,
        eye[above],
        eye[below],
        any_of=label is None,
    )


def _scores(net: Net, sums: Array) -> tuple[Array, Array]:
    """Score of each class at (real) output pre-activations ``sums`` (batch, C), in
    pre-activation units, and its derivative: the tables, linearly interpolated."""
    out = net.output
    if out.tables is None:
        return sums, np.ones_like(sums)
    values = np.empty(sums.shape, dtype=np.float64)
    derivs = np.empty(sums.shape, dtype=np.float64)
    for c, (grid, table) in enumerate(zip(out.grids, out.scaled, strict=True)):
        values[:, c] = np.interp(sums[:, c], grid, table)
        derivs[:, c] = (np.interp(sums[:, c] + 1, grid, table) - values[:, c]) + (
            values[:, c] - np.interp(sums[:, c] - 1, grid, table)
        )
    return values, derivs / 2


def evaluate(
    net: Net, goal: Goal, first: Float, tau2: float, *, gradient: bool = False
) -> tuple[NDArray[np.float64], Float | None]:
    """The relaxed objective of each row (higher is better) and, if asked, its gradient with
    respect to the first pre-activations.

    With a target label it is Σ_j log P(label ranks above j); with a label to avoid, N, it is
    max_j log P(j ranks above N).  P(a above b) = Φ(gap / spread): the expected score gap in
    pre-activation units over its standard deviation under the relaxation.
    """
    out = net.output
    caches = _relaxed_layers(net, first, tau2)
    if caches:
        _, mean, var, _, _ = caches[-1]
        sums = mean @ out.weights.T
        spread2 = tau2 * goal.base_var + var @ goal.diff2.T
    else:
        sums = first
        spread2 = np.broadcast_to(tau2 * goal.base_var, (first.shape[0], goal.base_var.size))
    scores, slopes = _scores(net, sums)
    gap = scores[:, goal.above] - scores[:, goal.below] + goal.offset
    spread = np.sqrt(spread2)
    z = gap / spread
    terms = -np.logaddexp(0.0, -_LOGISTIC * z)
    if goal.any_of:
        value = terms.max(axis=1)
        weight = np.zeros_like(terms)
        weight[np.arange(terms.shape[0]), terms.argmax(axis=1)] = 1
    else:
        value = terms.sum(axis=1)
        weight = np.ones_like(terms)
    if not gradient:
        return np.asarray(value, dtype=np.float64), None

    # Backward: objective → output scores and last variances → each layer → first sums.
    d_z = weight * _LOGISTIC * _sigmoid(-_LOGISTIC * z)
    d_gap = d_z / spread
    d_sums = (d_gap @ goal.to_above - d_gap @ goal.to_below) * slopes
    if not caches:
        return np.asarray(value, dtype=np.float64), np.asarray(d_sums, dtype=np.float32)
    d_var: Array = (d_z * (-z / (2 * spread2))) @ goal.diff2
    d_mean: Array = d_sums @ out.weights
    d_mu = d_mean
    for index in range(len(net.layers) - 1, -1, -1):
        p, mean, _, a, sigma = caches[index]
        d_a = (d_mean - 2 * mean * d_var) * (2 * _LOGISTIC) * p * (1 - p)
        d_mu = d_a / sigma
        if index:
            layer = net.layers[index]
            d_mean = d_mu @ layer.weights
            d_var = (d_a * (-a / (2 * sigma * sigma))) @ layer.squared
    return np.asarray(value, dtype=np.float64), np.asarray(d_mu, dtype=np.float32)
