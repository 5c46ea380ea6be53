"""Float exactness per row (issue 15, item 4): a row whose partial sums are all exact in
float32 has no rounding error, so a pair of such rows compares exactly even when other rows of
the same layer carry real biases; only pairs whose comparison really depends on the summation
order are refused (fixtures: tests/fixtures/domains/make_domain_fixtures.py)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

import bnnc
from bnnc.errors import ModelError
from bnnc.frontend.onnx.patterns import read
from bnnc.ir.bnn import BnnModel
from tests.helpers import solved_labels
from tests.paths import TESTS

DOMAINS = TESTS / "fixtures" / "domains"


def test_integer_rows_beside_real_rows_compile_and_agree_with_onnxruntime() -> None:
    path = DOMAINS / "mixed_bias.onnx"
    reading = read(path)
    output = reading.blocks[-1]
    assert output.bound is not None  # some rows are inexact (real biases) ...
    integer_rows = np.flatnonzero(output.offset == np.round(output.offset))
    assert integer_rows.tolist() == [0, 2, 4, 6, 8]
    assert (output.bound[integer_rows] == 0).all()  # ... the integer rows are exact
    assert (output.bound[output.offset != np.round(output.offset)] > 0).all()
    model = bnnc.load(path, cache=False)
    assert isinstance(model, BnnModel)
    rng = np.random.default_rng(0)
    inputs = rng.random((1000, 40)) < 0.5
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.where(inputs, np.float32(1), np.float32(0)).astype(np.float32)
    expected = [int(np.argmax(session.run(None, {"x": row[None, :]})[0])) for row in x]
    assert len(set(expected)) >= 4
    assert bnnc.predict(model, inputs).tolist() == expected
    formula = bnnc.compile(model).formula
    assert solved_labels(formula, inputs) == [[label] for label in expected]


def test_the_pairs_that_tie_exactly_are_reached() -> None:
    """The fixture really has the issue's pattern: classes 0 and 2 (biases −1 and 1) reach
    equal exact scores, which the whole-layer bound used to refuse."""
    reading = read(DOMAINS / "mixed_bias.onnx")
    output = reading.blocks[-1]
    n = np.count_nonzero(output.weights, axis=1)
    sums_0 = np.arange(-n[0], n[0] + 1, 2) - 1.0
    sums_2 = np.arange(-n[2], n[2] + 1, 2) + 1.0
    assert np.intersect1d(sums_0, sums_2).size > 0


def test_a_really_order_dependent_pair_is_still_refused() -> None:
    with pytest.raises(ModelError) as info:
        bnnc.load(DOMAINS / "order_dependent.onnx", cache=False)
    message = str(info.value)
    assert "\n" not in message
    assert "classes 1 and 5" in message
    assert "depends on the order in which the float sum is accumulated" in message


def test_the_refused_pair_really_depends_on_the_order() -> None:
    """Two orders of the same sum: bias last gives exactly t + 0.1; bias first, then +1 and −1,
    gives 0.100000024 — so class 5 would beat class 1 at equal sums."""
    bias = np.float32(0.1)
    bias_last = np.float32(np.float32(np.float32(1) - np.float32(1)) + bias)
    bias_first = np.float32(np.float32(bias + np.float32(1)) - np.float32(1))
    assert bias_last != bias_first
