"""The Python API: the CLI's verbs as functions (re-exported from ``bnnc``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnnc.bnn import BnnModel
from bnnc.compiler import Compilation, Stage, compile_model
from bnnc.dimacs import Projection, format_dimacs, write_atomic
from bnnc.dimacs import variable_map as _variable_map
from bnnc.encodings import DEFAULT_ENCODING
from bnnc.errors import BnncError
from bnnc.ilp import IlpModel
from bnnc.reference import predict as _predict
from bnnc.solve import SatResult
from bnnc.solve import check_sat as _check_sat
from bnnc.solve import infer as _infer

Model = BnnModel | IlpModel
TEXT_SUFFIXES = (".bnn", ".txt")

__all__ = [
    "Compilation",
    "SatResult",
    "check_sat",
    "compile",
    "emit",
    "infer",
    "load",
    "predict",
    "to_dimacs",
    "variable_map",
    "write_dimacs",
]


def load(path: str | Path) -> Model:
    """Read a model file: ONNX (``.onnx``) or bnnc's text language (anything else)."""
    file = Path(path)
    if file.suffix.lower() == ".onnx":
        from bnnc.frontend.onnx import load_onnx

        return load_onnx(file)
    from bnnc.frontend.text import load_text

    return load_text(file)


def compile(model: Model, encoding: str = DEFAULT_ENCODING, *, until: Stage = "cnf") -> Compilation:
    """Lower ``model`` to CNF (or only up to stage ``until``)."""
    return compile_model(model, encoding, until=until)


def emit(model: Model, stage: str, encoding: str = DEFAULT_ENCODING, **dimacs: Any) -> str:
    """The text of one stage: ``bnn`` (text language), ``milp`` (CPLEX LP), ``ilp`` (lowered
    text language), ``card`` (OPB) or ``cnf`` (DIMACS; keyword arguments as in to_dimacs)."""
    if stage == "bnn":
        if not isinstance(model, BnnModel):
            raise BnncError(f"model {model.name!r} is in the lowered form; it has no bnn stage")
        if any(b.oracle is not None for b in model.blocks) or model.output.oracle is not None:
            raise BnncError(
                "--emit bnn is not available yet for models whose arithmetic is their "
                "framework's (ONNX); --emit ilp prints the exact lowered form"
            )
        from bnnc.printer import print_bnn

        model.verify()
        return print_bnn(model)
    if stage == "milp":
        from bnnc.milp import format_lp

        compiled = compile(model, encoding, until="milp")
        assert compiled.milp is not None
        return format_lp(compiled.milp)
    if stage == "ilp":
        from bnnc.printer import print_ilp

        compiled = compile(model, encoding, until="ilp")
        assert compiled.ilp is not None
        return print_ilp(compiled.ilp)
    if stage == "card":
        from bnnc.opb import format_opb

        compiled = compile(model, encoding, until="card")
        assert compiled.card is not None
        return format_opb(compiled.card)
    if stage == "cnf":
        return to_dimacs(compile(model, encoding), **dimacs)
    raise BnncError(f"unknown stage {stage!r}; choose bnn, milp, ilp, card or cnf")


def to_dimacs(
    compiled: Compilation, *, projection: Projection = "ind", target_label: int | None = None
) -> str:
    """The DIMACS text of a compilation, optionally with the output fixed to ``target_label``."""
    return format_dimacs(compiled.formula, projection=projection, target_label=target_label)


def write_dimacs(
    compiled: Compilation,
    path: str | Path,
    *,
    projection: Projection = "ind",
    target_label: int | None = None,
) -> None:
    """Write the DIMACS file atomically (no partial file on error or interrupt)."""
    write_atomic(path, to_dimacs(compiled, projection=projection, target_label=target_label))


def variable_map(compiled: Compilation) -> dict[str, Any]:
    """The variable map (inputs, outputs, hidden neurons, comparisons) as a JSON-able dict."""
    source = compiled.source
    conditions = source.input_conditions if isinstance(source, BnnModel) else None
    return _variable_map(compiled.formula, conditions)


def write_variable_map(compiled: Compilation, path: str | Path) -> None:
    write_atomic(path, json.dumps(variable_map(compiled), indent=1) + "\n")


def check_sat(model: Model, compiled: Compilation | None = None, *, label: int) -> SatResult:
    """Inversion: find an input the network gives ``label`` (witness checked), or prove none."""
    compiled = compiled or compile(model)
    return _check_sat(model, compiled.formula, label)


def infer(model: Model, compiled: Compilation | None, bits: ArrayLike) -> int:
    """Inference through the formula (paper's I(X = x)), checked against the reference."""
    compiled = compiled or compile(model)
    return _infer(model, compiled.formula, np.asarray(bits, dtype=bool).reshape(-1))


def predict(model: Model, bits: ArrayLike) -> NDArray[np.int64]:
    """Reference inference with numpy on a batch of input bits (True = +1)."""
    return _predict(model, bits)
