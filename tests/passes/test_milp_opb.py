"""Meaning tests of the MILP (CPLEX LP, solved with HiGHS) and OPB writers.

Both are checked against the reference arithmetic of :mod:`bnnc.ir.bnn` on every input of small
random models: the MILP with the inputs fixed must pick the reference label (and hidden values),
the MILP with a label fixed must return an input of that label (network inversion, eq. 13), and
the OPB constraints must hold exactly on the reference assignment and fail when any defined
variable is flipped.  Golden texts pin both formats.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from bnnc.backend.lp import format_lp
from bnnc.backend.opb import format_opb
from bnnc.errors import InternalError
from bnnc.ir.bnn import (
    BatchNorm,
    BnnModel,
    InnerBlock,
    OutputBlock,
    block_activation,
    output_scores,
)
from bnnc.ir.card import AndGate, AtLeast, CardModel, Fact, Layout
from bnnc.ir.milp import LinearConstraint
from bnnc.ir.tensor import frozen, ternary
from bnnc.passes.lower_bnn_to_milp import lower_bnn_to_milp
from bnnc.passes.lower_ilp_to_card import lower_ilp_to_card
from bnnc.passes.lower_milp_to_ilp import lower_milp_to_ilp

# --------------------------------------------------------------------------- models


def _f(values: Any) -> NDArray[np.float64]:
    return frozen(values, np.float64)


def tiny_model() -> BnnModel:
    """Two inputs, a batch-norm block, a plain block whose name collides after sanitising."""
    bn = BatchNorm(_f([2.0, -1.0]), _f([0.25, 0.5]), _f([0.5, 0.0]), _f([1.0, 3.0]), 1e-5)
    return BnnModel(
        "tiny",
        (2,),
        (
            InnerBlock("h 1", ternary([[1, -1], [1, 1]]), _f([0.5, -0.5]), bn),
            InnerBlock("h-1", ternary([[1, 0], [-1, 1]]), _f([0.25, 0.75]), None),
        ),
        OutputBlock("out", ternary([[1, 0], [-1, 1], [0, -1]]), _f([0.0, 0.5, -0.25])),
    )


def _margin_ok(block_rows: NDArray[np.int8], bias: float, bn: tuple[float, ...] | None) -> float:
    """The smallest |z| over every integer pre-activation in reach of the row."""
    n = int(np.count_nonzero(block_rows))
    y = np.arange(-n, n + 1, dtype=np.float64) + bias
    if bn is None:
        return float(np.abs(y).min())
    gamma, beta, mean, var, eps = bn
    return float(np.abs((y - mean) / np.sqrt(var + eps) * gamma + beta).min())


def random_model(seed: int, *, margin: float | None) -> BnnModel:
    """4–8 inputs, 1–2 inner blocks, 2–4 classes.

    With ``margin``, every reachable z and every score difference stays at least ``margin``
    away from 0 (the LP approximates strict inequalities).  Without, biases come from a grid of
    quarters and batch norms may cross zero exactly on a reachable sum, so sign(0) and score
    ties occur (the exact stages must handle them).
    """
    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(4, 9))
    widths = [n_in] + [int(rng.integers(2, 5)) for _ in range(int(rng.integers(1, 3)))]
    blocks: list[InnerBlock] = []
    for k in range(len(widths) - 1):
        n_prev, n_out = widths[k], widths[k + 1]
        signs = rng.choice([-1, 1], size=(n_out, n_prev))
        weights = np.where(rng.random((n_out, n_prev)) < 0.2, 0, signs).astype(np.int8)
        use_bn = bool(rng.random() < 0.7)
        params: list[tuple[float, ...]] = []
        biases: list[float] = []
        for i in range(n_out):
            n_active = int(np.count_nonzero(weights[i]))
            while True:
                if margin is not None:
                    bias = float(rng.uniform(-3, 3))
                    bn = (
                        float(rng.choice([-1, 1]) * rng.uniform(0.3, 2.0)),
                        float(rng.uniform(-1, 1)),
                        float(rng.uniform(-2, 2)),
                        float(rng.uniform(0.1, 3.0)),
                        1e-5,
                    )
                    if _margin_ok(weights[i], bias, bn if use_bn else None) >= margin:
                        break
                else:
                    bias = float(rng.integers(-8, 9)) / 4
                    mode = rng.choice(["random", "on", "gamma0", "negative"])
                    s0 = int(rng.integers(-n_active, n_active + 1))
                    s0 -= (s0 + n_active) % 2  # a reachable sum
                    gamma = float(rng.choice([0.5, 1.0, 2.0]))
                    if mode == "random":
                        bn = (
                            float(rng.normal()),
                            float(rng.normal()),
                            float(rng.normal()),
                            3.0,
                            1.0,
                        )
                    elif mode == "gamma0":
                        bn = (0.0, float(rng.choice([0.0, -0.0, 1.5, -1.5])), 0.3, 3.0, 1.0)
                    else:  # z = 0 exactly at the reachable sum s0: sign(0) = +1 decides
                        sign = -1.0 if mode == "negative" else 1.0
                        bn = (sign * gamma, 0.0, s0 + bias, 3.0, 1.0)
                    break
            biases.append(bias)
            params.append(bn)
        batchnorm = None
        if use_bn:
            gamma_, beta, mean, var, eps = zip(*params, strict=True)
            batchnorm = BatchNorm(_f(gamma_), _f(beta), _f(mean), _f(var), eps[0])
        blocks.append(InnerBlock(f"b{k}.lin", ternary(weights), _f(biases), batchnorm))
    n_classes = int(rng.integers(2, 5))
    signs = rng.choice([-1, 1], size=(n_classes, widths[-1]))
    weights = np.where(rng.random(signs.shape) < 0.2, 0, signs).astype(np.int8)
    while True:
        if margin is not None:
            bias_out = rng.uniform(-2, 2, size=n_classes)
        else:
            bias_out = rng.integers(-4, 5, size=n_classes) / 2
        diffs = bias_out[:, None] - bias_out[None, :]
        off = np.abs(diffs - np.round(diffs))[~np.eye(n_classes, dtype=bool)]
        if margin is None or off.min() >= margin:
            break
    output = OutputBlock("logits", ternary(weights), _f(bias_out))
    model = BnnModel(f"random{seed}", (n_in,), tuple(blocks), output)
    model.verify()
    return model


def all_inputs(n: int) -> NDArray[np.bool_]:
    return np.array(list(itertools.product([False, True], repeat=n)), dtype=bool)


def reference(
    model: BnnModel, bits: NDArray[np.bool_]
) -> tuple[list[NDArray[np.bool_]], NDArray[np.float64], NDArray[np.int64]]:
    """Per-block activations, scores and argmax labels (ties to the lowest index) per input."""
    x = np.where(bits, 1, -1).astype(np.int64)
    activations = []
    for block in model.blocks:
        act = block_activation(block, x @ block.weights.T.astype(np.int64), model.arithmetic)
        activations.append(act)
        x = np.where(act, 1, -1).astype(np.int64)
    out = model.output
    scores = output_scores(out, x @ out.weights.T.astype(np.int64), model.arithmetic)
    return activations, scores.astype(np.float64), np.argmax(scores, axis=1)


LP_SEEDS = range(12)
OPB_SEEDS = range(60)

# --------------------------------------------------------------------------- MILP / LP


def test_milp_verify_catches_undeclared_variables() -> None:
    milp = lower_bnn_to_milp(tiny_model())
    milp.verify()
    missing = dataclasses.replace(
        milp, variables=tuple(v for v in milp.variables if v.name != "z_h_1_0")
    )
    with pytest.raises(InternalError, match="z_h_1_0"):
        missing.verify()


def _highs(text: str, tmp_path: Path) -> tuple[Any, Any, dict[str, int]]:
    highspy = pytest.importorskip("highspy")
    path = tmp_path / "model.lp"
    path.write_text(text)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    names = list(h.getLp().col_names_)
    return highspy, h, {name: k for k, name in enumerate(names)}


@pytest.mark.parametrize("seed", [None, *LP_SEEDS])
def test_lp_inference_matches_reference(seed: int | None, tmp_path: Path) -> None:
    model = tiny_model() if seed is None else random_model(seed, margin=1e-3)
    milp = lower_bnn_to_milp(model)
    milp.verify()
    highspy, h, col = _highs(format_lp(milp), tmp_path)
    bits = all_inputs(model.n_inputs)
    activations, _, labels = reference(model, bits)
    x_cols = [col[v] for v in milp.input_vars]
    for index, (row, label) in enumerate(zip(bits, labels, strict=True)):
        for k, bit in zip(x_cols, row, strict=True):
            h.changeColBounds(k, float(bit), float(bit))
        h.run()
        assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        value = np.asarray(h.getSolution().col_value)
        outputs = np.round(value[[col[o] for o in milp.output_vars]]).astype(int)
        assert outputs.tolist() == [int(c == label) for c in range(model.n_classes)], row
        for names, act in zip(milp.hidden_vars, activations, strict=True):
            hidden = np.round(value[[col[v] for v in names]]).astype(bool)
            assert hidden.tolist() == act[index].tolist(), row


@pytest.mark.parametrize("seed", [None, *LP_SEEDS])
def test_lp_inversion_finds_inputs_of_each_label(seed: int | None, tmp_path: Path) -> None:
    """eq. 13: fixing o_c = 1 gives an input the reference labels c, or infeasibility iff no
    input has label c."""
    model = tiny_model() if seed is None else random_model(seed, margin=1e-3)
    milp = lower_bnn_to_milp(model)
    highspy, h, col = _highs(format_lp(milp), tmp_path)
    _, _, labels = reference(model, all_inputs(model.n_inputs))
    for c, name in enumerate(milp.output_vars):
        h.changeColBounds(col[name], 1.0, 1.0)
        h.run()
        status = h.getModelStatus()
        if c in labels:
            assert status == highspy.HighsModelStatus.kOptimal
            value = np.asarray(h.getSolution().col_value)
            bits = np.round(value[[col[v] for v in milp.input_vars]]).astype(bool)
            assert reference(model, bits[None, :])[2][0] == c
        else:
            assert status == highspy.HighsModelStatus.kInfeasible
        h.changeColBounds(col[name], 0.0, 1.0)


@pytest.mark.parametrize("n_classes", [1, 2, 3, 4])
def test_milp_label_constraints_define_each_label(n_classes: int) -> None:
    """eq. 11 on its own: for every value of the comparison binaries g, the label constraints
    (without Σ o = 1) admit exactly o_c = ∧_{j>c} g_cj ∧ ∧_{j<c} ¬g_jc."""
    base = tiny_model()
    output = OutputBlock("out", ternary(np.ones((n_classes, 2))), _f(np.arange(n_classes) / 4))
    milp = lower_bnn_to_milp(dataclasses.replace(base, output=output))
    labels = [
        c for c in milp.constraints if isinstance(c, LinearConstraint) and c.name[:6] == "label_"
    ]
    assert len(labels) == n_classes * n_classes
    pairs = [(c, j) for c in range(n_classes) for j in range(c + 1, n_classes)]
    for g_bits in itertools.product([0, 1], repeat=len(pairs)):
        g = dict(zip(pairs, g_bits, strict=True))
        want = [
            int(all(g[(c, j)] if c < j else not g[(j, c)] for j in range(n_classes) if j != c))
            for c in range(n_classes)
        ]
        feasible = []
        for o_bits in itertools.product([0, 1], repeat=n_classes):
            value = {f"g_{c}_{j}": float(b) for (c, j), b in g.items()}
            value.update({f"o_{c}": float(b) for c, b in enumerate(o_bits)})
            if all(_holds(con, value) for con in labels):
                feasible.append(list(o_bits))
        assert feasible == [want], g


def _holds(con: LinearConstraint, value: dict[str, float]) -> bool:
    total = sum(t.coef * value[t.var] for t in con.terms)
    if con.sense == "<=":
        return total <= con.rhs
    return total >= con.rhs if con.sense == ">=" else total == con.rhs


def test_lp_native_indicators() -> None:
    text = format_lp(lower_bnn_to_milp(tiny_model()), indicators="native")
    assert " sign_h_1_0_on: h_h_1_0 = 1 -> z_h_1_0 >= 0.0\n" in text
    assert " cmp_1_2_off: g_1_2 = 0 -> s_1 - s_2 <= -1e-09\n" in text
    assert "big-M" not in text


GOLDEN_LP = r"""\ bnnc stage 2 (MILP) of BNN model 'tiny'
\ paper appendix A:
\   eq. 5   y_L_i = <a_i, x> + b_i
\   eq. 6   sqrt(var + eps) z_L_i = gamma y_L_i - gamma mean + sqrt(var + eps) beta
\           (z_L_i = y_L_i in a block without batch norm)
\   eq. 7   h_L_i = 1 <-> z_L_i >= 0
\   eq. 9   g_c_j = 1 <-> s_c >= s_j  (c < j; s_c = <a_c, h> + b_c)
\   eq. 11  o_c = 1 <-> g_c_j = 1 for all j > c and g_j_c = 0 for all j < c;
\           sum of o_c = 1 (argmax, ties to the lowest class)
\ x_i = 1 means input bit +1: its +-1 value is 2 x_i - 1 (likewise h_L_i)
\ the strict inequalities z < 0 and s_c < s_j are approximated by <= -1e-09;
\ the exact integer form is the next stage (bnnc.ir.ilp, eq. 8 and 10)
\ indicator constraints b = v -> expr are written in big-M form,
\ with M from the range of expr over all inputs
\ objective 0: a feasibility problem
Minimize
 obj:
Subject To
\ inner block 'h 1' (h_1): eq. 5 linear, eq. 6 batch norm, eq. 7 sign
 lin_h_1_0: y_h_1_0 - 2.0 x_0 + 2.0 x_1 = 0.5
 bn_h_1_0: 1.0000049999875 z_h_1_0 - 2.0 y_h_1_0 = -0.749998750003125
 sign_h_1_0_on: z_h_1_0 - 3.7499842501299994 h_h_1_0 >= -3.7499842501299994
 sign_h_1_0_off: z_h_1_0 - 4.249984251129999 h_h_1_0 <= -1e-09
 lin_h_1_1: y_h_1_1 - 2.0 x_0 - 2.0 x_1 = -2.5
 bn_h_1_1: 1.7320536943178177 z_h_1_1 + y_h_1_1 = 0.8660268471589089
 sign_h_1_1_on: z_h_1_1 - 0.3660259037856414 h_h_1_1 >= -0.3660259037856414
 sign_h_1_1_off: z_h_1_1 - 1.9433752117272243 h_h_1_1 <= -1e-09
\ inner block 'h-1' (h_1_2): eq. 5 linear, no batch norm (z = y), eq. 7 sign
 lin_h_1_2_0: y_h_1_2_0 - 2.0 h_h_1_0 = -0.75
 bn_h_1_2_0: z_h_1_2_0 - y_h_1_2_0 = 0.0
 sign_h_1_2_0_on: z_h_1_2_0 - 0.75000125 h_h_1_2_0 >= -0.75000125
 sign_h_1_2_0_off: z_h_1_2_0 - 1.250001251 h_h_1_2_0 <= -1e-09
 lin_h_1_2_1: y_h_1_2_1 + 2.0 h_h_1_0 - 2.0 h_h_1_1 = 0.75
 bn_h_1_2_1: z_h_1_2_1 - y_h_1_2_1 = 0.0
 sign_h_1_2_1_on: z_h_1_2_1 - 1.25000275 h_h_1_2_1 >= -1.25000275
 sign_h_1_2_1_off: z_h_1_2_1 - 2.7500027510000002 h_h_1_2_1 <= -1e-09
\ output block 'out': scores (eq. 5), order (eq. 9), label (eq. 11)
 score_0: s_0 - 2.0 h_h_1_2_0 = -1.0
 score_1: s_1 + 2.0 h_h_1_2_0 - 2.0 h_h_1_2_1 = 0.5
 score_2: s_2 + 2.0 h_h_1_2_1 = 0.75
 cmp_0_1_on: s_0 - s_1 - 3.5000035 g_0_1 >= -3.5000035
 cmp_0_1_off: s_0 - s_1 - 2.500003501 g_0_1 <= -1e-09
 cmp_0_2_on: s_0 - s_2 - 1.75000225 g_0_2 >= -1.75000225
 cmp_0_2_off: s_0 - s_2 - 2.250002251 g_0_2 <= -1e-09
 cmp_1_2_on: s_1 - s_2 - 2.25000375 g_1_2 >= -2.25000375
 cmp_1_2_off: s_1 - s_2 - 3.750003751 g_1_2 <= -1e-09
 label_0_1: o_0 - g_0_1 <= 0.0
 label_0_2: o_0 - g_0_2 <= 0.0
 label_0: o_0 - g_0_1 - g_0_2 >= -1.0
 label_1_0: o_1 + g_0_1 <= 1.0
 label_1_2: o_1 - g_1_2 <= 0.0
 label_1: o_1 + g_0_1 - g_1_2 >= 0.0
 label_2_0: o_2 + g_0_2 <= 1.0
 label_2_1: o_2 + g_1_2 <= 1.0
 label_2: o_2 + g_0_2 + g_1_2 >= 1.0
 one_label: o_0 + o_1 + o_2 = 1.0
Bounds
 y_h_1_0 free
 z_h_1_0 free
 y_h_1_1 free
 z_h_1_1 free
 y_h_1_2_0 free
 z_h_1_2_0 free
 y_h_1_2_1 free
 z_h_1_2_1 free
 s_0 free
 s_1 free
 s_2 free
Binaries
 x_0 x_1 h_h_1_0 h_h_1_1 h_h_1_2_0 h_h_1_2_1 g_0_1 g_0_2 g_1_2 o_0 o_1 o_2
End
"""


def test_lp_golden() -> None:
    assert format_lp(lower_bnn_to_milp(tiny_model())) == GOLDEN_LP


# --------------------------------------------------------------------------- OPB

Pb = tuple[list[tuple[int, int]], int]


def parse_opb(text: str) -> tuple[int, int, list[Pb]]:
    """Header counts and constraints (Σ coef·literal ≥ degree; literal −v is ~xv)."""
    lines = text.splitlines()
    header = re.fullmatch(r"\* #variable= (\d+) #constraint= (\d+)", lines[0])
    assert header is not None, lines[0]
    constraints: list[Pb] = []
    for line in lines[1:]:
        if line.startswith("*"):
            continue
        tokens = line.split()
        assert tokens[-1] == ";" and tokens[-3] == ">=", line
        terms = []
        for coef, lit in zip(tokens[:-3:2], tokens[1:-3:2], strict=True):
            assert re.fullmatch(r"[+-]\d+", coef) and re.fullmatch(r"~?x[1-9]\d*", lit), line
            var = int(lit.lstrip("~x"))
            terms.append((int(coef), -var if lit.startswith("~") else var))
        constraints.append((terms, int(tokens[-2])))
    return int(header[1]), int(header[2]), constraints


def satisfied(con: Pb, assignment: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Per row of ``assignment`` (column v = variable v), whether the constraint holds."""
    terms, degree = con
    total = np.zeros(assignment.shape[0], dtype=np.int64)
    for coef, lit in terms:
        column = assignment[:, abs(lit)]
        total += coef * (column if lit > 0 else ~column)
    return np.asarray(total >= degree)


def reference_assignment(model: BnnModel, card: CardModel) -> NDArray[np.bool_]:
    """Rows: every input; columns 1..N: the layout variables' values from the reference."""
    layout = card.layout
    bits = all_inputs(model.n_inputs)
    activations, scores, labels = reference(model, bits)
    assignment = np.zeros((bits.shape[0], layout.n_layout_vars + 1), dtype=bool)
    assigned = [0]
    assignment[:, 1 : model.n_inputs + 1] = bits
    assigned += range(1, model.n_inputs + 1)
    for c in range(model.n_classes):
        assignment[:, layout.output_var(c)] = labels == c
        assigned.append(layout.output_var(c))
    block_index = {block.name: k for k, block in enumerate(model.blocks)}
    for neuron in layout.hidden:
        values = activations[block_index[neuron.layer]][:, neuron.index]
        if neuron.var:
            assignment[:, neuron.var] = values
            assigned.append(neuron.var)
        else:  # a constant neuron really is constant, with the recorded sign
            assert (values == (neuron.constant > 0)).all()
    for comp in layout.comparisons:
        values = scores[:, comp.above] >= scores[:, comp.below]
        if comp.var:
            assignment[:, comp.var] = values
            assigned.append(comp.var)
        else:
            assert (values == comp.constant).all()
    assert sorted(assigned) == list(range(layout.n_layout_vars + 1))  # each variable once
    return assignment


def card_of(model: BnnModel) -> CardModel:
    card = lower_ilp_to_card(lower_milp_to_ilp(lower_bnn_to_milp(model)))
    card.verify()
    return card


@pytest.mark.parametrize("seed", [None, *OPB_SEEDS])
def test_opb_holds_exactly_on_the_reference(seed: int | None) -> None:
    model = tiny_model() if seed is None else random_model(seed, margin=None)
    card = card_of(model)
    text = format_opb(card)
    n_vars, n_constraints, constraints = parse_opb(text)
    layout = card.layout
    assert n_vars == layout.n_layout_vars
    assert n_constraints == len(constraints)
    expected = sum(
        2 if isinstance(c, AtLeast) else len(c.lits) + 1 if isinstance(c, AndGate) else 1
        for c in card.constraints
    )
    assert n_constraints == expected
    used = {abs(lit) for terms, _ in constraints for _, lit in terms}
    assert used <= set(range(1, n_vars + 1))
    defined = set(range(model.n_inputs + 1, n_vars + 1))  # outputs, hidden, comparisons
    assert defined <= used

    assignment = reference_assignment(model, card)
    holds = np.array([satisfied(con, assignment) for con in constraints])
    assert holds.all(), [constraints[k] for k in np.flatnonzero(~holds.all(axis=1))]
    # Every non-input variable is defined by the constraints: flipping it breaks one, on
    # every input (in particular the output variable of the true label).
    for var in sorted(defined):
        flipped = assignment.copy()
        flipped[:, var] = ~flipped[:, var]
        broken = np.array([~satisfied(con, flipped) for con in constraints]).any(axis=0)
        assert broken.all(), var


def test_opb_writer_semantics_by_brute_force() -> None:
    """Repeated and complementary literals, trivial bounds: the OPB constraints accept exactly
    the assignments that satisfy the cardinality semantics."""
    constraints = (
        AtLeast(5, (1, 1, -2, 3), 2, "repeated"),
        AtLeast(6, (1, -1, 2), 2, "complementary"),
        AtLeast(7, (1, 2), 0, "always"),
        AtLeast(8, (1, 2), 3, "never"),
        AndGate(9, (-5, 6), "gate"),
        Fact(-4, "fact"),
    )
    layout = Layout(3, 1, (), (), 9)
    card = CardModel("unit", (3,), None, layout, constraints)
    n_vars, n_constraints, parsed = parse_opb(format_opb(card))
    assert (n_vars, n_constraints) == (9, 2 * 4 + 3 + 1)
    assignment = np.array(list(itertools.product([False, True], repeat=10)), dtype=bool)
    assignment = assignment[~assignment[:, 0]]  # column 0 is unused

    def lit(v: int) -> NDArray[np.bool_]:
        return assignment[:, v] if v > 0 else ~assignment[:, -v]

    want = np.ones(assignment.shape[0], dtype=bool)
    for con in constraints:
        if isinstance(con, AtLeast):
            count = sum(lit(v).astype(int) for v in con.lits)
            want &= lit(con.out) == (count >= con.bound)
        elif isinstance(con, AndGate):
            want &= lit(con.out) == np.logical_and.reduce([lit(v) for v in con.lits])
        else:
            want &= lit(con.lit)
    got = np.logical_and.reduce([satisfied(con, assignment) for con in parsed])
    assert want.any() and (got == want).all()


GOLDEN_OPB = """* #variable= 12 #constraint= 23
* bnnc stage 4 (cardinality constraints) of BNN model 'tiny'
* input shape (2,), 2 inputs, 3 classes
* variable layout (x_i true means +1 for inputs and hidden neurons):
*   inputs       x1..x2 (2)
*   outputs      x3..x5 (3)
*   hidden       x6..x9 (4)
*     layer 'h 1': x6..x7 (2), 0 constant neurons
*     layer 'h-1': x8..x9 (2), 0 constant neurons
*   comparisons  x10..x12 (3), 0 constant (class c ranks above class j > c)
* satisfaction problem: no objective
* h 1[0]: x6 <=> at least 1 of 2 literals (two constraints)
+1 x1 +1 ~x2 +1 ~x6 >= 1 ;
+1 ~x1 +1 x2 +2 x6 >= 2 ;
* h 1[1]: x7 <=> at least 1 of 2 literals (two constraints)
+1 ~x1 +1 ~x2 +1 ~x7 >= 1 ;
+1 x1 +1 x2 +2 x7 >= 2 ;
* h-1[0]: x8 <=> at least 1 of 1 literals (two constraints)
+1 x6 +1 ~x8 >= 1 ;
+1 ~x6 +1 x8 >= 1 ;
* h-1[1]: x9 <=> at least 1 of 2 literals (two constraints)
+1 ~x6 +1 x7 +1 ~x9 >= 1 ;
+1 x6 +1 ~x7 +2 x9 >= 2 ;
* out: 0 vs 1: x10 <=> at least 2 of 3 literals (two constraints)
+2 x8 +1 ~x9 +2 ~x10 >= 2 ;
+2 ~x8 +1 x9 +2 x10 >= 2 ;
* out: 0 vs 2: x11 <=> at least 1 of 2 literals (two constraints)
+1 x8 +1 x9 +1 ~x11 >= 1 ;
+1 ~x8 +1 ~x9 +2 x11 >= 2 ;
* out: 1 vs 2: x12 <=> at least 2 of 3 literals (two constraints)
+1 ~x8 +2 x9 +2 ~x12 >= 2 ;
+1 x8 +2 ~x9 +2 x12 >= 2 ;
* out: label 0: x3 <=> x10 and x11 (3 clauses)
+1 ~x3 +1 x10 >= 1 ;
+1 ~x3 +1 x11 >= 1 ;
+1 x3 +1 ~x10 +1 ~x11 >= 1 ;
* out: label 1: x4 <=> ~x10 and x12 (3 clauses)
+1 ~x4 +1 ~x10 >= 1 ;
+1 ~x4 +1 x12 >= 1 ;
+1 x4 +1 x10 +1 ~x12 >= 1 ;
* out: label 2: x5 <=> ~x11 and ~x12 (3 clauses)
+1 ~x5 +1 ~x11 >= 1 ;
+1 ~x5 +1 ~x12 >= 1 ;
+1 x5 +1 x11 +1 x12 >= 1 ;
"""


def test_opb_golden() -> None:
    assert format_opb(card_of(tiny_model())) == GOLDEN_OPB
