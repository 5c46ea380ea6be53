"""Pictures of a retraining run (PIL, imported only when drawing): the rounds as two line
charts, and grids of samples, one row per label."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnnc.backend.images import image_grid, write_png
from bnnc.training.retrain.results import RetrainResult

__all__ = ["plot_rounds", "write_sample_grid"]

_PALETTE = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


Series = tuple[str, Sequence[float | None], tuple[int, int, int]]


def _panel(
    draw: Any,
    box: tuple[int, int, int, int],
    title: str,
    xs: Sequence[int],
    series: Sequence[Series],
    *,
    log: bool = False,
    floor: float = 1e-7,
) -> None:
    """One line chart in ``box`` (left, top, right, bottom), y in [0, 1] or log10 [floor, 1]."""
    left, top, right, bottom = box
    small, big = _font(12), _font(14)
    draw.text((left, top), title, fill=(0, 0, 0), font=big)
    x0, y0, x1, y1 = left + 58, top + 26, right - 120, bottom - 28
    draw.rectangle((x0, y0, x1, y1), outline=(0, 0, 0))
    if log:
        lo, hi = math.log10(floor), 0.0
        ticks = [10.0**e for e in range(int(lo), 1)]
    else:
        lo, hi = 0.0, 1.0
        ticks = [0.0, 0.25, 0.5, 0.75, 1.0]

    def y_of(v: float) -> float:
        t = (math.log10(max(v, floor)) if log else v) - lo
        return y1 - (y1 - y0) * t / (hi - lo)

    span = max(1, xs[-1] - xs[0]) if xs else 1

    def x_of(x: int) -> float:
        return x0 + 12 + (x1 - x0 - 24) * (x - xs[0]) / span

    for v in ticks:
        y = y_of(v)
        draw.line((x0, y, x1, y), fill=(225, 225, 225))
        label = (f"1e{round(math.log10(v))}" if v < 1 else "1") if log else f"{v:.0%}"
        draw.text((x0 - 6, y), label, fill=(0, 0, 0), font=small, anchor="rm")
    for x in xs:
        draw.text((x_of(x), y1 + 6), str(x), fill=(0, 0, 0), font=small, anchor="mt")
    draw.text(((x0 + x1) / 2, y1 + 16), "round", fill=(0, 0, 0), font=small, anchor="mt")
    for k, (name, ys, colour) in enumerate(series):
        points = [(x_of(x), y_of(y)) for x, y in zip(xs, ys, strict=True) if y is not None]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for px, py in points:
            draw.ellipse((px - 3, py - 3, px + 3, py + 3), fill=colour)
        ly = y0 + 4 + 16 * k
        draw.line((x1 + 10, ly + 7, x1 + 28, ly + 7), fill=colour, width=3)
        draw.text((x1 + 32, ly), name, fill=(0, 0, 0), font=small)


def plot_rounds(result: RetrainResult) -> Any:
    """A PNG-ready PIL image: shares per digit (log scale); totals, accuracy, fresh samples."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1000, 440), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    xs = [r.round for r in result.rounds]
    n = result.n_digits
    per_digit: list[Series] = []
    for c, name in enumerate(result.digit_names):
        values = [r.shares[c].share if r.shares else None for r in result.rounds]
        per_digit.append((f"label {name}", values, _PALETTE[c % len(_PALETTE)]))
    positive = [v for _, ys, _ in per_digit for v in ys if v is not None and v > 0]
    floor = 10.0 ** min(-3, math.floor(math.log10(min(positive)))) if positive else 1e-7
    _panel(
        draw,
        (10, 10, 500, 430),
        "share of the input space per digit label (log)",
        xs,
        per_digit,
        log=True,
        floor=max(floor, 1e-30),
    )
    totals: list[Series] = [
        ("test accuracy", [r.test_accuracy for r in result.rounds], (0, 0, 0)),
        ("digit share", [r.digit_share(n) for r in result.rounds], (31, 119, 180)),
        ("garbage share", [r.garbage_share(n) for r in result.rounds], (214, 39, 40)),
        (
            "fresh still digit",
            [r.probe_still_digit / r.probe_drawn if r.probe_drawn else None for r in result.rounds],
            (44, 160, 44),
        ),
    ]
    _panel(draw, (510, 10, 995, 430), "accuracy; shares of the input space", xs, totals)
    return image


def write_sample_grid(
    path: str | Path,
    samples: NDArray[np.bool_],
    labels: NDArray[np.int64],
    input_shape: tuple[int, ...],
    per_label: int = 10,
) -> None:
    """A PNG with one row per label (in label order): the first ``per_label`` samples drawn for
    it; missing samples are left grey."""
    dims = [d for d in input_shape if d != 1]
    picture = (dims[0], dims[1])
    rows = []
    for c in np.unique(labels).tolist():
        mine = samples[labels == c][:per_label]
        if len(mine):
            rows.append(image_grid(mine, picture, columns=per_label))
    write_png(path, np.vstack(rows))
