"""Training data without a download: MNIST (IDX files) and the scikit-learn digits (CSV).

Readers
    :func:`read_idx` reads any standard IDX file (LeCun's MNIST format, gzipped or not — the
    gzip magic number is checked, not the file name): ``idx3-ubyte`` images give a
    ``(n, rows, cols)`` uint8 array, ``idx1-ubyte`` labels an ``(n,)`` array.
    :func:`read_digits_csv` reads scikit-learn's ``digits.csv.gz``: one row per image, 64 pixel
    values 0..16 (8×8, row-major) and then the label.  Every problem is one :class:`DataError`
    line naming the file and what is wrong.

Preprocessing (the paper downsamples MNIST to 10×10 and 5×5 without saying how)
    1. Scale to [0, 1]: MNIST pixels ÷ 255, digits pixels ÷ 16.
    2. :func:`resize_area` — exact **area averaging**: the image is cut into an out_h × out_w
       grid of equal cells (28/10 = 2.8 input pixels per cell for 10×10), and each output pixel
       is the mean of the input over its cell, input pixels that straddle a cell boundary
       counting with the fraction that lies inside it.  This is what PIL's ``BOX`` filter and
       OpenCV's ``INTER_AREA`` compute; no pixel is cropped and no padding is added.
    3. :func:`binarise` — a pixel is +1 (True) iff its value is ≥ ``threshold`` of full
       intensity, else −1.  The default is 0.2 (:data:`DEFAULT_THRESHOLD`), not 0.5:
       averaging thins the strokes (a typical 7 at 5×5 has no cell ≥ 0.5), and 0.15–0.25 gave
       the best accuracy of 100-20-10 / 25-20-10 networks (≈ +10 points at 10×10 over 0.5).

Bits are flattened row-major: bit ``r * width + c`` is pixel (r, c), as bnnc's models read it.

Split (only the MNIST *test* set, 10,000 images, is in ``../shared/data``)
    :func:`split_indices`: image ``i`` (0-based, in file order) is a **test** image iff
    ``i % 5 == 4``, a training image otherwise — 8,000 train / 2,000 test for MNIST t10k,
    1,438 / 359 for the digits.  Interleaving rather than cutting the file in two keeps both
    parts drawn from both halves of t10k (its first 5,000 images come from easier writers than
    its last 5,000).  Given a separate test file pair, the first pair is used whole for
    training and the second whole for testing.

Where the files are: :func:`data_dir` — ``$BNNC_DATA`` if set, else ``../shared/data``
relative to the current directory.
"""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import BnncError, ExitCode, UsageError

__all__ = [
    "DEFAULT_THRESHOLD",
    "DIGITS_FILE",
    "MNIST_IMAGES",
    "MNIST_LABELS",
    "DataError",
    "Dataset",
    "binarise",
    "data_dir",
    "load_digits",
    "load_mnist",
    "read_digits_csv",
    "read_idx",
    "read_idx_images",
    "read_idx_labels",
    "resize_area",
    "split_indices",
]

DEFAULT_THRESHOLD = 0.2
MNIST_IMAGES = "t10k-images-idx3-ubyte.gz"
MNIST_LABELS = "t10k-labels-idx1-ubyte.gz"
DIGITS_FILE = "sklearn-digits.csv.gz"
DATA_ENV = "BNNC_DATA"
TEST_EVERY = 5  # image i is a test image iff i % TEST_EVERY == TEST_EVERY - 1

_GZIP_MAGIC = b"\x1f\x8b"
# IDX type byte -> big-endian numpy dtype
_IDX_TYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


class DataError(BnncError):
    """A data file is missing, unreadable or malformed (exit code 3, like an unreadable model)."""

    exit_code = ExitCode.INVALID_MODEL


@dataclass(frozen=True, eq=False)
class Dataset:
    """Binarised images split into a training and a test part.

    ``*_bits`` are ``(n, height·width)`` booleans (True = +1), row-major; labels are int64
    class indices; ``description`` says how the data were made (for reports).
    """

    name: str
    image_shape: tuple[int, int]
    class_names: tuple[str, ...]
    train_bits: NDArray[np.bool_]
    train_labels: NDArray[np.int64]
    test_bits: NDArray[np.bool_]
    test_labels: NDArray[np.int64]
    description: str

    @property
    def n_inputs(self) -> int:
        return self.image_shape[0] * self.image_shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


# --------------------------------------------------------------------------- files


def data_dir() -> Path:
    """``$BNNC_DATA`` if set, else ``../shared/data`` relative to the current directory."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else Path.cwd().parent / "shared" / "data"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped if they start with the gzip magic number."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError("no such file", where=str(path)) from None
    except IsADirectoryError:
        raise DataError("is a directory, not a data file", where=str(path)) from None
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror or err}", where=str(path)) from None
    if raw.startswith(_GZIP_MAGIC):
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(f"damaged gzip data: {err}", where=str(path)) from None
    return raw


def read_idx(path: str | Path) -> NDArray[np.generic]:
    """Read an IDX file (gzipped or not) into an array of its declared type and shape."""
    file = Path(path)
    data = _read_bytes(file)
    if len(data) < 4:
        raise DataError(f"too short for an IDX file ({len(data)} bytes)", where=str(file))
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"not an IDX file (magic number {data[:4].hex()}, expected 0000TTDD)", where=str(file)
        )
    kind, ndim = data[2], data[3]
    if kind not in _IDX_TYPES:
        raise DataError(f"unknown IDX element type 0x{kind:02x}", where=str(file))
    if ndim == 0:
        raise DataError("IDX file with no dimensions", where=str(file))
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"truncated IDX header ({len(data)} bytes)", where=str(file))
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[kind])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    body = len(data) - header
    if body != expected:
        dims = "x".join(map(str, shape))
        problem = "truncated" if body < expected else "has trailing bytes"
        raise DataError(
            f"IDX data {problem}: {body} bytes for shape {dims}, expected {expected}",
            where=str(file),
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx_images(path: str | Path) -> NDArray[np.uint8]:
    """An ``idx3-ubyte`` image file: ``(n, rows, cols)`` uint8."""
    array = read_idx(path)
    if array.ndim != 3 or array.dtype != np.uint8:
        raise DataError(
            f"expected images (idx3-ubyte: 3 dimensions of unsigned bytes), found "
            f"{array.ndim} dimension(s) of {array.dtype}",
            where=str(path),
        )
    return array.astype(np.uint8)


def read_idx_labels(path: str | Path, n_classes: int = 10) -> NDArray[np.int64]:
    """An ``idx1-ubyte`` label file: ``(n,)`` int64, each in ``0..n_classes-1``."""
    array = read_idx(path)
    if array.ndim != 1 or array.dtype != np.uint8:
        raise DataError(
            f"expected labels (idx1-ubyte: 1 dimension of unsigned bytes), found "
            f"{array.ndim} dimension(s) of {array.dtype}",
            where=str(path),
        )
    labels = array.astype(np.int64)
    bad = np.flatnonzero(labels >= n_classes)
    if bad.size:
        raise DataError(
            f"label {int(labels[bad[0]])} of item {int(bad[0])} is not a digit 0..{n_classes - 1}",
            where=str(path),
        )
    return labels


def read_digits_csv(path: str | Path) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """scikit-learn's digits CSV: ``(n, 8, 8)`` pixels 0..16 and ``(n,)`` labels 0..9."""
    file = Path(path)
    try:
        text = _read_bytes(file).decode("ascii")
    except UnicodeDecodeError:
        raise DataError("not a text (CSV) file", where=str(file)) from None
    pixels: list[list[int]] = []
    labels: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{file}:{number}"
        fields = line.split(",")
        if len(fields) != 65:
            raise DataError(
                f"{len(fields)} fields, expected 65 (64 pixel values then the label)", where=where
            )
        try:
            values = [float(f) for f in fields]
        except ValueError:
            bad = next(f for f in fields if not _is_number(f))
            raise DataError(f"{bad.strip()!r} is not a number", where=where) from None
        if any(v != int(v) for v in values):
            raise DataError("values must be integers", where=where)
        row = [int(v) for v in values]
        if not all(0 <= v <= 16 for v in row[:64]):
            raise DataError("pixel values must lie in 0..16", where=where)
        if not 0 <= row[64] <= 9:
            raise DataError(f"label {row[64]} is not a digit 0..9", where=where)
        pixels.append(row[:64])
        labels.append(row[64])
    if not labels:
        raise DataError("no data rows", where=str(file))
    images = np.array(pixels, dtype=np.uint8).reshape(-1, 8, 8)
    return images, np.array(labels, dtype=np.int64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- preprocessing


def _area_matrix(n_in: int, n_out: int) -> NDArray[np.float64]:
    """(n_out, n_in): row i holds the fraction of each input pixel inside output cell i,
    divided by the cell's width, so that each row sums to 1."""
    edges = np.arange(n_out + 1) * (n_in / n_out)  # cell boundaries in input-pixel units
    lo, hi = edges[:-1, None], edges[1:, None]
    pixel = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, pixel + 1) - np.maximum(lo, pixel), 0.0, None)
    return np.asarray(overlap / overlap.sum(axis=1, keepdims=True), dtype=np.float64)


def resize_area(images: NDArray[np.floating], shape: tuple[int, int]) -> NDArray[np.float64]:
    """Area-average ``(n, h, w)`` images to ``(n, *shape)`` (see the module docstring).

    Sizes need not divide: an input pixel straddling two output cells is shared between them
    in proportion.  Upsampling (a larger ``shape``) is refused.
    """
    n_h, n_w = images.shape[-2:]
    out_h, out_w = shape
    if not (0 < out_h <= n_h and 0 < out_w <= n_w):
        raise DataError(f"cannot area-average {n_h}x{n_w} images to {out_h}x{out_w}")
    rows, cols = _area_matrix(n_h, out_h), _area_matrix(n_w, out_w)
    array = np.asarray(images, dtype=np.float64)
    return np.asarray(rows @ array @ cols.T, dtype=np.float64)  # (oh, h)·(n, h, w)·(w, ow)


def binarise(
    images: NDArray[np.floating], threshold: float = DEFAULT_THRESHOLD
) -> NDArray[np.bool_]:
    """``(n, h, w)`` intensities in [0, 1] → ``(n, h·w)`` bits, True (+1) iff value ≥ threshold.

    A tiny tolerance (1e-9) absorbs the rounding of the area averages, so that a cell exactly
    half covered by full-intensity pixels counts as ≥ 0.5 whatever the order of the sum.
    """
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    return np.asarray(flat >= threshold - 1e-9)


def split_indices(n: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(train, test) indices: item i is a test item iff i % 5 == 4 (see the module docstring)."""
    index = np.arange(n, dtype=np.int64)
    test = index % TEST_EVERY == TEST_EVERY - 1
    return index[~test], index[test]


def _prepare(
    images: NDArray[np.uint8], full_scale: float, size: int | None, threshold: float
) -> tuple[NDArray[np.bool_], tuple[int, int]]:
    h, w = images.shape[-2:]
    grey = images.astype(np.float64) / full_scale
    if size is not None and (size, size) != (h, w):
        grey = resize_area(grey, (size, size))
        h = w = size
    return binarise(grey, threshold), (h, w)


def _check_threshold(threshold: float) -> None:
    if not 0.0 < threshold <= 1.0:
        raise UsageError(  # a bad option, not bad data: exit 2
            f"threshold: the binarisation threshold must lie in (0, 1], got {threshold}",
            parameter="threshold",
        )


def _check_size(size: int | None, native: int) -> None:
    if size is not None and not 1 <= size <= native:
        raise DataError(f"image size {size} must lie in 1..{native} (the images are {native} wide)")


def _pair(images_path: Path, labels_path: Path) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    images = read_idx_images(images_path)
    labels = read_idx_labels(labels_path)
    if len(images) != len(labels):
        raise DataError(
            f"{len(images)} images in {images_path} but {len(labels)} labels",
            where=str(labels_path),
        )
    return images, labels


def load_mnist(
    images_path: str | Path | None = None,
    labels_path: str | Path | None = None,
    *,
    size: int | None = 10,
    threshold: float = DEFAULT_THRESHOLD,
    test_images_path: str | Path | None = None,
    test_labels_path: str | Path | None = None,
) -> Dataset:
    """MNIST from IDX files, area-averaged to ``size``×``size`` (None or 28: unchanged) and
    binarised at ``threshold``.

    Without paths, reads the t10k files in :func:`data_dir` and splits them (i % 5 == 4 is
    test).  With a test pair as well, the first pair is all training and the second all test.
    """
    _check_threshold(threshold)
    folder = data_dir()
    images_file = Path(images_path) if images_path is not None else folder / MNIST_IMAGES
    labels_file = Path(labels_path) if labels_path is not None else folder / MNIST_LABELS
    if images_path is None or labels_path is None:
        for file in (images_file, labels_file):
            if not file.exists():
                raise DataError(
                    f"no such file; give the paths of a copy of the MNIST IDX files "
                    f"or set {DATA_ENV} to the folder holding {MNIST_IMAGES} and {MNIST_LABELS}",
                    where=str(file),
                )
    images, labels = _pair(images_file, labels_file)
    _check_size(size, min(images.shape[1:]))
    bits, shape = _prepare(images, 255.0, size, threshold)
    how = (
        f"{shape[0]}x{shape[1]} (area average of 28x28)"
        if shape != images.shape[1:]
        else f"{shape[0]}x{shape[1]}"
    )
    if (test_images_path is None) != (test_labels_path is None):
        raise DataError("a test set needs both an images file and a labels file")
    if test_images_path is not None and test_labels_path is not None:
        test_images, test_labels = _pair(Path(test_images_path), Path(test_labels_path))
        if test_images.shape[1:] != images.shape[1:]:
            raise DataError(
                f"test images are {test_images.shape[1]}x{test_images.shape[2]}, training images "
                f"{images.shape[1]}x{images.shape[2]}",
                where=str(test_images_path),
            )
        test_bits, _ = _prepare(test_images, 255.0, size, threshold)
        split = f"train = {images_file.name} ({len(labels)}), test = {Path(test_images_path).name}"
        return Dataset(
            name="mnist",
            image_shape=shape,
            class_names=tuple(str(d) for d in range(10)),
            train_bits=bits,
            train_labels=labels,
            test_bits=test_bits,
            test_labels=test_labels,
            description=f"MNIST {how}, pixel >= {threshold} of full scale is +1; {split}",
        )
    train, test = split_indices(len(labels))
    split = (
        f"{images_file.name} split by index: i % 5 == 4 is test "
        f"({len(train)} train, {len(test)} test)"
    )
    return Dataset(
        name="mnist",
        image_shape=shape,
        class_names=tuple(str(d) for d in range(10)),
        train_bits=bits[train],
        train_labels=labels[train],
        test_bits=bits[test],
        test_labels=labels[test],
        description=f"MNIST {how}, pixel >= {threshold} of full scale is +1; {split}",
    )


def load_digits(
    path: str | Path | None = None,
    *,
    size: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> Dataset:
    """The scikit-learn digits (8×8, values 0..16), optionally area-averaged to ``size``,
    binarised at ``threshold`` of full scale (16), split i % 5 == 4 → test."""
    _check_threshold(threshold)
    file = Path(path) if path is not None else data_dir() / DIGITS_FILE
    if path is None and not file.exists():
        raise DataError(
            f"no such file; give the path of a copy of scikit-learn's digits.csv.gz or set "
            f"{DATA_ENV} to the folder holding {DIGITS_FILE}",
            where=str(file),
        )
    images, labels = read_digits_csv(file)
    _check_size(size, 8)
    bits, shape = _prepare(images, 16.0, size, threshold)
    train, test = split_indices(len(labels))
    how = f"{shape[0]}x{shape[1]}" + (" (area average of 8x8)" if shape != (8, 8) else "")
    return Dataset(
        name="digits",
        image_shape=shape,
        class_names=tuple(str(d) for d in range(10)),
        train_bits=bits[train],
        train_labels=labels[train],
        test_bits=bits[test],
        test_labels=labels[test],
        description=(
            f"scikit-learn digits {how}, pixel >= {threshold} of full scale (16) is +1; "
            f"split by index: i % 5 == 4 is test ({len(train)} train, {len(test)} test)"
        ),
    )
