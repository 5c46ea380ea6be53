"""Training from the API: ``bnnc.train`` and ``bnnc.retrain`` take what the verbs take.

A data set is named (``"mnist"``: IDX files, by default the t10k set in ``$BNNC_DATA`` or
``../shared/data``; ``"digits"``: scikit-learn's 8×8 digits CSV) or given as files; the
trainer's and the retraining loop's settings are keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from bnnc.backend.onnx_export import save_onnx, save_text
from bnnc.errors import OutputError, UsageError
from bnnc.io import check_target
from bnnc.ir.bnn import BnnModel
from bnnc.training.data import DEFAULT_THRESHOLD, Dataset, load_digits, load_mnist
from bnnc.training.retrain import RetrainConfig, RetrainResult, write_outputs
from bnnc.training.retrain import retrain as _retrain
from bnnc.training.train import TrainConfig, TrainResult, accuracy, parse_arch
from bnnc.training.train import train as _train

DataName = Literal["mnist", "digits"]
DATA_NAMES: tuple[DataName, ...] = ("mnist", "digits")


def load_dataset(
    data: DataName = "mnist",
    *,
    images: str | Path | None = None,
    labels: str | Path | None = None,
    test_images: str | Path | None = None,
    test_labels: str | Path | None = None,
    size: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    default_size: int = 10,
) -> Dataset:
    """A binarised data set: named, or read from the given files (MNIST IDX or digits CSV)."""
    if data not in DATA_NAMES:
        raise UsageError(f"unknown data set {data!r}; choose mnist or digits", parameter="data")
    images, labels = _path(images), _path(labels)
    test_images, test_labels = _path(test_images), _path(test_labels)
    if data == "digits":
        if labels is not None or test_images is not None or test_labels is not None:
            raise UsageError(
                "the digits data set is one CSV file (images); labels, test_images and "
                "test_labels are MNIST's",
                parameter="labels",
                mentions=("images", "labels", "test_images", "test_labels"),
            )
        return load_digits(images, size=size, threshold=threshold)
    if (images is None) != (labels is None):
        raise UsageError("images and labels go together", parameter="images", mentions=("labels",))
    if (test_images is None) != (test_labels is None):
        raise UsageError(
            "test_images and test_labels go together",
            parameter="test_images",
            mentions=("test_labels",),
        )
    if test_images is not None and images is None:
        raise UsageError(
            "test_images needs images and labels for the training data",
            parameter="test_images",
            mentions=("images", "labels"),
        )
    return load_mnist(
        images,
        labels,
        size=default_size if size is None else size,
        threshold=threshold,
        test_images_path=test_images,
        test_labels_path=test_labels,
    )


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)


def check_writable(path: str | Path | None) -> None:
    """Fail before minutes of work, not after, when an output's folder does not exist or the
    output is a path bnnc refuses to replace (a directory, a read-only file; bnnc.io)."""
    if path is None or str(path) == "-":
        return
    target = Path(path)
    if not Path(check_target(target).path).parent.is_dir():
        raise OutputError(f"{target}: cannot write: no such directory {str(target.parent)!r}")


@dataclass(frozen=True)
class TrainRun:
    """A trained network with its data set and accuracies (what ``bnnc train`` reports)."""

    model: BnnModel
    dataset: Dataset
    widths: tuple[int, ...]
    result: TrainResult
    train_accuracy: float
    test_accuracy: float
    config: TrainConfig


def train(
    dataset: Dataset | Callable[[], Dataset] | None = None,
    *,
    arch: str | tuple[int, ...] | None = None,
    output: str | Path | None = None,
    onnx: str | Path | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Callable[[Any], None] | None = None,
    **settings: Any,
) -> TrainRun:
    """Train a BNN of the paper's shape (binarised linear → batch norm → sign blocks, a
    binarised linear output) on ``dataset`` (or a function that reads it once the settings are
    checked; default: MNIST at 10×10).

    ``arch`` gives the layer widths (``"100-20-10"``; default inputs-20-classes); ``settings``
    are :class:`~bnnc.training.train.TrainConfig` fields (``epochs``, ``batch_size``, ``lr``,
    ``seed``, …).  With ``output`` (text language) and ``onnx`` the model is also written.
    """
    check_writable(output)
    check_writable(onnx)
    config = TrainConfig(**_settings(TrainConfig, settings))
    config.check()
    given = parse_arch(arch) if isinstance(arch, str) else arch  # fail before reading data
    data = _dataset(dataset, default_size=10)
    widths = tuple(given or (data.n_inputs, 20, data.n_classes))
    shape = "x".join(map(str, data.image_shape))
    arch_text = "-".join(map(str, widths))
    if widths[0] != data.n_inputs:
        fitting = "-".join(map(str, (data.n_inputs, *widths[1:])))
        raise UsageError(
            f"arch {arch_text} takes {widths[0]} inputs, the {shape} images have "
            f"{data.n_inputs}; use arch {fitting}",
            parameter="arch",
            mentions=("arch",),
        )
    if widths[-1] != data.n_classes:
        raise UsageError(
            f"arch {arch_text} has {widths[-1]} classes, the data have {data.n_classes}",
            parameter="arch",
        )
    result = _train(
        data.train_bits,
        data.train_labels,
        widths,
        config=config,
        test=(data.test_bits, data.test_labels),
        progress=progress,
        input_shape=data.image_shape,
        class_names=data.class_names,
        name=f"{data.name}{shape}_{arch_text.replace('-', '_')}",
    )
    model = result.model
    if output is not None:
        save_text(model, output)
    if onnx is not None:
        save_onnx(model, onnx, threshold=threshold)
    return TrainRun(
        model,
        data,
        widths,
        result,
        accuracy(model, data.train_bits, data.train_labels),
        accuracy(model, data.test_bits, data.test_labels),
        config,
    )


@dataclass(frozen=True)
class RetrainRun:
    """The measured rounds of garbage-class retraining and the files written."""

    result: RetrainResult
    dataset: Dataset
    arch: str
    written: tuple[Path, ...]


def retrain(
    dataset: Dataset | Callable[[], Dataset] | None = None,
    *,
    hidden: str | tuple[int, ...] = (20,),
    output_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    **settings: Any,
) -> RetrainRun:
    """Garbage-class retraining (the paper's future work), measured every round.

    ``dataset`` (or a function that reads it once the settings are checked) defaults to MNIST
    at 5×5; ``hidden`` gives the hidden widths (``"32-16"``);
    ``settings`` are :class:`~bnnc.training.retrain.RetrainConfig` fields (``rounds``,
    ``samples``, ``probe``, ``encoding``, ``count``, …).  With ``output_dir``, the report
    (Markdown, JSON, plot) and the models are written there.
    """
    config = RetrainConfig(**_settings(RetrainConfig, settings))
    config.check()  # fail before reading the data
    widths = parse_hidden(hidden) if isinstance(hidden, str) else tuple(hidden)
    folder = None if output_dir is None else Path(output_dir)
    _prepare_folder(folder)
    data = _dataset(dataset, default_size=5)
    config.check(data.n_inputs)
    shape = "x".join(map(str, data.image_shape))
    arch = "-".join(map(str, (data.n_inputs, *widths, data.n_classes)))
    result = _retrain(
        data.train_bits,
        data.train_labels,
        data.test_bits,
        data.test_labels,
        hidden=widths,
        config=config,
        digit_names=data.class_names,
        input_shape=data.image_shape,
        name=f"{data.name}{shape}_{arch.replace('-', '_')}",
        description=f"{arch} on {data.description}.",
        log=log,
    )
    written = write_outputs(result, folder) if folder is not None else []
    return RetrainRun(result, data, arch, tuple(written))


def parse_hidden(text: str) -> tuple[int, ...]:
    """Hidden widths written ``20`` or ``32-16``."""
    try:
        widths = tuple(int(p) for p in text.replace(",", "-").split("-") if p.strip())
    except ValueError:
        raise UsageError(
            f"{text!r}: expected widths like 20 or 32-16", parameter="hidden"
        ) from None
    if not widths or any(w < 1 for w in widths):
        raise UsageError(f"{text!r}: give at least one width, every width ≥ 1", parameter="hidden")
    return widths


def _prepare_folder(folder: Path | None) -> None:
    """Create the output folder before minutes of work, not after."""
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{folder}: cannot create the folder: {err.strerror or err}") from None
    if not folder.is_dir():
        raise OutputError(f"{folder}: not a folder")


def _dataset(given: Dataset | Callable[[], Dataset] | None, *, default_size: int) -> Dataset:
    """The data set: given, read now by the given function (after the settings were checked),
    or MNIST at the default size."""
    if given is None:
        return load_dataset(default_size=default_size)
    return given if isinstance(given, Dataset) else given()


def _settings(config: type[Any], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` checked against the fields of the ``config`` dataclass."""
    known = {f.name for f in fields(config)}
    for name in given:
        if name not in known:
            choices = ", ".join(sorted(known))
            raise UsageError(f"unknown setting {name!r}; known: {choices}", parameter=name)
    return given
