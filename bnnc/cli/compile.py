"""``bnnc compile MODEL`` (or just ``bnnc MODEL``): compile, emit a stage, check-sat, infer."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
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
    SolverOption,
    TimeoutOption,
)
from bnnc.cli.show import ascii_image, bits_text, echo_json, query_json
from bnnc.errors import ExitCode


class StageName(StrEnum):
    bnn = "bnn"
    milp = "milp"
    ilp = "ilp"
    spec = "spec"
    card = "card"
    cnf = "cnf"


class ProjectionName(StrEnum):
    ind = "ind"
    show = "show"


@verb(flags={"label": "--target-label"})
def compile_command(
    *,
    model_path: ModelArgument,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Write the formula (or --emit stage) here; '-' is stdout."
        ),
    ] = None,
    encoding: EncodingOption = DEFAULT_ENCODING_NAME,
    emit: Annotated[
        StageName,
        typer.Option(
            "--emit",
            help="Stage to write: bnn, milp, ilp, spec (the ilp stage specialised to the "
            "query's region), card or cnf.",
        ),
    ] = StageName.cnf,
    target_label: Annotated[
        str | None,
        typer.Option(
            "--target-label", "-t", help="Fix the output to this label (index or class name)."
        ),
    ] = None,
    region: RegionOptions,
    box_near: BoxNearOption = None,
    eps: EpsOption = None,
    check_sat: Annotated[
        bool,
        typer.Option(
            "--check-sat",
            help="Solve for an input answering the query (label, region): exit 10 SAT, 20 UNSAT.",
        ),
    ] = False,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="With --check-sat: auto (enumerate small regions, else search and solver), "
            "enumerate (the reference on every input of the region) or sat (search and solver).",
        ),
    ] = "auto",
    solver: SolverOption = "auto",
    timeout: TimeoutOption = None,
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
    no_cache: NoCacheOption = False,
    input_domain: InputDomainOption = None,
) -> int:
    """Compile MODEL to CNF (DIMACS), or to any earlier stage with --emit; --check-sat inverts
    it, --infer runs it."""
    start = time.perf_counter()
    has_query = bool(target_label) or region.given or box_near is not None
    if check_sat and infer is not None:
        raise usage("use either --check-sat or --infer, not both")
    if infer is not None and has_query:
        raise usage("--infer runs one given input; it takes no label or region options")
    takes_region = emit in (StageName.cnf, StageName.spec, StageName.card)
    if emit is not StageName.cnf and (
        check_sat or infer is not None or map_path or (has_query and not takes_region)
    ):
        raise usage(
            f"--emit {emit.value} cannot be combined with --check-sat, --infer, --map or a query "
            "(--target-label, --not-label, --fix, --near, --box-near)"
        )
    if json_output and not (check_sat or infer is not None) and output in (None, "-"):
        raise usage("--json prints to stdout: write the formula to a file with -o")

    bnnc.check_outputs(None if output == "-" else output, map_path)
    model = bnnc.load(
        model_path,
        cache=False if no_cache else None,
        input_domain=input_domain,
        integer_inputs=True,  # every formula carries the order clauses
    )
    query = bnnc.query(
        model,
        label=target_label,
        not_label=region.not_label,
        fix=region.fix or (),
        near=region.near,
        max_flips=region.max_flips,
        box_near=box_near,
        eps=eps,
    )
    if check_sat and not has_query and model.region is None:
        raise usage(
            "--check-sat needs a query: --target-label, --not-label, --fix, --near or --box-near"
        )
    specialised_to = query.region if region.specialise else None
    if emit is not StageName.cnf:
        text = bnnc.emit(model, emit.value, encoding, region=specialised_to)
        bnnc.write_file(output or "-", text)
        return int(ExitCode.OK)

    # Only a --check-sat that writes nothing may leave the CNF for later: tabulation and the
    # pattern search often answer without it (0.3 s on TFC-w1a1 at 8 flips).
    lazy = check_sat and output is None and map_path is None and infer is None and not stats
    compiled = bnnc.compile(model, encoding, region=specialised_to, lazy=lazy)
    code = int(ExitCode.OK)
    if output is not None or not (check_sat or infer is not None):
        bnnc.write_dimacs(compiled, output or "-", projection=projection.value, query=query)
    if map_path is not None:
        bnnc.write_variable_map(compiled, map_path)
    record: dict[str, Any] = {}
    if check_sat:
        result = bnnc.check_sat(
            model,
            compiled,
            query=query,
            search=search,
            solver=solver,
            time_limit=timeout,
            method=method,
        )
        if json_output:
            record = _sat_json(model, result)
        else:
            _report_sat(model, query.describe(bnnc.Labels(model.class_names)), result)
        code = int(_EXIT[result.status])
    if infer is not None:
        bits = bnnc.parse_bits(infer, model.n_inputs, "infer")
        got = bnnc.infer(model, compiled, bits)
        if json_output:
            record = {"verb": "infer", "input": bits_text(bits), "label": got}
            if model.class_names:
                record["name"] = model.class_names[got]
        else:
            typer.echo(f"label {compiled.formula.describe_label(got)}")
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


_EXIT = {"SAT": ExitCode.SAT, "UNSAT": ExitCode.UNSAT, "UNKNOWN": ExitCode.UNKNOWN}


def _sat_json(model: bnnc.Model, result: bnnc.SatResult) -> dict[str, Any]:
    return {
        "verb": "check-sat",
        "query": query_json(model, result.query),
        "result": "unknown" if result.satisfiable is None else result.status.value,
        "witness": None if result.witness is None else bits_text(result.witness),
        "method": result.method,
        "solver": result.solver or None,
        "reason": result.reason,
        "validated": bool(result.satisfiable),
        "checked_by_model_itself": bnnc.checked_by_framework(model) and result.satisfiable,
    }


def _report_sat(model: bnnc.Model, description: str, result: bnnc.SatResult) -> None:
    how = f"method {result.method}" + (f" with {result.solver}" if result.solver else "")
    how += f" ({result.reason})" if result.reason else ""
    if result.satisfiable is None:
        typer.echo("UNKNOWN")
        typer.echo(f"the time limit ran out before an answer for: {description} ({how})")
        return
    if not result.satisfiable:
        typer.echo("UNSAT")
        typer.echo(f"no input answers the query: {description} ({how})")
        return
    assert result.witness is not None
    typer.echo("SAT")
    checked = "the reference inference"
    if bnnc.checked_by_framework(model):
        checked += " and the model itself"
    found = {
        "search": " (found by search, checked through the formula)",
        "enumerate": " (found by enumerating the region)",
    }.get(result.method, "")
    typer.echo(f"input for {description}{found}, checked with {checked}:")
    typer.echo("bits " + bits_text(result.witness))
    unary = getattr(model, "order_encoded", 0)
    if unary:  # an integer first layer: each element is LO + its number of true bits
        domain = getattr(model, "input_domain", None)
        low = domain.low if domain is not None and domain.low is not None else 0
        values = low + result.witness.reshape(-1, unary).sum(axis=1)
        typer.echo("values " + " ".join(map(str, values.tolist())))
        return
    for row in ascii_image(result.witness, model.input_shape) or ():
        typer.echo(row)
