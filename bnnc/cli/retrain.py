"""``bnnc retrain``: garbage-class retraining (the paper's future work), measured each round.

Register :func:`retrain_command` on a typer app (``app.command("retrain")(retrain_command)``).
The heavy modules (trainer, solvers, PIL) are imported when the command runs.
"""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bnnc.cli.train import DataName, load_dataset
from bnnc.errors import ExitCode, OutputError
from bnnc.training.data import DEFAULT_THRESHOLD

if TYPE_CHECKING:
    pass

__all__ = ["CountName", "retrain_command"]


class CountName(StrEnum):
    """Mirrors bnnc.training.retrain.COUNT_METHODS."""

    auto = "auto"
    enumerate = "enumerate"
    montecarlo = "montecarlo"
    approx = "approx"
    exact = "exact"
    none = "none"


def retrain_command(
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
        typer.Option("--images", help="Images file: MNIST idx3-ubyte, or the digits CSV."),
    ] = None,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="MNIST labels file (idx1-ubyte).")
    ] = None,
    size: Annotated[
        int | None,
        typer.Option(
            "--size",
            help=(
                "Area-average images to SIZE x SIZE (MNIST: default 5, whose 2^25 inputs are "
                "counted exactly; digits: 8)."
            ),
        ),
    ] = None,
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold", help="After downsampling, a pixel ≥ THRESHOLD of full intensity is +1."
        ),
    ] = DEFAULT_THRESHOLD,
    hidden: Annotated[
        str, typer.Option("--hidden", help="Hidden layer widths, e.g. 20 or 32-16.")
    ] = "20",
    initial_epochs: Annotated[
        int, typer.Option("--initial-epochs", help="Epochs of the first training (round 0).")
    ] = 10,
    rounds: Annotated[
        int, typer.Option("--rounds", "-R", help="Rounds of inversion and retraining.")
    ] = 3,
    samples: Annotated[
        int,
        typer.Option(
            "--samples", "-K", help="Garbage samples per digit label per round (for training)."
        ),
    ] = 50,
    probe: Annotated[
        int,
        typer.Option(
            "--probe",
            help=(
                "Fresh samples per digit label per round, held out: how many the retrained "
                "network still calls a digit."
            ),
        ),
    ] = 50,
    epochs: Annotated[
        int, typer.Option("--epochs", help="Epochs of retraining per round (warm start).")
    ] = 3,
    lr: Annotated[float, typer.Option("--lr", help="Adam learning rate.")] = 0.01,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Mini-batch size.")] = 100,
    garbage_repeat: Annotated[
        int,
        typer.Option(
            "--garbage-repeat", help="Each garbage sample appears this many times in training."
        ),
    ] = 1,
    encoding: Annotated[
        str,
        typer.Option(
            "--encoding",
            "-e",
            help="Cardinality encoding of the formula CMSGen samples (totalizer is fastest).",
        ),
    ] = "totalizer",
    count: Annotated[
        CountName,
        typer.Option(
            "--count",
            help=(
                "How the share of the input space per label is measured: enumerate (exact, all "
                "2^n inputs, n ≤ 30), montecarlo (uniform random inputs), approx (ApproxMC), "
                "exact (Ganak; slow), none; auto: enumerate up to 26 inputs, else montecarlo."
            ),
        ),
    ] = CountName.auto,
    mc_samples: Annotated[
        int, typer.Option("--mc-samples", help="Random inputs for --count montecarlo.")
    ] = 1_000_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (runs are reproducible).")] = 0,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            "-o",
            help=(
                "Write retrain.md, retrain.json, retrain.png (plot), the final model "
                "retrain-final.bnn and grids of each round's fresh samples here."
            ),
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")
    ] = False,
) -> None:
    """Invert every digit label, label the samples "garbage", retrain; repeat and measure."""
    from bnnc.cli.common import run_verb  # not at the top: bnnc.cli imports this module

    run_verb(
        None,
        lambda: _run(
            data=data,
            images=images,
            labels=labels,
            size=size,
            threshold=threshold,
            hidden=hidden,
            initial_epochs=initial_epochs,
            rounds=rounds,
            samples=samples,
            probe=probe,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            garbage_repeat=garbage_repeat,
            encoding=encoding,
            count=count,
            mc_samples=mc_samples,
            seed=seed,
            output_dir=output_dir,
            json_output=json_output,
        ),
    )


def _parse_hidden(text: str) -> tuple[int, ...]:
    from bnnc.training.retrain import RetrainError

    try:
        widths = tuple(int(p) for p in text.replace(",", "-").split("-") if p.strip())
    except ValueError:
        raise RetrainError(f"--hidden {text!r}: expected widths like 20 or 32-16") from None
    if not widths or any(w < 1 for w in widths):
        raise RetrainError(f"--hidden {text!r}: give at least one width, every width ≥ 1")
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


def _run(
    *,
    data: DataName,
    images: Path | None,
    labels: Path | None,
    size: int | None,
    threshold: float,
    hidden: str,
    initial_epochs: int,
    rounds: int,
    samples: int,
    probe: int,
    epochs: int,
    lr: float,
    batch_size: int,
    garbage_repeat: int,
    encoding: str,
    count: CountName,
    mc_samples: int,
    seed: int,
    output_dir: Path | None,
    json_output: bool,
) -> int:
    from bnnc.training.retrain import RetrainConfig, format_table, retrain, write_outputs

    config = RetrainConfig(
        rounds=rounds,
        samples=samples,
        probe=probe,
        initial_epochs=initial_epochs,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        garbage_repeat=garbage_repeat,
        encoding=encoding,
        count=count.value,
        mc_samples=mc_samples,
        seed=seed,
    )
    config.check()  # fail before reading the data
    widths = _parse_hidden(hidden)
    _prepare_folder(output_dir)
    dataset = load_dataset(data, images, labels, None, None, size, threshold, default_size=5)
    config.check(dataset.n_inputs)
    shape = "x".join(map(str, dataset.image_shape))
    arch = "-".join(map(str, (dataset.n_inputs, *widths, dataset.n_classes)))
    started = time.perf_counter()

    def log(message: str) -> None:
        typer.echo(f"[{time.perf_counter() - started:6.1f} s] {message}", err=True)

    result = retrain(
        dataset.train_bits,
        dataset.train_labels,
        dataset.test_bits,
        dataset.test_labels,
        hidden=widths,
        config=config,
        digit_names=dataset.class_names,
        input_shape=dataset.image_shape,
        name=f"{dataset.name}{shape}_{arch.replace('-', '_')}",
        description=f"{arch} on {dataset.description}.",
        log=log,
    )
    written = write_outputs(result, output_dir) if output_dir is not None else []
    if json_output:
        record = result.to_json()
        record["written"] = [str(p) for p in written]
        typer.echo(json.dumps(record, sort_keys=True))
        return int(ExitCode.OK)
    typer.echo(f"{arch} on {dataset.description}")
    typer.echo(format_table(result))
    for path in written:
        typer.echo(f"wrote {path}")
    return int(ExitCode.OK)
