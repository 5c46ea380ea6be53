"""``bnnc retrain``: garbage-class retraining (the paper's future work), measured each round."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

import bnnc.api as bnnc
from bnnc.cli.edge import verb
from bnnc.cli.options import ENCODINGS_HELP, DataOptions, JsonOption
from bnnc.errors import ExitCode

__all__ = ["retrain_command"]

# API parameter → flag where the option carries a setting under another name.
FLAGS = {"mc_samples": "--mc-samples", "garbage_repeat": "--garbage-repeat"}


@verb(flags=FLAGS)
def retrain_command(
    *,
    data: DataOptions,
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
            help="Cardinality encoding of the formula CMSGen samples (totalizer is fastest): "
            f"{ENCODINGS_HELP}.",
        ),
    ] = "totalizer",
    count: Annotated[
        str,
        typer.Option(
            "--count",
            help=(
                "How the share of the input space per label is measured: enumerate (exact, all "
                "2^n inputs, n ≤ 30), montecarlo (uniform random inputs), approx (ApproxMC), "
                "exact (Ganak; slow), none; auto: enumerate up to 26 inputs, else montecarlo."
            ),
        ),
    ] = "auto",
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
    json_output: JsonOption = False,
) -> int:
    """Invert every digit label, label the samples "garbage", retrain; repeat and measure."""
    started = time.perf_counter()

    def log(message: str) -> None:
        typer.echo(f"[{time.perf_counter() - started:6.1f} s] {message}", err=True)

    settings = {
        "rounds": rounds,
        "samples": samples,
        "probe": probe,
        "initial_epochs": initial_epochs,
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "garbage_repeat": garbage_repeat,
        "encoding": encoding,
        "count": count,
        "mc_samples": mc_samples,
        "seed": seed,
    }

    def dataset() -> bnnc.Dataset:  # read after the settings are checked
        return bnnc.load_dataset(
            data.data,  # type: ignore[arg-type]  # checked by the option's choices
            images=data.images,
            labels=data.labels,
            size=data.size,
            threshold=data.threshold,
            default_size=5,
        )

    run = bnnc.retrain(dataset, hidden=hidden, output_dir=output_dir, log=log, **settings)
    if json_output:
        record = run.result.to_json()
        record["written"] = [str(p) for p in run.written]
        typer.echo(json.dumps(record, sort_keys=True))
        return int(ExitCode.OK)
    typer.echo(f"{run.arch} on {run.dataset.description}")
    typer.echo(bnnc.format_retrain_table(run.result))
    for path in run.written:
        typer.echo(f"wrote {path}")
    return int(ExitCode.OK)
