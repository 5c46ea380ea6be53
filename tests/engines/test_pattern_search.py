"""The pattern search (engines/pattern_search) returns only inputs of the ball that answer the
query, and finds counterexamples that exist."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import bnnc.api as bnnc
from bnnc.engines.pattern_search import pattern_search
from bnnc.engines.region_points import region_points
from bnnc.engines.tabulate import tabulate
from bnnc.ir.query import Query
from bnnc.ir.region import Region
from bnnc.passes.pipeline import compile_model
from bnnc.passes.specialise import specialise
from bnnc.training.generate import random_bnn


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 4),
    st.dictionaries(st.integers(0, 19), st.booleans(), max_size=6),
    st.booleans(),
    st.booleans(),
)
def test_every_point_found_is_in_the_ball_and_answers(
    seed: int, k: int, fixed: dict[int, bool], targeted: bool, with_table: bool
) -> None:
    """With the table, or with the patterns nearest the centre's labelled on the spot."""
    model = random_bnn([20, 12, 6, 3], seed=seed)
    rng = np.random.default_rng(seed)
    centre = rng.random(20) < 0.5
    label = int(bnnc.predict(model, centre[None, :])[0])
    region = Region.with_fixed(20, fixed).intersect(Region.ball(centre, k))
    query = Query(region, label=(label + 1) % 3) if targeted else Query(region, not_label=label)
    ilp = compile_model(model, "adder", until="ilp").ilp
    assert ilp is not None
    spec = specialise(ilp, region).ilp
    table = tabulate(spec) if with_table else None
    point = pattern_search(spec, table, query, cells=10**9)
    points = list(region_points(region))
    inside = np.vstack(points) if points else np.zeros((0, 20), dtype=bool)
    exists = bool(query.accepts(model, inside).any()) if len(inside) else False
    if point is not None:
        assert exists
        assert region.contains(point[None, :])[0]
        assert query.accepts(model, point[None, :])[0]


def test_it_finds_the_counterexamples_of_most_non_robust_balls() -> None:
    model = random_bnn([64, 16, 8, 4], seed=1)
    ilp = compile_model(model, "adder", until="ilp").ilp
    assert ilp is not None
    rng = np.random.default_rng(1)
    found = exist = near = 0
    for _ in range(12):
        centre = rng.random(64) < 0.5
        label = int(bnnc.predict(model, centre[None, :])[0])
        region = Region.ball(centre, 3)
        query = Query(region, not_label=label)
        spec = specialise(ilp, region).ilp
        table = tabulate(spec)
        assert table is not None
        if table.rules_out(query):
            continue
        exist += bool(query.accepts(model, np.vstack(list(region_points(region)))).any())
        found += pattern_search(spec, table, query, cells=10**9) is not None
        near += pattern_search(spec, None, query, cells=10**9) is not None
    assert exist >= 5 and found >= exist - 1 and near >= exist - 1


def test_wide_first_layers_are_labelled_near_the_centre_only() -> None:
    """A ball that leaves 40+ first-layer neurons free: no table, the 2^17 patterns nearest
    the centre's are labelled bit by bit; what the search returns still answers."""
    model = random_bnn([64, 48, 6, 3], seed=4)
    ilp = compile_model(model, "adder", until="ilp").ilp
    assert ilp is not None
    rng = np.random.default_rng(4)
    for _ in range(4):
        centre = rng.random(64) < 0.5
        label = int(bnnc.predict(model, centre[None, :])[0])
        region = Region.ball(centre, 12)
        query = Query(region, not_label=label)
        spec = specialise(ilp, region).ilp
        assert int(spec.layers[0].weights.any(axis=1).sum()) > 24
        point = pattern_search(spec, tabulate(spec), query, cells=10**9)
        if point is not None:
            assert region.contains(point[None, :])[0]
            assert query.accepts(model, point[None, :])[0]
