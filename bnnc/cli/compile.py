"""``bnnc compile MODEL`` (or just ``bnnc MODEL``): compile, emit a stage, check-sat, infer."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from bnnc.api import Model
from bnnc.cli.common import (
    DEFAULT_ENCODING_NAME,
    EncodingOption,
    FixOption,
    JsonOption,
    MaxFlipsOption,
    ModelArgument,
    NearOption,
    NotLabelOption,
    ascii_image,
    bits_text,
    build_query,
    echo_json,
    parse_bits,
    query_json,
    run_verb,
    usage,
    write_output,
)
from bnnc.engines.decide import SatResult
from bnnc.errors import ExitCode
from bnnc.ir.bnn import BnnModel
from bnnc.passes.lower_query import query_clauses


class StageName(StrEnum):
    bnn = "bnn"
    milp = "milp"
    ilp = "ilp"
    card = "card"
    cnf = "cnf"


class ProjectionName(StrEnum):
    ind = "ind"
    show = "show"


def compile_command(
    model_path: ModelArgument,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Write the formula (or --emit stage) here; '-' is stdout."
        ),
    ] = None,
    encoding: EncodingOption = DEFAULT_ENCODING_NAME,
    emit: Annotated[
        StageName, typer.Option("--emit", help="Stage to write: bnn, milp, ilp, card or cnf.")
    ] = StageName.cnf,
    target_label: Annotated[
        str | None,
        typer.Option(
            "--target-label", "-t", help="Fix the output to this label (index or class name)."
        ),
    ] = None,
    not_label: NotLabelOption = None,
    fix: FixOption = None,
    near: NearOption = None,
    max_flips: MaxFlipsOption = None,
    check_sat: Annotated[
        bool,
        typer.Option(
            "--check-sat",
            help="Solve for an input answering the query (label, region): exit 10 SAT, 20 UNSAT.",
        ),
    ] = False,
    search: Annotated[
        bool,
        typer.Option(
            "--search/--no-search",
            help="With --check-sat, first look for a witness by local search with the model's "
            "own inference (confirmed through the formula); UNSAT always comes from the solver.",
        ),
    ] = True,
    infer: Annotated[
        str | None,
        typer.Option(
            "--infer",
            metavar="BITS",
            help="Infer the label of an input through the formula (bits 0/1 or -/+).",
        ),
    ] = None,
    projection: Annotated[
        ProjectionName,
        typer.Option("--projection", help="Projection header: 'ind' (c ind) or 'show' (c p show)."),
    ] = ProjectionName.ind,
    map_path: Annotated[
        Path | None, typer.Option("--map", help="Write the variable map as JSON here.")
    ] = None,
    stats: Annotated[
        bool, typer.Option("--stats", help="Print one JSON line of statistics to stderr.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Compile MODEL to CNF (DIMACS), or to any earlier stage with --emit; --check-sat inverts
    it, --infer runs it."""
    start = time.perf_counter()

    def body() -> int:
        return _run(
            model_path,
            output=output,
            encoding=encoding.value,
            emit=emit.value,
            target_label=target_label,
            not_label=not_label,
            fix=fix,
            near=near,
            max_flips=max_flips,
            check_sat=check_sat,
            search=search,
            infer=infer,
            projection=projection.value,
            map_path=map_path,
            stats=stats,
            json_output=json_output,
            start=start,
        )

    run_verb(model_path, body)


def _run(
    model_path: Path,
    *,
    output: str | None,
    encoding: str,
    emit: str,
    target_label: str | None,
    not_label: str | None,
    fix: list[str] | None,
    near: str | None,
    max_flips: int | None,
    check_sat: bool,
    search: bool,
    infer: str | None,
    projection: str,
    map_path: Path | None,
    stats: bool,
    json_output: bool,
    start: float,
) -> int:
    import bnnc
    from bnnc.api import write_variable_map
    from bnnc.backend.dimacs import write_dimacs

    has_query = bool(target_label or not_label or fix or near)
    if check_sat and infer is not None:
        raise usage("use either --check-sat or --infer, not both")
    if infer is not None and has_query:
        raise usage("--infer runs one given input; it takes no label or region options")
    if emit != "cnf" and (check_sat or infer is not None or map_path or has_query):
        raise usage(
            f"--emit {emit} cannot be combined with --check-sat, --infer, --map or a query "
            "(--target-label, --not-label, --fix, --near)"
        )
    if json_output and not (check_sat or infer is not None) and output in (None, "-"):
        raise usage("--json prints to stdout: write the formula to a file with -o")

    model = bnnc.load(model_path)
    query = build_query(
        model, label=target_label, not_label=not_label, fix=fix, near=near, max_flips=max_flips
    )
    if check_sat and not has_query and model.region is None:
        raise usage("--check-sat needs a query: --target-label, --not-label, --fix or --near")
    if emit != "cnf":
        write_output(output or "-", bnnc.emit(model, emit, encoding))
        return int(ExitCode.OK)

    compiled = bnnc.compile(model, encoding)
    formula = compiled.formula
    code = int(ExitCode.OK)
    if output is not None or not (check_sat or infer is not None):
        extra = query_clauses(query, formula)
        write_dimacs(
            output or "-",
            formula,
            projection="show" if projection == "show" else "ind",
            extra_clauses=extra.clauses,
            num_vars=extra.num_vars,
            query=query.describe(formula) if extra.clauses else None,
        )
    if map_path is not None:
        write_variable_map(compiled, map_path)
    record: dict[str, Any] = {}
    if check_sat:
        result = bnnc.check_sat(model, compiled, query=query, search=search)
        if json_output:
            record = _sat_json(model, result)
        else:
            _report_sat(model, query.describe(formula), result)
        code = int(ExitCode.SAT if result.satisfiable else ExitCode.UNSAT)
    if infer is not None:
        bits = parse_bits(infer, model.n_inputs, "--infer")
        got = bnnc.infer(model, compiled, bits)
        if json_output:
            record = {"verb": "infer", "input": bits_text(bits), "label": got}
            if model.class_names:
                record["name"] = model.class_names[got]
        else:
            typer.echo(f"label {formula.describe_label(got)}")
    if json_output:
        if not record:  # compiling only: what was written, and its size
            record = {"verb": "compile", "output": output, "query": query_json(model, query)}
            record.update(compiled.stats())
        record["seconds"] = round(time.perf_counter() - start, 6)
        record["model"] = model.name
        record["encoding"] = encoding
        echo_json(record)
    if stats:
        numbers = compiled.stats()
        numbers["seconds"]["total"] = round(time.perf_counter() - start, 6)
        typer.echo(json.dumps(numbers, sort_keys=True), err=True)
    return code


def _sat_json(model: Model, result: SatResult) -> dict[str, Any]:
    record: dict[str, Any] = {
        "verb": "check-sat",
        "query": query_json(model, result.query),
        "result": "SAT" if result.satisfiable else "UNSAT",
        "witness": None if result.witness is None else bits_text(result.witness),
        "method": result.method,
        "validated": result.satisfiable,
        "checked_by_model_itself": _framework_checks(model) and result.satisfiable,
    }
    return record


def _framework_checks(model: Model) -> bool:
    return isinstance(model, BnnModel) and model.framework_predict is not None


def _report_sat(model: Model, description: str, result: SatResult) -> None:
    if not result.satisfiable:
        typer.echo("UNSAT")
        typer.echo(f"no input answers the query: {description}")
        return
    assert result.witness is not None
    typer.echo("SAT")
    checked = "the reference inference"
    if _framework_checks(model):
        checked += " and the model itself"
    found = " (found by search, checked through the formula)" if result.method == "search" else ""
    typer.echo(f"input for {description}{found}, checked with {checked}:")
    typer.echo("bits " + bits_text(result.witness))
    for row in ascii_image(result.witness, model.input_shape) or ():
        typer.echo(row)
