"""``bnnc sample MODEL --label L -n N``: draw inputs the network gives a label, with CMSGen."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from bnnc.cli.common import (
    EncodingName,
    FixOption,
    JsonOption,
    MaxFlipsOption,
    ModelArgument,
    NearOption,
    NotLabelOption,
    SeedOption,
    ascii_image,
    echo_json,
    image_shape,
    query_json,
    run_verb,
    usage,
)
from bnnc.errors import ExitCode

PREVIEW = 8  # samples shown on the terminal


class SamplerName(StrEnum):
    cmsgen = "cmsgen"
    unigen = "unigen"


def sample_command(
    model_path: ModelArgument,
    label: Annotated[
        str | None,
        typer.Option("--label", "-l", help="Sample inputs with this label (index or class name)."),
    ] = None,
    count: Annotated[int, typer.Option("-n", "--count", help="How many samples to draw.")] = 10,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the samples as .npy: shape (N, *input shape), values -1/+1 (int8).",
        ),
    ] = None,
    png: Annotated[
        Path | None,
        typer.Option("--png", help="Write a PNG grid of the samples (2-D inputs only)."),
    ] = None,
    unique: Annotated[
        bool,
        typer.Option(
            "--unique",
            help="Draw distinct inputs (sampling without replacement) until N or the "
            "preimage is exhausted.",
        ),
    ] = False,
    sampler: Annotated[
        SamplerName,
        typer.Option(
            "--sampler",
            help="cmsgen: fast, uniform-like (no guarantee); unigen: almost-uniform with a "
            "guarantee, slower.",
        ),
    ] = SamplerName.cmsgen,
    seed: SeedOption = 0,
    not_label: NotLabelOption = None,
    fix: FixOption = None,
    near: NearOption = None,
    max_flips: MaxFlipsOption = None,
    encoding: Annotated[
        EncodingName,
        typer.Option(
            "--encoding",
            "-e",
            help="Cardinality encoding.  The default, auto, picks the totalizer on all but very "
            "wide constraints: CMSGen samples it hundreds of times faster than the adder.",
        ),
    ] = EncodingName.auto,
    json_output: JsonOption = False,
) -> None:
    """Draw N inputs that the network gives LABEL, near-uniformly (CMSGen), each one checked
    by the reference inference (and, for ONNX, by the model itself)."""
    run_verb(
        model_path,
        lambda: _run(
            model_path,
            label=label,
            count=count,
            output=output,
            png=png,
            unique=unique,
            seed=seed,
            sampler=sampler.value,
            not_label=not_label,
            fix=fix,
            near=near,
            max_flips=max_flips,
            encoding=encoding.value,
            json_output=json_output,
        ),
    )


def _run(
    model_path: Path,
    *,
    label: str | None,
    count: int,
    output: Path | None,
    png: Path | None,
    unique: bool,
    seed: int,
    sampler: str,
    not_label: str | None,
    fix: list[str] | None,
    near: str | None,
    max_flips: int | None,
    encoding: str,
    json_output: bool,
) -> int:
    import bnnc
    from bnnc.backend.images import write_npy, write_png_grid
    from bnnc.cli.common import build_query
    from bnnc.engines.sample import sample, validate_samples

    if count < 1:
        raise usage("-n must be at least 1")
    if label is None and not_label is None and not fix and near is None:
        raise usage("say what to sample: --label (or --not-label, --fix, --near)")
    start = time.perf_counter()
    model = bnnc.load(model_path)
    query = build_query(
        model,
        label=label,
        not_label=not_label,
        fix=fix,
        near=near,
        max_flips=max_flips,
        label_option="--label",
    )
    if png is not None and image_shape(model.input_shape) is None:
        raise usage(f"--png needs 2-D inputs; this model's input shape is {model.input_shape}")
    compiled = bnnc.compile(model, encoding)
    formula = compiled.formula
    description = query.describe(formula)

    with _progress(count, description, enabled=not json_output) as advance:
        result = sample(
            model,
            formula,
            query,
            count,
            seed=seed,
            unique=unique,
            sampler="unigen" if sampler == "unigen" else "cmsgen",
            on_sample=advance,
        )
    # Save first, then validate: a failed validation is an error, but what was drawn is kept
    # for the bug report.
    if output is not None:
        write_npy(output, result.samples, model.input_shape)
    if png is not None and result.drawn:
        write_png_grid(png, result.samples, model.input_shape)
    validate_samples(model, result)

    distinct = len({row.tobytes() for row in np.packbits(result.samples, axis=-1)})
    seconds = time.perf_counter() - start
    if json_output:
        record: dict[str, Any] = {
            "verb": "sample",
            "model": model.name,
            "encoding": encoding,
            "query": query_json(model, query),
            "requested": count,
            "drawn": result.drawn,
            "distinct": distinct,
            "validated": result.drawn,
            "exhausted": result.exhausted,
            "interrupted": result.interrupted,
            "seed": seed,
            "sampler": sampler,
            "samples_file": str(output) if output else None,
            "png_file": str(png) if png and result.drawn else None,
            "seconds": {"sampling": round(result.seconds, 6), "total": round(seconds, 6)},
        }
        echo_json(record)
    else:
        _report(model.input_shape, result.samples, description, result, distinct, seconds)
        if output is not None:
            typer.echo(f"samples written to {output}")
        if png is not None and result.drawn:
            typer.echo(f"image grid written to {png}")
    if result.interrupted:
        return int(ExitCode.INTERRUPTED)
    if result.drawn == 0:
        return int(ExitCode.UNSAT)
    return int(ExitCode.OK)


def _report(
    shape: tuple[int, ...],
    samples: np.ndarray[Any, Any],
    description: str,
    result: Any,
    distinct: int,
    seconds: float,
) -> None:
    if result.drawn == 0:
        typer.echo(f"no input answers the query ({description}): nothing to sample")
        return
    how = ""
    if result.exhausted:
        how = f"; the preimage is exhausted: exactly {result.drawn} inputs"
    elif result.interrupted:
        how = "; interrupted, keeping what was drawn"
    typer.echo(
        f"{result.drawn} samples for {description} ({distinct} distinct) in {seconds:.2f} s, "
        f"all {result.drawn} validated{how}"
    )
    pictures = [ascii_image(row, shape) for row in samples[:PREVIEW]]
    if pictures and pictures[0] is not None:
        height = len(pictures[0])
        for r in range(height):
            typer.echo("  ".join(p[r] for p in pictures if p is not None))
    else:
        for row in samples[:PREVIEW]:
            typer.echo("".join("1" if b else "0" for b in row.tolist()))
    if result.drawn > PREVIEW:
        typer.echo(f"(first {PREVIEW} of {result.drawn} shown)")


class _progress:
    """A rich progress bar on stderr when it is a terminal; otherwise nothing."""

    def __init__(self, total: int, description: str, *, enabled: bool) -> None:
        self.total = total
        self.description = description
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import Progress

        self._progress = Progress(console=Console(stderr=True), transient=True)
        self._progress.start()
        task = self._progress.add_task(f"sampling {self.description}", total=self.total)

        def advance(drawn: int) -> None:
            self._progress.update(task, completed=drawn)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
