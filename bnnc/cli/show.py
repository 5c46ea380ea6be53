"""What verbs print: JSON records, bits and ASCII pictures, output files, progress bars."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import typer
from numpy.typing import NDArray

from bnnc.api import Model, Query


def query_json(model: Model, query: Query) -> dict[str, Any]:
    return {
        "label": query.label,
        "not_label": query.not_label,
        "fixed_bits": query.region.n_fixed,
        "balls": [
            {"center": bits_text(ball.center), "max_flips": ball.max_flips}
            for ball in query.region.balls
        ],
        "space": query.region.size(),
    }


def bits_text(bits: NDArray[np.bool_]) -> str:
    return "".join("1" if b else "0" for b in np.asarray(bits).reshape(-1).tolist())


def ascii_image(bits: NDArray[np.bool_], shape: tuple[int, ...]) -> list[str] | None:
    """Rows of ``#`` (+1) and ``.`` (−1) for inputs with a 2-D picture, else None."""
    picture = image_shape(shape)
    if picture is None:
        return None
    rows = np.asarray(bits).reshape(picture)
    return ["".join("#" if b else "." for b in row) for row in rows.tolist()]


def image_shape(shape: tuple[int, ...]) -> tuple[int, int] | None:
    """(height, width) when the input is a picture: 2-D after dropping unit dimensions."""
    dims = [d for d in shape if d != 1]
    if len(dims) == 2:
        return (dims[0], dims[1])
    return None


def echo_json(record: dict[str, Any]) -> None:
    typer.echo(json.dumps(record, sort_keys=True))


class progress:
    """A rich progress bar on stderr when it is a terminal; otherwise nothing.  Entering it
    gives the callback to call with the number done (or None when disabled)."""

    def __init__(self, total: int, description: str, *, enabled: bool) -> None:
        self.total = total
        self.description = description
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import Progress

        self._progress = Progress(console=Console(stderr=True), transient=True)
        self._progress.start()
        task = self._progress.add_task(self.description, total=self.total)

        def advance(done: int) -> None:
            self._progress.update(task, completed=done)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
