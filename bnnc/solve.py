"""SAT solving on a compiled formula with a pysat solver (CaDiCaL): inversion and inference.

Both verbs check their answer against the reference inference before returning it: a witness
that the network does not give the target label, or an inferred label that differs from the
reference, is a bug in bnnc and raises :class:`~bnnc.errors.InternalError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bnnc.bnn import BnnModel
from bnnc.cnf import CnfFormula
from bnnc.errors import InternalError, ModelError
from bnnc.ilp import IlpModel
from bnnc.reference import predict

SOLVER = "cadical195"


@dataclass(frozen=True)
class SatResult:
    label: int
    satisfiable: bool
    witness: NDArray[np.bool_] | None  # input bits (True = +1) the network gives ``label``


def _solve(formula: CnfFormula, assumptions: list[int]) -> NDArray[np.bool_] | None:
    """Solve under assumptions; the value of every variable (index v for variable v), or None."""
    from pysat.solvers import Solver  # imported here: compiling alone never pays for it

    with Solver(name=SOLVER, bootstrap_with=formula.clauses) as solver:
        if not solver.solve(assumptions=assumptions):
            return None
        model = solver.get_model() or []
    # A variable in no clause (an input no neuron reads) may be missing: it is free; say −1.
    values = np.zeros(formula.num_vars + 1, dtype=bool)
    for lit in model:
        if 0 < abs(lit) <= formula.num_vars:
            values[abs(lit)] = lit > 0
    for lit in assumptions:
        values[abs(lit)] = lit > 0
    return values


def check_sat(model: BnnModel | IlpModel, formula: CnfFormula, label: int) -> SatResult:
    """Is there an input that the network gives ``label``?  Returns a checked witness if so."""
    layout = formula.layout
    if not 0 <= label < layout.n_classes:
        raise ModelError(f"label {label} is out of range 0..{layout.n_classes - 1}")
    values = _solve(formula, [layout.output_var(label)])
    if values is None:
        return SatResult(label, False, None)
    witness = values[1 : layout.n_inputs + 1].copy()
    got = int(predict(model, witness))
    if got != label:
        raise InternalError(
            f"witness for label {label} is labelled {got} by the reference inference; "
            "the formula disagrees with the network (please report this as a bnnc bug)"
        )
    return SatResult(label, True, witness)


def infer(model: BnnModel | IlpModel, formula: CnfFormula, bits: NDArray[np.bool_]) -> int:
    """The paper's I(X = x): fix the inputs, solve, read the one true output variable."""
    layout = formula.layout
    if bits.shape != (layout.n_inputs,):
        raise ModelError(f"expected {layout.n_inputs} input bits, got {bits.size}")
    assumptions = [layout.input_var(i) if b else -layout.input_var(i) for i, b in enumerate(bits)]
    values = _solve(formula, assumptions)
    if values is None:
        raise InternalError("the formula has no model for this input (please report this bug)")
    outputs = [c for c in range(layout.n_classes) if values[layout.output_var(c)]]
    expected = int(predict(model, bits))
    if outputs != [expected]:
        raise InternalError(
            f"the formula gives labels {outputs} where the reference gives {expected} "
            "(please report this as a bnnc bug)"
        )
    return expected
