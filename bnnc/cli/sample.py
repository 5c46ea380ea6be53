"""``bnnc sample MODEL --label L -n N``: draw inputs the network gives a label, uniformly."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

import bnnc.api as bnnc
from bnnc.cli.edge import usage, verb
from bnnc.cli.options import (
    ENCODINGS_HELP,
    BoxNearOption,
    EpsOption,
    InputDomainOption,
    JsonOption,
    ModelArgument,
    NoCacheOption,
    RegionOptions,
    SeedOption,
    TimeoutOption,
)
from bnnc.cli.show import ascii_image, echo_json, image_shape, progress, query_json
from bnnc.errors import ExitCode

PREVIEW = 8  # samples shown on the terminal


@verb(flags={"n": "-n"})
def sample_command(
    *,
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
        str,
        typer.Option(
            "--sampler",
            help=f"One of {', '.join(bnnc.SAMPLERS)}.  auto: exactly uniform from the "
            "network (enumerate a small region, or reject uniform inputs that do not answer) "
            "when affordable, else unigen; unigen: almost-uniform with a guarantee, slower; "
            "cmsgen: fast, uniform-like, no guarantee (measured biased).",
        ),
    ] = "auto",
    seed: SeedOption = 0,
    timeout: TimeoutOption = None,
    region: RegionOptions,
    box_near: BoxNearOption = None,
    eps: EpsOption = None,
    encoding: Annotated[
        str,
        typer.Option(
            "--encoding",
            "-e",
            help=f"Cardinality encoding: {ENCODINGS_HELP}.  The default, auto, picks the "
            "totalizer on all but very wide constraints: CMSGen samples it hundreds of times "
            "faster than the adder.",
        ),
    ] = "auto",
    json_output: JsonOption = False,
    no_cache: NoCacheOption = False,
    input_domain: InputDomainOption = None,
) -> int:
    """Draw N inputs that the network gives LABEL, uniformly (the output says how, and what the
    sampler guarantees), each one checked by the reference inference (and, for ONNX, by the
    model itself)."""
    if count < 1:
        raise usage("-n must be at least 1")
    if label is None and not region.given and box_near is None:
        raise usage("say what to sample: --label (or --not-label, --fix, --near)")
    bnnc.check_outputs(output, png)  # before minutes of sampling, not after
    start = time.perf_counter()
    model = bnnc.load(
        model_path,
        cache=False if no_cache else None,
        input_domain=input_domain,
        integer_inputs=True,  # every formula carries the order clauses
    )
    query = bnnc.query(
        model,
        label=label,
        not_label=region.not_label,
        fix=region.fix or (),
        near=region.near,
        max_flips=region.max_flips,
        box_near=box_near,
        eps=eps,
    )
    if png is not None and image_shape(model.input_shape) is None:
        raise usage(f"--png needs 2-D inputs; this model's input shape is {model.input_shape}")
    compiled = bnnc.compile(model, encoding, region=query.region if region.specialise else None)
    formula = compiled.formula
    description = query.describe(formula)

    with progress(count, f"sampling {description}", enabled=not json_output) as advance:
        # The files are written before validation, but committed only if the verb succeeds
        # (bnnc.cli.edge.run_verb): a failed validation leaves none of them.
        result = bnnc.sample(
            model,
            compiled,
            query=query,
            n=count,
            seed=seed,
            unique=unique,
            sampler=sampler,
            on_sample=advance,
            time_limit=timeout,
            validate=False,
        )
    if output is not None:
        bnnc.save_samples(output, result.samples, model.input_shape)
    if png is not None and result.drawn:
        bnnc.save_png_grid(png, result.samples, model.input_shape)
    bnnc.validate_samples(model, result)

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
            "timed_out": result.timed_out,
            "result": "unknown" if result.timed_out else "ok",
            "seed": seed,
            "sampler": result.method,
            "guarantee": result.guarantee,
            "reason": result.reason,
            "samples_file": str(output) if output else None,
            "png_file": str(png) if png and result.drawn else None,
            "seconds": {"sampling": round(result.seconds, 6), "total": round(seconds, 6)},
        }
        echo_json(record)
    else:
        _report(model.input_shape, description, result, distinct, seconds)
        if output is not None:
            typer.echo(f"samples written to {output}")
        if png is not None and result.drawn:
            typer.echo(f"image grid written to {png}")
    if result.interrupted:
        return int(ExitCode.INTERRUPTED)
    if result.timed_out:
        return int(ExitCode.UNKNOWN)
    if result.drawn == 0:
        return int(ExitCode.UNSAT)
    return int(ExitCode.OK)


def _report(
    shape: tuple[int, ...],
    description: str,
    result: bnnc.SampleResult,
    distinct: int,
    seconds: float,
) -> None:
    if result.drawn == 0 and result.timed_out:
        typer.echo(f"UNKNOWN: the time limit ran out before the first sample ({description})")
        return
    if result.drawn == 0:
        typer.echo(f"no input answers the query ({description}): nothing to sample")
        return
    how = ""
    if result.exhausted:
        how = f"; the preimage is exhausted: exactly {result.drawn} inputs"
    elif result.interrupted:
        how = "; interrupted, keeping what was drawn"
    elif result.timed_out:
        how = "; the time limit ran out, keeping what was drawn"
    typer.echo(
        f"{result.drawn} samples for {description} ({distinct} distinct) in {seconds:.2f} s, "
        f"all {result.drawn} validated{how}"
    )
    typer.echo(f"sampler: {result.method} ({result.guarantee})")
    samples = result.samples
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
