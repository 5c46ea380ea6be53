"""A query on the ILP stage as pseudo-Boolean constraints, for the native-constraint solvers.

The ILP stage (``bnnc.ir.ilp``) is already a system of linear threshold constraints; a solver
that reasons on linear constraints natively (Exact, CP-SAT: :class:`~bnnc.engines.base.
NativeDecider`) takes it one to one, without the cardinality encodings of the CNF stage:

* variable i (1..n) is input bit i − 1 (True = +1), as in the CNF layout, so a model's first n
  values are the input bits;
* every hidden neuron that still depends on the input gets a variable ``v ⇔ Σ w_j b_j ≥ B``
  over the 0/1 variables b_j of the layer below: ``⟨w, y⟩ ≥ C`` with y = 2b − 1 is
  ``2⟨w, b⟩ − Σ w ≥ C``, i.e. B = ⌈(C + Σ w) / 2⌉.  A constant neuron (an all-zero row, as the
  specialisation pass leaves it) gets no variable; its value is folded into the rows above;
* every pair of classes c < j gets ``r_cj ⇔ ⟨w_c − w_j, y⟩ ≥ beats[c, j]`` (or, for a staircase
  pair, ``r_cj ⇔ ∧_steps (s_j ≥ v → s_c ≥ u)`` with one reified constraint per side of a step);
  class c is the label ⇔ it ranks above every other class (rank(c, j) = r_cj for c < j, ¬r_jc
  for c > j), as in ``bnnc.passes.lower_ilp_to_card``;
* the query: a required label is one unit clause per rank literal, an excluded label one clause
  (some class ranks above it), a fixed bit a unit clause, and a Hamming ball one hard linear
  constraint: the flips ``Σ_{c_i=+1} (1 − b_i) + Σ_{c_i=−1} b_i ≤ K``.

Every neuron and comparison variable is a function of the inputs, so the problem has exactly
one model per input of the query (parsimony, as for the CNF).  Built from the ILP the formula
was compiled from (``Compilation.lowered``): specialised to the query's region when it is, so
the constraints are exact on the region, which the region constraints enforce.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bnnc.ir.ilp import IlpModel, Staircase
from bnnc.ir.query import Query
from bnnc.ir.region import FREE

Terms = tuple[tuple[int, int], ...]  # (coefficient, variable) pairs


@dataclass(frozen=True)
class Linear:
    """``Σ coefficient·variable ≥ bound`` over 0/1 variables; with ``head`` (a literal, ±var),
    reified: ``head ⇔ (Σ ≥ bound)``; without (``head`` 0), a hard constraint."""

    terms: Terms
    bound: int
    head: int = 0


@dataclass(frozen=True, eq=False)
class PbProblem:
    """Variables ``1..num_vars`` (the first ``n_inputs`` are the input bits), linear constraints
    and clauses (literals ±var); a model satisfies all of them."""

    num_vars: int
    n_inputs: int
    linear: tuple[Linear, ...]
    clauses: tuple[tuple[int, ...], ...]

    def satisfied_by(self, values: NDArray[np.bool_]) -> bool:
        """Whether ``values`` (``values[v]`` for v in 1..num_vars) satisfies every constraint:
        a check for tests and for backends' models."""
        assignment = np.asarray(values, dtype=bool)

        def true(lit: int) -> bool:
            return bool(assignment[abs(lit)]) == (lit > 0)

        for constraint in self.linear:
            total = sum(coef for coef, var in constraint.terms if assignment[var])
            holds = total >= constraint.bound
            if (constraint.head == 0 and not holds) or (
                constraint.head != 0 and holds != true(constraint.head)
            ):
                return False
        return all(any(true(lit) for lit in clause) for clause in self.clauses)


class _Builder:
    def __init__(self, n_inputs: int) -> None:
        self.num_vars = n_inputs
        self.linear: list[Linear] = []
        self.clauses: list[tuple[int, ...]] = []

    def new(self) -> int:
        self.num_vars += 1
        return self.num_vars

    def constant(self, value: bool) -> int:
        """A variable fixed to ``value`` (for a comparison that is constant)."""
        var = self.new()
        self.clauses.append((var if value else -var,))
        return var

    def reified(self, row: NDArray[np.int64], lits: NDArray[np.int64], threshold: int) -> int:
        """A variable ⇔ ⟨row, y⟩ ≥ threshold, y the ±1 values of the literals ``lits``
        (0: a constant neuron whose weight must be 0 here)."""
        active = np.flatnonzero(row)
        if active.size == 0:
            return self.constant(threshold <= 0)
        weights, signed = row[active], lits[active]
        # A negative literal ¬b is 1 − b: its weight moves to the other side.
        coefficients = weights * np.sign(signed)
        bound = _ceil_half(threshold + int(weights.sum())) - int(weights[signed < 0].sum())
        terms = tuple(zip(coefficients.tolist(), np.abs(signed).tolist(), strict=True))
        var = self.new()
        self.linear.append(Linear(terms, bound, var))
        return var


def _ceil_half(value: int) -> int:
    return -((-value) // 2)


def pb_problem(ilp: IlpModel, query: Query) -> PbProblem:
    """The query on ``ilp`` (the ILP the formula was compiled from) as a :class:`PbProblem`."""
    return pb_problem_and_last_layer(ilp, query)[0]


def pb_problem_and_last_layer(
    ilp: IlpModel, query: Query
) -> tuple[PbProblem, NDArray[np.int64], NDArray[np.int64]]:
    """:func:`pb_problem`, and per neuron of the last hidden layer its variable (0: constant)
    and its constant value (±1; 0 for a variable), for constraints over those neurons."""
    n_in, n_classes = ilp.n_inputs, ilp.n_classes
    build = _Builder(n_in)
    prev = np.arange(1, n_in + 1, dtype=np.int64)  # the literal of each value below (0: constant)
    prev_values = np.zeros(n_in, dtype=np.int64)  # +1 / −1 for a constant, 0 otherwise
    for layer in ilp.layers:
        weights = layer.weights.astype(np.int64)
        current = np.zeros(layer.n_out, dtype=np.int64)
        values = np.zeros(layer.n_out, dtype=np.int64)
        # Constant values below move into the thresholds (the ILP stage already leaves their
        # columns zero; this keeps the problem exact on an ILP that does not).
        thresholds = layer.thresholds.astype(np.int64) - weights @ prev_values
        weights = np.where(prev == 0, 0, weights)
        for i in range(layer.n_out):
            if not weights[i].any():
                values[i] = 1 if thresholds[i] <= 0 else -1
                continue
            current[i] = build.reified(weights[i], prev, int(thresholds[i]))
        prev, prev_values = current, values

    out = ilp.output
    scores = out.weights.astype(np.int64)
    shift = scores @ prev_values  # the constant part of each class's sum
    scores = np.where(prev == 0, 0, scores)
    staircases = {(st.above, st.below): st for st in out.staircases}
    rank: dict[tuple[int, int], int] = {}
    for c in range(n_classes):
        for j in range(c + 1, n_classes):
            if (c, j) in staircases:
                rank[(c, j)] = _staircase(build, staircases[(c, j)], scores, shift, prev)
            else:
                threshold = int(out.beats[c, j]) - int(shift[c] - shift[j])
                rank[(c, j)] = build.reified(scores[c] - scores[j], prev, threshold)

    def above(c: int, j: int) -> int:
        return rank[(c, j)] if c < j else -rank[(j, c)]

    if query.label is not None:
        build.clauses.extend((above(query.label, j),) for j in range(n_classes) if j != query.label)
    if query.not_label is not None:
        build.clauses.append(
            tuple(-above(query.not_label, j) for j in range(n_classes) if j != query.not_label)
        )
    _region(build, query)
    problem = PbProblem(build.num_vars, n_in, tuple(build.linear), tuple(build.clauses))
    return problem, prev, prev_values


def _staircase(
    build: _Builder,
    st: Staircase,
    scores: NDArray[np.int64],
    shift: NDArray[np.int64],
    prev: NDArray[np.int64],
) -> int:
    """``r ⇔ ∧_steps (s_below ≥ v → s_above ≥ u)`` with auxiliary variables per step."""
    steps: list[int] = []
    for v, u in st.steps:
        reaches = build.reified(scores[st.below], prev, v - int(shift[st.below]))
        rises = build.reified(scores[st.above], prev, u - int(shift[st.above]))
        step = build.new()  # step ⇔ (¬reaches ∨ rises)
        build.clauses += [(-step, -reaches, rises), (step, reaches), (step, -rises)]
        steps.append(step)
    var = build.new()
    build.clauses += [(-var, step) for step in steps]
    build.clauses.append((var, *(-step for step in steps)))
    return var


def _region(build: _Builder, query: Query) -> None:
    region = query.region
    for bit in np.flatnonzero(region.fixed != FREE).tolist():
        build.clauses.append((bit + 1 if region.fixed[bit] == 1 else -(bit + 1),))
    for ball in region.balls:
        if ball.max_flips >= region.n_inputs:
            continue  # the whole space
        # flips ≤ K  ⇔  Σ_{c=+1} b_i − Σ_{c=−1} b_i ≥ #(c=+1) − K
        centre = ball.center.astype(bool)
        coefficients = np.where(centre, 1, -1)
        terms = tuple(zip(coefficients.tolist(), range(1, region.n_inputs + 1), strict=True))
        build.linear.append(Linear(terms, int(centre.sum()) - ball.max_flips))


def switch_problem(
    ilp: IlpModel, query: Query, neurons: NDArray[np.intp], centre: NDArray[np.bool_], least: int
) -> PbProblem:
    """ "An input of the query's region on which at least ``least`` of the first layer's
    ``neurons`` differ from ``centre`` (their values at the ball's centre)" as a PbProblem:
    each neuron's value reified over the inputs, then one count over the switched ones."""
    build = _Builder(ilp.n_inputs)
    _region(build, query)
    inputs = np.arange(1, ilp.n_inputs + 1, dtype=np.int64)
    layer = ilp.layers[0]
    switched: list[tuple[int, int]] = []
    for neuron, fires in zip(neurons.tolist(), centre.tolist(), strict=True):
        row = layer.weights[neuron].astype(np.int64)
        var = build.reified(row, inputs, int(layer.thresholds[neuron]))
        # Σ switched ≥ least, a switched neuron being ¬var where the centre fires: 1 − var.
        switched.append((-1, var) if fires else (1, var))
    shift = sum(1 for coef, _ in switched if coef < 0)
    build.linear.append(Linear(tuple(switched), least - shift))
    return PbProblem(build.num_vars, ilp.n_inputs, tuple(build.linear), tuple(build.clauses))


def pattern_problem(
    ilp: IlpModel, query: Query, neurons: NDArray[np.intp], pattern: NDArray[np.bool_]
) -> PbProblem:
    """ "An input of the query's region on which the first layer's ``neurons`` take the values
    ``pattern`` (True: fires)" as a PbProblem: one hard constraint per neuron."""
    build = _Builder(ilp.n_inputs)
    _region(build, query)
    inputs = np.arange(1, ilp.n_inputs + 1, dtype=np.int64)
    layer = ilp.layers[0]
    for neuron, fires in zip(neurons.tolist(), pattern.tolist(), strict=True):
        row = layer.weights[neuron].astype(np.int64)
        var = build.reified(row, inputs, int(layer.thresholds[neuron]))
        build.clauses.append((var if fires else -var,))
    return PbProblem(build.num_vars, ilp.n_inputs, tuple(build.linear), tuple(build.clauses))
