"""Counting by enumeration: run the exact inference over every input of a region.

Exact, and fast for small regions.  The free bits are split into high and low halves: the first
block's integer pre-activations are a high part plus a low part, so each neuron's output over a
whole block of low halves is one vector comparison with a threshold that the high half moves
(``_FirstBlock``).  First blocks of up to :data:`TABULATE_MAX_WIDTH` neurons are then tabulated:
the output patterns are counted and the rest of the network runs once per pattern that occurs.
Wider first blocks run the rest of the network on every row, packed (2^25 inputs in seconds
either way).  :func:`montecarlo_counts` runs uniform random inputs instead (an unbiased
estimate, for inputs too many to enumerate).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import UsageError
from bnnc.ir.bnn import BnnModel, block_activation, output_scores
from bnnc.ir.fast_reference import pack_bits
from bnnc.ir.region import FREE, Region
from bnnc.passes.fast_predict import fast_predict, fast_predictor

MAX_ENUMERATE_INPUTS = 30
# First blocks up to this wide are tabulated: 2^22 pattern counters take 32 MB, and the rest of
# the network runs once per pattern that occurs instead of once per input.
TABULATE_MAX_WIDTH = 22
# Rows of first-block outputs per step: (2^16, 64) booleans are 4 MB, within the cache of a core.
ROWS_PER_STEP = 1 << 16

T = TypeVar("T")


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


def enumerate_counts(model: BnnModel, *, low_bits: int = 16) -> NDArray[np.int64]:
    """The exact number of inputs (of all 2^n) that the network gives each label: equal to
    running :func:`bnnc.predict` on every input (see the module doc).  Refused above
    :data:`MAX_ENUMERATE_INPUTS` inputs."""
    n = model.n_inputs
    if n > MAX_ENUMERATE_INPUTS:
        raise UsageError(
            f"enumerating 2^{n} inputs is too slow (at most {MAX_ENUMERATE_INPUTS} inputs); "
            "count with montecarlo or approx"
        )
    if not model.blocks:  # no first block to split: run the inference in chunks
        counts = np.zeros(model.n_classes, dtype=np.int64)
        low = min(n, 16)
        low_bits_all = _all_signs(low) > 0
        for high in range(1 << (n - low)):
            high_bits = (high >> np.arange(n - low - 1, -1, -1)) & 1 > 0
            bits = np.hstack(
                [np.broadcast_to(high_bits, (len(low_bits_all), n - low)), low_bits_all]
            )
            counts += np.bincount(fast_predict(model, bits), minlength=model.n_classes)
        return counts
    return region_label_counts(model, Region.everything(n), low_bits=low_bits)[0]


def first_layer_patterns(
    model: BnnModel, *, low_bits: int = 14
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Every output pattern of the first inner block that some input produces (rows, True =
    +1), and how many of the 2^n inputs produce it (see :func:`enumerate_counts`)."""
    n = model.n_inputs
    width = model.blocks[0].n_out if model.blocks else 0
    if n > MAX_ENUMERATE_INPUTS or not 0 < width <= TABULATE_MAX_WIDTH:
        raise UsageError(
            f"cannot tabulate the first layer of a {n}-input network with {width} hidden neurons"
        )
    first = _FirstBlock.of(model)
    pattern_counts = _count_patterns(_Split.of(first, Region.everything(n), low_bits), first)
    present = np.flatnonzero(pattern_counts)
    return _patterns(present, width), pattern_counts[present]


def region_label_counts(
    model: BnnModel, region: Region, *, low_bits: int = 16
) -> tuple[NDArray[np.int64], int]:
    """How many inputs of ``region`` the network gives each label, and the region's size.

    Exact in the model's arithmetic (see the module doc); at most
    :data:`MAX_ENUMERATE_INPUTS` free bits.  The fixed bits add a constant to the first block's
    pre-activations, and every Hamming ball is a bound on the sum of the two halves' distances
    to its centre.
    """
    m = int((region.fixed == FREE).sum())
    if m > MAX_ENUMERATE_INPUTS or not model.blocks:
        raise UsageError(f"cannot tabulate a region with {m} free bits by its first layer")
    first = _FirstBlock.of(model)
    split = _Split.of(first, region, low_bits)
    classes = model.n_classes
    width = first.weights.shape[0]
    if width <= TABULATE_MAX_WIDTH:  # the rest of the network once per pattern that occurs
        pattern_counts = _count_patterns(split, first)
        present = np.flatnonzero(pattern_counts)
        labels = first.rest(_patterns(present, width))
        weighted = np.bincount(labels, weights=pattern_counts[present], minlength=classes)
        return np.rint(weighted).astype(np.int64), int(pattern_counts.sum())

    def labels_of(fires: NDArray[np.bool_]) -> NDArray[np.int64]:
        return np.bincount(first.rest(fires), minlength=classes)

    per_label = np.zeros(classes, dtype=np.int64)
    for counts in split.each_step(first, labels_of):
        per_label += counts
    return per_label, int(per_label.sum())


def _patterns(codes: NDArray[np.int64], width: int) -> NDArray[np.bool_]:
    """Pattern codes (bit j: neuron j fires) as rows of booleans."""
    return np.asarray((codes[:, None] >> np.arange(width, dtype=np.int64)) & 1 > 0)


def _codes(fires: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Each row's output pattern as an integer (bit j: neuron j fires; at most 64 neurons)."""
    return pack_bits(fires)[:, 0].view(np.int64)


def _count_patterns(split: _Split, first: _FirstBlock) -> NDArray[np.int64]:
    """How many inputs of the split give each first-block output pattern (index: its code)."""
    counts = np.zeros(1 << first.weights.shape[0], dtype=np.int64)
    pending: list[NDArray[np.int64]] = []
    for codes in split.each_step(first, _codes):
        pending.append(codes)
        # A bincount of 2^22 counters costs more than a step: codes wait until they outnumber
        # the counters.
        if sum(map(len, pending)) >= counts.size:
            counts += np.bincount(np.concatenate(pending), minlength=counts.size)
            pending.clear()
    if pending:
        counts += np.bincount(np.concatenate(pending), minlength=counts.size)
    return counts


@dataclass(frozen=True)
class _FirstBlock:
    """The first inner block as the enumeration reads it, and the rest of the network.

    From the ILP stage when it accepts the model: neuron j fires ⇔ ⟨a_j, x⟩ ≥ C′_j, the
    thresholds that :mod:`bnnc.ir.fast_reference` runs (read off the model's arithmetic at every
    reachable pre-activation).  Otherwise from the float reference itself: a table of
    :func:`bnnc.ir.bnn.block_activation` over every integer pre-activation −n…n.
    """

    weights: NDArray[np.int64]  # (H, n)
    # (high parts (g, H), low parts (L, H)) → outputs (g·L, H), True = fires
    fires: Callable[[NDArray[np.int64], NDArray[np.int8]], NDArray[np.bool_]]
    rest: Callable[[NDArray[np.bool_]], NDArray[np.int64]]  # first-block outputs → labels

    @classmethod
    def of(cls, model: BnnModel) -> _FirstBlock:
        net = fast_predictor(model)
        if net is not None:
            layer = net.layers[0]
            bar = layer.min_sums

            def compare(high: NDArray[np.int64], low: NDArray[np.int8]) -> NDArray[np.bool_]:
                # |low| ≤ 30, so thresholds clipped to int8 decide the same: one byte per
                # comparison, the fastest numpy has.
                need = np.clip(bar[None, :] - high, -128, 127).astype(np.int8)
                fires: NDArray[np.bool_] = low[None, :, :] >= need[:, None, :]
                return fires.reshape(-1, bar.size)

            weights = np.rint(layer.rows.matrix.T).astype(np.int64)
            return cls(weights, compare, net.labels_after_first)
        block = model.blocks[0]
        n, width = model.n_inputs, block.n_out
        reach = np.repeat(np.arange(-n, n + 1, dtype=np.int64)[:, None], width, axis=1)
        table = block_activation(block, reach, model.arithmetic)  # table[t + n, j]
        flat = np.ascontiguousarray(table.T).reshape(-1)  # neuron-major
        offsets = np.arange(width, dtype=np.int64) * (2 * n + 1) + n

        def look_up(high: NDArray[np.int64], low: NDArray[np.int8]) -> NDArray[np.bool_]:
            index = high[:, None, :] + low[None, :, :] + offsets
            return np.asarray(flat[index].reshape(-1, width), dtype=bool)

        def rest(fires: NDArray[np.bool_]) -> NDArray[np.int64]:
            return labels_from_first_layer(model, fires)

        return cls(block.weights.astype(np.int64), look_up, rest)


@dataclass(frozen=True)
class _Split:
    """A region's free bits split into high and low halves, as first-block pre-activations."""

    high: NDArray[np.int64]  # (2^h, H): each high half's part, fixed bits included
    low: NDArray[np.int8]  # (2^l, H): each low half's part (|part| ≤ l ≤ 30)
    # per ball: the radius left after the fixed bits, and each half's distance to the centre
    balls: tuple[tuple[int, NDArray[np.int64], NDArray[np.int64]], ...]

    @classmethod
    def of(cls, first: _FirstBlock, region: Region, low_bits: int) -> _Split:
        weights = first.weights
        free = np.flatnonzero(region.fixed == FREE)
        fixed = np.flatnonzero(region.fixed != FREE)
        fixed_signs = np.where(region.fixed[fixed] == 1, 1, -1).astype(np.int64)
        low = min(low_bits, free.size)
        high_cols, low_cols = free[: free.size - low], free[free.size - low :]
        high_signs, low_signs = _all_signs(free.size - low), _all_signs(low)
        balls = []
        for ball in region.balls:
            centre = np.where(ball.center, 1, -1).astype(np.int64)
            used = int((centre[fixed] != fixed_signs).sum())
            far_high = (high_signs != centre[high_cols][None, :]).sum(axis=1)
            far_low = (low_signs != centre[low_cols][None, :]).sum(axis=1)
            balls.append((ball.max_flips - used, far_high, far_low))
        return cls(
            high=high_signs @ weights[:, high_cols].T + weights[:, fixed] @ fixed_signs,
            low=(low_signs @ weights[:, low_cols].T).astype(np.int8),
            balls=tuple(balls),
        )

    def each_step(
        self, first: _FirstBlock, function: Callable[[NDArray[np.bool_]], T]
    ) -> Iterator[T]:
        """``function`` of the first block's outputs on each step of rows of the region, in
        order, on every core: numpy lets go of the GIL in its vector loops, so threads share
        the cores (2 cores: 1.6–2× faster), and they stop with a process under a time limit."""
        group = max(1, ROWS_PER_STEP // len(self.low))

        def step(start: int) -> T:
            fires = first.fires(self.high[start : start + group], self.low)
            if self.balls:
                inside = np.ones((len(fires) // len(self.low), len(self.low)), dtype=bool)
                for budget, far_high, far_low in self.balls:
                    inside &= far_high[start : start + group, None] + far_low[None, :] <= budget
                fires = fires[inside.reshape(-1)]
            return function(fires)

        yield from _in_threads(step, range(0, len(self.high), group))


def _in_threads(function: Callable[[int], T], items: Sequence[int]) -> Iterator[T]:
    """``function`` of each item, in order, run by one thread per core with a few steps in
    flight (so results that wait for the caller stay few)."""
    if len(items) <= 1 or _cores() == 1:
        yield from map(function, items)
        return
    with ThreadPoolExecutor(_cores()) as pool:
        window: deque[Future[T]] = deque()
        try:
            for item in items:
                window.append(pool.submit(function, item))
                if len(window) >= 2 * _cores():
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:  # stopped early (an error, Ctrl-C): drop the steps not yet started
            for future in window:
                future.cancel()


def _cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


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
