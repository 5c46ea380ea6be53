"""Deciding a VNN-LIB property on a BNN read from ONNX: ``sat`` with a counterexample that the
model itself confirms, ``unsat``, ``timeout`` or ``unknown``.

**Inputs.**  Each input element's bit has a condition on the real input (``x ≥ t`` or
``x ≤ t`` where the graph binarises by threshold, ``x == v`` under a declared binary input
domain).  Over the box [lo, hi] of the element (its float32 values) the bit is fixed or free,
exactly: the box becomes a region of fixed bits (an empty one when some element has neither
value), and the network is specialised to it.

**Outputs.**  Y_j is the model's own score of class j, a function of the class's integer
pre-activation t_j (the output block's oracle, evaluated by the model's engine at every
reachable t_j).  An atom Σ a_j·Y_j ≤ b over one or two outputs is tabulated exactly (in
fractions) over the reachable values; scores are monotone in their own sums, so for each value
of the first sum the second ranges over an interval.  The atom is then clauses over threshold
literals [t_j ≥ v], which are extra neurons of one more layer (``vnnlib``: copies of the last
hidden layer and the literals; the output block reads the copies), so the whole pipeline
(specialisation, cardinality encodings) builds them.  A disjunct is a fresh variable that
implies its atoms' clauses; one of the disjuncts must hold.  CaDiCaL decides the CNF; an
integer first layer's boxes go to Exact (when installed) as pseudo-Boolean constraints over
the specialised ILP instead (:func:`property_problem`), with no cardinality networks.

A ``sat`` answer's input is run through the model (onnxruntime, or onnx's reference evaluator
for custom operators) and its outputs are checked against the property, exactly, before it is
returned.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from bnnc.engines import registry
from bnnc.engines.base import Answer
from bnnc.engines.cadical import CaDiCaL
from bnnc.engines.pb import PbProblem, pb_problem_and_last_layer
from bnnc.engines.vnnlib_atoms import Bands, OutputTable
from bnnc.errors import InternalError, ModelError
from bnnc.frontend.onnx.predict import Predictor, UnaryPredictor
from bnnc.frontend.vnnlib import VnnProperty
from bnnc.ir.bnn import BnnModel, InnerBlock, OutputBlock
from bnnc.ir.query import Query
from bnnc.ir.reference import hidden_activations
from bnnc.ir.region import FREE, Region
from bnnc.ir.tensor import frozen, ternary
from bnnc.passes.pipeline import compile_model

Status = Literal["sat", "unsat", "timeout", "unknown"]
LAYER = "vnnlib"
NATIVE = "exact"  # the solver of integer boxes, when installed
_CONDITION = re.compile(r"\[[\d,]*\] (>=|<=|==) (\S+)$")


@dataclass(frozen=True)
class VnnResult:
    status: Status
    reason: str = ""  # how it was decided, or why it was not
    x: NDArray[np.float64] | None = None  # sat: the counterexample (float32 values)
    y: NDArray[np.float64] | None = None  # sat: the model's outputs on it
    seconds: float = 0.0


def decide_vnnlib(
    model: BnnModel,
    prop: VnnProperty,
    *,
    timeout: float | None = None,
    encoding: str = "auto",
    bands: Bands | None = None,
) -> VnnResult:
    """Decide ``prop`` on ``model``.  ``bands``: per reachable sum (rows −n′ + 2m) and class,
    the lowest and highest score the model's float32 arithmetic gives in any summation order
    (``bnnc.frontend.onnx.exactness.score_bands``); without them the scores are taken as exact.

    An atom that some reachable sums leave undecided (its truth depends on the summation
    order) is first read as false: a counterexample found then is one in every order.  If
    there is none, the atom is read as true: no counterexample then means none in any order;
    one is kept only if the model itself (onnxruntime's order) confirms it, else ``unknown``.
    """
    start = time.perf_counter()
    predictor = _check_shapes(model, prop)
    table = OutputTable(model, bands)
    self_check(model, prop, table)
    region, (_, bit_at_hi) = box_region(model, prop, predictor)
    if region is None:
        return VnnResult("unsat", "the box contains no input of the model's domain")
    undecided = table.undecided(prop)
    for optimistic in (False, True) if undecided else (False,):
        remaining = None if timeout is None else timeout - (time.perf_counter() - start)
        if remaining is not None and remaining <= 0:
            return VnnResult("timeout", "the time ran out while compiling")
        deadline = None if timeout is None else start + timeout
        answer, bits = _solve(model, prop, table, region, encoding, optimistic, deadline)
        seconds = time.perf_counter() - start
        how = (
            "Exact on the specialised ILP"
            if model.order_encoded and registry.installed(NATIVE)
            else "CaDiCaL on the specialised formula"
        ) + (", order-dependent atoms read as true" if optimistic else "")
        if answer == Answer.UNKNOWN:
            return VnnResult("timeout", "the solver ran out of time", seconds=seconds)
        if answer == Answer.UNSAT:
            if optimistic or not undecided:
                return VnnResult("unsat", how, seconds=seconds)
            continue
        assert bits is not None
        x = _input_for(model, prop, predictor, bits, bit_at_hi)
        y = run_model(predictor, x)
        if _confirmed(prop, x, y):
            return VnnResult("sat", how, x, y, seconds)
        if not optimistic:
            raise InternalError(
                "the counterexample bnnc found does not satisfy the property when the model "
                "runs it; please report this"
            )
        return VnnResult(
            "unknown",
            "the only candidates bnnc found satisfy the property in some float summation "
            "orders but not in onnxruntime's",
            seconds=seconds,
        )
    raise InternalError("unreachable: the optimistic pass always answers")


def property_clauses(
    model: BnnModel,
    prop: VnnProperty,
    table: OutputTable,
    region: Region,
    encoding: str,
    optimistic: bool,
) -> tuple[Iterable[list[int]], int]:
    """The CNF of "an input of the region satisfies the property" and its number of variables;
    the input bits are variables 1..n (the formula's layout)."""
    augmented, literals = _augment(model, prop, table, optimistic)
    formula = compile_model(augmented, encoding, region=region).formula
    clauses: list[list[int]] = [
        [formula.layout.input_var(bit) * (1 if region.fixed[bit] == 1 else -1)]
        for bit in np.flatnonzero(region.fixed != FREE).tolist()
    ]
    # (an integer first layer's order clauses are in the formula: bnnc.passes.pipeline)
    value_of = _literal_values(formula.layout.hidden, literals)
    top = formula.num_vars
    disjunct_vars = []
    for conj in prop.disjuncts:
        top += 1
        disjunct_vars.append(top)
        for atom in conj:
            for clause in table.atom_clauses(atom, optimistic):
                lits = [-top]
                satisfied = False
                for sign, literal in clause:
                    value = value_of[literal]
                    if isinstance(value, bool):
                        satisfied |= value == sign
                    else:
                        lits.append(value if sign else -value)
                if not satisfied:
                    clauses.append(lits)
    clauses.append(disjunct_vars)  # empty when there is no disjunct: unsatisfiable
    return _Clauses(formula.clauses, clauses), top


def property_problem(
    model: BnnModel,
    prop: VnnProperty,
    table: OutputTable,
    region: Region,
    encoding: str,
    optimistic: bool,
) -> tuple[PbProblem, int]:
    """:func:`property_clauses` as pseudo-Boolean constraints over the specialised ILP
    (``bnnc.engines.pb``): the property's literals are the last hidden layer's neurons."""
    augmented, literals = _augment(model, prop, table, optimistic)
    ilp = compile_model(augmented, encoding, until="spec", region=region).lowered
    assert ilp is not None
    problem, lits, constants = pb_problem_and_last_layer(ilp, Query(region))
    width = len(lits) - len(literals)
    value_of: dict[tuple[int, int], int | bool] = {
        literal: int(lits[width + k]) or bool(constants[width + k] > 0)
        for k, literal in enumerate(literals)
    }
    top = problem.num_vars
    clauses = list(problem.clauses)
    disjunct_vars = []
    for conj in prop.disjuncts:
        top += 1
        disjunct_vars.append(top)
        for atom in conj:
            for clause in table.atom_clauses(atom, optimistic):
                lits_: list[int] = [-top]
                satisfied = False
                for sign, literal in clause:
                    value = value_of[literal]
                    if isinstance(value, bool):
                        satisfied |= value == sign
                    else:
                        lits_.append(value if sign else -value)
                if not satisfied:
                    clauses.append(tuple(lits_))
    clauses.append(tuple(disjunct_vars))
    return replace(problem, num_vars=top, clauses=tuple(clauses)), top


class _Clauses:
    """The formula's clauses, then the property's: iterated once by the solver, never copied
    (a copy of a million clauses took seconds)."""

    def __init__(self, formula: Any, extra: list[list[int]]) -> None:
        self.formula, self.extra = formula, extra

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.formula
        yield from self.extra


def _solve(
    model: BnnModel,
    prop: VnnProperty,
    table: OutputTable,
    region: Region,
    encoding: str,
    optimistic: bool,
    deadline: float | None,
) -> tuple[Answer, NDArray[np.bool_] | None]:
    if model.order_encoded and registry.installed(NATIVE):
        # Integer boxes: Exact on the specialised ILP, no cardinality networks over the unary
        # bits (bench/pixels.py: median < 0.6 s at every ε against 2-31 s for CaDiCaL).
        problem, top = property_problem(model, prop, table, region, encoding, optimistic)
        time_limit = None if deadline is None else deadline - time.perf_counter()
        if time_limit is not None and time_limit <= 0:
            return Answer.UNKNOWN, None
        decision = registry.native_decider(NATIVE).decide(problem, time_limit=time_limit)
    else:
        clauses, top = property_clauses(model, prop, table, region, encoding, optimistic)
        time_limit = None if deadline is None else deadline - time.perf_counter()
        if time_limit is not None and time_limit <= 0:  # compiling took the time: do not solve
            return Answer.UNKNOWN, None
        decision = CaDiCaL().decide(clauses, top, time_limit=time_limit)
    if decision.answer != Answer.SAT:
        return decision.answer, None
    assert decision.values is not None
    return decision.answer, np.asarray(decision.values[1 : model.n_inputs + 1], dtype=bool)


def prop_lower(prop: VnnProperty) -> NDArray[np.float64]:
    """The box's lower ends rounded up to float32 (the model reads float32 inputs)."""
    return np.array([_float32_at_least(v) for v in prop.lower])


def prop_upper(prop: VnnProperty) -> NDArray[np.float64]:
    return np.array([_float32_at_most(v) for v in prop.upper])


def _float32_at_least(v: Fraction) -> float:
    f = np.float32(float(v))
    if Fraction(float(f)) < v:
        f = np.nextafter(f, np.float32(np.inf))
    return float(f)


def _float32_at_most(v: Fraction) -> float:
    f = np.float32(float(v))
    if Fraction(float(f)) > v:
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def run_model(predictor: Predictor, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """The model's own outputs on the input x (flattened)."""
    tensor = x.astype(predictor.input_dtype).reshape(predictor.input_shape)
    out = predictor.engine().run({predictor.input_name: tensor})[0]
    return np.asarray(out, dtype=np.float64).reshape(-1)


def _confirmed(prop: VnnProperty, x: NDArray[np.float64], y: NDArray[np.float64]) -> bool:
    inside = all(
        lo <= Fraction(float(v)) <= hi
        for v, lo, hi in zip(x.tolist(), prop.lower, prop.upper, strict=True)
    )
    return inside and prop.outputs_hold([Fraction(float(v)) for v in y.tolist()])


def _check_shapes(model: BnnModel, prop: VnnProperty) -> Predictor:
    predictor = model.framework_predict
    if not isinstance(predictor, Predictor) or model.input_conditions is None:
        raise ModelError("VNN-LIB properties are decided on ONNX models", where=prop.path)
    if predictor.single_label:
        raise ModelError(
            "the model outputs its label (ArgMax/TopK), not the scores Y_j a property constrains",
            where=prop.path,
        )
    if model.output.oracle is None:
        raise ModelError(
            "the model's outputs are binarised: bnnc reads them as bits, not as the scores a "
            "property constrains",
            where=prop.path,
        )
    n_elements = int(np.prod(predictor.input_shape))
    if prop.n_inputs != n_elements or prop.n_outputs != model.n_classes:
        raise ModelError(
            f"the property declares {prop.n_inputs} inputs and {prop.n_outputs} outputs; the "
            f"model has {n_elements} and {model.n_classes}",
            where=prop.path,
        )
    return predictor


def _conditions(model: BnnModel) -> tuple[list[str], NDArray[np.float64]]:
    assert model.input_conditions is not None
    ops, values = [], []
    for condition in model.input_conditions:
        match = _CONDITION.search(condition)
        if match is None:
            raise InternalError(f"cannot read the input condition {condition!r}")
        ops.append(match[1])
        values.append(float(match[2]))
    return ops, np.array(values)


def box_region(
    model: BnnModel, prop: VnnProperty, predictor: Predictor
) -> tuple[Region | None, tuple[NDArray[np.bool_], NDArray[np.bool_]]]:
    """The fixed and free bits of the box (None: some element has no value in it), and each
    element's bit at the box's lower and upper end."""
    if isinstance(predictor, UnaryPredictor):
        return _unary_region(model, prop, predictor)
    ops, t = _conditions(model)
    lo, hi = prop_lower(prop), prop_upper(prop)
    on = np.asarray(predictor.on_values, dtype=np.float64)
    off = np.asarray(predictor.off_values, dtype=np.float64)
    op = np.array(ops)
    with np.errstate(invalid="ignore"):
        can_true = np.where(
            op == ">=", hi >= t, np.where(op == "<=", lo <= t, (lo <= on) & (on <= hi))
        )
        can_false = np.where(
            op == ">=", lo < t, np.where(op == "<=", hi > t, (lo <= off) & (off <= hi))
        )
    bit_at_lo = np.where(op == ">=", lo >= t, np.where(op == "<=", lo <= t, ~can_false))
    bit_at_hi = np.where(op == ">=", hi >= t, np.where(op == "<=", hi <= t, can_true))
    if (lo > hi).any() or not (can_true | can_false).all():
        return None, (bit_at_lo, bit_at_hi)
    fixed = np.where(can_true & can_false, FREE, np.where(can_true, 1, 0)).astype(np.int8)
    return Region(model.n_inputs, frozen(fixed, np.int8)), (bit_at_lo, bit_at_hi)


def _unary_region(
    model: BnnModel, prop: VnnProperty, predictor: UnaryPredictor
) -> tuple[Region | None, tuple[NDArray[np.bool_], NDArray[np.bool_]]]:
    """Integer inputs LO..HI, order-encoded: element j's integers in its box are
    pmin..pmax, so its unary bit k (value ≥ LO + k + 1) is fixed true up to pmin, false
    beyond pmax, free between."""
    low, k = predictor.low, predictor.unary
    pmin = np.array([max(low, math.ceil(v)) for v in prop.lower])
    pmax = np.array([min(low + k, math.floor(v)) for v in prop.upper])
    level = low + 1 + np.arange(k)
    fixed = np.where(
        level[None, :] <= pmin[:, None],
        1,
        np.where(level[None, :] > pmax[:, None], 0, FREE),
    ).astype(np.int8)
    unused = np.zeros(model.n_inputs, dtype=bool)
    if (pmin > pmax).any():
        return None, (unused, unused)
    return Region(model.n_inputs, frozen(fixed.reshape(-1), np.int8)), (unused, unused)


def _input_for(
    model: BnnModel,
    prop: VnnProperty,
    predictor: Predictor,
    bits: NDArray[np.bool_],
    bit_at_hi: NDArray[np.bool_],
) -> NDArray[np.float64]:
    """Input values in the box that give ``bits`` (allowed by the box's region): under a
    binary domain the domain's values, else the box end whose bit is the wanted one."""
    if isinstance(predictor, UnaryPredictor):
        return np.asarray(predictor.tensor(bits), dtype=np.float64).reshape(-1)
    ops, _ = _conditions(model)
    equal = np.array(ops) == "=="
    on = np.asarray(predictor.on_values, dtype=np.float64)
    off = np.asarray(predictor.off_values, dtype=np.float64)
    ends = np.where(bits == bit_at_hi, prop_upper(prop), prop_lower(prop))
    return np.asarray(np.where(equal, np.where(bits, on, off), ends), dtype=np.float64)


def _augment(
    model: BnnModel, prop: VnnProperty, table: OutputTable, optimistic: bool
) -> tuple[BnnModel, list[tuple[int, int]]]:
    """The model with one more layer ``vnnlib``: copies of the last layer's bits, then one
    neuron [t_cls ≥ threshold] per literal the property needs; the output reads the copies."""
    needed: set[tuple[int, int]] = set()
    for conj in prop.disjuncts:
        for atom in conj:
            for clause in table.atom_clauses(atom, optimistic):
                needed.update(literal for _, literal in clause)
    literals = sorted(needed)
    width = model.blocks[-1].n_out if model.blocks else model.n_inputs
    copies = np.eye(width, dtype=np.int8)
    rows = [model.output.weights[cls] for cls, _ in literals]
    weights = ternary(np.vstack([copies, *rows]) if rows else copies)
    thresholds = np.array([v for _, v in literals], dtype=np.int64)

    def oracle(s: NDArray[np.int64]) -> NDArray[np.bool_]:
        return np.concatenate([s[..., :width] >= 0, s[..., width:] >= thresholds], axis=-1)

    layer = InnerBlock(
        name=LAYER,
        weights=weights,
        bias=frozen(np.zeros(weights.shape[0]), np.float64),
        batchnorm=None,
        oracle=oracle,
    )
    pad = np.zeros((model.n_classes, len(literals)), dtype=np.int8)
    output = OutputBlock(
        name=model.output.name,
        weights=ternary(np.hstack([model.output.weights, pad])),
        bias=model.output.bias,
        oracle=model.output.oracle,
    )
    augmented = BnnModel(
        name=model.name,
        input_shape=model.input_shape,
        blocks=(*model.blocks, layer),
        output=output,
        class_names=model.class_names,
        arithmetic=model.arithmetic,
        order_encoded=model.order_encoded,  # the formula then carries the order clauses
    )
    return augmented, literals


def _literal_values(hidden: Any, literals: list[tuple[int, int]]) -> dict[Any, int | bool]:
    """Each literal's CNF variable, or its constant value where the pipeline folded it."""
    index_of = {literal: k for k, literal in enumerate(literals)}
    width = None
    found: dict[int, int | bool] = {}
    layer = [h for h in hidden if h.layer == LAYER]
    if layer:
        width = len(layer) - len(literals)
    for h in layer:
        k = h.index - (width or 0)
        if k >= 0:
            found[k] = h.var if h.var else h.constant > 0
    missing = [literal for literal, k in index_of.items() if k not in found]
    if missing:
        raise InternalError(f"the formula lost the property's literals {missing[:3]}")
    return {literal: found[k] for literal, k in index_of.items()}


def self_check(model: BnnModel, prop: VnnProperty, table: OutputTable, samples: int = 8) -> None:
    """The model's outputs lie in bnnc's score bands on a few inputs of the box: the
    property's Y are the scores bnnc compiles (else a ModelError: e.g. outputs scaled after
    the scores)."""
    predictor = _check_shapes(model, prop)
    region, (_, bit_at_hi) = box_region(model, prop, predictor)
    if region is None:
        return
    rng = np.random.default_rng(0)
    for _ in range(samples):
        bits = np.where(region.fixed == FREE, rng.random(model.n_inputs) < 0.5, region.fixed == 1)
        x = _input_for(model, prop, predictor, bits, bit_at_hi)
        layers = hidden_activations(model, bits[None, :])
        h = np.where(layers[-1], 1, -1) if layers else np.where(bits, 1, -1)[None, :]
        sums = (h @ model.output.weights.T.astype(np.int64))[0]
        theirs = run_model(predictor, x)
        for cls, (t, y) in enumerate(zip(sums.tolist(), theirs.tolist(), strict=True)):
            low, high = table.band(cls, t)
            if not low <= Fraction(y) <= high:
                raise ModelError(
                    f"the model's output Y_{cls} = {y!r} is not the score bnnc reads from its "
                    f"last layer ({float(low)!r} … {float(high)!r}), so a property over the "
                    "outputs cannot be compiled exactly",
                    where=prop.path,
                )
