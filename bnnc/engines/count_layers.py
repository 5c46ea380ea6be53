"""Exact counting by a dynamic program over the first layer's sums (``method`` ``layers``).

The label of an input depends on it only through the first hidden layer's output pattern, and
over a region most first-layer neurons are constant (they cannot cross their threshold whatever
the free bits do).  If f neurons stay free, the number of inputs of the region that give each
pattern of them is a sum over the free bits, one bit at a time, of a table indexed by those
neurons' partial sums: a bit agreeing with a neuron's weight moves that neuron's partial count
of agreements up by one.  A neuron's output is a threshold on its count of agreements (checked
on the reference :func:`bnnc.ir.bnn.block_activation`, so exact in the model's arithmetic), so
counts at or beyond the threshold are merged into one cell; a Hamming ball adds one axis, the
distance so far, and drops the cells beyond its radius.  The rest of the network then runs once
per pattern (:func:`bnnc.engines.enumerate.labels_from_first_layer`).

It is exact, needs no formula and no solver, and costs about m · ∏ (cells per axis) additions
for m free bits: it applies where :func:`plan` finds that within :data:`LAYERS_AUTO` — typically
regions that leave a handful of first-layer neurons free, with any number of free bits (counts
up to 2^128 are summed in two 64-bit limbs).  Enumeration is faster below 2^25 free inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from bnnc.engines.enumerate import labels_from_first_layer
from bnnc.ir.bnn import BnnModel, block_activation
from bnnc.ir.query import Query
from bnnc.ir.region import FREE, Region

LAYERS_AUTO: Final = 1 << 28
"""The most cell updates ``auto`` gives the dynamic program (free bits × cells × 2).  Measured
(CPU time): a random 100-3-3 network, whole input space, 3·10^7 updates in 0.23 s; 100-4-3,
1.4·10^9 updates in 26 s; so 2^28 is about 5 s."""
MAX_CELLS: Final = 1 << 24  # cells of the table (two 8-byte limbs each: 256 MiB)


@dataclass(frozen=True)
class Plan:
    """How the dynamic program runs on a region: which neurons stay free and the table.

    Without a ball, a neuron's axis counts the free bits that agree with its weights (from
    0, merged at its threshold: the count only grows).  With balls, the base point is the
    centre of the smallest ball and a neuron's axis is the change of that count from the
    centre's, −R … R for the ball's radius R (it moves both ways, so nothing is merged); the
    radius keeps the table small however many bits are free.
    """

    free_bits: NDArray[np.intp]  # the region's free input bits
    free_neurons: NDArray[np.intp]  # first-layer neurons whose output can change
    constant: NDArray[np.bool_]  # every first-layer neuron's output where it cannot change
    lookup: tuple[NDArray[np.bool_], ...]  # per free neuron: its output at each axis index
    radii: tuple[int, ...]  # per ball: flips the free bits may still take (< 0: empty)
    base: int | None  # the ball whose centre is the base point (None: no ball)
    shape: tuple[int, ...]  # the table: one axis per free neuron, then one per ball

    @property
    def cells(self) -> int:
        return int(np.prod(self.shape, dtype=object))

    @property
    def updates(self) -> int:
        return 2 * self.cells * max(1, int(self.free_bits.size))


def plan(model: BnnModel, region: Region) -> Plan | None:
    """The dynamic program for ``region``, or None where it does not apply (no hidden layer,
    weights other than ±1/0, an activation that is not one threshold on a region without
    balls, more than :data:`MAX_CELLS` cells)."""
    if not model.blocks:
        return None
    first = model.blocks[0]
    weights = np.asarray(first.weights, dtype=np.int64)
    if weights.size and np.abs(weights).max() > 1:
        return None
    n = model.n_inputs
    free = np.flatnonzero(region.fixed == FREE)
    fixed = np.flatnonzero(region.fixed != FREE)
    values = np.where(region.fixed[fixed] == 1, 1, -1).astype(np.int64)
    offset = weights[:, fixed] @ values  # (H,)
    span = np.abs(weights[:, free]).sum(axis=1)  # S_j: the free bits each neuron reads
    # out[j, a]: neuron j's output when a of its S_j free bits agree with its weights
    # (pre-activation offset_j + 2a − S_j), for every a; the reference decides.
    width = weights.shape[0]
    top = int(span.max(initial=0))
    agree = np.arange(top + 1, dtype=np.int64)
    pre = offset[None, :] + 2 * agree[:, None] - span[None, :]  # (top + 1, H)
    outputs = block_activation(first, np.clip(pre, -n, n), model.arithmetic).T  # (H, top + 1)
    radii: list[int] = []
    for ball in region.balls:
        used = int((ball.center[fixed] != (region.fixed[fixed] == 1)).sum())
        radii.append(min(ball.max_flips - used, int(free.size)))
    base = None if not radii else int(np.argmin(radii))
    constant = outputs[:, 0].copy()
    free_neurons: list[int] = []
    lookup: list[NDArray[np.bool_]] = []
    for j in range(width):
        row = outputs[j, : span[j] + 1]
        if base is None:
            reach = row
        else:  # within the radius of the base ball's centre
            radius = max(radii[base], 0)
            sign = np.where(region.balls[base].center[free], 1, -1)
            at_centre = int((weights[j, free] * sign == 1).sum())
            index = np.clip(at_centre + np.arange(-radius, radius + 1), 0, span[j])
            reach = row[np.unique(index)]
            constant[j] = row[at_centre]
        if (reach == reach[0]).all():
            constant[j] = reach[0]
            continue
        free_neurons.append(j)
        if base is None:
            changes = np.flatnonzero(row[1:] != row[:-1])
            if changes.size > 1:
                return None  # not one threshold: merging the counts beyond it would be wrong
            cut = int(changes[0]) + 1
            lookup.append(np.asarray(np.arange(cut + 1) >= cut) == bool(row[-1]))
        else:
            lookup.append(np.asarray(row[index], dtype=bool))
    shape = tuple(len(t) for t in lookup) + tuple(max(r, 0) + 1 for r in radii)
    result = Plan(
        free,
        np.array(free_neurons, dtype=np.intp),
        constant,
        tuple(lookup),
        tuple(radii),
        base,
        shape,
    )
    return result if result.cells <= MAX_CELLS else None


def applies(model: BnnModel, region: Region) -> bool:
    """Whether ``auto`` counts ``region`` with the dynamic program."""
    found = plan(model, region)
    return found is not None and found.updates <= LAYERS_AUTO


def region_label_counts_by_layers(model: BnnModel, region: Region) -> tuple[list[int], int]:
    """How many inputs of ``region`` the network gives each label, and the region's size
    (Python ints: exact at any size).  ValueError where :func:`plan` does not apply."""
    found = plan(model, region)
    if found is None:
        raise ValueError("the layer-wise count does not apply to this model and region")
    classes = model.n_classes
    if any(r < 0 for r in found.radii):
        return [0] * classes, 0
    table = _table(model, region, found)
    f = len(found.lookup)
    per_neuron = np.asarray(table.sum(axis=tuple(range(f, table.ndim))), dtype=object)
    # The pattern of the free neurons per cell, from each axis's lookup.
    patterns = np.zeros(per_neuron.shape, dtype=np.int64)
    for k, fires in enumerate(found.lookup):
        view = [1] * f
        view[k] = len(fires)
        patterns += fires.reshape(view).astype(np.int64) << k
    totals: dict[int, int] = {}
    for code, cell in zip(patterns.reshape(-1).tolist(), per_neuron.reshape(-1).tolist(),
                          strict=True):  # fmt: skip
        if cell:
            totals[code] = totals.get(code, 0) + cell
    per_label = [0] * classes
    if not totals:
        return per_label, 0
    codes = np.array(sorted(totals), dtype=np.int64)
    full = np.repeat(found.constant[None, :], len(codes), axis=0)
    for k, j in enumerate(found.free_neurons.tolist()):
        full[:, j] = (codes >> k) & 1 > 0
    labels = labels_from_first_layer(model, full)
    for code, label in zip(codes.tolist(), labels.tolist(), strict=True):
        per_label[label] += totals[code]
    return per_label, sum(per_label)


def counts(model: BnnModel, queries: list[Query]) -> tuple[list[int], int]:
    """The exact count of each query (all over one region) and the region's size."""
    per_label, space = region_label_counts_by_layers(model, queries[0].region)
    labels = np.arange(model.n_classes)
    return [sum(c for c, ok in zip(per_label, q.wants(labels).tolist(), strict=True) if ok)
            for q in queries], space  # fmt: skip


def _table(model: BnnModel, region: Region, found: Plan) -> NDArray[np.object_]:
    """Cell counts after every free bit (Python ints), indexed by the neurons' axes (see
    :class:`Plan`) and each ball's distance so far."""
    weights = np.asarray(model.blocks[0].weights, dtype=np.int64)[found.free_neurons]
    f = len(found.lookup)
    wide = found.free_bits.size > 62  # counts reach 2^m: two 64-bit limbs beyond 2^63
    limbs = 2 if wide else 1
    table = np.zeros((limbs, *found.shape), dtype=np.uint64)
    origin = tuple(0 if found.base is None else len(t) // 2 for t in found.lookup)
    table[(limbs - 1, *origin) + (0,) * len(found.radii)] = 1
    centres = [ball.center for ball in region.balls]
    for i in found.free_bits.tolist():
        column = weights[:, i]
        moved = []
        for value in (True, False):
            shifted = table
            sign = 1 if value else -1
            for k in range(f):
                if found.base is None:
                    if column[k] * sign == 1:  # one more agreement, merged at the threshold
                        shifted = _shift(shifted, 1 + k, 1, clamp=True)
                elif value != bool(centres[found.base][i]) and column[k]:
                    # a flip away from the base centre: one agreement more or less
                    shifted = _shift(shifted, 1 + k, int(column[k] * sign), clamp=False)
            for b, centre in enumerate(centres):
                if bool(centre[i]) != value:
                    shifted = _shift(shifted, 1 + f + b, 1, clamp=False)
            moved.append(shifted)
        table = _add(moved[0], moved[1])
    if wide:
        return np.asarray(table[0].astype(object) * (1 << 64) + table[1].astype(object))
    return np.asarray(table[0].astype(object))


def _shift(table: NDArray[np.uint64], axis: int, step: int, *, clamp: bool) -> NDArray[np.uint64]:
    """Every cell moved one step (``step`` ±1) along ``axis``: what would leave the table
    stays in the last cell (``clamp``, a merged count of agreements) or is dropped (beyond a
    ball's radius, where no input of the region is)."""
    out = np.zeros_like(table)
    into = [slice(None)] * table.ndim
    outof = [slice(None)] * table.ndim
    into[axis], outof[axis] = (slice(1, None), slice(None, -1)) if step > 0 else (
        slice(None, -1), slice(1, None))  # fmt: skip
    out[tuple(into)] = table[tuple(outof)]
    if clamp:
        last = [slice(None)] * table.ndim
        last[axis] = slice(-1, None)
        out[tuple(last)] = _add(out[tuple(last)], table[tuple(last)])
    return out


def _add(x: NDArray[np.uint64], y: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """x + y, in one limb (axis 0 of length 1) or two (high, low; the carry carried)."""
    if x.shape[0] == 1:
        return x + y
    low = x[1] + y[1]  # wraps modulo 2^64
    carry = (low < x[1]).astype(np.uint64)
    return np.stack([x[0] + y[0] + carry, low])
