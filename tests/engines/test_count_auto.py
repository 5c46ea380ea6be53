"""count auto's chain and the layer-wise count: exact counts against brute force, the
guarantee each method states, and time limits that end in unknown."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bnnc.api as bnnc
from bnnc.engines import count_auto, count_layers
from bnnc.engines.base import GuaranteeKind
from bnnc.engines.count_layers import plan, region_label_counts_by_layers
from bnnc.errors import TimeLimitError
from bnnc.ir.bnn import BnnModel, InnerBlock, OutputBlock
from bnnc.ir.query import Query
from bnnc.ir.region import Region
from bnnc.ir.tensor import frozen, ternary
from bnnc.training.generate import random_bnn
from tests.engines.test_region_counts import networks_and_regions
from tests.helpers import all_inputs


@settings(max_examples=60, deadline=None)
@given(networks_and_regions())
def test_layer_counts_equal_brute_force(case: tuple[bnnc.BnnModel, Region]) -> None:
    model, region = case
    if plan(model, region) is None:
        return  # too many cells, or not one threshold: auto does not use it
    inputs = all_inputs(model.n_inputs)
    inside = inputs[region.contains(inputs)]
    expected = np.bincount(bnnc.predict(model, inside), minlength=model.n_classes)
    per_label, space = region_label_counts_by_layers(model, region)
    assert space == len(inside)
    assert per_label == expected.tolist()


def _one_neuron(n: int, threshold: float) -> BnnModel:
    """n inputs, one neuron with all weights +1 that fires when Σx + bias ≥ 0, two classes
    that copy it: label 1 for the inputs with at least (n − bias) / 2 bits set."""
    hidden = InnerBlock(
        "h",
        ternary(np.ones((1, n), dtype=np.int8)),
        frozen(np.array([-threshold]), np.float64),
        None,
    )
    output = OutputBlock(
        "out", ternary(np.array([[-1], [1]], dtype=np.int8)), frozen(np.zeros(2), np.float64)
    )
    model = BnnModel("one", (n,), (hidden,), output)
    model.verify()
    return model


def test_layer_counts_beyond_64_bits_are_exact() -> None:
    """100 free bits: counts reach 2^100 and are summed in two 64-bit limbs."""
    n = 100
    model = _one_neuron(n, 10.0)  # fires when Σx ≥ 10: at least 55 bits set
    per_label, space = region_label_counts_by_layers(model, Region.everything(n))
    high = sum(comb(n, k) for k in range(55, n + 1))
    # label 1 exactly when the neuron fires (scores −h, +h: never a tie)
    assert space == 1 << n and per_label == [(1 << n) - high, high]
    ball = Region.ball(np.zeros(n, dtype=bool), 60)  # at most 60 bits set
    per_label, space = region_label_counts_by_layers(model, ball)
    assert space == sum(comb(n, k) for k in range(61))
    assert per_label[1] == sum(comb(n, k) for k in range(55, 61))


def test_auto_uses_the_layer_count_where_enumeration_is_too_big() -> None:
    model = _one_neuron(40, 0.0)
    compiled = bnnc.compile(model)
    result = bnnc.count(model, compiled, label=1)
    assert result.method == "layers" and result.guarantee.kind is GuaranteeKind.EXACT
    assert result.count == sum(comb(40, k) for k in range(20, 41))
    assert "dynamic program" in result.reason


def _small() -> tuple[BnnModel, bnnc.CnfFormula, list[Query]]:
    model = random_bnn([8, 4, 3], seed=5)
    formula = bnnc.compile(model).formula
    queries = [Query(Region.everything(8), label=c) for c in range(3)]
    return model, formula, queries


def test_auto_falls_back_to_ganak_then_approxmc(monkeypatch: pytest.MonkeyPatch) -> None:
    model, formula, queries = _small()
    expected = np.bincount(bnnc.predict(model, all_inputs(8)), minlength=3).tolist()
    monkeypatch.setattr(count_auto, "ENUMERATE_AUTO", 0)
    monkeypatch.setattr(count_layers, "LAYERS_AUTO", 0)
    results = bnnc.count_queries(model, formula, queries)
    assert [r.method for r in results] == ["ganak"] * 3
    assert [r.count for r in results] == expected
    assert all(r.guarantee.kind is GuaranteeKind.PROBABLY_EXACT for r in results)
    monkeypatch.setattr(count_auto, "GANAK_AUTO", 0.0)  # Ganak never answers in 0 s
    results = bnnc.count_queries(model, formula, queries[:1], epsilon=0.5, delta=0.1)
    assert results[0].method == "approxmc" and "Ganak had no count" in results[0].reason
    assert results[0].guarantee.describe() == "within a factor 1.5 with probability ≥ 0.9"
    low, high = results[0].bounds
    assert low <= expected[0] <= high


def test_auto_at_its_time_limit_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    model, formula, queries = _small()
    monkeypatch.setattr(count_auto, "ENUMERATE_AUTO", 0)
    monkeypatch.setattr(count_layers, "LAYERS_AUTO", 0)
    with pytest.raises(TimeLimitError):
        bnnc.count_queries(model, formula, queries, time_limit=0.0)


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 1000))
def test_every_label_by_auto_sums_to_the_space(seed: int) -> None:
    model = random_bnn([10, 5, 4], seed=seed)
    compiled = bnnc.compile(model)
    query = Query(Region.everything(10))
    results = bnnc.count_every_label(model, compiled.formula, query)
    expected = np.bincount(bnnc.predict(model, all_inputs(10)), minlength=4).tolist()
    assert [r.count for r in results] == expected
    assert all(r.method == "enumerate" and r.guarantee.describe() == "exact" for r in results)
