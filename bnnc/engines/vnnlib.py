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
implies its atoms' clauses; one of the disjuncts must hold.

A ``sat`` answer's input is run through the model (onnxruntime, or onnx's reference evaluator
for custom operators) and its outputs are checked against the property, exactly, before it is
returned.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from bnnc.engines.base import Answer
from bnnc.engines.cadical import CaDiCaL
from bnnc.errors import InternalError, ModelError
from bnnc.frontend.onnx.predict import Predictor
from bnnc.frontend.vnnlib import Atom, VnnProperty
from bnnc.ir.bnn import BnnModel, InnerBlock, OutputBlock, output_scores
from bnnc.ir.reference import hidden_activations
from bnnc.ir.region import FREE, Region
from bnnc.ir.tensor import frozen, ternary
from bnnc.passes.pipeline import compile_model

Status = Literal["sat", "unsat", "timeout", "unknown"]
LAYER = "vnnlib"
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
) -> VnnResult:
    start = time.perf_counter()
    predictor = _check_shapes(model, prop)
    self_check(model, prop)
    region, on_box = _box_region(model, prop, predictor)
    if region is None:
        return VnnResult("unsat", "the box contains no input of the model's domain")
    table = _OutputTable(model)
    augmented, literals = _augment(model, prop, table)
    compiled = compile_model(augmented, encoding, region=region)
    formula = compiled.formula
    clauses: list[list[int]] = [list(c) for c in formula.clauses]
    clauses += [
        [formula.layout.input_var(bit) * (1 if region.fixed[bit] == 1 else -1)]
        for bit in np.flatnonzero(region.fixed != FREE).tolist()
    ]
    value_of = _literal_values(formula.layout.hidden, literals)
    top = formula.num_vars
    disjunct_vars = []
    for conj in prop.disjuncts:
        top += 1
        disjunct_vars.append(top)
        for atom in conj:
            for clause in table.atom_clauses(atom):
                lits = [-top]
                satisfied = False
                for sign, (cls, threshold) in clause:
                    value = value_of[(cls, threshold)]
                    if isinstance(value, bool):
                        satisfied |= value == sign
                    else:
                        lits.append(value if sign else -value)
                if not satisfied:
                    clauses.append(lits)
    clauses.append(disjunct_vars)  # empty when there is no disjunct: unsatisfiable
    remaining = None if timeout is None else timeout - (time.perf_counter() - start)
    if remaining is not None and remaining <= 0:
        return VnnResult("timeout", "the time ran out while compiling")
    decision = CaDiCaL().decide(clauses, top, time_limit=remaining)
    seconds = time.perf_counter() - start
    if decision.answer == Answer.UNKNOWN:
        return VnnResult("timeout", "the solver ran out of time", seconds=seconds)
    if decision.answer == Answer.UNSAT:
        return VnnResult("unsat", "CaDiCaL on the specialised formula", seconds=seconds)
    assert decision.values is not None
    bits = decision.values[1 : model.n_inputs + 1]
    x = _input_for(model, prop, predictor, bits, on_box[1])
    y = run_model(predictor, x)
    if not _confirmed(prop, x, y):
        raise InternalError(
            "the counterexample bnnc found does not satisfy the property when the model runs "
            "it; please report this"
        )
    return VnnResult("sat", "CaDiCaL on the specialised formula", x, y, seconds)


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
            "the model outputs its label (ArgMax/TopK), not the scores Y_j a property "
            "constrains",
            where=prop.path,
        )
    if model.output.oracle is None:
        raise ModelError(
            "the model's outputs are binarised: bnnc reads them as bits, not as the scores a "
            "property constrains",
            where=prop.path,
        )
    if prop.n_inputs != model.n_inputs or prop.n_outputs != model.n_classes:
        raise ModelError(
            f"the property declares {prop.n_inputs} inputs and {prop.n_outputs} outputs; the "
            f"model has {model.n_inputs} and {model.n_classes}",
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


def _box_region(
    model: BnnModel, prop: VnnProperty, predictor: Predictor
) -> tuple[Region | None, tuple[NDArray[np.bool_], NDArray[np.bool_]]]:
    """The fixed and free bits of the box (None: some element has no value in it), and each
    element's bit at the box's lower and upper end."""
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


def _input_for(
    model: BnnModel,
    prop: VnnProperty,
    predictor: Predictor,
    bits: NDArray[np.bool_],
    bit_at_hi: NDArray[np.bool_],
) -> NDArray[np.float64]:
    """Input values in the box that give ``bits`` (allowed by the box's region): under a
    binary domain the domain's values, else the box end whose bit is the wanted one."""
    ops, _ = _conditions(model)
    equal = np.array(ops) == "=="
    on = np.asarray(predictor.on_values, dtype=np.float64)
    off = np.asarray(predictor.off_values, dtype=np.float64)
    ends = np.where(bits == bit_at_hi, prop_upper(prop), prop_lower(prop))
    return np.asarray(np.where(equal, np.where(bits, on, off), ends), dtype=np.float64)


class _OutputTable:
    """The model's scores at every reachable pre-activation of every class, as fractions."""

    def __init__(self, model: BnnModel) -> None:
        self.weights = model.output.weights
        self.n_active = np.count_nonzero(self.weights, axis=1)
        width = int(self.n_active.max(initial=0))
        sums = np.arange(-width, width + 1, dtype=np.int64)
        grid = np.repeat(sums[:, None], model.n_classes, axis=1)
        scores = output_scores(model.output, grid, model.arithmetic)
        self.sums = sums
        self.scores = np.asarray(scores, dtype=np.float64)

    def reachable(self, cls: int) -> list[int]:
        n = int(self.n_active[cls])
        return list(range(-n, n + 1, 2))

    def score(self, cls: int, t: int) -> Fraction:
        return Fraction(float(self.scores[t + int(self.sums[-1]), cls]))

    def atom_clauses(self, atom: Atom) -> list[list[tuple[bool, tuple[int, int]]]]:
        """Clauses (of signed literals [t_cls ≥ threshold]) that hold iff the atom does."""
        terms = atom.coefficients
        if not terms:
            return [] if atom.holds([]) else [[]]
        if len(terms) > 2:
            raise ModelError(
                f"the output constraint {atom} involves {len(terms)} outputs; bnnc compiles "
                "constraints over one or two outputs"
            )
        first = terms[0][0]
        if len(terms) == 1:
            good = [self._holds(atom, {first: t}) for t in self.reachable(first)]
            return _interval_clauses(first, self.reachable(first), good, [])
        second = terms[1][0]
        clauses = []
        values = self.reachable(first)
        for a in values:
            good = [self._holds(atom, {first: a, second: b}) for b in self.reachable(second)]
            # [t_first = a] → t_second within the good interval
            guard = [(False, (first, a)), (True, (first, a + 2))]
            clauses += _interval_clauses(second, self.reachable(second), good, guard)
        return clauses

    def _holds(self, atom: Atom, sums: dict[int, int]) -> bool:
        y = [Fraction(0)] * (max(sums) + 1)
        for cls, t in sums.items():
            y[cls] = self.score(cls, t)
        return atom.holds(y)


def _interval_clauses(
    cls: int,
    values: list[int],
    good: list[bool],
    guard: list[tuple[bool, tuple[int, int]]],
) -> list[list[tuple[bool, tuple[int, int]]]]:
    """``guard ∨ (t_cls in the values where good)``; the good values must be an interval."""
    where = [k for k, g in enumerate(good) if g]
    if not where:
        return [list(guard)]
    first, last = where[0], where[-1]
    if last - first + 1 != len(where):
        raise ModelError(
            f"the scores of class {cls} are not monotone in its sum, so an output constraint "
            "is not an interval; bnnc cannot compile it"
        )
    clauses = []
    if first > 0:
        clauses.append([*guard, (True, (cls, values[first]))])
    if last < len(values) - 1:
        clauses.append([*guard, (False, (cls, values[last] + 2))])
    return clauses


def _augment(
    model: BnnModel, prop: VnnProperty, table: _OutputTable
) -> tuple[BnnModel, list[tuple[int, int]]]:
    """The model with one more layer ``vnnlib``: copies of the last layer's bits, then one
    neuron [t_cls ≥ threshold] per literal the property needs; the output reads the copies."""
    needed: set[tuple[int, int]] = set()
    for conj in prop.disjuncts:
        for atom in conj:
            for clause in table.atom_clauses(atom):
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


def self_check(model: BnnModel, prop: VnnProperty, samples: int = 8, seed: int = 0) -> None:
    """The model's outputs equal bnnc's scores on a few inputs of the box: the property's Y
    are the scores bnnc compiles (else a ModelError: e.g. outputs scaled after the scores)."""
    predictor = _check_shapes(model, prop)
    region, (_, bit_at_hi) = _box_region(model, prop, predictor)
    if region is None:
        return
    rng = np.random.default_rng(seed)
    for _ in range(samples):
        bits = np.where(region.fixed == FREE, rng.random(model.n_inputs) < 0.5, region.fixed == 1)
        x = _input_for(model, prop, predictor, bits, bit_at_hi)
        layers = hidden_activations(model, bits[None, :])
        h = np.where(layers[-1], 1, -1) if layers else np.where(bits, 1, -1)[None, :]
        pre = h @ model.output.weights.T.astype(np.int64)
        ours = np.asarray(output_scores(model.output, pre, model.arithmetic))[0]
        theirs = run_model(predictor, x)
        if not np.array_equal(ours.astype(np.float32), theirs.astype(np.float32)):
            raise ModelError(
                "the model's outputs are not the scores bnnc reads from its last layer "
                f"(e.g. {theirs[:3].tolist()} against {ours[:3].tolist()}), so a property "
                "over them cannot be compiled exactly",
                where=prop.path,
            )

