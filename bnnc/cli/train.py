"""``bnnc train``: train a BNN of the paper's shape with numpy; write it as text and ONNX."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

import bnnc.api as bnnc
from bnnc.cli.edge import verb
from bnnc.cli.options import DataOptions, JsonOption
from bnnc.errors import ExitCode

__all__ = ["train_command"]


@verb(flags={"onnx": "--onnx"})
def train_command(
    *,
    data: DataOptions,
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
    json_output: JsonOption = False,
) -> int:
    """Train a BNN (binarised linear → batch norm → sign blocks, linear output) with numpy."""

    def dataset() -> bnnc.Dataset:  # read after the settings are checked
        return bnnc.load_dataset(
            data.data,  # type: ignore[arg-type]  # checked by the option's choices
            images=data.images,
            labels=data.labels,
            test_images=test_images,
            test_labels=test_labels,
            size=data.size,
            threshold=data.threshold,
        )

    with _ProgressBar() as report:
        run = bnnc.train(
            dataset,
            arch=arch,
            output=output,
            onnx=onnx_path,
            threshold=data.threshold,
            progress=report,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
        )
    train_data = run.dataset
    arch_text = "-".join(map(str, run.widths))
    n_train, n_test = len(train_data.train_labels), len(train_data.test_labels)
    if json_output:
        record: dict[str, Any] = {
            "data": train_data.name,
            "description": train_data.description,
            "image_shape": list(train_data.image_shape),
            "threshold": data.threshold,
            "arch": list(run.widths),
            "model": run.model.name,
            "epochs": epochs,
            "seed": seed,
            "lr": lr,
            "batch_size": batch_size,
            "train_samples": n_train,
            "test_samples": n_test,
            "train_accuracy": _finite(run.train_accuracy),
            "test_accuracy": _finite(run.test_accuracy),
            "seconds": round(run.result.seconds, 3),
            "history": [
                {
                    "epoch": h.epoch,
                    "loss": h.loss,
                    "batch_accuracy": h.train_accuracy,
                    "test_accuracy": _finite(h.test_accuracy),
                }
                for h in run.result.history
            ],
            "output": str(output) if output is not None else None,
            "onnx": str(onnx_path) if onnx_path is not None else None,
        }
        typer.echo(json.dumps(record, sort_keys=True))
        return int(ExitCode.OK)
    typer.echo(f"data: {train_data.description}")
    typer.echo(
        f"trained {arch_text} for {epochs} epochs in {run.result.seconds:.1f} s "
        f"(seed {seed}, lr {lr}, batch size {batch_size})"
    )
    train_acc, test_acc = run.train_accuracy, run.test_accuracy
    typer.echo(f"train accuracy {train_acc:.2%} ({round(train_acc * n_train)}/{n_train})")
    typer.echo(f"test accuracy {test_acc:.2%} ({round(test_acc * n_test)}/{n_test})")
    for path in (output, onnx_path):
        if path is not None:
            typer.echo(f"wrote {path}")
    return int(ExitCode.OK)


def _finite(value: float | None) -> float | None:
    """JSON has no NaN: an accuracy over no samples is null."""
    return None if value is None or value != value else value


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

    def __call__(self, step: bnnc.TrainProgress) -> None:
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
