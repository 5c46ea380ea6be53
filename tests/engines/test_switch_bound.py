"""The switch bound (engines/switch_bound) proves only what brute force confirms: when it says
no input of the ball reaches an answering pattern, no input of the ball answers the query."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bnnc.api as bnnc
from bnnc.engines.region_points import region_points
from bnnc.engines.switch_bound import switch_bound
from bnnc.engines.tabulate import tabulate
from bnnc.ir.ilp import ArgmaxLayer, IlpModel, ThresholdLayer
from bnnc.ir.query import Query
from bnnc.ir.region import Region
from bnnc.passes.pipeline import compile_model
from bnnc.passes.specialise import specialise
from bnnc.training.generate import random_bnn

pytest.importorskip("exact", reason="the switch bound needs Exact (pip install 'bnnc[exact]')")


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 4),
    st.dictionaries(st.integers(0, 17), st.booleans(), max_size=4),
    st.booleans(),
    st.sampled_from([0, 64]),
)
def test_a_proof_is_confirmed_by_brute_force(
    seed: int, k: int, fixed: dict[int, bool], with_table: bool, checks: int
) -> None:
    model = random_bnn([18, 10, 5, 3], seed=seed)
    rng = np.random.default_rng(seed)
    centre = rng.random(18) < 0.5
    label = int(bnnc.predict(model, centre[None, :])[0])
    region = Region.with_fixed(18, fixed).intersect(Region.ball(centre, k))
    query = Query(region, not_label=label)
    ilp = compile_model(model, "adder", until="ilp").ilp
    assert ilp is not None
    spec = specialise(ilp, region).ilp
    table = tabulate(spec) if with_table else None
    bound = switch_bound(spec, table, query, time_limit=10.0, pattern_checks=checks)
    if bound is not None and bound.proved:
        points = list(region_points(region))
        if points:
            assert not query.accepts(model, np.vstack(points)).any()
    if bound is not None and bound.witness is not None:
        assert query.accepts(model, bound.witness[None, :])[0]


def two_detectors() -> IlpModel:
    """Label 1 iff neuron A (≥ 2 of bits 0–5 set) and neuron B (≥ 2 of bits 6–11 set) both
    fire: from all bits clear, label 1 needs 4 flips, though each neuron alone needs 2."""
    rows = np.zeros((2, 12), dtype=np.int8)
    rows[0, :6] = rows[1, 6:] = 1
    layer = ThresholdLayer("h", rows, np.array([-2, -2], dtype=np.int64))
    beats = np.zeros((2, 2), dtype=np.int64)
    beats[0, 1] = -1  # 0 ranks above 1 ⇔ −(h_A + h_B) ≥ −1: unless both fire
    output = ArgmaxLayer("out", np.array([[0, 0], [1, 1]], dtype=np.int8), beats)
    return IlpModel("two", (12,), (layer,), output)


@pytest.mark.parametrize(("k", "robust"), [(2, True), (3, True), (4, False)])
def test_it_proves_what_tabulation_alone_cannot(k: int, robust: bool) -> None:
    ilp = two_detectors()
    region = Region.ball(np.zeros(12, dtype=bool), k)
    query = Query(region, not_label=0)
    table = tabulate(ilp)
    assert table is not None and not table.rules_out(query)  # the pattern (A, B) answers
    inside = np.vstack(list(region_points(region)))
    assert query.accepts(ilp, inside).any() == (not robust)
    # The count (no pattern checked on its own), then the one answering pattern checked.
    bound = switch_bound(ilp, table, query, time_limit=10.0, pattern_checks=0)
    assert bound is not None and bound.proved == robust
    if robust:
        assert bound.least == 2 and "switched" in bound.describe()
    bound = switch_bound(ilp, table, query, time_limit=10.0)
    assert bound is not None and bound.proved == robust
    if robust:
        assert bound.patterns == 1 and "each pattern" in bound.describe()
        assert bound.witness is None
    else:  # the pattern is reachable: Exact's input reaches it, and so answers the query
        assert bound.witness is not None
        assert query.accepts(ilp, bound.witness[None, :])[0]
