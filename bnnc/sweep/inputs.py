"""The inputs of a sweep: a data set, the images chosen from it, and their bits as the model
sees them.

Data (``--data``)
    ``mnist`` (the t10k IDX pair in :func:`~bnnc.training.data.data_dir`), ``digits`` (the
    scikit-learn CSV), an IDX images file (``…idx3-ubyte[.gz]``; its labels are read from the
    ``…labels-idx1-ubyte`` file beside it when there is one) or a ``.npy`` array of inputs (one
    per row, no labels).  Images are numbered from 0 in file order; ``--images`` picks some
    (:func:`parse_images`).

Binarisation
    An ONNX model binarises its real-valued input itself, in its first quantiser
    (``BipolarQuant``, ``MultiThreshold``, ``Sign``).  The frontend found the exact condition
    of each bit by bisection (``model.input_conditions``, ``"0[0,0,3,4] >= 0.5"``); the pixels,
    scaled to [0, 1] (MNIST ÷ 255, digits ÷ 16) as float32, the model's input type, are
    binarised by those conditions, and :func:`check_with_model` runs the model itself on the raw
    images to confirm the labels.  A text model has bits as inputs: images are area-averaged to
    its input shape and binarised at ``threshold`` as ``bnnc train`` does.  A ``.npy`` of
    0/1, ±1 or booleans is taken as bits for either kind of model; other values go through the
    ONNX model's conditions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnnc.api import DEFAULT_THRESHOLD, Model
from bnnc.errors import UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.training.data import (
    DIGITS_FILE,
    MNIST_IMAGES,
    MNIST_LABELS,
    DataError,
    binarise,
    data_dir,
    read_digits_csv,
    read_idx_images,
    read_idx_labels,
    resize_area,
)

_CONDITION = re.compile(r"\s(>=|<=)\s(\S+)$")


@dataclass(frozen=True, eq=False)
class Inputs:
    """The inputs of a sweep: ``bits[j]`` is image ``indices[j]`` of the data set, whose true
    label is ``truth[j]`` (−1: unknown); ``raw`` holds the model-input values of an ONNX
    model (None for bits)."""

    source: str  # what the data are, for the JSONL header and the report
    binarisation: str
    indices: NDArray[np.int64]
    bits: NDArray[np.bool_]
    truth: NDArray[np.int64]
    raw: NDArray[np.float32] | None


def parse_images(spec: str | None, count: int) -> NDArray[np.int64]:
    """The image numbers of ``--images``: comma-separated items, each ``I`` or a Python-style
    range ``A:B`` or ``A:B:STEP`` (B excluded, ends clipped to the data); None: every image.

    >>> parse_images("0:3,7,10:16:2", 100).tolist()
    [0, 1, 2, 7, 10, 12, 14]
    >>> parse_images(":2", 5).tolist()
    [0, 1]
    """
    if spec is None:
        return np.arange(count, dtype=np.int64)
    chosen: list[int] = []
    for item in spec.split(","):
        item = item.strip()
        try:
            if ":" in item:
                parts = [int(p) if p.strip() else None for p in item.split(":")]
                if len(parts) > 3 or any(p is not None and p < 0 for p in parts):
                    raise ValueError
                chosen.extend(range(count)[slice(*parts)])
            else:
                index = int(item)
                if not 0 <= index < count:
                    raise UsageError(
                        f"image {index} is not in the data ({count} images: 0..{count - 1})",
                        parameter="images",
                    )
                chosen.append(index)
        except ValueError:
            raise UsageError(
                f"{item!r} is not an image number or a range A:B[:STEP]", parameter="images"
            ) from None
    unique = list(dict.fromkeys(chosen))  # each image once, in the order asked
    if not unique:
        raise UsageError(f"{spec!r} chooses no image of the {count}", parameter="images")
    return np.asarray(unique, dtype=np.int64)


def _read_data(data: str) -> tuple[str, NDArray[Any], NDArray[np.int64] | None, float]:
    """(description, values (n, …), labels or None, full scale of the values)."""
    if data == "mnist":
        folder = data_dir()
        images_file, labels_file = folder / MNIST_IMAGES, folder / MNIST_LABELS
        for file in (images_file, labels_file):
            if not file.exists():
                raise DataError(
                    "no such file; set BNNC_DATA to the folder holding the MNIST IDX files",
                    where=str(file),
                )
        images = read_idx_images(images_file)
        return f"mnist {images_file.name}", images, read_idx_labels(labels_file), 255.0
    if data == "digits":
        file = data_dir() / DIGITS_FILE
        if not file.exists():
            raise DataError(
                f"no such file; set BNNC_DATA to the folder holding {DIGITS_FILE}",
                where=str(file),
            )
        pixels, labels = read_digits_csv(file)
        return f"digits {file.name}", pixels.reshape(-1, 8, 8), labels, 16.0
    path = Path(data)
    if not path.exists():
        raise UsageError(
            f"{data}: no such file (give mnist, digits, an IDX images file or a .npy)",
            parameter="data",
        )
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise DataError(f"cannot read the array: {err}", where=str(path)) from None
        if array.ndim < 2:
            array = array.reshape(1, -1)
        return f"npy {path.name}", array, None, 1.0
    images = read_idx_images(path)
    labels_path = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
    beside: NDArray[np.int64] | None = None
    if labels_path != path and labels_path.exists():
        beside = read_idx_labels(labels_path)
    if beside is not None and len(beside) != len(images):
        raise DataError(f"{len(beside)} labels for {len(images)} images", where=str(labels_path))
    return f"idx {path.name}", images, beside, 255.0


def _conditions(model: Model) -> tuple[NDArray[np.float32], NDArray[np.bool_]] | None:
    """Per input element of an ONNX model: the threshold and whether the bit is +1 at or
    above it (``>=``) or at or below it (``<=``); None for a model with bit inputs."""
    conditions = model.input_conditions if isinstance(model, BnnModel) else None
    if conditions is None:
        return None
    thresholds, rising = [], []
    for text in conditions:
        match = _CONDITION.search(text)
        if match is None:  # the frontend writes every condition in this form
            raise DataError(f"cannot read the model's input condition {text!r}")
        rising.append(match.group(1) == ">=")
        thresholds.append(float(match.group(2)))
    return np.asarray(thresholds, dtype=np.float32), np.asarray(rising, dtype=bool)


def _as_bits(values: NDArray[Any]) -> NDArray[np.bool_] | None:
    if values.dtype == np.bool_:
        return values.astype(bool)
    if np.isin(values, (0, 1)).all():
        return values.astype(bool)
    if np.isin(values, (-1, 1)).all():
        return np.asarray(values > 0)
    return None


def load_inputs(
    model: Model, data: str, images: str | None = None, threshold: float = DEFAULT_THRESHOLD
) -> Inputs:
    """The chosen images of ``data`` as the model's input bits (module docstring)."""
    source, values, labels, scale = _read_data(data)
    indices = parse_images(images, len(values))
    chosen = values[indices]
    truth = np.full(len(indices), -1, np.int64) if labels is None else labels[indices]
    n = model.n_inputs
    conditions = _conditions(model)
    is_npy = source.startswith("npy")
    if is_npy:
        flat = chosen.reshape(len(chosen), -1)
        if flat.shape[1] != n:
            raise DataError(f"rows of {flat.shape[1]} values; the model takes {n} inputs")
        bits = _as_bits(flat)
        if bits is not None:
            return Inputs(source, "bits as given", indices, bits, truth, None)
        if conditions is None:
            raise DataError(
                "values must be 0/1, -1/+1 or booleans: the model takes bits", where=data
            )
        raw = flat.astype(np.float32)
    elif conditions is not None:
        pixels = chosen.shape[1] * chosen.shape[2]
        if pixels != n:
            raise DataError(
                f"the images have {chosen.shape[1]}x{chosen.shape[2]} = {pixels} pixels; "
                f"the model takes {n} inputs"
            )
        raw = (chosen.astype(np.float32) / np.float32(scale)).reshape(len(chosen), -1)
    else:
        shape = tuple(d for d in model.input_shape if d != 1)
        if len(shape) != 2:
            side = round(n**0.5)
            if side * side != n:
                raise DataError(f"the model's {n} inputs are not a square image")
            shape = (side, side)
        height, width = int(shape[0]), int(shape[1])
        grey = chosen.astype(np.float64) / scale
        if (height, width) != grey.shape[1:]:
            grey = resize_area(grey, (height, width))
        how = f"area average to {height}x{width}, " if (height, width) != chosen.shape[1:] else ""
        return Inputs(
            source,
            f"pixel / {scale:g}, {how}+1 iff >= {threshold}",
            indices,
            binarise(grey, threshold),
            truth,
            None,
        )
    assert conditions is not None
    cut, rising = conditions
    bits = np.where(rising, raw >= cut, raw <= cut)
    scaled = "" if is_npy else f"pixel / {scale:g} (float32), "
    return Inputs(source, f"{scaled}the model's own input quantiser", indices, bits, truth, raw)


def check_with_model(model: Model, inputs: Inputs, labels: NDArray[np.int64]) -> None:
    """Run an ONNX model itself (onnxruntime) on the raw inputs and check that it gives the
    labels that the bits get: the binarisation is the model's own (DataError if not)."""
    predictor: Any = model.framework_predict if isinstance(model, BnnModel) else None
    if inputs.raw is None or predictor is None:
        return
    engine = predictor.engine()
    for j, row in enumerate(inputs.raw):
        tensor = row.astype(predictor.input_dtype).reshape(predictor.input_shape)
        flat = np.asarray(engine.run({predictor.input_name: tensor})[0]).reshape(-1)
        got = int(flat[0]) if predictor.single_label else int(np.argmax(flat))
        if got != int(labels[j]):
            raise DataError(
                f"image {int(inputs.indices[j])}: the model labels the raw input {got}, its "
                f"bits {int(labels[j])}: the binarisation is not the model's"
            )
