"""Options that several verbs share, declared once: ``Annotated`` typer options, and option
groups (dataclasses a verb receives whole, see :func:`bnnc.cli.edge.option_group`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from typer._types import TyperChoice

from bnnc.api import DATA_NAMES, DEFAULT_ENCODING, DEFAULT_THRESHOLD, ENCODING_NAMES, SOLVERS
from bnnc.cli.edge import option_group

ModelArgument = Annotated[
    Path,
    typer.Argument(metavar="MODEL", help="Model file: .onnx, or bnnc's text language (.bnn)."),
]
# Encodings are names from the one table in bnnc.encodings, checked by the library (an unknown
# name is a one-line usage error naming --encoding).
ENCODINGS_HELP = ", ".join(ENCODING_NAMES)
EncodingOption = Annotated[
    str,
    typer.Option("--encoding", "-e", help=f"Cardinality encoding: {ENCODINGS_HELP}."),
]
DEFAULT_ENCODING_NAME = DEFAULT_ENCODING
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout instead of text.")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed (runs are reproducible).")]


def positive_finite(value: float | None) -> float | None:
    """A typer callback: refuse 0, negative, infinite and NaN values (a usage error, exit 2)."""
    if value is not None and not 0 < value < math.inf:
        raise typer.BadParameter(f"must be a positive finite number, got {value}")
    return value


TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        callback=positive_finite,
        help="Stop after SECONDS: the answer is then UNKNOWN (exit 30), partial results kept.",
    ),
]

# Solver names are checked by the library too (a one-line usage error naming --solver); a
# native solver whose optional extra is missing says which extra installs it.
SolverOption = Annotated[
    str,
    typer.Option(
        "--solver",
        help=f"The solver ({', '.join(SOLVERS)}): auto (Exact if installed, else CaDiCaL: "
        "the fastest per bench/solvers.py), cadical (on the CNF), exact or cpsat (on the ILP "
        "stage as pseudo-Boolean constraints; extras bnnc[exact], bnnc[cpsat]).",
    ),
]
NoCacheOption = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="Read an ONNX MODEL anew, not from bnnc's cache of models read before "
        "(also BNNC_NO_CACHE=1).",
    ),
]


@option_group
@dataclass(frozen=True)
class RegionOptions:
    """Which inputs a query ranges over, and a label to avoid (every verb that asks a question
    takes these; the label to hit is the verb's own option)."""

    not_label: Annotated[
        str | None,
        typer.Option(
            "--not-label", metavar="LABEL", help="Only inputs the network does NOT label so."
        ),
    ] = None
    fix: Annotated[
        list[str] | None,
        typer.Option(
            "--fix",
            metavar="SPEC",
            help=(
                "Fix input bits: 'I=V' or 'I-J=V' (flattened bit indices, V 0/1 or -/+), "
                "comma-separated; or a mask of one character per bit (0/- fixed off, 1/+ fixed "
                "on, '.' free), inline or as @FILE.  Repeatable."
            ),
        ),
    ] = None
    near: Annotated[
        str | None,
        typer.Option(
            "--near",
            metavar="INPUT",
            help="Only inputs within --max-flips bit flips of INPUT (bits 0/1 or -/+, or a .npy "
            "file).",
        ),
    ] = None
    max_flips: Annotated[
        int | None, typer.Option("--max-flips", metavar="K", help="Radius of the --near ball.")
    ] = None
    specialise: Annotated[
        bool,
        typer.Option(
            "--specialise/--no-specialise",
            help="Fold the neurons that are constant on the region before encoding (exact on "
            "the region; --no-specialise encodes the whole network, for comparison).",
        ),
    ] = True

    @property
    def given(self) -> bool:
        """Whether any region option (or --not-label) was given."""
        return bool(self.not_label is not None or self.fix or self.near is not None)


@option_group
@dataclass(frozen=True)
class DataOptions:
    """A data set: named, or given as files (train and retrain)."""

    data: Annotated[
        str,
        typer.Option(
            "--data",
            click_type=TyperChoice(DATA_NAMES),
            help=(
                "mnist: MNIST IDX files (default: the t10k set in $BNNC_DATA or ../shared/data, "
                "split i % 5 == 4 → test); digits: scikit-learn's digits CSV (8x8)."
            ),
        ),
    ] = "mnist"
    images: Annotated[
        Path | None,
        typer.Option(
            "--images", help="Images file: MNIST idx3-ubyte (gzipped or not), or the digits CSV."
        ),
    ] = None
    labels: Annotated[
        Path | None, typer.Option("--labels", help="MNIST labels file (idx1-ubyte).")
    ] = None
    size: Annotated[
        int | None,
        typer.Option(
            "--size",
            help="Area-average images to SIZE x SIZE (MNIST: default 10 for train, 5 for "
            "retrain; 28 = as is; digits: 8).",
        ),
    ] = None
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold", help="After downsampling, a pixel ≥ THRESHOLD of full intensity is +1."
        ),
    ] = DEFAULT_THRESHOLD


InputDomainOption = Annotated[
    str | None,
    typer.Option(
        "--input-domain",
        metavar="DOMAIN",
        help="What an ONNX MODEL's input takes: pm1 (±1), 01, int:LO..HI or real.  Needed "
        "when the first layer reads the input unbinarised (pm1 or 01); recorded in --map.",
    ),
]

BoxNearOption = Annotated[
    str | None,
    typer.Option(
        "--box-near",
        metavar="IMAGE",
        help="Only inputs within --eps of IMAGE in every element (an L∞ box, clipped to the "
        "domain; IMAGE a .npy or text file of integers): for a first layer that reads "
        "integers, --input-domain int:LO..HI.",
    ),
]
EpsOption = Annotated[
    int | None, typer.Option("--eps", metavar="E", help="Radius of the --box-near box.")
]
