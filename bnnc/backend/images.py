"""Files for input samples: ``.npy`` arrays and PNG image grids (like the paper's Fig. 2)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import ModelError
from bnnc.io import write_atomic


def samples_array(samples: NDArray[np.bool_], input_shape: tuple[int, ...]) -> NDArray[np.int8]:
    """Input bits (N, n) → −1/+1 values of shape (N, *input_shape)."""
    values = np.where(samples, 1, -1).astype(np.int8)
    return values.reshape((samples.shape[0], *input_shape))


def write_npy(path: str | Path, samples: NDArray[np.bool_], input_shape: tuple[int, ...]) -> None:
    """Save the samples as −1/+1 int8 in the model's input shape (atomically)."""
    buffer = io.BytesIO()
    np.save(buffer, samples_array(samples, input_shape), allow_pickle=False)
    write_atomic(path, buffer.getvalue())


def image_grid(
    samples: NDArray[np.bool_],
    picture: tuple[int, int],
    *,
    columns: int | None = None,
    scale: int = 8,
    gap: int = 2,
) -> NDArray[np.uint8]:
    """One greyscale image with the samples side by side: +1 white, −1 black, grey gaps."""
    count = samples.shape[0]
    if count == 0:
        raise ModelError("no samples to draw")
    height, width = picture
    columns = columns or min(count, 10)
    rows = -(-count // columns)
    cell_h, cell_w = height * scale, width * scale
    grid = np.full(
        (rows * cell_h + (rows + 1) * gap, columns * cell_w + (columns + 1) * gap),
        128,
        dtype=np.uint8,
    )
    for k, bits in enumerate(samples):
        image = np.where(bits.reshape(height, width), 255, 0).astype(np.uint8)
        big = np.kron(image, np.ones((scale, scale), dtype=np.uint8))
        r, c = divmod(k, columns)
        top, left = gap + r * (cell_h + gap), gap + c * (cell_w + gap)
        grid[top : top + cell_h, left : left + cell_w] = big
    return grid


def write_png_grid(
    path: str | Path, samples: NDArray[np.bool_], input_shape: tuple[int, ...]
) -> None:
    """Write the samples of a model with 2-D inputs as a PNG grid (atomically)."""
    dims = [d for d in input_shape if d != 1]
    if len(dims) != 2:
        raise ModelError(f"a PNG grid needs 2-D inputs; the input shape is {input_shape}")
    write_png(path, image_grid(samples, (dims[0], dims[1])))


def png_bytes(grid: NDArray[np.uint8]) -> bytes:
    """A greyscale image as PNG file contents."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(grid, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(path: str | Path, grid: NDArray[np.uint8]) -> None:
    """Write a greyscale image as a PNG file (atomically)."""
    write_atomic(path, png_bytes(grid))
