"""Witness search by simulation: look for an input that answers a query by running the network.

Inversion asks for an input in a region that the network gives label L.  When such inputs are
plentiful (a trained MNIST classifier labels many images 3), running the network is a far
cheaper way to find one than a SAT solver working on the 800k-clause formula; this module does
that, and :func:`bnnc.engines.decide.check_sat` tries it before the solver.

Method.  The network is first put in a fast exact form for batches: every inner block's
reference activation (``bnnc.ir.bnn.block_activation``, i.e. the block's own oracle when the
frontend gave one) is tabulated at every reachable integer pre-activation and read off as a
threshold ``fires ⇔ ±⟨row, x⟩ ≥ θ``, and the output block's reference scores are tabulated the
same way (lowered :class:`~bnnc.ir.ilp.IlpModel` networks already have this form).  Then a tabu
local search runs over input bit flips:

* a restart draws a random point of the region (fixed bits kept; inside every Hamming ball);
* each step evaluates *all* allowed single-bit flips of the current point exactly, as one numpy
  batch (the first layer's pre-activations are updated incrementally, and the rest of the
  network runs once per distinct first-layer pattern), and stops at once if one of them
  answers the query;
* otherwise it moves: the flips that are not tabu are ranked by the first-order change of a
  smooth objective (below; one backward pass), the 32 best are scored exactly, and so are the
  moves that flip the best 2, 4, …, 128 of them together; the best candidate is taken even if
  it is worse than the current point, which walks across plateaus, and the bits it flips stay
  put for a few steps (tabu).  Multi-bit moves matter when many bits must change;
* a restart happens after a run of steps without improving the run's best objective.

The objective cannot be the network's margin alone: hidden neurons are binary, so almost every
single flip leaves the output unchanged and the margin is flat.  Instead each hidden neuron is
relaxed to a Gaussian: its pre-activation gets noise of variance τ²·fan-in, it fires with
probability p = Φ(distance to its threshold / σ), and the mean and variance of its ±1 value feed
the next layer.  The objective is then Σ_j log P(the target ranks above class j) over the
competitors j (for ``not_label`` N: log of the largest P(j ranks above N)); it moves with every
flip that brings a first-layer pre-activation closer to its threshold, and as τ → 0 it becomes
the exact network.  Heavy smoothing (τ² between 1 and 10, drawn per restart) works best: on
FINN's TFC-w1a1 it finds an input for every MNIST label within four steps (seeds 0–7), where
τ² ≤ 0.1 needs 8–80 times as many evaluations on the harder labels (1 and 4).

Soundness.  The search never decides anything by itself: a point it returns has been checked
with ``Query.accepts`` (the reference inference, ``bnnc.ir.reference``) and lies in the region,
and ``check_sat`` also checks it against the formula and the model's own framework before it
reports SAT.  A search that finds nothing proves nothing: UNSAT is only ever concluded by the
SAT solver.  Everything is driven by a seeded generator and an evaluation budget, so the same
seed and budget give the same answer (an optional wall-clock limit can cut a search short).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import ModelError
from bnnc.ir.bnn import BnnModel, block_activation, output_scores
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.region import FREE, Region

# Regions with at most this many free bits are enumerated exhaustively (in batches).
EXHAUSTIVE_BITS = 14
_CHUNK = 4096
_LOGISTIC = 1.702  # Φ(z) ≈ 1 / (1 + exp(−1.702 z)), |error| < 0.01
# The relaxation noise τ² (per unit of fan-in) is drawn log-uniformly per restart.
_TAU2_LOW, _TAU2_HIGH, _TAU2_REFERENCE = 1.0, 10.0, 3.0
_SHORTLIST = 32  # flips scored exactly per step, after ranking by the gradient
_PREFIXES = (2, 4, 8, 16, 32, 64, 128)  # sizes of the multi-flip moves tried per step
# A run restarts after max(_PATIENCE, free bits / _PATIENCE_PER_BIT) steps without progress.
_PATIENCE, _PATIENCE_PER_BIT = 20, 32

Float = NDArray[np.float32]
Array = NDArray[Any]  # intermediate values of the relaxation


class _Unsupported(Exception):
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
class _Net:
    layers: tuple[_Layer, ...]
    output: _Output
    n_inputs: int


@dataclass(frozen=True)
class SearchOutcome:
    """What a search found: a witness (None if none), and the best point it saw (for solver
    phases), with the number of network evaluations it spent."""

    witness: NDArray[np.bool_] | None
    best: NDArray[np.bool_] | None
    evaluations: int
    restarts: int


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
            raise _Unsupported
    return _Layer(rows, rows * rows, thresholds, np.maximum(active, 1).astype(np.float32))


def _exact_form(model: BnnModel | IlpModel) -> _Net:
    layers: list[_Layer] = []
    if isinstance(model, IlpModel):
        if model.output.staircases:  # pairs compared by a staircase: no difference threshold
            raise _Unsupported
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
        return _Net(tuple(layers), output, model.n_inputs)

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
        raise _Unsupported
    grids = tuple(np.arange(-n, n + 1, 2, dtype=np.float64) for n in active.tolist())
    scaled = tuple(tables[: n + 1, c] / slope for c, n in enumerate(active.tolist()))
    output = _Output(out.weights.astype(np.float32), None, tables, active, grids, scaled)
    return _Net(tuple(layers), output, model.n_inputs)


def _signs(bits: NDArray[np.bool_]) -> Float:
    return np.where(bits, np.float32(1), np.float32(-1))


def _output_sums(net: _Net, x: Float) -> Float:
    for layer in net.layers:
        x = _signs(x @ layer.weights.T >= layer.thresholds)
    return x @ net.output.weights.T


def _labels(net: _Net, sums: Float) -> NDArray[np.int64]:
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


def _first_weights(net: _Net) -> Float:
    """The weights of the first linear layer, one row per input bit: flipping bit i changes
    the first pre-activations by −2·x_i·row i."""
    first = net.layers[0].weights if net.layers else net.output.weights
    return np.ascontiguousarray(first.T)


def _exact_labels(net: _Net, first: Float) -> NDArray[np.int64]:
    """Exact labels from the first layer's pre-activations (batch, n₁).

    Rows that agree on the first hidden layer agree on the label, and the flips of one point
    mostly do: the rest of the network runs once per distinct first-layer pattern.
    """
    if not net.layers:
        return _labels(net, first)
    fires = first >= net.layers[0].thresholds
    patterns, inverse = np.unique(np.packbits(fires, axis=1), axis=0, return_inverse=True)
    x = _signs(np.unpackbits(patterns, axis=1, count=fires.shape[1]).astype(bool))
    for layer in net.layers[1:]:
        x = _signs(x @ layer.weights.T >= layer.thresholds)
    return _labels(net, x @ net.output.weights.T)[inverse.reshape(-1)]


def _answers(
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


def _relaxed_layers(net: _Net, first: Float, tau2: float) -> list[tuple[Array, ...]]:
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
class _Goal:
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


def _goal(net: _Net, label: int | None, not_label: int | None) -> _Goal:
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
    return _Goal(
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


def _scores(net: _Net, sums: Array) -> tuple[Array, Array]:
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


def _evaluate(
    net: _Net, goal: _Goal, first: Float, tau2: float, *, gradient: bool = False
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


# --------------------------------------------------------------------------- region moves


class _Position:
    """The current point of a walk in the region, with what a flip of each bit would do."""

    def __init__(self, region: Region, bits: NDArray[np.bool_]) -> None:
        self.region = region
        self.bits = bits.copy()
        self.free: NDArray[np.bool_] = np.asarray(region.fixed == FREE)
        self.distance = [int((bits != ball.center).sum()) for ball in region.balls]

    def allowed(self) -> NDArray[np.bool_]:
        """The bits whose flip keeps the point in the region."""
        ok = self.free.copy()
        for ball, dist in zip(self.region.balls, self.distance, strict=True):
            if dist >= ball.max_flips:  # only flips back toward the centre
                ok &= self.bits != ball.center
        return ok

    def fits(self, bits: NDArray[np.intp]) -> bool:
        """Whether flipping all of ``bits`` (distinct, free) keeps the point in the region."""
        for ball, dist in zip(self.region.balls, self.distance, strict=True):
            away = int((self.bits[bits] == ball.center[bits]).sum())
            if dist + away - (bits.size - away) > ball.max_flips:
                return False
        return True

    def flip(self, bit: int) -> None:
        for b, ball in enumerate(self.region.balls):
            self.distance[b] += 1 if self.bits[bit] == ball.center[bit] else -1
        self.bits[bit] = not self.bits[bit]


def _start_point(region: Region, rng: np.random.Generator) -> NDArray[np.bool_] | None:
    """A random point of the region: random free bits, or near a ball's centre; None if a
    short repair walk cannot get inside every ball (the search then gives up)."""
    n = region.n_inputs
    free = region.fixed == FREE
    fixed_values = region.fixed.astype(bool)
    if not region.balls:
        bits = rng.random(n) < rng.uniform(0.2, 0.8)
        return np.where(free, bits, fixed_values)
    bits = np.where(free, region.balls[0].center, fixed_values)
    for _ in range(4 * n):  # repair: walk toward the centre of a ball the point is outside
        outside = [b for b in region.balls if int((bits != b.center).sum()) > b.max_flips]
        if not outside:
            break
        ball = outside[int(rng.integers(len(outside)))]
        toward = np.flatnonzero(free & (bits != ball.center))
        if toward.size == 0:
            return None
        bit = int(toward[rng.integers(toward.size)])
        bits[bit] = not bits[bit]
    else:
        return None
    if not bool(region.contains(bits)):
        return None
    # Then a random walk inside the region, of random length.
    position = _Position(region, bits)
    for _ in range(int(rng.integers(0, max(b.max_flips for b in region.balls) + 1))):
        allowed = np.flatnonzero(position.allowed())
        if allowed.size == 0:
            break
        position.flip(int(allowed[rng.integers(allowed.size)]))
    return position.bits


# --------------------------------------------------------------------------- the search


def default_budget(model: BnnModel | IlpModel) -> int:
    """Flips to evaluate in a default search, scaled to the model: about 200k (a second) on a
    784-64-64-64-10 network, a few steps on a tiny one, where the solver is fast anyway.

    A step evaluates every input bit's flip, and each costs about the weights past the first
    layer (which is updated incrementally): the budget is ~1/32 of inputs × those weights.
    """
    if isinstance(model, BnnModel):
        rest = [b.weights.size for b in model.blocks[1:]] + [model.output.weights.size]
    else:
        rest = [layer.weights.size for layer in model.layers[1:]] + [model.output.weights.size]
    n = model.n_inputs
    return int(min(1_000_000, max(4 * n, n * sum(rest) // 32)))


def search(
    model: BnnModel | IlpModel,
    query: Query,
    *,
    budget: int | None = None,
    seed: int = 0,
    time_limit: float | None = None,
    exhaustive_bits: int = EXHAUSTIVE_BITS,
) -> SearchOutcome:
    """Look for an input that answers ``query`` by simulating the network (see the module doc).

    ``budget`` caps the network evaluations (default :func:`default_budget`), ``time_limit``
    the seconds; regions with at most ``exhaustive_bits`` free bits are enumerated instead.
    The witness, if any, has been checked with ``query.accepts``.
    """
    if query.region.n_inputs != model.n_inputs:
        raise ModelError(
            f"the region is over {query.region.n_inputs} input bits, the model has {model.n_inputs}"
        )
    query.check(model.n_classes)
    budget = default_budget(model) if budget is None else budget
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    rng = np.random.default_rng(seed)
    region = query.region
    if query.label is None and query.not_label is None:  # any point of the region answers
        start = _start_point(region, rng)
        ok = start is not None and bool(query.accepts(model, start))
        return SearchOutcome(start if ok else None, start, 1, 0)
    try:
        net = _exact_form(model)
    except _Unsupported:
        return SearchOutcome(None, None, 0, 0)
    if int((region.fixed == FREE).sum()) <= exhaustive_bits:
        return _enumerate(model, net, query)
    return _local_search(model, net, query, rng, budget, deadline)


def find_witness(
    model: BnnModel | IlpModel,
    query: Query,
    *,
    budget: int | None = None,
    seed: int = 0,
    time_limit: float | None = None,
) -> NDArray[np.bool_] | None:
    """Input bits that answer ``query`` (checked by the reference inference), or None."""
    return search(model, query, budget=budget, seed=seed, time_limit=time_limit).witness


def _enumerate(model: BnnModel | IlpModel, net: _Net, query: Query) -> SearchOutcome:
    """Every point of a small region, in order; the first that answers the query."""
    region = query.region
    free = np.flatnonzero(region.fixed == FREE)
    base = region.fixed.astype(bool)
    total = 1 << free.size
    shifts = np.arange(free.size, dtype=np.int64)
    first_w = _first_weights(net)
    evaluations = 0
    for start in range(0, total, _CHUNK):
        codes = np.arange(start, min(start + _CHUNK, total), dtype=np.int64)
        bits = np.repeat(base[None, :], codes.size, axis=0)
        bits[:, free] = (codes[:, None] >> shifts[None, :]) & 1 == 1
        bits = bits[region.contains(bits)]
        evaluations += bits.shape[0]
        ok = _answers(_exact_labels(net, _signs(bits) @ first_w), query.label, query.not_label)
        for row in np.flatnonzero(ok).tolist():
            if bool(query.accepts(model, bits[row])):
                return SearchOutcome(bits[row].copy(), bits[row].copy(), evaluations, 0)
    return SearchOutcome(None, None, evaluations, 0)


def _local_search(
    model: BnnModel | IlpModel,
    net: _Net,
    query: Query,
    rng: np.random.Generator,
    budget: int,
    deadline: float | None,
) -> SearchOutcome:
    """Tabu search with restarts (see the module doc); ``budget`` counts evaluated flips (a
    step is charged at least an eighth of the free bits: its fixed cost)."""
    region, label, not_label = query.region, query.label, query.not_label
    first_w = _first_weights(net)
    goal = _goal(net, label, not_label)
    n_free = int((region.fixed == FREE).sum())
    patience = max(_PATIENCE, n_free // _PATIENCE_PER_BIT)
    tenure = max(3, n_free // 20)
    step_cost = n_free // 8  # a step with few allowed flips (at a ball's edge) still costs time
    evaluations = restarts = 0
    best: NDArray[np.bool_] | None = None
    best_value = -np.inf
    while evaluations < budget:
        start = _start_point(region, rng)
        if start is None:
            break
        restarts += 1
        position = _Position(region, start)
        tau2 = float(np.exp(rng.uniform(np.log(_TAU2_LOW), np.log(_TAU2_HIGH))))
        x = _signs(position.bits)
        sums = x @ first_w  # the first pre-activations at the current point
        tabu = np.zeros(region.n_inputs, dtype=np.int64)
        run_best, run_point, stall, step = -np.inf, position.bits.copy(), 0, 0
        while stall < patience and evaluations < budget:
            if deadline is not None and time.perf_counter() > deadline:
                return SearchOutcome(None, best, evaluations, restarts)
            step += 1
            moves = np.flatnonzero(position.allowed())
            if moves.size == 0:
                break
            # Every allowed flip, exactly: does one of them answer the query?
            first = sums[None, :] - 2 * x[moves, None] * first_w[moves]
            evaluations += max(moves.size, step_cost)
            ok = _answers(_exact_labels(net, first), label, not_label)
            for move in np.flatnonzero(ok).tolist():
                bits = position.bits.copy()
                bits[moves[move]] = not bits[moves[move]]
                if bool(query.accepts(model, bits)):
                    return SearchOutcome(bits, bits.copy(), evaluations, restarts)
            # Otherwise move: rank the non-tabu flips by the objective's first-order change,
            # score the most promising exactly, and take the best even if it is worse.
            open_moves = tabu[moves] < step
            if not open_moves.any():
                continue
            candidates = moves[open_moves]
            _, grad = _evaluate(net, goal, sums[None, :], tau2, gradient=True)
            assert grad is not None
            change = -2 * x[candidates] * (first_w[candidates] @ grad[0])
            change += rng.random(candidates.size) * 1e-9  # seeded tie-breaking
            order = np.argsort(-change, kind="stable")[: max(_SHORTLIST, _PREFIXES[-1])]
            shortlist = candidates[order]
            # Candidates: each of the most promising flips alone, and the 2, 4, 8, … most
            # promising together (long moves when many bits must change, e.g. a background).
            steps = x[shortlist, None] * first_w[shortlist]
            groups = [shortlist[i : i + 1] for i in range(min(_SHORTLIST, shortlist.size))]
            firsts = [sums[None, :] - 2 * steps[: len(groups)]]
            prefixes = [k for k in _PREFIXES if k <= shortlist.size]
            prefixes = [k for k in prefixes if position.fits(shortlist[:k])]
            if prefixes:
                together = sums[None, :] - 2 * np.cumsum(steps, axis=0)[np.array(prefixes) - 1]
                evaluations += len(prefixes)
                ok = _answers(_exact_labels(net, together), label, not_label)
                for row in np.flatnonzero(ok).tolist():
                    bits = position.bits.copy()
                    bits[shortlist[: prefixes[row]]] ^= True
                    if bool(query.accepts(model, bits)):
                        return SearchOutcome(bits, bits.copy(), evaluations, restarts)
                groups += [shortlist[:k] for k in prefixes]
                firsts.append(together)
            values, _ = _evaluate(net, goal, np.concatenate(firsts), tau2)
            pick = int(np.argmax(values))
            for bit in groups[pick].tolist():
                sums = sums - 2 * x[bit] * first_w[bit]
                x[bit] = -x[bit]
                position.flip(bit)
                tabu[bit] = step + int(rng.integers(tenure, 2 * tenure + 1))
            if values[pick] > run_best + 1e-7:
                run_best, run_point, stall = float(values[pick]), position.bits.copy(), 0
            else:
                stall += 1
        # Keep the best point of all runs, judged at one common smoothing.
        point_sums = _signs(run_point)[None, :] @ first_w
        value = float(_evaluate(net, goal, point_sums, _TAU2_REFERENCE)[0][0])
        if value > best_value:
            best, best_value = run_point, value
    return SearchOutcome(None, best, evaluations, restarts)
