"""Counting a region by tabulating the first layer (engines/enumerate.region_label_counts) and
the ``auto`` counting method agree with running the reference on every input of the region."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import bnnc.api as bnnc
from bnnc.engines.count import ENUMERATE_AUTO, count_by_enumeration
from bnnc.engines.enumerate import region_label_counts
from bnnc.ir.query import Query
from bnnc.ir.region import Region
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs


@st.composite
def networks_and_regions(draw: st.DrawFn) -> tuple[bnnc.BnnModel, Region]:
    n = draw(st.integers(3, 11))
    # Wide first layers (> 62 neurons) take the packed-rows path.
    hidden = draw(st.sampled_from([1, 3, 5, 8, 70]))
    widths = [n, hidden, *draw(st.lists(st.integers(2, 5), max_size=1)), draw(st.integers(2, 4))]
    model = random_bnn(widths, seed=draw(st.integers(0, 10_000)))
    fixed = draw(st.dictionaries(st.integers(0, n - 1), st.booleans(), max_size=n))
    region = Region.with_fixed(n, fixed)
    for _ in range(draw(st.integers(0, 2))):
        centre = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        region = region.intersect(Region.ball(centre, draw(st.integers(0, n))))
    return model, region


@settings(max_examples=60, deadline=None)
@given(networks_and_regions(), st.integers(1, 6))
def test_region_counts_equal_brute_force(case: tuple[bnnc.BnnModel, Region], low: int) -> None:
    model, region = case
    inputs = all_inputs(model.n_inputs)
    inside = inputs[region.contains(inputs)]
    expected = np.bincount(bnnc.predict(model, inside), minlength=model.n_classes)
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
