"""``bnnc count MODEL --label L`` / ``--all-labels``: how many inputs get a label."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from bnnc.cli.common import (
    DEFAULT_ENCODING_NAME,
    EncodingOption,
    FixOption,
    JsonOption,
    MaxFlipsOption,
    ModelArgument,
    NearOption,
    NotLabelOption,
    echo_json,
    query_json,
    run_verb,
    usage,
)
from bnnc.engines.count import CountResult, Method
from bnnc.errors import ExitCode, InternalError
from bnnc.ir.cnf import CnfFormula
from bnnc.ir.query import Query


def count_command(
    model_path: ModelArgument,
    label: Annotated[
        str | None,
        typer.Option("--label", "-l", help="Count inputs with this label (index or class name)."),
    ] = None,
    all_labels: Annotated[
        bool, typer.Option("--all-labels", help="Count every label: a table of counts and shares.")
    ] = False,
    exact: Annotated[
        bool, typer.Option("--exact", help="Exact count with Ganak (the default).")
    ] = False,
    approx: Annotated[
        bool,
        typer.Option("--approx", help="(ε, δ)-approximate count with ApproxMC."),
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
        float, typer.Option("--epsilon", help="ApproxMC tolerance: within a factor 1 + ε.")
    ] = 0.8,
    delta: Annotated[
        float, typer.Option("--delta", help="ApproxMC confidence: holds with probability 1 − δ.")
    ] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="ApproxMC's random seed.")] = 1,
    not_label: NotLabelOption = None,
    fix: FixOption = None,
    near: NearOption = None,
    max_flips: MaxFlipsOption = None,
    encoding: EncodingOption = DEFAULT_ENCODING_NAME,
    json_output: JsonOption = False,
) -> None:
    """Count the inputs the network gives LABEL (or every label), exactly or approximately;
    with --fix/--near, only inputs in that region."""
    run_verb(
        model_path,
        lambda: _run(
            model_path,
            label=label,
            all_labels=all_labels,
            method="approx" if approx else "enumerate" if enumerate_inputs else "exact",
            both_methods=exact + approx + enumerate_inputs > 1,
            epsilon=epsilon,
            delta=delta,
            seed=seed,
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
    all_labels: bool,
    method: str,
    both_methods: bool,
    epsilon: float,
    delta: float,
    seed: int,
    not_label: str | None,
    fix: list[str] | None,
    near: str | None,
    max_flips: int | None,
    encoding: str,
    json_output: bool,
) -> int:
    import bnnc
    from bnnc.cli.common import build_query
    from bnnc.engines.count import count, count_by_enumeration, region_size

    if both_methods:
        raise usage("choose one of --exact, --approx and --enumerate")
    if all_labels and (label is not None or not_label is not None):
        raise usage("--all-labels counts every label; drop --label/--not-label")
    if not all_labels and label is None and not_label is None and not fix and near is None:
        raise usage("say what to count: --label L, --not-label L, --all-labels, or a region")
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
    compiled = bnnc.compile(model, encoding)
    formula = compiled.formula
    space = region_size(formula, query)
    kind: Method = (
        "approx" if method == "approx" else "enumerate" if method == "enumerate" else "exact"
    )

    def run(q: Query) -> CountResult:
        return count(formula, q, method=kind, epsilon=epsilon, delta=delta, seed=seed, space=space)

    if kind == "enumerate":
        wanted = (
            [replace(query, label=c) for c in range(model.n_classes)] if all_labels else [query]
        )
        results = count_by_enumeration(model, wanted)
    elif all_labels:
        results = [run(replace(query, label=c)) for c in range(model.n_classes)]
    else:
        results = [run(query)]
    if all_labels:
        total = sum(r.count for r in results)
        if kind != "approx" and total != space:
            raise InternalError(
                f"the exact counts of all labels sum to {total}, not to the {space} inputs of "
                "the region: the formula is not parsimonious (please report this as a bnnc bug)"
            )
    seconds = time.perf_counter() - start

    if json_output:
        echo_json(
            {
                "verb": "count",
                "model": model.name,
                "encoding": encoding,
                "method": kind,
                "epsilon": epsilon if kind == "approx" else None,
                "delta": delta if kind == "approx" else None,
                "query": query_json(model, query),
                "space": space,
                "counts": [_result_json(formula, r) for r in results],
                "total": sum(r.count for r in results) if all_labels else None,
                "seconds": round(seconds, 6),
            }
        )
        return int(ExitCode.OK)

    region = "" if query.region.is_everything else f" ({query.region.describe()})"
    typer.echo(f"input space{region}: {space} inputs")
    if kind == "approx":
        typer.echo(
            f"ApproxMC estimates: with probability ≥ {1 - delta:g} each true count lies within "
            f"a factor {1 + epsilon:g} of its estimate"
        )
    if all_labels:
        width = max(len(formula.describe_label(c)) for c in range(model.n_classes))
        typer.echo(f"{'label':<{width}}  {'count':>22}  {'share':>10}  seconds")
        for c, r in enumerate(results):
            typer.echo(
                f"{formula.describe_label(c):<{width}}  {r.count:>22}  {r.share:>10.4%}  "
                f"{r.seconds:.2f}"
            )
        if kind != "approx":
            typer.echo(f"{'total':<{width}}  {space:>22}  {1:>10.4%}")
    else:
        r = results[0]
        approx_mark = "≈ " if kind == "approx" else ""
        typer.echo(
            f"{query.describe(formula)}: {approx_mark}{r.count} inputs "
            f"({r.share:.4%} of the space), {r.seconds:.2f} s"
        )
    return int(ExitCode.OK)


def _result_json(formula: CnfFormula, r: CountResult) -> dict[str, Any]:
    low, high = r.bounds
    record: dict[str, Any] = {
        "label": r.query.label,
        "not_label": r.query.not_label,
        "count": r.count,
        "share": r.share,
        "seconds": round(r.seconds, 6),
    }
    if r.query.label is not None and formula.class_names:
        record["name"] = formula.class_names[r.query.label]
    if r.method == "approx":
        record["bounds"] = [low, high]
    return record
