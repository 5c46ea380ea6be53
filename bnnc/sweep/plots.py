"""Pictures of a sweep, drawn from its records alone: the robustness curve (matplotlib, the
optional extra ``bnnc[plot]``) and a grid of counterexamples (Pillow, a dependency)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import UsageError
from bnnc.io import write_atomic
from bnnc.sweep.records import curve

Record = Mapping[str, Any]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as error:
        raise UsageError(
            "the plot needs the Python package 'matplotlib': pip install 'bnnc[plot]'",
            parameter="plot",
        ) from error
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def curve_png(records: Sequence[Record], max_flips: int, title: str) -> bytes:
    """The robustness curve: the share of inputs certified robust at each k, the band of
    unknowns above it (they may be robust or not), and the certified robust accuracy."""
    plt = _pyplot()
    points = curve(records, max_flips)
    n = len(records)
    ks = [p.k for p in points]
    certified = np.array([p.certified for p in points]) / n
    unknown = np.array([p.unknown for p in points]) / n
    labelled = sum(r.get("correct") is not None for r in records)
    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    # k is discrete: points joined by lines, the unknowns a band above the certified share.
    axes.plot(ks, certified, marker="o", label="certified robust", color="tab:blue")
    if unknown.any():
        axes.fill_between(
            ks, certified, certified + unknown, alpha=0.3, color="tab:gray",
            label="unknown (time limit)",
        )  # fmt: skip
    if labelled:
        accuracy = np.array([p.certified_correct for p in points]) / labelled
        axes.plot(ks, accuracy, marker=".", label="certified robust accuracy", color="tab:green")
    axes.set_xlabel("bit flips k (L0 radius)")
    axes.set_ylabel(f"share of the {n} inputs")
    axes.set_ylim(0, 1.02)
    axes.set_xlim(-0.2, max(max_flips, 1) + 0.2)
    axes.set_xticks(ks if max_flips <= 16 else ks[:: max(1, max_flips // 16)])
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left")
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def write_curve(path: str | Path, records: Sequence[Record], max_flips: int, title: str) -> None:
    write_atomic(path, curve_png(records, max_flips, title))


def counterexample_grid(
    records: Sequence[Record],
    picture: tuple[int, int],
    *,
    columns: int = 10,
    scale: int = 6,
    gap: int = 3,
    limit: int = 100,
) -> NDArray[np.uint8] | None:
    """An RGB grid of the counterexamples (at most ``limit``, by image number): +1 white, −1
    black, a bit flipped to +1 red, to −1 blue.  None when there is no counterexample."""
    chosen = sorted(
        (r for r in records if r.get("counterexample") is not None), key=lambda r: r["index"]
    )[:limit]
    if not chosen:
        return None
    height, width = picture
    columns = min(columns, len(chosen))
    rows = -(-len(chosen) // columns)
    cell_h, cell_w = height * scale, width * scale
    grid = np.full(
        (rows * cell_h + (rows + 1) * gap, columns * cell_w + (columns + 1) * gap, 3),
        128,
        dtype=np.uint8,
    )
    for k, record in enumerate(chosen):
        bits = np.frombuffer(record["input"].encode(), dtype=np.uint8) == ord("1")
        flipped = np.zeros(bits.size, dtype=bool)
        flipped[record["counterexample"]] = True
        image = np.where(bits, 255, 0).astype(np.uint8)[:, None].repeat(3, axis=1)
        image[flipped & ~bits] = (230, 30, 30)  # −1 → +1
        image[flipped & bits] = (40, 90, 255)  # +1 → −1
        big = np.kron(image.reshape(height, width, 3), np.ones((scale, scale, 1), np.uint8))
        r, c = divmod(k, columns)
        top, left = gap + r * (cell_h + gap), gap + c * (cell_w + gap)
        grid[top : top + cell_h, left : left + cell_w] = big
    return grid


def write_grid(path: str | Path, records: Sequence[Record], input_shape: Sequence[int]) -> int:
    """Write the counterexample grid as a PNG; returns how many it shows."""
    from PIL import Image

    dims = [int(d) for d in input_shape if d != 1] or [1]
    if len(dims) == 1:
        dims = [1, dims[0]]  # a vector: one row of pixels
    if len(dims) != 2:
        raise UsageError(
            f"a picture needs 2-D inputs; the input shape is {tuple(input_shape)}",
            parameter="png",
        )
    grid = counterexample_grid(records, (dims[0], dims[1]))
    if grid is None:
        grid = np.full((8, 8, 3), 128, dtype=np.uint8)  # nothing to show: a grey square
    buffer = io.BytesIO()
    Image.fromarray(grid, mode="RGB").save(buffer, format="PNG")
    write_atomic(path, buffer.getvalue())
    return sum(r.get("counterexample") is not None for r in records)
