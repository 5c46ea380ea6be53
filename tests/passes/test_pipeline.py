"""The compiled formula agrees with the reference inference, and is parsimonious.

These are the tests that make bnnc's claim: for every encoding, fixing the input variables
yields exactly the reference label; the unprojected model count is 2^n (one model per input);
each label's model count equals brute-force enumeration.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pysat.solvers import Solver

import bnnc
from bnnc.encodings import ENCODING_NAMES
from bnnc.ir.bnn import BnnModel
from bnnc.ir.reference import predict
from bnnc.passes.pipeline import Compilation
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs, solved_labels
from tests.strategies import bnn_models

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def formula_labels(model: BnnModel, encoding: str, inputs: np.ndarray) -> list[list[int]]:
    """For each input row, the list of output labels true in the (unique) model."""
    return compiled_labels(bnnc.compile(model, encoding), inputs)


def compiled_labels(compiled: Compilation, inputs: np.ndarray) -> list[list[int]]:
    return solved_labels(compiled.formula, inputs)


@pytest.mark.parametrize("encoding", ["totalizer", "seqcounter"])
@SETTINGS
@given(model=bnn_models(max_inputs=40, max_width=8), seed=st.integers(0, 2**32 - 1))
def test_formula_agrees_with_reference_on_random_inputs(
    encoding: str, model: BnnModel, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    inputs = rng.random((24, model.n_inputs)) < 0.5
    inputs[0], inputs[1] = False, True
    expected = predict(model, inputs)
    assert formula_labels(model, encoding, inputs) == [[int(c)] for c in expected]


@SETTINGS
@given(model=bnn_models(max_inputs=10, max_width=5))
def test_direct_encoding_agrees_with_reference_on_every_input(model: BnnModel) -> None:
    inputs = all_inputs(model.n_inputs)
    expected = predict(model, inputs)
    assert formula_labels(model, "direct", inputs) == [[int(c)] for c in expected]


@pytest.mark.parametrize("encoding", ENCODING_NAMES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=bnn_models(max_inputs=10, max_width=5))
def test_exact_counts_match_enumeration(encoding: str, model: BnnModel) -> None:
    """Unprojected count = 2^n (parsimony) and each label's count = brute force."""
    pyganak = pytest.importorskip("pyganak")
    formula = bnnc.compile(model, encoding).formula
    brute = np.bincount(predict(model, all_inputs(model.n_inputs)), minlength=model.n_classes)

    def count(extra: list[list[int]]) -> int:
        counter = pyganak.Counter()
        counter.new_vars(formula.num_vars)
        for clause in [*formula.clauses, *extra]:
            counter.add_clause(clause)
        return int(counter.count())

    assert count([]) == 2**model.n_inputs
    for label in range(model.n_classes):
        assert count([[formula.layout.output_var(label)]]) == brute[label], label


@pytest.mark.parametrize("encoding", ENCODING_NAMES)
def test_every_input_of_a_paper_shaped_network(encoding: str) -> None:
    """A 12-input network with two hidden layers, all 4096 inputs."""
    model = random_bnn([12, 8, 6, 4], seed=7, input_shape=(3, 4))
    inputs = all_inputs(12)
    expected = predict(model, inputs)
    assert len(set(expected.tolist())) > 1, "a useful network gives several labels"
    assert formula_labels(model, encoding, inputs) == [[int(c)] for c in expected]


def test_inversion_finds_a_checked_witness_or_proves_unsat() -> None:
    model = random_bnn([9, 6, 4], seed=3, input_shape=(3, 3))
    labels = predict(model, all_inputs(9))
    compiled = bnnc.compile(model)
    for label in range(4):
        result = bnnc.check_sat(model, compiled, label=label)
        assert result.satisfiable == (label in labels)
        if result.satisfiable:
            assert result.witness is not None
            assert int(predict(model, result.witness)) == label


def test_infer_through_the_formula() -> None:
    model = random_bnn([25, 20, 10], seed=1, input_shape=(5, 5))
    compiled = bnnc.compile(model)
    rng = np.random.default_rng(0)
    for bits in rng.random((20, 25)) < 0.5:
        assert bnnc.infer(model, compiled, bits) == int(predict(model, bits))


def test_magnitude_dependent_comparisons_compile_exactly() -> None:
    """Biases 0 and 1e-300: at equal integer scores 0 the float comparison says class 1 wins,
    at equal scores 2 the bias rounds away and class 0 wins.  No threshold on s_0 − s_1 can
    express that; bnnc compiles it as a staircase (once its one documented refusal), and the
    formula agrees with the reference on every input."""
    from bnnc.ir.bnn import OutputBlock
    from bnnc.ir.tensor import frozen, ternary

    output = OutputBlock("out", ternary([[1, 1], [1, 1]]), frozen([0.0, 1e-300], np.float64))
    model = BnnModel("tiny_bias", (2,), (), output)
    labels = predict(model, np.array([[False, True], [True, True]]))
    # Equal rows: s_0 = s_1 always.  Input (−1, +1) gives s = 0: class 1 wins by 1e-300;
    # input (+1, +1) gives s = 2, where 2 + 1e-300 rounds to 2: a tie, so class 0 wins.
    assert labels.tolist() == [1, 0]
    assert 2.0 + 1e-300 == 2.0
    inputs = all_inputs(2)
    for encoding in ENCODING_NAMES:
        compiled = bnnc.compile(model, encoding)
        assert compiled.ilp is not None and compiled.ilp.output.staircases
        assert compiled_labels(compiled, inputs) == [[int(c)] for c in predict(model, inputs)]


def test_pass_errors_keep_their_type_and_name_the_pass() -> None:
    from bnnc.errors import EncodingLimitError

    model = random_bnn([30, 2, 2], seed=0)
    with pytest.raises(EncodingLimitError, match=r"^in pass lower_card_to_cnf: h1\[0\]: direct"):
        bnnc.compile(model, "direct")


@pytest.mark.parametrize("encoding", ENCODING_NAMES)
def test_hand_written_thresholds_of_either_parity(encoding: str) -> None:
    """A lowered model may give any integer C, also one that ⟨a, x⟩ can never equal (wrong
    parity, out of range): ⟨a, x⟩ ≥ C must still mean ⌈(C + n′)/2⌉ true literals."""
    from bnnc.frontend.text import parse_text

    rows = "\n".join(f"  +-+0 >= {c}\n  ++-- >= {c}" for c in range(-5, 6))
    text = (
        f"network parity\ninput 4\nthreshold h {{\n{rows}\n}}\n"
        "argmax out {\n  weights {\n"
        + "\n".join("    " + "".join("+-"[(i >> b) & 1] for b in range(22)) for i in (5, 9))
        + "\n  }\n  beats 0 1 >= 1\n}\n"
    )
    model = parse_text(text)
    inputs = all_inputs(4)
    hidden = bnnc.ir.reference.hidden_activations(model, inputs)[0]
    x = np.where(inputs, 1, -1)
    for i, c in enumerate(range(-5, 6)):  # the reference itself is the plain integer comparison
        assert (hidden[:, 2 * i] == (x @ [1, -1, 1, 0] >= c)).all()
    compiled = bnnc.compile(model, encoding)
    formula = compiled.formula
    with Solver(name="cadical195", bootstrap_with=formula.clauses) as solver:
        for row, fires in zip(inputs, hidden, strict=True):
            assumptions = [
                formula.layout.input_var(i) * (1 if b else -1) for i, b in enumerate(row)
            ]
            assert solver.solve(assumptions=assumptions)
            values = {abs(lit): lit > 0 for lit in solver.get_model()}
            got = [values[h.var] if h.var else h.constant == 1 for h in formula.layout.hidden]
            assert got == fires.tolist()
    labels = predict(model, inputs)
    assert compiled_labels(compiled, inputs) == [[int(c)] for c in labels]
