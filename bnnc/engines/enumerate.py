"""Counting by enumeration: run the reference inference over every input of the space.

Exact, and fast for small inputs: :func:`enumerate_counts` tabulates the first layer instead of
running every input (2^25 inputs in seconds).  :func:`montecarlo_counts` runs uniform random
inputs instead (an unbiased estimate, for inputs too many to enumerate).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import UsageError
from bnnc.ir.bnn import BnnModel, block_activation, output_scores
from bnnc.ir.region import FREE, Region
from bnnc.passes.fast_predict import fast_predict

MAX_ENUMERATE_INPUTS = 30


def labels_from_first_layer(model: BnnModel, first_bits: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Labels from the output bits of the first inner block (the rest of the reference)."""
    x = np.where(first_bits, 1, -1).astype(np.int64)
    for block in model.blocks[1:]:
        fires = block_activation(block, x @ block.weights.T.astype(np.int64), model.arithmetic)
        x = np.where(fires, 1, -1).astype(np.int64)
    preact = x @ model.output.weights.T.astype(np.int64)
    scores = output_scores(model.output, preact, model.arithmetic)
    return np.asarray(np.argmax(scores, axis=-1), dtype=np.int64)


def _all_signs(k: int) -> NDArray[np.int64]:
    """All 2^k assignments of k bits as ±1 rows (row j: the binary digits of j)."""
    index = np.arange(1 << k, dtype=np.int64)
    bits = (index[:, None] >> np.arange(k - 1, -1, -1, dtype=np.int64)) & 1
    return np.asarray(bits * 2 - 1, dtype=np.int64)


def enumerate_counts(model: BnnModel, *, low_bits: int = 14) -> NDArray[np.int64]:
    """The exact number of inputs (of all 2^n) that the network gives each label.

    Equal to running :func:`bnnc.predict` on every input, in seconds for n = 25: the inputs are
    split into high and low bits, the first block's integer pre-activations are sums of a
    high and a low part, each neuron's output is read from a table over its reachable integer
    pre-activations (the reference :func:`bnnc.ir.bnn.block_activation`, so exact in the model's
    arithmetic), and the first block's output patterns are counted; the rest of the network
    runs once per pattern that occurs.  Refused above :data:`MAX_ENUMERATE_INPUTS` inputs.
    """
    n = model.n_inputs
    if n > MAX_ENUMERATE_INPUTS:
        raise UsageError(
            f"enumerating 2^{n} inputs is too slow (at most {MAX_ENUMERATE_INPUTS} inputs); "
            "count with montecarlo or approx"
        )
    classes = model.n_classes
    if not model.blocks or model.blocks[0].n_out > 22:
        # No inner block, or too many patterns to tabulate: run the reference in chunks.
        counts = np.zeros(classes, dtype=np.int64)
        low = min(n, 16)
        low_bits_all = _all_signs(low) > 0
        for high in range(1 << (n - low)):
            high_bits = (high >> np.arange(n - low - 1, -1, -1)) & 1 > 0
            bits = np.hstack(
                [np.broadcast_to(high_bits, (len(low_bits_all), n - low)), low_bits_all]
            )
            counts += np.bincount(fast_predict(model, bits), minlength=classes)
        return counts
    patterns, counts = first_layer_patterns(model, low_bits=low_bits)
    labels = labels_from_first_layer(model, patterns)
    return np.bincount(labels, weights=counts, minlength=classes).astype(np.int64)


def first_layer_patterns(
    model: BnnModel, *, low_bits: int = 14
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Every output pattern of the first inner block that some input produces (rows, True =
    +1), and how many of the 2^n inputs produce it (see :func:`enumerate_counts`)."""
    n = model.n_inputs
    if n > MAX_ENUMERATE_INPUTS or not model.blocks or model.blocks[0].n_out > 22:
        raise UsageError(
            f"cannot tabulate the first layer of a {n}-input network with "
            f"{model.blocks[0].n_out if model.blocks else 0} hidden neurons"
        )
    first = model.blocks[0]
    weights = first.weights.astype(np.int64)  # (H, n)
    width = weights.shape[0]
    # table[t + n, j]: output of neuron j at the integer pre-activation t (−n ≤ t ≤ n)
    reach = np.repeat(np.arange(-n, n + 1, dtype=np.int64)[:, None], width, axis=1)
    table = block_activation(first, reach, model.arithmetic)
    flat = np.ascontiguousarray(table.T).reshape(-1)  # neuron-major
    offsets = (np.arange(width, dtype=np.int32) * (2 * n + 1))[None, None, :]
    m = min(low_bits, n)
    pre_high = _all_signs(n - m) @ weights[:, : n - m].T  # (2^(n−m), H); one row when m = n
    pre_low = (_all_signs(m) @ weights[:, n - m :].T + n).astype(np.int32)
    place = np.int64(1) << np.arange(width, dtype=np.int64)
    pattern_counts = np.zeros(1 << width, dtype=np.int64)
    step = max(1, (1 << 20) // (1 << m))
    for start in range(0, len(pre_high), step):
        part = pre_high[start : start + step].astype(np.int32)
        fires = flat[part[:, None, :] + pre_low[None, :, :] + offsets].reshape(-1, width)
        codes = fires.astype(np.int64) @ place
        pattern_counts += np.bincount(codes, minlength=1 << width)
    present = np.flatnonzero(pattern_counts)
    patterns = (present[:, None] >> np.arange(width, dtype=np.int64)) & 1 > 0
    return np.asarray(patterns), pattern_counts[present]


def region_label_counts(
    model: BnnModel, region: Region, *, low_bits: int = 12
) -> tuple[NDArray[np.int64], int]:
    """How many inputs of ``region`` the network gives each label, and the region's size.

    :func:`enumerate_counts` restricted to a region: the fixed bits add a constant to the first
    block's pre-activations, the free bits are split into high and low halves whose parts are
    added, every Hamming ball is a bound on the sum of the two halves' distances to its centre,
    and the rest of the network runs once per first-block output pattern that occurs.  Exact
    in the model's arithmetic (:func:`bnnc.ir.bnn.block_activation` tables); at most
    :data:`MAX_ENUMERATE_INPUTS` free bits.
    """
    free = np.flatnonzero(region.fixed == FREE)
    m = int(free.size)
    if m > MAX_ENUMERATE_INPUTS or not model.blocks:
        raise UsageError(f"cannot tabulate a region with {m} free bits by its first layer")
    n = model.n_inputs
    first = model.blocks[0]
    weights = first.weights.astype(np.int64)  # (H, n)
    width = weights.shape[0]
    fixed = np.flatnonzero(region.fixed != FREE)
    constant = weights[:, fixed] @ np.where(region.fixed[fixed] == 1, 1, -1).astype(np.int64)
    reach = np.repeat(np.arange(-n, n + 1, dtype=np.int64)[:, None], width, axis=1)
    table = block_activation(first, reach, model.arithmetic)  # table[t + n, j]
    flat = np.ascontiguousarray(table.T).reshape(-1)  # neuron-major
    offsets = (np.arange(width, dtype=np.int64) * (2 * n + 1))[None, None, :]
    low = min(low_bits, m)
    high_cols, low_cols = free[: m - low], free[m - low :]
    high_signs, low_signs = _all_signs(m - low), _all_signs(low)
    pre_high = high_signs @ weights[:, high_cols].T + constant + n  # (2^(m−low), H)
    pre_low = low_signs @ weights[:, low_cols].T  # (2^low, H)
    # Per ball: its radius left after the fixed bits, and each half's distance to the centre.
    balls = []
    for ball in region.balls:
        centre = np.where(ball.center, 1, -1).astype(np.int64)
        used = int((centre[fixed] != np.where(region.fixed[fixed] == 1, 1, -1)).sum())
        far_high = (high_signs != centre[high_cols][None, :]).sum(axis=1)
        far_low = (low_signs != centre[low_cols][None, :]).sum(axis=1)
        balls.append((ball.max_flips - used, far_high, far_low))
    place = np.int64(1) << np.arange(min(width, 62), dtype=np.int64)
    codes_seen: list[NDArray[Any]] = []  # int64 codes, or packed rows for wide layers
    counts_seen: list[NDArray[np.int64]] = []
    space = 0
    step = max(1, (1 << 18) >> low)
    for start in range(0, len(pre_high), step):
        part = pre_high[start : start + step]
        fires = flat[part[:, None, :] + pre_low[None, :, :] + offsets].reshape(-1, width)
        if balls:
            inside = np.ones((len(part), len(pre_low)), dtype=bool)
            for budget, far_high, far_low in balls:
                inside &= far_high[start : start + step, None] + far_low[None, :] <= budget
            fires = fires[inside.reshape(-1)]
        space += len(fires)
        if width <= 62:
            codes, counts = np.unique(fires.astype(np.int64) @ place, return_counts=True)
        else:  # wider than one integer: unique rows of packed bits
            packed = np.packbits(fires, axis=1)
            rows, counts = np.unique(packed, axis=0, return_counts=True)
            codes_seen.append(rows)
            counts_seen.append(counts)
            continue
        codes_seen.append(codes)
        counts_seen.append(counts)
    classes = model.n_classes
    if not codes_seen:
        return np.zeros(classes, dtype=np.int64), 0
    if width <= 62:
        codes, inverse = np.unique(np.concatenate(codes_seen), return_inverse=True)
        counts = np.bincount(inverse.reshape(-1), weights=np.concatenate(counts_seen))
        patterns = (codes[:, None] >> np.arange(width, dtype=np.int64)) & 1 > 0
    else:
        rows, inverse = np.unique(np.concatenate(codes_seen), axis=0, return_inverse=True)
        counts = np.bincount(inverse.reshape(-1), weights=np.concatenate(counts_seen))
        patterns = np.unpackbits(rows, axis=1, count=width).astype(bool)
    labels = labels_from_first_layer(model, patterns)
    per_label = np.bincount(labels, weights=counts, minlength=classes)
    return np.rint(per_label).astype(np.int64), space


def montecarlo_counts(
    model: BnnModel, samples: int, *, seed: int = 0, chunk: int = 100_000
) -> NDArray[np.int64]:
    """How many of ``samples`` uniform random inputs the network gives each label."""
    rng = np.random.default_rng(seed)
    counts = np.zeros(model.n_classes, dtype=np.int64)
    done = 0
    while done < samples:
        size = min(chunk, samples - done)
        bits = rng.random((size, model.n_inputs)) < 0.5
        counts += np.bincount(fast_predict(model, bits), minlength=model.n_classes)
        done += size
    return counts
