"""The d4 counter (``count(method="d4")``): deterministic exact counts, checked against the
network's own labels on every input of small random networks, in regions with fixed bits and
Hamming balls; its time limit; and the error when ``d4solver`` is not installed."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import bnnc
from bnnc.engines import registry
from bnnc.engines.base import GuaranteeKind, TimeLimitError
from bnnc.engines.count import count
from bnnc.errors import UsageError
from bnnc.ir.query import Query
from bnnc.ir.region import Region
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs

pytest.importorskip("py_d4")  # the extra bnnc[d4], which bnnc[test] installs


@pytest.mark.parametrize(("shape", "seed", "encoding"), [
    ([8, 5, 3], 2, "totalizer"), ([9, 6, 4], 0, "auto"), ([7, 4, 4, 3], 5, "auto"),
])  # fmt: skip
def test_d4_counts_every_label_exactly(shape: list[int], seed: int, encoding: str) -> None:
    model = random_bnn(shape, seed=seed)
    formula = bnnc.compile(model, encoding).formula
    labels = bnnc.predict(model, all_inputs(shape[0]))
    everything = Region.everything(shape[0])
    for label in range(shape[-1]):
        result = count(formula, Query(everything, label=label), method="d4")
        assert result.count == int((labels == label).sum())
        assert result.guarantee.kind is GuaranteeKind.EXACT
        # bnnc's formulas are parsimonious: the unprojected count (d4's clause API) is the same.
        plain = count(formula, Query(everything, label=label), method="d4", projected=False)
        assert plain.count == result.count


def test_d4_counts_regions_exactly() -> None:
    n = 9
    model = random_bnn([n, 6, 3], seed=4)
    formula = bnnc.compile(model).formula
    inputs = all_inputs(n)
    labels = bnnc.predict(model, inputs)
    regions = [
        Region.with_fixed(n, {0: True, 3: False, 8: True}),
        Region.ball(inputs[101], 3),
        Region.ball(inputs[101], 4).intersect(Region.with_fixed(n, {2: False})),
    ]
    for region in regions:
        inside = region.contains(inputs)
        for label in range(3):
            result = count(formula, Query(region, label=label), method="d4")
            assert result.count == int(((labels == label) & inside).sum())
        # "not label 1" is a different query shape (a negated output).
        result = count(formula, Query(region, not_label=1), method="d4")
        assert result.count == int(((labels != 1) & inside).sum())


def test_d4_projects_on_the_projection_set() -> None:
    # x3 ∨ x1, ¬x3 ∨ x2: 4 models, 3 distinct on {x1, x2}; x4 and x5 are in no clause.
    clauses = [[1, 3], [2, -3]]
    d4 = registry.counter("d4")
    assert d4.count(clauses, 3, None).value == 4
    assert d4.count(clauses, 3, [1, 2]).value == 3
    assert d4.count(clauses, 5, [1, 2, 4]).value == 6
    assert d4.count(clauses, 5, None).value == 16
    assert d4.count([[1], [-1]], 2, [1, 2]).value == 0


def test_d4_stops_at_its_time_limit() -> None:
    model = random_bnn([40, 10, 10], seed=0)  # minutes for d4
    formula = bnnc.compile(model).formula
    with pytest.raises(TimeLimitError, match="d4"):
        count(formula, Query(Region.everything(40), label=2), method="d4", time_limit=0.5)


def test_a_missing_d4solver_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "py_d4", None)  # import py_d4 now raises ImportError
    with pytest.raises(UsageError, match=r"pip install 'bnnc\[d4\]'"):
        registry.counter("d4").count([[1]], 1, None)


def test_d4_counts_a_12_input_network() -> None:
    model = random_bnn([12, 6, 4], seed=0)
    formula = bnnc.compile(model).formula
    query = Query(Region.everything(12), label=2)
    labels = bnnc.predict(model, all_inputs(12))
    assert count(formula, query, method="d4").count == int(np.sum(labels == 2)) == 593


def test_the_api_counts_with_d4_by_name() -> None:
    # bnnc.count_queries passes a counter's registered name through (its Literal type lists the
    # CLI's methods only).
    model = random_bnn([8, 5, 3], seed=2)
    formula = bnnc.compile(model).formula
    labels = bnnc.predict(model, all_inputs(8))
    queries = [Query(Region.everything(8), label=label) for label in range(3)]
    results = bnnc.count_queries(model, formula, queries, method="d4")
    assert [r.count for r in results] == [int((labels == k).sum()) for k in range(3)]
    assert {r.method for r in results} == {"d4"}
