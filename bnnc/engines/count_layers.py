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

LAYERS_AUTO: Final = 1 << 30
"""The most cell updates ``auto`` gives the dynamic program (bits × cells × 2): about 5 s of
numpy on the bench machine."""
MAX_CELLS: Final = 1 << 24  # cells of the table (two 8-byte limbs each: 256 MiB)


@dataclass(frozen=True)
class Plan:
    """How the dynamic program would run on a region: which neurons stay free and the table."""

    free_bits: NDArray[np.intp]  # the region's free input bits
    free_neurons: NDArray[np.intp]  # first-layer neurons whose output can change
    constant: NDArray[np.bool_]  # every first-layer neuron's output where it cannot change
    cut: tuple[int, ...]  # per free neuron: agreements from which its output is the high one
    high: NDArray[np.bool_]  # per free neuron: its output at or beyond ``cut``
    radii: tuple[int, ...]  # per ball: flips the free bits may still take
    shape: tuple[int, ...]  # the table: one axis per free neuron, then one per ball

    @property
    def cells(self) -> int:
        return int(np.prod(self.shape, dtype=object))

    @property
    def updates(self) -> int:
        return 2 * self.cells * max(1, int(self.free_bits.size))


def plan(model: BnnModel, region: Region) -> Plan | None:
    """The dynamic program for ``region``, or None where it does not apply (no hidden layer,
    weights other than ±1/0, an activation that is not one threshold, too many cells)."""
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
    constant = outputs[:, 0].copy()
    free_neurons: list[int] = []
    cuts: list[int] = []
    highs: list[bool] = []
    for j in range(width):
        row = outputs[j, : span[j] + 1]
        changes = np.flatnonzero(row[1:] != row[:-1])
        if changes.size == 0:
            continue
        if changes.size > 1:
            return None  # not one threshold: the merged cells would not be exact
        free_neurons.append(j)
        cuts.append(int(changes[0]) + 1)
        highs.append(bool(row[-1]))
    radii: list[int] = []
    for ball in region.balls:
        used = int((ball.center[fixed] != (region.fixed[fixed] == 1)).sum())
        if ball.max_flips - used < 0:
            radii.append(-1)
        else:
            radii.append(min(ball.max_flips - used, int(free.size)))
    shape = tuple(c + 1 for c in cuts) + tuple(max(r, 0) + 1 for r in radii)
    result = Plan(
        free,
        np.array(free_neurons, dtype=np.intp),
        constant,
        tuple(cuts),
        np.array(highs, dtype=bool),
        tuple(radii),
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
    f = len(found.cut)
    per_neuron = np.asarray(table.sum(axis=tuple(range(f, table.ndim))), dtype=object)
    # The pattern of the free neurons per cell: the high output at or beyond the cut.
    patterns = np.zeros(per_neuron.shape, dtype=np.int64)
    for k, (cut, high) in enumerate(zip(found.cut, found.high.tolist(), strict=True)):
        index = np.arange(cut + 1)
        fires = np.where(index >= cut, high, not high)
        view = [1] * f
        view[k] = cut + 1
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
    """Cell counts after every free bit (Python ints): cell (a_1 … a_f, d_1 … d_B) holds the
    inputs with min(a_j, cut_j) agreements for neuron j and distance d_b to ball b's centre."""
    weights = np.asarray(model.blocks[0].weights, dtype=np.int64)[found.free_neurons]
    f = len(found.cut)
    wide = found.free_bits.size > 62  # counts reach 2^m: two 64-bit limbs beyond 2^63
    limbs = 2 if wide else 1
    table = np.zeros((limbs, *found.shape), dtype=np.uint64)
    table[(slice(None),) + (0,) * len(found.shape)] = 0
    table[(limbs - 1,) + (0,) * len(found.shape)] = 1
    centres = [ball.center for ball in region.balls]
    for i in found.free_bits.tolist():
        column = weights[:, i]
        moved = []
        for value in (True, False):
            sign = 1 if value else -1
            shifted = table
            for k in range(f):
                if column[k] * sign == 1:
                    shifted = _shift(shifted, 1 + k, clamp=True)
            for b, centre in enumerate(centres):
                if bool(centre[i]) != value:
                    shifted = _shift(shifted, 1 + f + b, clamp=False)
            moved.append(shifted)
        table = _add(moved[0], moved[1])
    if wide:
        return np.asarray(table[0].astype(object) * (1 << 64) + table[1].astype(object))
    return np.asarray(table[0].astype(object))


def _shift(table: NDArray[np.uint64], axis: int, *, clamp: bool) -> NDArray[np.uint64]:
    """Every cell moved one step up ``axis``: the last cell keeps what reaches it (``clamp``,
    a merged count of agreements) or drops it (a ball's radius exceeded)."""
    out = np.zeros_like(table)
    head = [slice(None)] * table.ndim
    tail = [slice(None)] * table.ndim
    head[axis] = slice(1, None)
    tail[axis] = slice(None, -1)
    out[tuple(head)] = table[tuple(tail)]
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
