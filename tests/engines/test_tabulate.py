"""Tabulating a layer's free neurons (engines/tabulate) never rules out a label that
an input of the region gets, and ``check_sat``'s ``auto`` answers with it as brute force does."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import bnnc.api as bnnc
from bnnc.engines.region_points import region_points
from bnnc.engines.tabulate import _members, tabulate, tabulated_layer
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.reference import predict
from bnnc.ir.region import Region
from bnnc.passes.pipeline import compile_model
from bnnc.passes.specialise import specialise
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs
from tests.strategies import bnn_models


@st.composite
def models_and_regions(draw: st.DrawFn) -> tuple[bnnc.BnnModel, Region]:
    model = draw(bnn_models(max_inputs=10, max_width=6, max_blocks=3))
    n = model.n_inputs
    fixed = draw(st.dictionaries(st.integers(0, n - 1), st.booleans(), max_size=n))
    region = Region.with_fixed(n, fixed)
    for _ in range(draw(st.integers(0, 2))):
        centre = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        region = region.intersect(Region.ball(centre, draw(st.integers(0, n))))
    return model, region


@settings(max_examples=150, deadline=None)
@given(models_and_regions())
def test_tabulated_labels_cover_every_input_of_the_region(
    case: tuple[bnnc.BnnModel, Region],
) -> None:
    model, region = case
    ilp = compile_model(model, "adder", until="ilp").ilp
    assert ilp is not None
    spec = specialise(ilp, region)
    table = tabulate(spec.ilp)
    inputs = all_inputs(model.n_inputs)
    inside = inputs[region.contains(inputs)]
    seen = set(bnnc.predict(model, inside).tolist())
    if table is None:  # a network without hidden layers has nothing to tabulate
        assert tabulated_layer(spec.ilp, 1 << 16) is None
        return
    assert seen <= table.labels
    for label in range(model.n_classes):
        assert table.rules_out(Query(region, label=label)) == (label not in table.labels)
        if table.rules_out(Query(region, label=label)):
            assert label not in seen


def test_auto_proves_robustness_by_tabulation_and_agrees_with_brute_force() -> None:
    """Balls of 3 flips around random inputs of a 64-16-8-4 network: 43,745 inputs each, past
    what ``auto`` enumerates; the answers agree with the reference on every input of the ball."""
    model = random_bnn([64, 16, 8, 4], seed=1)
    rng = np.random.default_rng(1)
    methods = []
    for _ in range(12):
        centre = rng.random(64) < 0.5
        label = int(bnnc.predict(model, centre[None, :])[0])
        region = Region.ball(centre, 3)
        result = bnnc.check_sat(
            model, bnnc.compile(model, region=region), query=Query(region, not_label=label)
        )
        ball = np.vstack(list(region_points(region)))
        assert result.satisfiable == bool((bnnc.predict(model, ball) != label).any())
        methods.append(result.method)
        if result.method == "tabulate":
            assert result.satisfiable is False and "free neurons" in result.reason
    assert "tabulate" in methods  # the path is exercised (5 of these 12 balls)


@settings(max_examples=60, deadline=None)
@given(models_and_regions())
def test_every_pattern_gets_the_label_the_network_tail_gives_it(
    case: tuple[bnnc.BnnModel, Region],
) -> None:
    """The table is indexed by the pattern's word: entry w is the label of the tail run on
    the neurons whose bits are set in w (the half tables and the dedup keep that order)."""
    model, region = case
    ilp = compile_model(model, "adder", until="ilp").ilp
    assert ilp is not None
    spec = specialise(ilp, region).ilp
    table = tabulate(spec)
    if table is None:
        return
    tail = spec.layers[table.index + 1 :]
    n_hidden = spec.layers[table.index].n_out
    for word in range(min(table.table.size, 64)):
        values = np.zeros(n_hidden, dtype=bool)  # the constant neurons: from their thresholds
        values[:] = spec.layers[table.index].thresholds <= 0
        values[table.neurons] = [(word >> i) & 1 for i in range(table.free)]
        x = values
        for layer in tail:
            x = layer.weights.astype(np.int64) @ np.where(x, 1, -1) >= layer.thresholds
        out = IlpModel("t", (x.size,), (), spec.output)
        assert table.table[word] == int(predict(out, x[None, :])[0])
    # Answering patterns and rules_out read the distinct codes: the same as the full table.
    for label in range(spec.n_classes):
        for query in (Query(region, label=label), Query(region, not_label=label)):
            np.testing.assert_array_equal(table.answering(query), query.wants(table.table))
            assert table.rules_out(query) == (not query.wants(table.table).any())


def test_a_lazy_compilation_builds_its_cnf_only_when_the_solver_needs_it() -> None:
    """Same answers as the eager compilation; the queries tabulation answers never build the
    CNF, and ``formula`` builds it on demand (the same clauses as eagerly)."""
    model = random_bnn([64, 16, 8, 4], seed=1)
    rng = np.random.default_rng(1)
    never_built = 0
    for _ in range(8):
        centre = rng.random(64) < 0.5
        label = int(bnnc.predict(model, centre[None, :])[0])
        region = Region.ball(centre, 3)
        query = Query(region, not_label=label)
        eager = bnnc.check_sat(model, bnnc.compile(model, region=region), query=query)
        compiled = bnnc.compile(model, region=region, lazy=True)
        assert compiled.cnf is None
        lazy = bnnc.check_sat(model, compiled, query=query)
        assert lazy.satisfiable == eager.satisfiable
        if lazy.method == "tabulate":
            never_built += compiled.cnf is None
        built = compiled.formula
        again = bnnc.compile(model, region=region).formula
        assert built.num_vars == again.num_vars and len(built.clauses) == len(again.clauses)
    assert never_built > 0


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 400), st.booleans())
def test_membership_screen_agrees_with_isin(seed: int, wanted: int, small_values: bool) -> None:
    """The hashed screen of _members (beyond 64 wanted codes) answers exactly as numpy.isin,
    with colliding hashes (small values) and with full 64-bit codes."""
    rng = np.random.default_rng(seed)
    high = 1000 if small_values else 2**64 - 1
    codes = rng.integers(0, high, size=5000, dtype=np.uint64, endpoint=True)
    picked = np.unique(
        np.concatenate([rng.choice(codes, wanted), rng.integers(0, high, 50, dtype=np.uint64)])
    )
    np.testing.assert_array_equal(_members(codes, picked), np.isin(codes, picked))
