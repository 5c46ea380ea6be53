"""``bnnc vnnlib MODEL.onnx PROP.vnnlib``: decide a VNN-LIB property, write the VNN-COMP result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import bnnc.api as bnnc
from bnnc.cli.edge import verb
from bnnc.cli.options import (
    EncodingOption,
    InputDomainOption,
    JsonOption,
    ModelArgument,
    TimeoutOption,
)
from bnnc.cli.show import echo_json
from bnnc.errors import ExitCode

EXIT = {"sat": ExitCode.SAT, "unsat": ExitCode.UNSAT}


@verb(flags={"time_limit": "--timeout"})
def vnnlib_command(
    *,
    model: ModelArgument,
    property_path: Annotated[
        Path, typer.Argument(metavar="PROPERTY", help="The property (VNN-LIB, .vnnlib).")
    ],
    timeout: TimeoutOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="RESULT", help="Write the VNN-COMP result file here."
        ),
    ] = None,
    encoding: EncodingOption = "auto",  # the totalizer here: 4.6 s against the adder's 203 s
    input_domain: InputDomainOption = None,
    json_output: JsonOption = False,
) -> int:
    """Decide a VNN-LIB property (input box, output constraints) on an ONNX BNN: sat (exit 10)
    with a counterexample the model itself confirms, unsat (20), or timeout / unknown (30).
    The result file is VNN-COMP's: 'sat' and ((X_0 v) ... (Y_0 v)), or one word."""
    bnnc.check_outputs(output)
    result = bnnc.vnnlib(
        model,
        property_path,
        time_limit=timeout,
        input_domain=input_domain,
        encoding=encoding,
    )
    text = bnnc.format_vnnlib_result(result)
    if output is not None:
        bnnc.write_file(output, text)
    if json_output:
        echo_json(
            {
                "result": result.status,
                "reason": result.reason,
                "seconds": round(result.seconds, 6),
                "x": None if result.x is None else result.x.tolist(),
                "y": None if result.y is None else result.y.tolist(),
            }
        )
    else:
        typer.echo(text if output is None else result.status, nl=output is not None)
        if result.reason:
            typer.echo(f"({result.reason}; {result.seconds:.3f} s)", err=True)
    return int(EXIT.get(result.status, ExitCode.UNKNOWN))
