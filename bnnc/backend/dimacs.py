"""Backend — DIMACS CNF with a projection header, a JSON variable map, atomic file writes.

Layout (also written as comments into every file): input bit i (0-based, flattened row-major)
is variable i+1, true meaning +1; label c is variable n_in+1+c; then the hidden neurons layer by
layer, then the class comparisons, then the encoding's auxiliary variables.  The projection
header lists exactly the input variables: ``c ind … 0`` (CMSGen, UniGen) or ``c p show … 0``
(ApproxMC 7, Ganak), never both.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TypedDict, Unpack

from bnnc._version import __version__
from bnnc.errors import ModelError
from bnnc.io import write_atomic
from bnnc.ir.clauses import ClauseStore
from bnnc.ir.cnf import CnfFormula

Projection = Literal["ind", "show"]
_PER_LINE = 10  # variables per projection line, so that lines stay readable


def _ranges(formula: CnfFormula) -> dict[str, tuple[int, int]]:
    layout = formula.layout
    n_in, n_cls = layout.n_inputs, layout.n_classes
    hidden = [h.var for h in layout.hidden if h.var]
    comparisons = [c.var for c in layout.comparisons if c.var]
    first_hidden = n_in + n_cls + 1
    first_cmp = first_hidden + len(hidden)
    return {
        "inputs": (1, n_in),
        "outputs": (n_in + 1, n_in + n_cls),
        "hidden": (first_hidden, first_cmp - 1),
        "comparisons": (first_cmp, first_cmp + len(comparisons) - 1),
        "auxiliary": (layout.n_layout_vars + 1, formula.num_vars),
    }


def _span(lo: int, hi: int) -> str:
    return f"{lo}..{hi}" if hi >= lo else "none"


class DimacsOptions(TypedDict, total=False):
    """The keyword options of :func:`dimacs_chunks`, shared by :func:`format_dimacs` and
    :func:`write_dimacs`."""

    projection: Projection
    target_label: int | None
    extra_clauses: Iterable[list[int]]
    num_vars: int | None
    query: str | None


def format_dimacs(formula: CnfFormula, **options: Unpack[DimacsOptions]) -> str:
    """The DIMACS text (see :func:`dimacs_chunks` for the options) as one string.
    Byte-deterministic.  For big formulas prefer :func:`write_dimacs`, which streams."""
    return "".join(dimacs_chunks(formula, **options))


def write_dimacs(path: str | Path, formula: CnfFormula, **options: Unpack[DimacsOptions]) -> None:
    """Write the DIMACS text to ``path`` (``-``: stdout), streaming it piece by piece: memory
    holds the compact formula and one piece's text, never the whole file.  A file is written
    atomically (never left half-written)."""
    chunks = dimacs_chunks(formula, **options)
    if str(path) == "-":
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    write_atomic(path, (chunk.encode("utf-8") for chunk in chunks))


def dimacs_chunks(
    formula: CnfFormula,
    *,
    projection: Projection = "ind",
    target_label: int | None = None,
    extra_clauses: Iterable[list[int]] = (),
    num_vars: int | None = None,
    query: str | None = None,
) -> Iterator[str]:
    """The DIMACS text in pieces: info comments, ``p cnf`` and projection, then the clauses a
    piece at a time.

    ``extra_clauses`` (a query: label, region) may use variables up to ``num_vars``; ``query``
    describes them in a comment.
    """
    extra = ClauseStore(extra_clauses)
    if target_label is not None:
        if not 0 <= target_label < formula.layout.n_classes:
            raise ModelError(
                f"target label {target_label} is out of range 0..{formula.layout.n_classes - 1}"
            )
        label_unit = ClauseStore([[formula.layout.output_var(target_label)]])
    else:
        label_unit = ClauseStore()
    n_clauses = len(formula.clauses) + len(label_unit) + len(extra)
    r = _ranges(formula)
    shape = "x".join(str(d) for d in formula.input_shape)
    lines = [
        f"c bnnc {__version__}",
        f"c model {formula.name} sha256:{formula.model_hash}",
        f"c encoding {formula.encoding} (two-sided, parsimonious: one model per input)",
        f"c input shape {shape}, flattened row-major; bit i is variable i+1, true = +1",
        f"c inputs {_span(*r['inputs'])}",
        f"c outputs {_span(*r['outputs'])} (label c is variable {r['outputs'][0]}+c)",
        f"c hidden {_span(*r['hidden'])}",
        f"c comparisons {_span(*r['comparisons'])}",
        f"c auxiliary {_span(*r['auxiliary'])}",
    ]
    if formula.class_names:
        lines.append("c classes " + " ".join(formula.class_names))
    if target_label is not None:
        lines.append(f"c target label {formula.describe_label(target_label)}")
    top = formula.num_vars if num_vars is None else num_vars
    if query is not None:
        lines.append(f"c query {query}")
        if top > formula.num_vars:
            lines.append(f"c query auxiliary {formula.num_vars + 1}..{top}")
    lines.append(f"p cnf {top} {n_clauses}")
    keyword = "c ind" if projection == "ind" else "c p show"
    inputs = range(1, formula.layout.n_inputs + 1)
    for start in range(0, len(inputs), _PER_LINE):
        chunk = inputs[start : start + _PER_LINE]
        lines.append(f"{keyword} {' '.join(map(str, chunk))} 0")
    yield "\n".join(lines) + "\n"
    yield from formula.clauses.dimacs_chunks()
    yield from label_unit.dimacs_chunks()
    yield from extra.dimacs_chunks()


def variable_map(
    formula: CnfFormula, input_conditions: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """The JSON-able variable map: every input, output, hidden neuron and comparison; with
    ``input_conditions``, what each input bit means on the model's own input."""
    layout = formula.layout
    shape = formula.input_shape
    inputs = []
    for bit in range(layout.n_inputs):
        index = [int(i) for i in _unravel(bit, shape)]
        entry: dict[str, Any] = {"var": layout.input_var(bit), "bit": bit, "index": index}
        if input_conditions is not None:
            entry["condition"] = input_conditions[bit]
        inputs.append(entry)
    outputs = [
        {"var": layout.output_var(c), "label": c, "name": formula.label_name(c)}
        for c in range(layout.n_classes)
    ]
    hidden = [
        {"layer": h.layer, "index": h.index, "var": h.var or None, "constant": h.constant or None}
        for h in layout.hidden
    ]
    comparisons = [
        {"above": c.above, "below": c.below, "var": c.var or None, "constant": c.constant}
        for c in layout.comparisons
    ]
    r = _ranges(formula)
    return {
        "bnnc": __version__,
        "model": formula.name,
        "sha256": formula.model_hash,
        "encoding": formula.encoding,
        "input_shape": list(shape),
        "num_vars": formula.num_vars,
        "num_clauses": len(formula.clauses),
        "ranges": {k: list(v) for k, v in r.items()},
        "inputs": inputs,
        "outputs": outputs,
        "hidden": hidden,
        "comparisons": comparisons,
    }


def _unravel(bit: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    index = []
    for size in reversed(shape):
        bit, rem = divmod(bit, size)
        index.append(rem)
    return tuple(reversed(index))
