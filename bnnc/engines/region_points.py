"""Every input of a region, in chunks: the enumeration method of deciding and counting.

A region of fixed bits is the product of its free bits (2^m inputs); a region with Hamming
balls is enumerated from its smallest ball (all ways of flipping at most K′ free bits of its
centre, K′ what the fixed bits leave of the radius), the other balls filtering the rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from math import comb

import numpy as np
from numpy.typing import NDArray

from bnnc.ir.region import FREE, Ball, Region

CHUNK = 1 << 15  # rows per chunk: a few MB of booleans for a 784-input network


def ball_size(region: Region, ball: Ball) -> int:
    """The number of inputs within the ball that agree with the region's fixed bits."""
    free = region.fixed == FREE
    fixed = ~free
    budget = ball.max_flips - int((ball.center[fixed] != region.fixed[fixed].astype(bool)).sum())
    if budget < 0:
        return 0
    m = int(free.sum())
    return sum(comb(m, i) for i in range(min(budget, m) + 1))


def enumeration_size(region: Region) -> int:
    """How many rows :func:`region_points` generates (an upper bound on the region's size)."""
    if not region.balls:
        return 1 << int((region.fixed == FREE).sum())
    return min(ball_size(region, ball) for ball in region.balls)


def region_points(region: Region, chunk: int = CHUNK) -> Iterator[NDArray[np.bool_]]:
    """The region's inputs (rows of bits, True = +1), each exactly once, in chunks."""
    free = np.flatnonzero(region.fixed == FREE)
    base = np.zeros(region.n_inputs, dtype=bool)
    fixed = region.fixed != FREE
    base[fixed] = region.fixed[fixed] == 1
    if not region.balls:
        yield from _free_product(base, free, chunk)
        return
    ball = min(region.balls, key=lambda b: ball_size(region, b))
    start = base.copy()
    start[free] = ball.center[free]
    budget = ball.max_flips - int((ball.center[fixed] != base[fixed]).sum())
    rows: list[NDArray[np.bool_]] = []
    for flips in range(min(budget, free.size) + 1):
        for chosen in combinations(free.tolist(), flips):
            row = start.copy()
            row[list(chosen)] ^= True
            rows.append(row)
            if len(rows) == chunk:
                yield from _filtered(region, rows)
                rows = []
    if rows:
        yield from _filtered(region, rows)


def _filtered(region: Region, rows: list[NDArray[np.bool_]]) -> Iterator[NDArray[np.bool_]]:
    block = np.stack(rows)
    inside = block[region.contains(block)]
    if len(inside):
        yield inside


def _free_product(
    base: NDArray[np.bool_], free: NDArray[np.intp], chunk: int
) -> Iterator[NDArray[np.bool_]]:
    m = free.size
    total = 1 << m
    for first in range(0, total, chunk):
        index = np.arange(first, min(first + chunk, total), dtype=np.int64)
        block = np.repeat(base[None, :], index.size, axis=0)
        if m:
            block[:, free] = (index[:, None] >> np.arange(m - 1, -1, -1, dtype=np.int64)) & 1 > 0
        yield block
