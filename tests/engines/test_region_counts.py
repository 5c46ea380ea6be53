"""Counting a region by tabulating the first layer (engines/enumerate.region_label_counts) and
the ``auto`` counting method agree with running the reference on every input of the region."""

from __future__ import annotations

from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import bnnc.api as bnnc
from bnnc.engines import enumerate as enumerate_module
from bnnc.engines.count import ENUMERATE_AUTO, count_by_enumeration
from bnnc.engines.enumerate import enumerate_counts, region_label_counts
from bnnc.ir.bnn import BnnModel, InnerBlock, OutputBlock
from bnnc.ir.query import Query
from bnnc.ir.reference import predict as reference_predict
from bnnc.ir.region import Region
from bnnc.ir.tensor import frozen, ternary
from bnnc.passes.fast_predict import fast_predictor
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs


def refused(model: object) -> None:
    """``fast_predictor`` for a model the ILP stage refuses."""


@st.composite
def networks_and_regions(draw: st.DrawFn) -> tuple[BnnModel, Region]:
    n = draw(st.integers(3, 11))
    # First layers of up to 22 neurons are tabulated, wider ones run the rest on every input
    # (70: more than one packed word per row).
    hidden = draw(st.sampled_from([1, 3, 5, 8, 22, 23, 70]))
    widths = [n, hidden, *draw(st.lists(st.integers(2, 5), max_size=1)), draw(st.integers(2, 4))]
    model = random_bnn(widths, seed=draw(st.integers(0, 10_000)))
    fixed = draw(st.dictionaries(st.integers(0, n - 1), st.booleans(), max_size=n))
    region = Region.with_fixed(n, fixed)
    for _ in range(draw(st.integers(0, 2))):
        centre = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        region = region.intersect(Region.ball(centre, draw(st.integers(0, n))))
    return model, region


@settings(max_examples=60, deadline=None)
@given(networks_and_regions(), st.integers(1, 6), st.booleans())
def test_region_counts_equal_brute_force(
    case: tuple[BnnModel, Region], low: int, ilp: bool
) -> None:
    """Both readings of the first block agree with the reference: the ILP stage's thresholds,
    and the float reference's own table (what a model the ILP stage refuses gets)."""
    model, region = case
    inputs = all_inputs(model.n_inputs)
    inside = inputs[region.contains(inputs)]
    expected = np.bincount(reference_predict(model, inside), minlength=model.n_classes)
    with mock.patch.object(enumerate_module, "fast_predictor", fast_predictor if ilp else refused):
        counts, space = region_label_counts(model, region, low_bits=low)
    assert space == len(inside)
    assert counts.tolist() == expected.tolist()
    queries = [Query(region, label=c) for c in range(model.n_classes)]
    assert [r.count for r in count_by_enumeration(model, queries)] == expected.tolist()


def test_auto_enumerates_small_regions_and_says_so() -> None:
    model = random_bnn([24, 6, 3], seed=3)
    small = Region.with_fixed(24, {i: True for i in range(8)})
    assert 1 << 16 <= ENUMERATE_AUTO <= 1 << 25
    result = bnnc.count(model, bnnc.compile(model, region=small), query=Query(small, label=1))
    assert result.method == "enumerate" and "65,536 inputs" in result.reason
    assert result.guarantee.describe() == "exact"
    inputs = all_inputs(16)
    full = np.hstack([np.ones((len(inputs), 8), dtype=bool), inputs])
    assert result.count == int((bnnc.predict(model, full) == 1).sum())


def test_a_model_the_ilp_stage_refuses_is_counted_by_its_own_arithmetic() -> None:
    """A first block that fires at sums −1 and +1 only (not a threshold): the ILP stage refuses
    it, and enumeration reads the float reference's table instead."""

    def bumpy(s: np.ndarray) -> np.ndarray:
        return np.asarray(np.abs(s) == 1)

    block = InnerBlock("h1", ternary([[1, 1, 1, -1, 1]]), frozen([0.0], np.float64), None,
                       oracle=bumpy)  # fmt: skip
    output = OutputBlock("out", ternary([[1], [-1]]), frozen([0.0, 0.0], np.float64))
    model = BnnModel("bumpy", (5,), (block,), output)
    assert fast_predictor(model) is None
    expected = np.bincount(reference_predict(model, all_inputs(5)), minlength=2)
    assert enumerate_counts(model, low_bits=2).tolist() == expected.tolist()
    assert 0 < expected[0] < 32
