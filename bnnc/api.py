"""The Python API: the CLI's verbs as functions (re-exported from ``bnnc``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnnc.backend.dimacs import Projection, format_dimacs
from bnnc.backend.dimacs import variable_map as _variable_map
from bnnc.backend.dimacs import write_dimacs as _write_dimacs
from bnnc.encodings import DEFAULT_ENCODING
from bnnc.engines.count import CountResult, Method
from bnnc.engines.decide import SatResult, make_query
from bnnc.engines.decide import check_sat as _check_sat
from bnnc.engines.decide import infer as _infer
from bnnc.engines.sample import SampleResult
from bnnc.errors import BnncError
from bnnc.io import write_atomic
from bnnc.ir.bnn import BnnModel
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.reference import predict as _predict
from bnnc.ir.region import Region
from bnnc.passes.pipeline import Compilation, Stage, compile_model

Model = BnnModel | IlpModel
TEXT_SUFFIXES = (".bnn", ".txt")

__all__ = [
    "Compilation",
    "CountResult",
    "Query",
    "Region",
    "SampleResult",
    "SatResult",
    "check_sat",
    "compile",
    "count",
    "emit",
    "infer",
    "load",
    "predict",
    "sample",
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
        model.verify()
        if any(b.oracle is not None for b in model.blocks) or model.output.oracle is not None:
            # The framework's arithmetic (ONNX): the trained form read back from the graph if
            # it compiles to the same integer model, else the exact lowered form.
            from bnnc.backend.onnx_text import print_onnx_model

            return print_onnx_model(model)
        from bnnc.backend.text import print_bnn

        return print_bnn(model)
    if stage == "milp":
        from bnnc.backend.lp import format_lp

        compiled = compile(model, encoding, until="milp")
        assert compiled.milp is not None
        return format_lp(compiled.milp)
    if stage == "ilp":
        from bnnc.backend.text import print_ilp

        compiled = compile(model, encoding, until="ilp")
        assert compiled.ilp is not None
        return print_ilp(compiled.ilp, region=model.region)
    if stage == "card":
        from bnnc.backend.opb import format_opb

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
    """Write the DIMACS file atomically (no partial file on error or interrupt), streaming it
    block by block (``-`` writes to stdout)."""
    _write_dimacs(path, compiled.formula, projection=projection, target_label=target_label)


def variable_map(compiled: Compilation) -> dict[str, Any]:
    """The variable map (inputs, outputs, hidden neurons, comparisons) as a JSON-able dict."""
    source = compiled.source
    conditions = source.input_conditions if isinstance(source, BnnModel) else None
    return _variable_map(compiled.formula, conditions)


def write_variable_map(compiled: Compilation, path: str | Path) -> None:
    write_atomic(path, json.dumps(variable_map(compiled), indent=1) + "\n")


def check_sat(
    model: Model,
    compiled: Compilation | None = None,
    *,
    label: int | None = None,
    query: Query | None = None,
    search: bool = True,
    solver: str = "cadical",
    time_limit: float | None = None,
) -> SatResult:
    """Inversion: find an input the network gives ``label`` (or that answers ``query``: a
    region, a label to avoid), checked by the reference; or prove there is none.

    ``search`` first tries a short local search with the reference inference (bnnc.engines.search);
    a witness it finds is confirmed through the formula.  UNSAT always comes from the solver
    (``solver``: a name in bnnc.engines.registry.DECIDERS).  If ``time_limit`` (seconds) runs
    out first, the result is UNKNOWN (``satisfiable`` None)."""
    compiled = compiled or compile(model)
    return _check_sat(
        model,
        compiled.formula,
        label,
        query=query,
        search=search,
        solver=solver,
        time_limit=time_limit,
    )


def sample(
    model: Model,
    compiled: Compilation | None = None,
    *,
    label: int | None = None,
    query: Query | None = None,
    n: int = 10,
    seed: int = 0,
    unique: bool = False,
    sampler: str = "cmsgen",
    on_sample: Callable[[int], None] | None = None,
    time_limit: float | None = None,
) -> SampleResult:
    """Draw ``n`` inputs the network gives ``label`` (or that answer ``query``) with ``sampler``
    (CMSGen by default; see bnnc.engines.sample); every sample is checked by the reference
    (InternalError if one fails).  ``on_sample(drawn)`` runs after each draw; Ctrl-C or the
    ``time_limit`` (seconds) stop the draws and keep what was drawn."""
    from bnnc.engines.sample import sample as _sample
    from bnnc.engines.sample import validate_samples

    compiled = compiled or compile(model)
    result = _sample(
        model,
        compiled.formula,
        make_query(model, label, query),
        n,
        seed=seed,
        unique=unique,
        sampler=sampler,
        on_sample=on_sample,
        time_limit=time_limit,
    )
    validate_samples(model, result)
    return result


def count(
    model: Model,
    compiled: Compilation | None = None,
    *,
    label: int | None = None,
    query: Query | None = None,
    method: Method | str = "exact",
    epsilon: float = 0.8,
    delta: float = 0.2,
    seed: int = 1,
    time_limit: float | None = None,
) -> CountResult:
    """The number of inputs the network gives ``label`` (or that answer ``query``): exact
    (Ganak) or (ε, δ)-approximate (ApproxMC), or with any counter by name (see
    bnnc.engines.count), with its share of the input region and the counter's guarantee."""
    from bnnc.engines.count import count as _count

    compiled = compiled or compile(model)
    return _count(
        compiled.formula,
        make_query(model, label, query),
        method=method,
        epsilon=epsilon,
        delta=delta,
        seed=seed,
        time_limit=time_limit,
    )


def infer(model: Model, compiled: Compilation | None, bits: ArrayLike) -> int:
    """Inference through the formula (paper's I(X = x)), checked against the reference."""
    compiled = compiled or compile(model)
    return _infer(model, compiled.formula, np.asarray(bits, dtype=bool).reshape(-1))


def predict(model: Model, bits: ArrayLike) -> NDArray[np.int64]:
    """Reference inference with numpy on a batch of input bits (True = +1)."""
    return _predict(model, bits)
