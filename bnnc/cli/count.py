"""``bnnc count MODEL --label L`` / ``--all-labels``: how many inputs get a label."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

import bnnc.api as bnnc
from bnnc.cli.edge import usage, verb
from bnnc.cli.options import (
    DEFAULT_ENCODING_NAME,
    BoxNearOption,
    EncodingOption,
    EpsOption,
    InputDomainOption,
    JsonOption,
    ModelArgument,
    NoCacheOption,
    RegionOptions,
    TimeoutOption,
    positive_finite,
)
from bnnc.cli.show import echo_json, query_json
from bnnc.errors import ExitCode, TimeLimitError


@verb()
def count_command(
    *,
    model_path: ModelArgument,
    label: Annotated[
        str | None,
        typer.Option("--label", "-l", help="Count inputs with this label (index or class name)."),
    ] = None,
    all_labels: Annotated[
        bool, typer.Option("--all-labels", help="Count every label: a table of counts and shares.")
    ] = False,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact",
            help="Count with Ganak (exact with probability ≥ 1 − δ: its cache is hashed).  "
            "Default (auto): enumeration for regions of up to 2^25 inputs, else the layer-wise "
            "count where few first-layer neurons are free, else Ganak for 30 s (half of "
            "--timeout), else ApproxMC; the output gives each count's method and guarantee.",
        ),
    ] = False,
    approx: Annotated[
        bool,
        typer.Option("--approx", help="(ε, δ)-approximate count with ApproxMC."),
    ] = False,
    layers: Annotated[
        bool,
        typer.Option(
            "--layers",
            help="Exact count by a dynamic program over the first layer's sums (regions that "
            "leave few first-layer neurons free).",
        ),
    ] = False,
    enumerate_inputs: Annotated[
        bool,
        typer.Option(
            "--enumerate",
            help="Exact count by running the reference inference on every input of the region "
            "(up to 2^30; independent of the formula, fast on small inputs).",
        ),
    ] = False,
    epsilon: Annotated[
        float,
        typer.Option(
            "--epsilon",
            callback=positive_finite,
            help="ApproxMC tolerance: within a factor 1 + ε.",
        ),
    ] = 0.8,
    delta: Annotated[
        float, typer.Option("--delta", help="ApproxMC confidence: holds with probability 1 − δ.")
    ] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="ApproxMC's random seed.")] = 1,
    timeout: TimeoutOption = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            metavar="N",
            help="--all-labels: count the labels on a local pool of N processes, one label per "
            "task, where they are counted one by one (Ganak, ApproxMC).",
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="--all-labels: where the labels' tasks run: local (a process pool, the default "
            "with --workers), inprocess, or dask (with --scheduler).",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="The Dask scheduler, tcp://HOST:PORT (see 'dask scheduler').",
        ),
    ] = None,
    region: RegionOptions,
    box_near: BoxNearOption = None,
    eps: EpsOption = None,
    encoding: EncodingOption = DEFAULT_ENCODING_NAME,
    json_output: JsonOption = False,
    no_cache: NoCacheOption = False,
    input_domain: InputDomainOption = None,
) -> int:
    """Count the inputs the network gives LABEL (or every label), exactly or approximately;
    with --fix/--near, only inputs in that region."""
    if exact + approx + enumerate_inputs + layers > 1:
        raise usage("choose one of --exact, --approx, --enumerate and --layers")
    method: bnnc.CountMethod = (
        "approx"
        if approx
        else "enumerate"
        if enumerate_inputs
        else "layers"
        if layers
        else "exact"
        if exact
        else "auto"
    )
    if all_labels and (label is not None or region.not_label is not None):
        raise usage("--all-labels counts every label; drop --label/--not-label")
    if not all_labels and label is None and not region.given and box_near is None:
        raise usage("say what to count: --label L, --not-label L, --all-labels, or a region")
    parallel = workers is not None or engine is not None or scheduler is not None
    if parallel and not all_labels:
        raise usage("--workers, --engine and --scheduler run the labels of --all-labels")
    if parallel:
        from bnnc.sweep import engines

        engine = engine or "local"
        engines.check(engine, scheduler, workers)
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
    compiled = bnnc.compile(model, encoding, region=query.region if region.specialise else None)
    formula = compiled.formula
    space = bnnc.region_size(formula, query)
    options: dict[str, Any] = {
        "method": method,
        "epsilon": epsilon,
        "delta": delta,
        "seed": seed,
        "time_limit": timeout,
    }
    try:
        if all_labels and parallel:
            from bnnc.sweep import ModelRef, count_every_label

            ref = ModelRef.of(model_path, input_domain, integer_inputs=True)
            results = count_every_label(
                ref,
                model,
                formula,
                query,
                encoding=encoding,
                specialise=region.specialise,
                engine=engine or "local",
                workers=workers,
                scheduler=scheduler,
                **options,
            )
        elif all_labels:
            results = bnnc.count_every_label(model, formula, query, **options)
        else:
            results = bnnc.count_queries(model, formula, [query], **options)
    except TimeLimitError as err:
        if json_output:
            echo_json(
                {
                    "verb": "count",
                    "model": model.name,
                    "method": method,
                    "query": query_json(model, query),
                    "result": "unknown",
                    "reason": str(err),
                    "seconds": round(time.perf_counter() - start, 6),
                }
            )
        else:
            typer.echo(f"UNKNOWN: {err}")
        return int(ExitCode.UNKNOWN)
    seconds = time.perf_counter() - start

    methods = sorted({r.method for r in results})
    guarantees = sorted({r.guarantee.describe() for r in results})
    if json_output:
        echo_json(
            {
                "verb": "count",
                "model": model.name,
                "encoding": encoding,
                "result": "ok",
                "method": methods[0] if len(methods) == 1 else methods,
                "guarantee": guarantees[0] if len(guarantees) == 1 else guarantees,
                "reason": results[0].reason if results else "",
                "epsilon": epsilon if any(not r.exact for r in results) else None,
                "delta": delta if any(not r.exact for r in results) else None,
                "query": query_json(model, query),
                "space": space,
                "counts": [_result_json(formula, r) for r in results],
                "total": sum(r.count for r in results) if all_labels else None,
                "seconds": round(seconds, 6),
            }
        )
        return int(ExitCode.OK)

    where = "" if query.region.is_everything else f" ({query.region.describe()})"
    typer.echo(f"input space{where}: {space} inputs")
    if all_labels:
        width = max(len(formula.describe_label(c)) for c in range(model.n_classes))
        typer.echo(f"{'label':<{width}}  {'count':>22}  {'share':>10}  seconds  method")
        for c, r in enumerate(results):
            mark = "" if r.exact else "≈ "
            typer.echo(
                f"{formula.describe_label(c):<{width}}  {mark + str(r.count):>22}  "
                f"{r.share:>10.4%}  {r.seconds:>7.2f}  {r.method}"
            )
        if all(r.exact for r in results):
            typer.echo(f"{'total':<{width}}  {space:>22}  {1:>10.4%}")
    else:
        r = results[0]
        approx_mark = "" if r.exact else "≈ "
        typer.echo(
            f"{query.describe(formula)}: {approx_mark}{r.count} inputs "
            f"({r.share:.4%} of the space), {r.seconds:.2f} s"
        )
    for name in methods:
        first = next(r for r in results if r.method == name)
        typer.echo(f"method: {name} ({first.reason}); guarantee: {first.guarantee.describe()}")
    return int(ExitCode.OK)


def _result_json(formula: bnnc.CnfFormula, r: bnnc.CountResult) -> dict[str, Any]:
    low, high = r.bounds
    record: dict[str, Any] = {
        "label": r.query.label,
        "not_label": r.query.not_label,
        "count": r.count,
        "share": r.share,
        "method": r.method,
        "guarantee": r.guarantee.describe(),
        "guarantee_kind": str(r.guarantee.kind),
        "epsilon": r.guarantee.epsilon,
        "delta": r.guarantee.delta,
        "seconds": round(r.seconds, 6),
    }
    if r.query.label is not None and formula.class_names:
        record["name"] = formula.class_names[r.query.label]
    if not r.exact:
        record["bounds"] = [low, high]
    return record
