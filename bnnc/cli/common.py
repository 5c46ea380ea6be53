"""What every verb shares: option types, the error-to-exit-code edge, labels, regions, output."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TextIO

import numpy as np
import typer
from numpy.typing import NDArray

from bnnc.api import Model
from bnnc.encodings import DEFAULT_ENCODING
from bnnc.errors import BnncError, BnncWarning, ExitCode, ModelError
from bnnc.io import write_atomic
from bnnc.ir.query import Query
from bnnc.ir.region import Region


class EncodingName(StrEnum):
    """Mirrors bnnc.encodings.ENCODING_NAMES (a test keeps the two equal)."""

    totalizer = "totalizer"
    seqcounter = "seqcounter"
    direct = "direct"
    adder = "adder"
    cardnet = "cardnet"
    auto = "auto"


DEFAULT_ENCODING_NAME = EncodingName(DEFAULT_ENCODING)

ModelArgument = Annotated[
    Path,
    typer.Argument(metavar="MODEL", help="Model file: .onnx, or bnnc's text language (.bnn)."),
]
EncodingOption = Annotated[
    EncodingName, typer.Option("--encoding", "-e", help="Cardinality encoding.")
]
NotLabelOption = Annotated[
    str | None,
    typer.Option("--not-label", metavar="LABEL", help="Only inputs the network does NOT label so."),
]
FixOption = Annotated[
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
]
NearOption = Annotated[
    str | None,
    typer.Option(
        "--near",
        metavar="INPUT",
        help="Only inputs within --max-flips bit flips of INPUT (bits 0/1 or -/+, or a .npy file).",
    ),
]
MaxFlipsOption = Annotated[
    int | None, typer.Option("--max-flips", metavar="K", help="Radius of the --near ball.")
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout instead of text.")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed (runs are reproducible).")]


def run_verb(model_path: Path | None, body: Callable[[], int]) -> NoReturn:
    """Run a verb; turn bnnc's errors into one line on stderr and an exit code, and its
    warnings into ``bnnc: warning: …`` lines, printed as they happen."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", BnncWarning)
            warnings.showwarning = _show_warning
            code = body()
    except BnncError as err:
        message = str(err)
        if model_path is not None and not message.startswith(str(model_path)):
            message = f"{model_path}: {message}"
        typer.echo(f"bnnc: error: {message}", err=True)
        raise typer.Exit(int(err.exit_code)) from None
    except KeyboardInterrupt:
        typer.echo("bnnc: interrupted", err=True)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    raise typer.Exit(code)


_SHOW_WARNING = warnings.showwarning  # Python's own, for warnings that are not bnnc's


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """bnnc's own warnings as one line, like its errors; any other as Python shows it."""
    if issubclass(category, BnncWarning):
        print(f"bnnc: warning: {message}", file=sys.stderr)
    else:
        _SHOW_WARNING(message, category, filename, lineno, file, line)


def usage(message: str) -> typer.Exit:
    typer.echo(f"bnnc: usage error: {message}", err=True)
    return typer.Exit(int(ExitCode.USAGE))


def parse_label(text: str, model: Model, option: str = "--target-label") -> int:
    """A label given as an index or a class name."""
    names = model.class_names or ()
    if text in names:
        return names.index(text)
    try:
        label = int(text)
    except ValueError:
        known = f" (classes: {', '.join(names)})" if names else ""
        raise ModelError(f"{option}: unknown label {text!r}{known}") from None
    if not 0 <= label < model.n_classes:
        raise ModelError(f"{option}: label {label} is out of range 0..{model.n_classes - 1}")
    return label


_ON, _OFF, _FREE = "1+", "0-", ".?"


def parse_bits(text: str, n_inputs: int, option: str) -> NDArray[np.bool_]:
    """Input bits written as 0/1 or -/+ (blanks, commas and underscores ignored)."""
    chars = [ch for ch in text if not ch.isspace() and ch not in ",_"]
    bad = [ch for ch in chars if ch not in _ON + _OFF]
    if bad:
        raise ModelError(f"{option}: bits must be 0/1 or -/+, found {bad[0]!r}")
    if len(chars) != n_inputs:
        raise ModelError(f"{option}: the model takes {n_inputs} input bits, got {len(chars)}")
    return np.array([ch in _ON for ch in chars], dtype=bool)


def read_input(text: str, n_inputs: int, option: str) -> NDArray[np.bool_]:
    """An input given inline as bits, or as a file: .npy (0/1, ±1 or bool) or text bits."""
    path = Path(text)
    if path.suffix == ".npy" or (path.suffix and path.exists()):
        try:
            if path.suffix == ".npy":
                array = np.load(path, allow_pickle=False)
            else:
                return parse_bits(_strip_comments(path.read_text()), n_inputs, f"{option} {path}")
        except (OSError, ValueError) as err:
            raise ModelError(f"{option}: cannot read {path}: {err}") from None
        values = np.asarray(array).reshape(-1)
        if values.size != n_inputs:
            raise ModelError(f"{option} {path}: {values.size} values, the model takes {n_inputs}")
        if values.dtype == np.bool_:
            return values.astype(bool)
        if np.isin(values, (0, 1)).all():
            return values.astype(bool)
        if np.isin(values, (-1, 1)).all():
            return values > 0
        raise ModelError(f"{option} {path}: values must be 0/1, -1/+1 or booleans")
    return parse_bits(text, n_inputs, option)


def _strip_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def parse_fix(spec: str, n_inputs: int) -> dict[int, bool]:
    """``--fix`` SPEC → {bit: value}; see FixOption's help."""
    if spec.startswith("@"):
        path = Path(spec[1:])
        try:
            spec = _strip_comments(path.read_text())
        except OSError as err:
            raise ModelError(f"--fix: cannot read {path}: {err.strerror or err}") from None
    if "=" not in spec:
        chars = [ch for ch in spec if not ch.isspace() and ch not in ",_"]
        bad = [ch for ch in chars if ch not in _ON + _OFF + _FREE]
        if bad:
            raise ModelError(f"--fix: a mask has 0/1, -/+ or '.' per bit, found {bad[0]!r}")
        if len(chars) != n_inputs:
            raise ModelError(f"--fix: the mask has {len(chars)} bits, the model takes {n_inputs}")
        return {i: ch in _ON for i, ch in enumerate(chars) if ch not in _FREE}
    values: dict[int, bool] = {}
    for item in spec.replace(" ", "").split(","):
        if not item:
            continue
        where, _, value = item.partition("=")
        if value not in ("0", "1", "-", "+"):
            raise ModelError(f"--fix {item!r}: the value must be 0/1 or -/+")
        first, _, last = where.partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            raise ModelError(f"--fix {item!r}: expected I=V or I-J=V with bit indices") from None
        if not 0 <= lo <= hi < n_inputs:
            raise ModelError(f"--fix {item!r}: bits must lie in 0..{n_inputs - 1}")
        for bit in range(lo, hi + 1):
            values[bit] = value in "1+"
    return values


def build_query(
    model: Model,
    *,
    label: str | None = None,
    not_label: str | None = None,
    fix: list[str] | None = None,
    near: str | None = None,
    max_flips: int | None = None,
    label_option: str = "--target-label",
) -> Query:
    """The query the options describe, intersected with any region the model file declares."""
    n = model.n_inputs
    region = model.region if model.region is not None else Region.everything(n)
    for spec in fix or ():
        region = region.intersect(Region.with_fixed(n, parse_fix(spec, n)))
    if (near is None) != (max_flips is None):
        raise usage("--near and --max-flips go together")
    if near is not None and max_flips is not None:
        if max_flips < 0:
            raise usage("--max-flips must be at least 0")
        region = region.intersect(Region.ball(read_input(near, n, "--near"), max_flips))
    query = Query(
        region,
        label=parse_label(label, model, label_option) if label is not None else None,
        not_label=parse_label(not_label, model, "--not-label") if not_label is not None else None,
    )
    query.check(model.n_classes)
    return query


def query_json(model: Model, query: Query) -> dict[str, Any]:
    return {
        "label": query.label,
        "not_label": query.not_label,
        "fixed_bits": query.region.n_fixed,
        "balls": [
            {"center": bits_text(ball.center), "max_flips": ball.max_flips}
            for ball in query.region.balls
        ],
        "space": query.region.size(),
    }


def bits_text(bits: NDArray[np.bool_]) -> str:
    return "".join("1" if b else "0" for b in np.asarray(bits).reshape(-1).tolist())


def ascii_image(bits: NDArray[np.bool_], shape: tuple[int, ...]) -> list[str] | None:
    """Rows of ``#`` (+1) and ``.`` (−1) for inputs with a 2-D picture, else None."""
    picture = image_shape(shape)
    if picture is None:
        return None
    rows = np.asarray(bits).reshape(picture)
    return ["".join("#" if b else "." for b in row) for row in rows.tolist()]


def image_shape(shape: tuple[int, ...]) -> tuple[int, int] | None:
    """(height, width) when the input is a picture: 2-D after dropping unit dimensions."""
    dims = [d for d in shape if d != 1]
    if len(dims) == 2:
        return (dims[0], dims[1])
    return None


def write_output(output: str, text: str) -> None:
    if output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(output, text)


def echo_json(record: dict[str, Any]) -> None:
    typer.echo(json.dumps(record, sort_keys=True))
