"""Helpers shared by the tests: every input of a small model, labels read by full SAT solving."""

from __future__ import annotations

import itertools

import numpy as np
from pysat.solvers import Solver

from bnnc.ir.cnf import CnfFormula


def all_inputs(n: int) -> np.ndarray:
    """Every ±1 input of n bits, as booleans (True = +1), in lexicographic order."""
    return np.array(list(itertools.product([False, True], repeat=n)), dtype=bool).reshape(-1, n)


def solved_labels(formula: CnfFormula, inputs: np.ndarray) -> list[list[int]]:
    """For each input row, the output labels true in a model found by a full CaDiCaL solve
    (independent of bnnc.engines.decide's propagation shortcut); asserts that a model exists."""
    layout = formula.layout
    labels = []
    with Solver(name="cadical195", bootstrap_with=formula.clauses) as solver:
        for row in inputs:
            assumptions = [layout.input_var(i) * (1 if b else -1) for i, b in enumerate(row)]
            assert solver.solve(assumptions=assumptions), "no model for an input"
            values = {abs(lit): lit > 0 for lit in solver.get_model() or []}
            labels.append(
                [c for c in range(layout.n_classes) if values.get(layout.output_var(c), False)]
            )
    return labels
