"""bnnc.training.data: IDX and CSV readers (with bad files), area averaging, binarisation, the
split."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from bnnc.errors import UsageError
from bnnc.training.data import (
    DataError,
    binarise,
    load_digits,
    load_mnist,
    read_digits_csv,
    read_idx,
    read_idx_images,
    read_idx_labels,
    resize_area,
    split_indices,
)
from tests.paths import SHARED

SHARED_DATA = SHARED / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED_DATA / "t10k-images-idx3-ubyte.gz").exists(),
    reason=f"{SHARED_DATA} is absent (MNIST t10k and the digits CSV live there)",
)


def idx_bytes(array: np.ndarray, type_code: int = 0x08, dtype: str = ">u1") -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.asarray(array, dtype=dtype).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def synthetic_mnist(tmp_path: Path, n: int = 20, *, gz: bool = True) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    suffix = ".gz" if gz else ""
    return (
        write_idx(tmp_path / f"img-idx3-ubyte{suffix}", images, gz=gz),
        write_idx(tmp_path / f"lab-idx1-ubyte{suffix}", labels, gz=gz),
    )


# --------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_images_and_labels(tmp_path: Path, gz: bool) -> None:
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    got = read_idx_images(write_idx(tmp_path / "i", images, gz=gz))
    assert got.dtype == np.uint8 and got.shape == (3, 4, 5)
    np.testing.assert_array_equal(got, images)
    got_labels = read_idx_labels(write_idx(tmp_path / "l", labels, gz=gz))
    assert got_labels.dtype == np.int64
    np.testing.assert_array_equal(got_labels, [7, 0, 9])


def test_read_idx_other_types_are_big_endian(tmp_path: Path) -> None:
    array = np.array([[1, -2], [300, 4]], dtype=np.int32)
    path = tmp_path / "ints"
    path.write_bytes(idx_bytes(array, 0x0C, ">i4"))
    np.testing.assert_array_equal(read_idx(path), array)


def error_of(call: object, *args: object) -> str:
    assert callable(call)
    with pytest.raises(DataError) as info:
        call(*args)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"\x01\x02\x08\x01\x00\x00\x00\x01\x05", "not an IDX file"),
        (b"\x00\x00", "too short"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unknown IDX element type"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02", "truncated: 2 bytes for shape 3"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "trailing bytes"),
        (b"\x1f\x8b\x08\x00garbage", "damaged gzip data"),
    ],
)
def test_bad_idx_files_name_the_file_and_problem(
    tmp_path: Path, content: bytes, phrase: str
) -> None:
    path = tmp_path / "bad.idx"
    path.write_bytes(content)
    message = error_of(read_idx, path)
    assert message.startswith(str(path)) and phrase in message


def test_missing_file_and_wrong_kind(tmp_path: Path) -> None:
    assert "no such file" in error_of(read_idx, tmp_path / "nope")
    labels = write_idx(tmp_path / "labels", np.array([1, 2], dtype=np.uint8))
    assert "expected images" in error_of(read_idx_images, labels)
    images = write_idx(tmp_path / "images", np.zeros((1, 2, 2), dtype=np.uint8))
    assert "expected labels" in error_of(read_idx_labels, images)
    bad_label = write_idx(tmp_path / "big", np.array([3, 12], dtype=np.uint8))
    assert "label 12 of item 1" in error_of(read_idx_labels, bad_label)


def test_mismatched_counts(tmp_path: Path) -> None:
    images = write_idx(tmp_path / "i", np.zeros((3, 28, 28), dtype=np.uint8))
    labels = write_idx(tmp_path / "l", np.zeros(2, dtype=np.uint8))
    assert "3 images" in error_of(lambda: load_mnist(images, labels))


# --------------------------------------------------------------------------- digits CSV


def write_csv(path: Path, rows: list[str], *, gz: bool = True) -> Path:
    text = "\n".join(rows) + "\n"
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def test_read_digits_csv(tmp_path: Path) -> None:
    rows = [",".join(["16"] * 32 + ["0"] * 32 + ["3"]), ",".join(["4"] * 64 + ["9"])]
    images, labels = read_digits_csv(write_csv(tmp_path / "d.csv.gz", rows))
    assert images.shape == (2, 8, 8) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, [3, 9])
    assert images[0, :4].min() == 16 and images[0, 4:].max() == 0


@pytest.mark.parametrize(
    ("row", "phrase"),
    [
        (",".join(["1"] * 64), "64 fields, expected 65"),
        (",".join(["1"] * 63 + ["x", "2"]), "'x' is not a number"),
        (",".join(["17"] + ["1"] * 63 + ["2"]), "0..16"),
        (",".join(["1"] * 64 + ["10"]), "label 10"),
        (",".join(["1.5"] + ["1"] * 63 + ["2"]), "integers"),
    ],
)
def test_bad_digits_rows_name_file_and_line(tmp_path: Path, row: str, phrase: str) -> None:
    good = ",".join(["0"] * 64 + ["1"])
    path = write_csv(tmp_path / "d.csv", [good, row], gz=False)
    message = error_of(read_digits_csv, path)
    assert message.startswith(f"{path}:2:") and phrase in message


def test_binary_file_is_not_csv(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"\xff\xfe\x00")
    assert "not a text (CSV) file" in error_of(read_digits_csv, path)


# --------------------------------------------------------------------------- preprocessing


def test_resize_area_block_average() -> None:
    image = np.arange(16, dtype=np.float64).reshape(1, 4, 4)
    np.testing.assert_allclose(resize_area(image, (2, 2))[0], [[2.5, 4.5], [10.5, 12.5]])


def test_resize_area_fractional_cells() -> None:
    """3 → 2: each output cell covers 1.5 input pixels; the middle one is shared half-half."""
    image = np.array([[[0.0, 3.0, 6.0]] * 3])
    out = resize_area(image, (2, 2))
    np.testing.assert_allclose(out[0], [[(0 + 1.5) / 1.5, (1.5 + 6) / 1.5]] * 2)


def test_resize_area_mnist_sizes_keep_the_mean() -> None:
    rng = np.random.default_rng(0)
    images = rng.random((3, 28, 28))
    for size in (10, 5, 28):
        out = resize_area(images, (size, size))
        assert out.shape == (3, size, size)
        np.testing.assert_allclose(out.mean(axis=(1, 2)), images.mean(axis=(1, 2)))
    np.testing.assert_allclose(resize_area(np.ones((1, 28, 28)), (10, 10)), 1.0)
    with pytest.raises(DataError):
        resize_area(images, (29, 29))


def test_binarise_threshold_and_row_major_order() -> None:
    images = np.array([[[0.0, 0.2], [0.19, 1.0]]])
    np.testing.assert_array_equal(binarise(images, 0.2), [[False, True, False, True]])
    np.testing.assert_array_equal(binarise(images, 0.5), [[False, False, False, True]])


def test_split_indices() -> None:
    train, test = split_indices(12)
    assert test.tolist() == [4, 9]
    assert sorted(train.tolist() + test.tolist()) == list(range(12))
    train, test = split_indices(10_000)
    assert (len(train), len(test)) == (8000, 2000)


# --------------------------------------------------------------------------- datasets


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_paths(tmp_path: Path, gz: bool) -> None:
    images, labels = synthetic_mnist(tmp_path, 20, gz=gz)
    data = load_mnist(images, labels, size=5)
    assert data.image_shape == (5, 5) and data.n_inputs == 25 and data.n_classes == 10
    assert data.train_bits.shape == (16, 25) and data.test_bits.shape == (4, 25)
    assert data.train_bits.dtype == np.bool_
    np.testing.assert_array_equal(data.test_labels, [4, 9, 4, 9])
    raw = read_idx_images(images)
    expected = binarise(resize_area(raw[[4, 9, 14, 19]] / 255.0, (5, 5)), 0.2)
    np.testing.assert_array_equal(data.test_bits, expected)
    full = load_mnist(images, labels, size=28, threshold=0.5)
    np.testing.assert_array_equal(full.test_bits[0], raw[4].reshape(-1) >= 127.5)


def test_load_mnist_with_a_test_pair(tmp_path: Path) -> None:
    images, labels = synthetic_mnist(tmp_path, 20)
    data = load_mnist(images, labels, size=10, test_images_path=images, test_labels_path=labels)
    assert len(data.train_labels) == 20 and len(data.test_labels) == 20
    with pytest.raises(DataError, match="both"):
        load_mnist(images, labels, test_images_path=images)


def test_missing_default_data_says_how_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BNNC_DATA", str(tmp_path))
    message = error_of(load_mnist)
    assert str(tmp_path / "t10k-images-idx3-ubyte.gz") in message
    # the library names no CLI flag (the CLI adds its own): a path to give, or BNNC_DATA
    assert "--" not in message and "paths" in message and "BNNC_DATA" in message
    digits = error_of(load_digits)
    assert "--" not in digits and "BNNC_DATA" in digits


def test_bad_options(tmp_path: Path) -> None:
    images, labels = synthetic_mnist(tmp_path, 10)
    with pytest.raises(UsageError, match="threshold"):  # an option, not the data: exit 2
        load_mnist(images, labels, threshold=0.0)
    assert "image size 30" in error_of(lambda: load_mnist(images, labels, size=30))


@needs_shared
def test_shared_mnist_t10k(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNNC_DATA", str(SHARED_DATA))
    data = load_mnist(size=10)
    assert data.train_bits.shape == (8000, 100) and data.test_bits.shape == (2000, 100)
    assert data.test_labels[:5].tolist() == [4, 9, 1, 4, 4]  # t10k items 4, 9, 14, 19, 24
    assert data.train_labels[:4].tolist() == [7, 2, 1, 0]  # t10k items 0..3
    assert 0.1 < data.train_bits.mean() < 0.3
    small = load_mnist(size=5)
    assert small.train_bits.shape == (8000, 25)


@needs_shared
def test_shared_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNNC_DATA", str(SHARED_DATA))
    data = load_digits()
    assert data.image_shape == (8, 8)
    assert data.train_bits.shape == (1438, 64) and data.test_bits.shape == (359, 64)
    assert set(np.unique(data.train_labels).tolist()) == set(range(10))
