"""The ``bnnc`` command line.  Domain errors become exit codes here and only here."""

from __future__ import annotations

import json
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from numpy.typing import NDArray

from bnnc import __version__
from bnnc.api import Model
from bnnc.bnn import BnnModel
from bnnc.dimacs import write_atomic
from bnnc.encodings import DEFAULT_ENCODING
from bnnc.errors import BnncError, ExitCode, ModelError
from bnnc.solve import SatResult

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Compile a binarised neural network to an exact CNF formula; invert it with a SAT solver.",
)


class EncodingName(StrEnum):
    """Mirrors bnnc.encodings.ENCODING_NAMES (a test keeps the two equal)."""

    totalizer = "totalizer"
    seqcounter = "seqcounter"
    direct = "direct"
    adder = "adder"


_DEFAULT_ENCODING = EncodingName(DEFAULT_ENCODING)


class StageName(StrEnum):
    bnn = "bnn"
    milp = "milp"
    ilp = "ilp"
    card = "card"
    cnf = "cnf"


class ProjectionName(StrEnum):
    ind = "ind"
    show = "show"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bnnc {__version__}")
        raise typer.Exit()


@app.command()
def main_command(
    model_path: Annotated[
        Path,
        typer.Argument(metavar="MODEL", help="Model file: .onnx, or bnnc's text language (.bnn)."),
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Write the formula (or --emit stage) here; '-' is stdout."
        ),
    ] = None,
    encoding: Annotated[
        EncodingName, typer.Option("--encoding", "-e", help="Cardinality encoding.")
    ] = _DEFAULT_ENCODING,
    emit: Annotated[
        StageName, typer.Option("--emit", help="Stage to write: bnn, milp, ilp, card or cnf.")
    ] = StageName.cnf,
    target_label: Annotated[
        str | None,
        typer.Option(
            "--target-label", "-t", help="Fix the output to this label (index or class name)."
        ),
    ] = None,
    check_sat: Annotated[
        bool,
        typer.Option(
            "--check-sat", help="Solve for an input with --target-label: exit 10 SAT, 20 UNSAT."
        ),
    ] = False,
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
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = None,
) -> None:
    """Compile MODEL to CNF (DIMACS), or to any earlier stage with --emit."""
    start = time.perf_counter()
    try:
        code = _run(
            model_path,
            output=output,
            encoding=encoding.value,
            emit=emit.value,
            target_label=target_label,
            check_sat=check_sat,
            infer=infer,
            projection=projection.value,
            map_path=map_path,
            stats=stats,
            start=start,
        )
    except BnncError as err:
        message = str(err)
        if not message.startswith(str(model_path)):
            message = f"{model_path}: {message}"
        typer.echo(f"bnnc: error: {message}", err=True)
        raise typer.Exit(int(err.exit_code)) from None
    except KeyboardInterrupt:
        typer.echo("bnnc: interrupted", err=True)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    raise typer.Exit(code)


def _usage(message: str) -> typer.Exit:
    typer.echo(f"bnnc: usage error: {message}", err=True)
    return typer.Exit(int(ExitCode.USAGE))


def _run(
    model_path: Path,
    *,
    output: str | None,
    encoding: str,
    emit: str,
    target_label: str | None,
    check_sat: bool,
    infer: str | None,
    projection: str,
    map_path: Path | None,
    stats: bool,
    start: float,
) -> int:
    import bnnc
    from bnnc.api import write_variable_map
    from bnnc.dimacs import format_dimacs

    if check_sat and target_label is None:
        raise _usage("--check-sat needs --target-label")
    if check_sat and infer is not None:
        raise _usage("use either --check-sat or --infer, not both")
    if emit != "cnf" and (check_sat or infer is not None or map_path or target_label is not None):
        raise _usage(
            f"--emit {emit} cannot be combined with --target-label, --check-sat, --infer or --map"
        )

    model = bnnc.load(model_path)
    label = _parse_label(target_label, model) if target_label is not None else None
    if emit != "cnf":
        text = bnnc.emit(model, emit, encoding)
        _write(output or "-", text)
        return int(ExitCode.OK)

    compiled = bnnc.compile(model, encoding)
    formula = compiled.formula
    code = int(ExitCode.OK)
    if output is not None or not (check_sat or infer is not None):
        text = format_dimacs(
            formula,
            projection="show" if projection == "show" else "ind",
            target_label=label,
        )
        _write(output or "-", text)
    if map_path is not None:
        write_variable_map(compiled, map_path)
    if check_sat:
        assert label is not None
        result = bnnc.check_sat(model, compiled, label=label)
        _report_sat(model, formula.describe_label(label), result)
        code = int(ExitCode.SAT if result.satisfiable else ExitCode.UNSAT)
    if infer is not None:
        bits = _parse_bits(infer, model.n_inputs)
        got = bnnc.infer(model, compiled, bits)
        typer.echo(f"label {formula.describe_label(got)}")
    if stats:
        record = compiled.stats()
        record["seconds"]["total"] = round(time.perf_counter() - start, 6)
        typer.echo(json.dumps(record, sort_keys=True), err=True)
    return code


def _write(output: str, text: str) -> None:
    if output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(output, text)


def _parse_label(text: str, model: Model) -> int:
    names = model.class_names or ()
    if text in names:
        return names.index(text)
    try:
        label = int(text)
    except ValueError:
        known = f" (classes: {', '.join(names)})" if names else ""
        raise ModelError(f"unknown label {text!r}{known}") from None
    if not 0 <= label < model.n_classes:
        raise ModelError(f"label {label} is out of range 0..{model.n_classes - 1}")
    return label


def _parse_bits(text: str, n_inputs: int) -> NDArray[np.bool_]:
    chars = [ch for ch in text if not ch.isspace() and ch not in ",_"]
    bad = [ch for ch in chars if ch not in "01+-"]
    if bad:
        raise ModelError(f"--infer: bits must be 0/1 or -/+, found {bad[0]!r}")
    if len(chars) != n_inputs:
        raise ModelError(f"--infer: the model takes {n_inputs} input bits, got {len(chars)}")
    return np.array([ch in "1+" for ch in chars], dtype=bool)


def _report_sat(model: Model, label_name: str, result: SatResult) -> None:
    shape = model.input_shape
    if not result.satisfiable:
        typer.echo("UNSAT")
        typer.echo(f"no input is labelled {label_name}")
        return
    assert result.witness is not None
    typer.echo("SAT")
    checked = "the reference inference"
    if isinstance(model, BnnModel) and model.framework_predict is not None:
        checked += " and the model itself"
    typer.echo(f"input labelled {label_name}, checked with {checked}:")
    typer.echo("bits " + "".join("1" if b else "0" for b in result.witness))
    if len(shape) >= 2:
        rows = result.witness.reshape(-1, shape[-1])
        for row in rows:
            typer.echo("".join("#" if b else "." for b in row))


def main() -> None:
    """Console-script entry point."""
    app(prog_name="bnnc")


if __name__ == "__main__":
    main()
