"""The sweep options of ``bnnc robustness`` (``--data`` and the rest) and what they do: run a
sweep (:mod:`bnnc.sweep`) or rebuild its summary from a JSONL file, then write the outputs."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

import bnnc.api as bnnc
from bnnc.cli.edge import option_group, usage
from bnnc.cli.show import echo_json
from bnnc.errors import ExitCode

OptionalModelArgument = Annotated[
    Path | None,
    typer.Argument(
        metavar="MODEL",
        help="Model file: .onnx, or bnnc's text language (.bnn); not needed with --from-jsonl.",
        show_default=False,
    ),
]


@option_group
@dataclass(frozen=True)
class SweepOptions:
    """A sweep over a data set (``--data``), or a sweep's records (``--from-jsonl``)."""

    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            metavar="DATA",
            help="Sweep: mnist, digits ($BNNC_DATA or ../shared/data), an IDX images file or "
            "a .npy of inputs (one per row).",
        ),
    ] = None
    images: Annotated[
        str | None,
        typer.Option(
            "--images",
            metavar="SPEC",
            help="Which images of --data: numbers and ranges A:B[:STEP], comma-separated "
            "(B excluded); default: all.",
        ),
    ] = None
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold",
            help="Text models: a pixel ≥ THRESHOLD of full intensity is +1 (ONNX models "
            "binarise with their own first layer).",
        ),
    ] = bnnc.DEFAULT_THRESHOLD
    jsonl: Annotated[
        Path | None,
        typer.Option(
            "--jsonl",
            metavar="FILE",
            help="Append one record per input as it finishes; run again to resume.",
        ),
    ] = None
    csv: Annotated[
        Path | None, typer.Option("--csv", metavar="FILE", help="One CSV row per input.")
    ] = None
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE.png",
            help="The robustness curve (extra bnnc[plot], matplotlib).",
        ),
    ] = None
    png: Annotated[
        Path | None,
        typer.Option(
            "--png",
            metavar="FILE.png",
            help="A grid of the counterexamples, flipped pixels in red (to +1) and blue (to -1).",
        ),
    ] = None
    workers: Annotated[
        int | None,
        typer.Option("--workers", metavar="N", help="Local pool size (default: every core)."),
    ] = None
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="local (a process pool), inprocess, or dask (with --scheduler).",
        ),
    ] = "local"
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="The Dask scheduler, tcp://HOST:PORT (see 'dask scheduler').",
        ),
    ] = None
    from_jsonl: Annotated[
        Path | None,
        typer.Option(
            "--from-jsonl",
            metavar="FILE",
            help="Rebuild a sweep's summary, --csv, --plot and --png from its records alone.",
        ),
    ] = None

    def only_for_sweeps(self) -> None:
        """Refuse sweep options given without --data or --from-jsonl."""
        given = [
            flag
            for flag, value in (
                ("--images", self.images), ("--jsonl", self.jsonl), ("--csv", self.csv),
                ("--plot", self.plot), ("--png", self.png), ("--workers", self.workers),
                ("--scheduler", self.scheduler),
            )
            if value is not None
        ]  # fmt: skip
        if self.engine != "local":
            given.append("--engine")
        if given:
            raise usage(f"{', '.join(given)}: for sweeps only (with --data or --from-jsonl)")


SWEEP_DEFAULTS = SweepOptions()


def run_sweep(
    model_path: Path | None,
    max_flips: int | None,
    options: SweepOptions,
    timeout: float | None,
    method: str,
    solver: str,
    strategy: str,
    encoding: str,
    json_output: bool,
    no_cache: bool,
    input_domain: str | None = None,
) -> int:
    from bnnc.sweep import RadiusQuery, read_jsonl, sweep
    from bnnc.sweep.records import summary_json, summary_lines

    bnnc.check_outputs(options.csv, options.plot, options.png)
    if options.from_jsonl is not None:
        running = [
            flag
            for flag, value in (
                ("MODEL", model_path), ("--data", options.data), ("--images", options.images),
                ("--jsonl", options.jsonl), ("--workers", options.workers),
                ("--scheduler", options.scheduler), ("--timeout", timeout),
                ("--input-domain", input_domain),
            )
            if value is not None
        ]  # fmt: skip
        if options.engine != "local":
            running.append("--engine")
        if running:
            raise usage(f"--from-jsonl reads records only: no {', '.join(running)}")
        loaded = read_jsonl(options.from_jsonl)
        if loaded.header is None:
            raise usage(f"{options.from_jsonl}: no sweep header: not a sweep's JSONL file")
        header, records, skipped = loaded.header, list(loaded.records), 0
        k = int(header["max_flips"])
        if max_flips is not None and max_flips != k:
            raise usage(f"--max-flips {max_flips}: the records were made with {k}")
    else:
        if model_path is None or max_flips is None or options.data is None:
            raise usage("a sweep needs MODEL, --data and --max-flips K")
        query = RadiusQuery(max_flips, timeout, method, solver, strategy, encoding)
        result = sweep(
            model_path,
            options.data,
            query,
            images=options.images,
            threshold=options.threshold,
            jsonl=options.jsonl,
            engine=options.engine,
            workers=options.workers,
            scheduler=options.scheduler,
            progress=sys.stderr.isatty() and not json_output,
            cache=False if no_cache else None,
            input_domain=input_domain,
        )
        header, records, skipped, k = result.header, list(result.records), result.skipped, max_flips
        if skipped:
            typer.echo(
                f"bnnc: {skipped} of {len(records)} inputs already in {options.jsonl}: "
                f"not run again",
                err=True,
            )
    _outputs(options, header, records, k)
    if json_output:
        summary: dict[str, Any] = {"verb": "robustness", "sweep": header, "skipped": skipped}
        echo_json(summary | summary_json(records, k))
    else:
        typer.echo(f"{header['model']} on {header['data']} ({header['binarisation']}), K = {k}")
        for line in summary_lines(records, k, skipped=skipped):
            typer.echo(line)
    return int(ExitCode.OK)


def _outputs(options: SweepOptions, header: dict[str, Any], records: list[Any], k: int) -> None:
    from bnnc.sweep import csv_text, write_curve, write_grid

    if options.csv is not None:
        bnnc.write_file(options.csv, csv_text(records))
    if options.plot is not None and records:
        title = f"{header['model']}, {header['data']}: {len(records)} inputs"
        write_curve(options.plot, records, k, title)
    if options.png is not None:
        write_grid(options.png, records, header["input_shape"])
