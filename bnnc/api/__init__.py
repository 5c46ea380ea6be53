"""The Python API: everything a verb does, as functions with the same arguments (re-exported
from ``bnnc``).  The command line (``bnnc.cli``) is a thin layer over this module and imports
nothing else of bnnc but the errors.

>>> import bnnc
>>> model = bnnc.load("examples/tiny.bnn")
>>> compiled = bnnc.compile(model, "totalizer")
>>> query = bnnc.query(model, label="bar", near="000000000", max_flips=2)
>>> result = bnnc.check_sat(model, compiled, query=query)
>>> result.satisfiable, result.method, result.reason
(True, 'enumerate', '46 inputs ≤ 4096')
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnnc.api.inversion import (
    CountMethod,
    check_label_counts,
    count_every_label,
    count_queries,
    counts_label_by_label,
    save_png_grid,
    save_samples,
)
from bnnc.api.robustness import RadiusStep, Robustness, robustness
from bnnc.api.training import (
    DATA_NAMES,
    RetrainRun,
    TrainRun,
    check_writable,
    load_dataset,
    retrain,
    train,
)
from bnnc.api.vnnlib import VnnResult, format_vnnlib_result, vnnlib
from bnnc.backend.dimacs import DimacsOptions, Projection, format_dimacs
from bnnc.backend.dimacs import variable_map as _variable_map
from bnnc.backend.dimacs import write_dimacs as _write_dimacs
from bnnc.backend.onnx_export import save_onnx, save_text
from bnnc.encodings import DEFAULT_ENCODING, ENCODING_NAMES, ENCODINGS
from bnnc.engines.count import CountResult, Method, region_size
from bnnc.engines.decide import SatResult, check_sat_before_formula, make_query
from bnnc.engines.decide import check_sat as _check_sat
from bnnc.engines.decide import infer as _infer
from bnnc.engines.registry import COUNTERS, DECIDERS, SOLVERS
from bnnc.engines.sample import SAMPLERS, SampleResult, validate_samples
from bnnc.errors import BnncError, UsageError
from bnnc.frontend.query import build_query as query
from bnnc.frontend.query import parse_bits, parse_label, read_input
from bnnc.io import output_transaction, write_atomic
from bnnc.ir.bnn import BnnModel
from bnnc.ir.cnf import CnfFormula
from bnnc.ir.domain import parse_input_domain
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Labels, Query
from bnnc.ir.region import Region
from bnnc.passes.fast_predict import fast_predict
from bnnc.passes.lower_query import query_clauses
from bnnc.passes.pipeline import Compilation, Stage, compile_model
from bnnc.training.data import DEFAULT_THRESHOLD, Dataset
from bnnc.training.retrain import COUNT_METHODS as RETRAIN_COUNT_METHODS
from bnnc.training.retrain import format_table as format_retrain_table
from bnnc.training.train import Progress as TrainProgress

Model = BnnModel | IlpModel
TEXT_SUFFIXES = (".bnn", ".txt")

__all__ = [
    "COUNTERS",
    "DATA_NAMES",
    "DECIDERS",
    "DEFAULT_ENCODING",
    "DEFAULT_THRESHOLD",
    "ENCODINGS",
    "ENCODING_NAMES",
    "RETRAIN_COUNT_METHODS",
    "SAMPLERS",
    "SOLVERS",
    "CnfFormula",
    "Compilation",
    "CountMethod",
    "CountResult",
    "Dataset",
    "Labels",
    "Model",
    "Query",
    "RadiusStep",
    "Region",
    "RetrainRun",
    "Robustness",
    "SampleResult",
    "SatResult",
    "TrainProgress",
    "TrainRun",
    "VnnResult",
    "check_label_counts",
    "check_outputs",
    "check_sat",
    "checked_by_framework",
    "compile",
    "count",
    "count_every_label",
    "count_queries",
    "counts_label_by_label",
    "emit",
    "format_retrain_table",
    "format_vnnlib_result",
    "infer",
    "load",
    "load_dataset",
    "output_transaction",
    "parse_bits",
    "parse_label",
    "predict",
    "query",
    "read_input",
    "region_size",
    "retrain",
    "robustness",
    "sample",
    "save_onnx",
    "save_png_grid",
    "save_samples",
    "save_text",
    "to_dimacs",
    "train",
    "validate_samples",
    "variable_map",
    "vnnlib",
    "write_dimacs",
    "write_file",
    "write_variable_map",
]


def load(
    path: str | Path,
    *,
    cache: bool | None = None,
    input_domain: str | None = None,
    integer_inputs: bool = False,
) -> Model:
    """Read a model file: ONNX (``.onnx``) or bnnc's text language (anything else).

    An ONNX file read before comes from bnnc's cache in the user's cache directory
    (``bnnc.frontend.onnx.cache``), the same model without importing onnx; ``cache=False`` or
    ``BNNC_NO_CACHE=1`` reads the file anew.  ``input_domain`` declares the values the model's
    input takes (``pm1``, ``01``, ``int:LO..HI``, ``real``; docs/onnx.md, "Input domains"): an
    export whose first layer reads the input unbinarised needs ``pm1`` or ``01``.
    ``integer_inputs``: under ``int:LO..HI``, a first layer that reads the integers themselves
    is order-encoded (docs/domains.md; formulas carry the order clauses); without it, refused.
    """
    file = Path(path)
    domain = parse_input_domain(input_domain)
    if file.suffix.lower() == ".onnx":
        from bnnc.frontend.onnx import load_onnx

        return load_onnx(file, cache=cache, input_domain=domain, expand_int=integer_inputs)
    if domain is not None and domain.kind != "pm1":
        raise UsageError(
            f"input_domain: a model in the text language reads ±1 bits (pm1), not {domain}",
            parameter="input_domain",
        )
    from bnnc.frontend.text import load_text

    return load_text(file)


def compile(
    model: Model,
    encoding: str = DEFAULT_ENCODING,
    *,
    until: Stage = "cnf",
    region: Region | None = None,
    lazy: bool = False,
) -> Compilation:
    """Lower ``model`` to CNF (or only up to stage ``until``); ``lazy`` leaves the card and
    CNF stages for the first use of ``compiled.formula``.

    With ``region`` (e.g. ``query.region``), the network is specialised to it first: neurons
    and comparisons that are constant on the region are folded away, so that questions about a
    small region (a Hamming ball, fixed bits) get a small formula.  That formula is exact on the
    region's inputs and is always used with the region's clauses; queries over another region
    are refused.
    """
    return compile_model(model, encoding, until=until, region=region, lazy=lazy)


def emit(
    model: Model,
    stage: str,
    encoding: str = DEFAULT_ENCODING,
    *,
    region: Region | None = None,
    **dimacs: Any,
) -> str:
    """The text of one stage: ``bnn`` (text language), ``milp`` (CPLEX LP), ``ilp`` (lowered
    text language), ``spec`` (the lowered form specialised to ``region``), ``card`` (OPB) or
    ``cnf`` (DIMACS; keyword arguments as in to_dimacs)."""
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
    if stage == "spec":
        from bnnc.backend.text import print_ilp

        compiled = compile(model, encoding, until="spec", region=region)
        assert compiled.lowered is not None
        return print_ilp(compiled.lowered, region=region or model.region)
    if stage == "card":
        from bnnc.backend.opb import format_opb

        compiled = compile(model, encoding, until="card", region=region)
        assert compiled.card is not None
        return format_opb(compiled.card)
    if stage == "cnf":
        return to_dimacs(compile(model, encoding, region=region), **dimacs)
    raise UsageError(
        f"unknown stage {stage!r}; choose bnn, milp, ilp, spec, card or cnf", parameter="stage"
    )


def to_dimacs(
    compiled: Compilation,
    *,
    projection: Projection = "ind",
    target_label: int | None = None,
    query: Query | None = None,
) -> str:
    """The DIMACS text of a compilation, optionally with the output fixed to ``target_label``
    and with the clauses of ``query`` (a region, a label to hit or avoid)."""
    return format_dimacs(
        compiled.formula, **_dimacs_options(compiled, projection, target_label, query)
    )


def write_dimacs(
    compiled: Compilation,
    path: str | Path,
    *,
    projection: Projection = "ind",
    target_label: int | None = None,
    query: Query | None = None,
) -> None:
    """Write the DIMACS file atomically (no partial file on error or interrupt), streaming it
    block by block (``-`` writes to stdout); options as in :func:`to_dimacs`."""
    options = _dimacs_options(compiled, projection, target_label, query)
    _write_dimacs(path, compiled.formula, **options)


def _dimacs_options(
    compiled: Compilation, projection: Projection, target_label: int | None, query: Query | None
) -> DimacsOptions:
    if projection not in ("ind", "show"):
        raise UsageError(
            f"unknown projection {projection!r}; choose ind or show", parameter="projection"
        )
    options: DimacsOptions = {"projection": projection, "target_label": target_label}
    if query is None and compiled.formula.region is not None:
        query = Query(compiled.formula.region)  # a specialised formula needs its region
    if query is not None:
        formula = compiled.formula
        extra = query_clauses(query, formula)
        options["extra_clauses"] = extra.clauses
        options["num_vars"] = extra.num_vars
        options["query"] = query.describe(formula) if extra.clauses else None
    return options


def variable_map(compiled: Compilation) -> dict[str, Any]:
    """The variable map (inputs, outputs, hidden neurons, comparisons) as a JSON-able dict."""
    source = compiled.source
    conditions = source.input_conditions if isinstance(source, BnnModel) else None
    mapping = _variable_map(compiled.formula, conditions)
    if isinstance(source, BnnModel) and source.input_domain is not None:
        mapping["input_domain"] = str(source.input_domain)
    return mapping


def write_file(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (never a partial file), or to stdout for ``-``."""
    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(path, text)


def check_outputs(*paths: str | Path | None) -> None:
    """Refuse, before any work, an output path that cannot be written: its folder does not
    exist, or it is a directory or a read-only file (``-`` and None pass)."""
    for path in paths:
        check_writable(path)


def write_variable_map(compiled: Compilation, path: str | Path) -> None:
    write_atomic(path, json.dumps(variable_map(compiled), indent=1) + "\n")


def _on_region(compiled: Compilation, query: Query | None) -> Query | None:
    """A formula specialised to a region answers questions about that region: the default."""
    region = compiled.formula.region
    return Query(region) if query is None and region is not None else query


def check_sat(
    model: Model,
    compiled: Compilation | None = None,
    *,
    label: int | None = None,
    query: Query | None = None,
    search: bool = True,
    solver: str = "auto",
    time_limit: float | None = None,
    method: str = "auto",
) -> SatResult:
    """Inversion: find an input the network gives ``label`` (or that answers ``query``: a
    region, a label to avoid), checked by the reference; or prove there is none.

    ``method``: ``enumerate`` runs the reference on every input of the region; ``sat`` the
    witness search (unless ``search=False``) and then the solver; ``auto`` (the default)
    enumerates small regions.  The result says which method answered, and why.

    ``search`` first tries a short local search with the reference inference (bnnc.engines.search);
    a witness it finds is confirmed through the formula.  UNSAT always comes from the solver
    (``solver``: ``auto``, the fastest installed per the benchmark; ``cadical`` on the CNF; or
    ``exact`` / ``cpsat`` on the ILP stage as pseudo-Boolean constraints, optional extras; see
    ``SOLVERS``).  If ``time_limit`` (seconds) runs out first, the result is UNKNOWN
    (``satisfiable`` None).

    A witness over an integer first layer's order-encoded bits comes in its canonical
    (ordered) encoding: the search and the native solvers may set a pixel's true bits in any
    order, which means the same value (every bit of a pixel carries the same weight)."""
    result = _check_sat_any(
        model, compiled, label=label, query=query, search=search, solver=solver,
        time_limit=time_limit, method=method,
    )  # fmt: skip
    unary = model.order_encoded if isinstance(model, BnnModel) else 0
    if unary and result.witness is not None:
        counts = result.witness.reshape(-1, unary).sum(axis=1)
        ordered = (np.arange(unary)[None, :] < counts[:, None]).reshape(-1)
        result = replace(result, witness=ordered)
    return result


def _check_sat_any(
    model: Model,
    compiled: Compilation | None = None,
    *,
    label: int | None = None,
    query: Query | None = None,
    search: bool = True,
    solver: str = "auto",
    time_limit: float | None = None,
    method: str = "auto",
) -> SatResult:
    """:func:`check_sat` before the witness is put in canonical form."""
    compiled = compiled or compile(model)
    if compiled.pending is not None and method == "auto" and query is not None:
        # A lazy compilation: answer what the specialised ILP answers before building the CNF.
        spec = compiled.spec
        lowered = compiled.lowered
        if lowered is not None and (spec is None or query.region is spec.region):
            began = time.perf_counter()
            asked = make_query(model, label, query)
            early = check_sat_before_formula(
                model, lowered, asked, solver=solver, time_limit=time_limit
            )
            if early is not None:
                return early
            if time_limit is not None:
                time_limit = max(0.0, time_limit - (time.perf_counter() - began))
    query = _on_region(compiled, query)
    return _check_sat(
        model,
        compiled.formula,
        label,
        query=query,
        search=search,
        solver=solver,
        time_limit=time_limit,
        method=method,
        ilp=compiled.lowered,
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
    sampler: str = "auto",
    on_sample: Callable[[int], None] | None = None,
    time_limit: float | None = None,
    validate: bool = True,
) -> SampleResult:
    """Draw ``n`` inputs the network gives ``label`` (or that answer ``query``) with
    ``sampler`` (``auto``: exactly uniform from the network where affordable, else UniGen,
    almost-uniform; ``cmsgen``: fast, no uniformity guarantee; see bnnc.engines.sample);
    ``on_sample(drawn)`` is called after each draw; Ctrl-C or the ``time_limit`` (seconds) stop
    the draws and keep what was drawn.  Every sample is checked by the reference (InternalError
    if one fails) unless ``validate=False`` (then call :func:`validate_samples` yourself)."""
    from bnnc.engines.sample import sample as _sample

    compiled = compiled or compile(model)
    result = _sample(
        model,
        compiled.formula,
        make_query(model, label, _on_region(compiled, query)),
        n,
        seed=seed,
        unique=unique,
        sampler=sampler,
        on_sample=on_sample,
        time_limit=time_limit,
    )
    if validate:
        validate_samples(model, result)
    return result


def count(
    model: Model,
    compiled: Compilation | None = None,
    *,
    label: int | None = None,
    query: Query | None = None,
    method: Method | str = "auto",
    epsilon: float = 0.8,
    delta: float = 0.2,
    seed: int = 1,
    time_limit: float | None = None,
) -> CountResult:
    """The number of inputs the network gives ``label`` (or that answer ``query``): ``auto``
    (enumeration, the layer-wise count, Ganak, ApproxMC: the first that applies and finishes,
    see bnnc.engines.count_auto), ``layers``, exact (Ganak),
    (ε, δ)-approximate (ApproxMC), or any counter by name (``enumerate``: the formula's models
    by brute force) (see bnnc.engines.count), with its share of the
    input region, the counter's guarantee and the reason for the method."""
    from bnnc.engines.count import count as _count

    compiled = compiled or compile(model)
    asked = make_query(model, label, _on_region(compiled, query))
    if method in ("auto", "layers"):
        return count_queries(model, compiled.formula, [asked], method=method, epsilon=epsilon,
                             delta=delta, seed=seed, time_limit=time_limit)[0]  # fmt: skip
    return _count(
        compiled.formula,
        asked,
        method=method,
        epsilon=epsilon,
        delta=delta,
        seed=seed,
        time_limit=time_limit,
    )


def checked_by_framework(model: Model) -> bool:
    """Whether witnesses and samples of ``model`` are also checked by the model's own framework
    (onnxruntime for ONNX models), not only by the reference inference."""
    return isinstance(model, BnnModel) and model.framework_predict is not None


def infer(model: Model, compiled: Compilation | None, bits: ArrayLike) -> int:
    """Inference through the formula (paper's I(X = x)), checked against the reference."""
    compiled = compiled or compile(model)
    return _infer(model, compiled.formula, np.asarray(bits, dtype=bool).reshape(-1))


def predict(model: Model, bits: ArrayLike) -> NDArray[np.int64]:
    """The labels of a batch of input bits (True = +1): those of the model's own arithmetic
    (the reference inference), on every input.  Large batches run the bit-packed ILP of the
    model (``bnnc.passes.fast_predict``), compiled once per model."""
    return fast_predict(model, bits)
