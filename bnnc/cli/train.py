"""``bnnc train``: train a BNN of the paper's shape with numpy; write it as text and ONNX.

Register :func:`train_command` on a typer app (``app.command("train")(train_command)``).
The heavy modules (the trainer, onnx, rich) are imported when the command runs, so that
registering it costs the other verbs nothing at start-up.
"""

from __future__ import annotations

import json
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bnnc.errors import ExitCode, OutputError
from bnnc.training.data import DEFAULT_THRESHOLD

if TYPE_CHECKING:
    from bnnc.training.data import Dataset
    from bnnc.training.train import Progress

__all__ = ["DataName", "train_command"]


class DataName(StrEnum):
    mnist = "mnist"
    digits = "digits"


def train_command(
    data: Annotated[
        DataName,
        typer.Option(
            "--data",
            help=(
                "mnist: MNIST IDX files (default: the t10k set in $BNNC_DATA or ../shared/data, "
                "split i % 5 == 4 → test); digits: scikit-learn's digits CSV (8x8)."
            ),
        ),
    ] = DataName.mnist,
    images: Annotated[
        Path | None,
        typer.Option(
            "--images",
            help="Images file: MNIST idx3-ubyte (gzipped or not), or the digits CSV.",
        ),
    ] = None,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="MNIST labels file (idx1-ubyte).")
    ] = None,
    test_images: Annotated[
        Path | None,
        typer.Option(
            "--test-images",
            help="MNIST test images: then --images/--labels are all training data.",
        ),
    ] = None,
    test_labels: Annotated[
        Path | None, typer.Option("--test-labels", help="MNIST test labels (with --test-images).")
    ] = None,
    size: Annotated[
        int | None,
        typer.Option(
            "--size",
            help="Area-average images to SIZE x SIZE (MNIST: default 10; 28 = as is; digits: 8).",
        ),
    ] = None,
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold", help="After downsampling, a pixel ≥ THRESHOLD of full intensity is +1."
        ),
    ] = DEFAULT_THRESHOLD,
    arch: Annotated[
        str | None,
        typer.Option("--arch", help="Layer widths inputs-hidden…-classes (default: INPUTS-20-10)."),
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Training epochs.")] = 25,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (runs are reproducible).")] = 0,
    lr: Annotated[
        float, typer.Option("--lr", help="Adam learning rate (decays linearly to 1 % of it).")
    ] = 0.01,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Mini-batch size.")] = 100,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the trained model here (bnnc text, .bnn)."),
    ] = None,
    onnx_path: Annotated[
        Path | None,
        typer.Option(
            "--onnx",
            help="Also write it as ONNX (input: image [N, H, W], pixel ≥ THRESHOLD is +1).",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout instead of text.")
    ] = False,
) -> None:
    """Train a BNN (binarised linear → batch norm → sign blocks, linear output) with numpy."""
    from bnnc.cli.common import run_verb  # not at the top: bnnc.cli imports this module

    run_verb(
        None,
        lambda: _run(
            data=data,
            images=images,
            labels=labels,
            test_images=test_images,
            test_labels=test_labels,
            size=size,
            threshold=threshold,
            arch=arch,
            epochs=epochs,
            seed=seed,
            lr=lr,
            batch_size=batch_size,
            output=output,
            onnx_path=onnx_path,
            json_output=json_output,
        ),
    )


def load_dataset(
    data: DataName,
    images: Path | None,
    labels: Path | None,
    test_images: Path | None,
    test_labels: Path | None,
    size: int | None,
    threshold: float,
    *,
    default_size: int = 10,
) -> Dataset:
    """The dataset the --data/--images/--labels/--test-* options describe (also for retrain)."""
    from bnnc.cli.common import usage
    from bnnc.training.data import load_digits, load_mnist

    if data is DataName.digits:
        if labels is not None or test_images is not None or test_labels is not None:
            raise usage("--data digits reads one CSV (--images); --labels and --test-* are MNIST's")
        return load_digits(images, size=size, threshold=threshold)
    if (images is None) != (labels is None):
        raise usage("--images and --labels go together")
    if (test_images is None) != (test_labels is None):
        raise usage("--test-images and --test-labels go together")
    if test_images is not None and images is None:
        raise usage("--test-images needs --images and --labels for the training data")
    return load_mnist(
        images,
        labels,
        size=default_size if size is None else size,
        threshold=threshold,
        test_images_path=test_images,
        test_labels_path=test_labels,
    )


def _finite(value: float | None) -> float | None:
    """JSON has no NaN: an accuracy over no samples is null."""
    return None if value is None or value != value else value


def _check_writable(path: Path | None) -> None:
    """Fail before training, not after, when an output's folder does not exist."""
    if path is not None and not path.parent.is_dir():
        raise OutputError(f"{path}: cannot write: no such directory {str(path.parent)!r}")


def _run(
    *,
    data: DataName,
    images: Path | None,
    labels: Path | None,
    test_images: Path | None,
    test_labels: Path | None,
    size: int | None,
    threshold: float,
    arch: str | None,
    epochs: int,
    seed: int,
    lr: float,
    batch_size: int,
    output: Path | None,
    onnx_path: Path | None,
    json_output: bool,
) -> int:
    from bnnc.backend.onnx_export import save_onnx, save_text
    from bnnc.training.train import TrainConfig, TrainError, accuracy, parse_arch, train

    _check_writable(output)
    _check_writable(onnx_path)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    config.check()
    given = parse_arch(arch) if arch is not None else None  # fail before reading the data
    dataset = load_dataset(data, images, labels, test_images, test_labels, size, threshold)
    widths = given or (dataset.n_inputs, 20, dataset.n_classes)
    shape = "x".join(map(str, dataset.image_shape))
    arch_text = "-".join(map(str, widths))
    if widths[0] != dataset.n_inputs:
        raise TrainError(
            f"--arch {arch_text} takes {widths[0]} inputs, the {shape} images have "
            f"{dataset.n_inputs}; use --arch {dataset.n_inputs}-{'-'.join(map(str, widths[1:]))}"
        )
    if widths[-1] != dataset.n_classes:
        raise TrainError(
            f"--arch {arch_text} has {widths[-1]} classes, the data have {dataset.n_classes}"
        )
    name = f"{dataset.name}{shape}_{arch_text.replace('-', '_')}"
    with _ProgressBar() as report:
        result = train(
            dataset.train_bits,
            dataset.train_labels,
            widths,
            config=config,
            test=(dataset.test_bits, dataset.test_labels),
            progress=report,
            input_shape=dataset.image_shape,
            class_names=dataset.class_names,
            name=name,
        )
    model = result.model
    train_acc = accuracy(model, dataset.train_bits, dataset.train_labels)
    test_acc = accuracy(model, dataset.test_bits, dataset.test_labels)
    if output is not None:
        save_text(model, output)
    if onnx_path is not None:
        save_onnx(model, onnx_path, threshold=threshold)
    n_train, n_test = len(dataset.train_labels), len(dataset.test_labels)
    if json_output:
        record: dict[str, Any] = {
            "data": dataset.name,
            "description": dataset.description,
            "image_shape": list(dataset.image_shape),
            "threshold": threshold,
            "arch": list(widths),
            "model": name,
            "epochs": epochs,
            "seed": seed,
            "lr": lr,
            "batch_size": batch_size,
            "train_samples": n_train,
            "test_samples": n_test,
            "train_accuracy": _finite(train_acc),
            "test_accuracy": _finite(test_acc),
            "seconds": round(result.seconds, 3),
            "history": [
                {
                    "epoch": h.epoch,
                    "loss": h.loss,
                    "batch_accuracy": h.train_accuracy,
                    "test_accuracy": _finite(h.test_accuracy),
                }
                for h in result.history
            ],
            "output": str(output) if output is not None else None,
            "onnx": str(onnx_path) if onnx_path is not None else None,
        }
        typer.echo(json.dumps(record, sort_keys=True))
        return int(ExitCode.OK)
    typer.echo(f"data: {dataset.description}")
    typer.echo(
        f"trained {arch_text} for {epochs} epochs in {result.seconds:.1f} s "
        f"(seed {seed}, lr {lr}, batch size {batch_size})"
    )
    typer.echo(f"train accuracy {train_acc:.2%} ({round(train_acc * n_train)}/{n_train})")
    typer.echo(f"test accuracy {test_acc:.2%} ({round(test_acc * n_test)}/{n_test})")
    for path in (output, onnx_path):
        if path is not None:
            typer.echo(f"wrote {path}")
    return int(ExitCode.OK)


class _ProgressBar:
    """A rich progress bar on stderr (nothing when stderr is not a terminal); the instance is
    the trainer's progress callback."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        self._bar = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            TextColumn("loss {task.fields[loss]:.3f}  acc {task.fields[acc]:.1%}"),
            TextColumn("{task.fields[test]}"),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal or not sys.stderr.isatty(),
            transient=False,
        )
        self._task: Any = None
        self._started = time.perf_counter()

    def __enter__(self) -> _ProgressBar:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def __call__(self, step: Progress) -> None:
        total = step.epochs * step.batches
        done = (step.epoch - 1) * step.batches + step.batch
        if self._task is None:
            self._task = self._bar.add_task(
                "train", total=total, epoch="", loss=0.0, acc=0.0, test=""
            )
        fields: dict[str, Any] = {
            "epoch": f"{step.epoch}/{step.epochs}",
            "loss": step.loss,
            "acc": step.accuracy,
        }
        if step.test_accuracy is not None:
            fields["test"] = f"test {step.test_accuracy:.1%}"
        self._bar.update(self._task, completed=done, **fields)
