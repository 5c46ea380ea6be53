"""``bnnc robustness MODEL --near INPUT --max-flips K``: the exact L0 robustness radius; with
``--data`` instead of ``--near``, a sweep over a data set (bnnc.sweep); ``--from-jsonl`` rebuilds
a sweep's summary and pictures from its records alone."""

from __future__ import annotations

from typing import Annotated, Any

import typer

import bnnc.api as bnnc
from bnnc.cli.edge import usage, verb
from bnnc.cli.options import (
    DEFAULT_ENCODING_NAME,
    EncodingOption,
    InputDomainOption,
    JsonOption,
    NoCacheOption,
    SolverOption,
    TimeoutOption,
)
from bnnc.cli.show import ascii_image, bits_text, echo_json
from bnnc.cli.sweep import SWEEP_DEFAULTS, OptionalModelArgument, SweepOptions, run_sweep
from bnnc.errors import ExitCode


@verb(flags={"center": "--near"})
def robustness_command(
    *,
    model_path: OptionalModelArgument = None,
    near: Annotated[
        str | None,
        typer.Option(
            "--near", metavar="INPUT", help="The input (bits 0/1 or -/+, or a .npy file)."
        ),
    ] = None,
    max_flips: Annotated[
        int | None, typer.Option("--max-flips", metavar="K", help="Largest radius to try.")
    ] = None,
    method: Annotated[
        str,
        typer.Option("--method", help="auto, enumerate or sat (as for --check-sat)."),
    ] = "auto",
    solver: SolverOption = "auto",
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy",
            help="per-radius (each radius compiled for its own ball) or incremental (one "
            "solver for every radius).",
        ),
    ] = "per-radius",
    timeout: TimeoutOption = None,
    encoding: EncodingOption = DEFAULT_ENCODING_NAME,
    json_output: JsonOption = False,
    no_cache: NoCacheOption = False,
    input_domain: InputDomainOption = None,
    sweep: SweepOptions = SWEEP_DEFAULTS,
) -> int:
    """The exact L0 robustness radius of MODEL at INPUT: the largest k ≤ K such that no input
    within k bit flips gets another label, and a minimal counterexample (validated by the
    model itself) when there is one.  With --data: the same at every input of a data set
    (a sweep), records in --jsonl, resumable; --from-jsonl: a sweep's summary from its
    records."""
    if sweep.from_jsonl is not None or sweep.data is not None:
        if near is not None:
            raise usage("--near is for one input; --data and --from-jsonl are for sweeps")
        return run_sweep(model_path, max_flips, sweep, timeout, method, solver, strategy,
                         encoding, json_output, no_cache, input_domain)  # fmt: skip
    sweep.only_for_sweeps()
    if model_path is None or near is None or max_flips is None:
        raise usage("give MODEL, --near INPUT (or --data for a sweep) and --max-flips K")
    model = bnnc.load(model_path, cache=False if no_cache else None, input_domain=input_domain)
    centre = bnnc.read_input(near, model.n_inputs, "near")
    result = bnnc.robustness(
        model,
        centre,
        max_flips,
        encoding=encoding,
        solver=solver,
        method=method,
        time_limit=timeout,
        strategy=strategy,
    )
    if json_output:
        echo_json(_json(model, centre, result))
    else:
        _report(model, result)
    return int(ExitCode.UNKNOWN if result.status == "unknown" else ExitCode.OK)


def _json(model: bnnc.Model, centre: Any, result: bnnc.Robustness) -> dict[str, Any]:
    example = result.counterexample
    return {
        "verb": "robustness",
        "model": model.name,
        "input": bits_text(centre),
        "label": result.label,
        "max_flips": result.max_flips,
        "strategy": result.strategy,
        "result": result.status,
        "radius": result.radius,
        "counterexample": None if example is None else bits_text(example),
        "counterexample_label": result.counterexample_label,
        "counterexample_flips": result.counterexample_flips,
        "steps": [
            {
                "flips": step.flips,
                "result": step.result.status.value.lower(),
                "method": step.result.method,
                "solver": step.result.solver or None,
                "reason": step.result.reason,
                "free_neurons": list(step.free_neurons),
                "seconds": round(step.seconds, 6),
            }
            for step in result.steps
        ],
        "seconds": round(result.seconds, 6),
    }


def _report(model: bnnc.Model, result: bnnc.Robustness) -> None:
    name = model.class_names[result.label] if model.class_names else None
    label = f"{result.label} ({name})" if name else str(result.label)
    typer.echo(f"label at the input: {label}")
    for step in result.steps:
        free = "/".join(map(str, step.free_neurons)) or "-"
        typer.echo(
            f"  {step.flips:>3} flips: {step.result.status.value:<7} {step.seconds:7.3f} s  "
            f"{step.result.method:<9} free neurons {free}"
        )
    if result.status == "robust":
        typer.echo(f"robust up to {result.max_flips} flips")
    elif result.status == "unknown":
        beyond = (
            ""
            if result.counterexample is None
            else f" and below {result.counterexample_flips} (a counterexample is known)"
        )
        typer.echo(
            f"UNKNOWN: robust up to {result.radius} flips{beyond}; the time limit ran out at "
            f"{result.radius + 1}"
        )
    else:
        assert result.counterexample is not None
        typer.echo(
            f"radius {result.radius}: an input {result.radius + 1} flips away gets label "
            f"{result.counterexample_label} (checked by the reference"
            f"{' and the model itself' if bnnc.checked_by_framework(model) else ''}):"
        )
        typer.echo("bits " + bits_text(result.counterexample))
        for row in ascii_image(result.counterexample, model.input_shape) or ():
            typer.echo(row)
