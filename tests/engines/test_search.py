"""The witness search by simulation (bnnc.engines.search) and check_sat with and without it.

Every network here is small enough to enumerate, so each test knows which labels the region
can reach; the local search is forced with ``exhaustive_bits=0`` where the point is to test it
rather than the enumeration of small regions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import bnnc
from bnnc.engines import decide as solve
from bnnc.engines import search, search_net
from bnnc.errors import InternalError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.reference import predict
from bnnc.ir.region import Region
from bnnc.passes.pipeline import compile_model
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs
from tests.paths import FIXTURES, SHARED

FIXTURES = FIXTURES
SHARED = SHARED
TFC = SHARED / "models" / "qonnx-tfc-w1a1.onnx"

NETWORKS = [
    ([12, 8, 6, 4], 1),
    ([12, 8, 6, 4], 7),
    ([14, 10, 5], 2),
    ([10, 6, 6, 6, 3], 4),
    ([13, 5], 3),  # no hidden layer
]


def reachable(model: BnnModel | IlpModel, region: Region) -> set[int]:
    """The labels of every input in the region (by enumeration)."""
    inputs = all_inputs(model.n_inputs)
    return set(predict(model, inputs[region.contains(inputs)]).tolist())


def regions(n: int, seed: int) -> list[Region]:
    """Everything, fixed bits, a ball, and a ball with fixed bits."""
    rng = np.random.default_rng(seed)
    centre = rng.random(n) < 0.5
    fixed = Region.with_fixed(n, {0: True, 3: False, n - 1: True})
    return [
        Region.everything(n),
        fixed,
        Region.ball(centre, 3),
        fixed.intersect(Region.ball(centre, 4)),
    ]


def assert_answers(model: BnnModel | IlpModel, query: Query, bits: np.ndarray) -> None:
    region = query.region
    assert bits.shape == (model.n_inputs,) and bits.dtype == np.bool_
    mask = region.fixed != -1
    assert (bits[mask] == region.fixed[mask].astype(bool)).all(), "a fixed bit was flipped"
    for ball in region.balls:
        assert int((bits != ball.center).sum()) <= ball.max_flips, "left a Hamming ball"
    label = int(predict(model, bits))
    if query.label is not None:
        assert label == query.label
    if query.not_label is not None:
        assert label != query.not_label


@pytest.mark.parametrize(("widths", "seed"), NETWORKS)
@pytest.mark.parametrize("exhaustive_bits", [0, search.EXHAUSTIVE_BITS])
def test_search_witnesses_answer_the_query(
    widths: list[int], seed: int, exhaustive_bits: int
) -> None:
    """Whatever the search returns is in the region (fixed bits, balls) with the right label;
    it never returns an input for a label the region cannot reach."""
    model = random_bnn(widths, seed=seed)
    found = 0
    for region in regions(model.n_inputs, seed):
        labels = reachable(model, region)
        for label in range(model.n_classes):
            query = Query(region, label=label)
            outcome = search.search(
                model, query, seed=seed, exhaustive_bits=exhaustive_bits, budget=800
            )
            if outcome.witness is None:
                assert exhaustive_bits == 0 or label not in labels
                continue
            found += 1
            assert label in labels
            assert_answers(model, query, outcome.witness)
            assert outcome.best is not None
    assert found >= 8, "the search should find most reachable labels"


@pytest.mark.parametrize(("widths", "seed"), NETWORKS)
def test_local_search_finds_every_reachable_label(widths: list[int], seed: int) -> None:
    model = random_bnn(widths, seed=seed)
    everything = Region.everything(model.n_inputs)
    for label in sorted(reachable(model, everything)):
        query = Query(everything, label=label)
        witness = search.find_witness(model, query, budget=200_000, seed=0)
        assert witness is not None, f"label {label} is reachable"
        assert_answers(model, query, witness)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_not_label_in_a_ball(seed: int) -> None:
    """Robustness: an input within K flips of x that the network does not label predict(x)."""
    model = random_bnn([16, 10, 8, 4], seed=seed)
    rng = np.random.default_rng(seed)
    centre = rng.random(16) < 0.5
    own = int(predict(model, centre))
    for flips in (1, 2, 4):
        region = Region.ball(centre, flips).intersect(Region.with_fixed(16, {5: bool(centre[5])}))
        query = Query(region, not_label=own)
        possible = reachable(model, region) - {own}
        witness = search.find_witness(model, query, seed=seed)
        local = search.search(model, query, seed=seed, exhaustive_bits=0).witness
        assert (witness is not None) == bool(possible)
        for bits in (witness, local):
            if bits is not None:
                assert_answers(model, query, bits)


def test_search_on_a_lowered_model() -> None:
    """IlpModel (the lowered text form): pairwise comparison tables instead of scores."""
    source = random_bnn([14, 8, 6, 4], seed=5)
    lowered = compile_model(source, until="ilp").ilp
    assert isinstance(lowered, IlpModel)
    everything = Region.everything(14)
    labels = reachable(lowered, everything)
    assert labels == reachable(source, everything)
    for label in range(4):
        query = Query(everything, label=label)
        witness = search.search(lowered, query, exhaustive_bits=0).witness
        assert (witness is not None) == (label in labels)
        if witness is not None:
            assert_answers(lowered, query, witness)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.onnx")), ids=lambda p: p.stem)
def test_search_on_onnx_models_with_oracles(path: Path) -> None:
    """Blocks whose arithmetic is the model's own engine (oracles), incl. negative scales."""
    model = bnnc.load(path)
    everything = Region.everything(model.n_inputs)
    labels = reachable(model, everything)
    for label in range(model.n_classes):
        query = Query(everything, label=label)
        witness = search.search(model, query, exhaustive_bits=0, budget=1_000).witness
        assert witness is None or label in labels
        if witness is not None:
            assert_answers(model, query, witness)
    # The search's exact form of the network is the reference on every input.
    inputs = all_inputs(model.n_inputs)
    net = search_net.exact_form(model)
    first = search_net.signs(inputs) @ search_net.first_weights(net)
    assert (search_net.exact_labels(net, first) == predict(model, inputs)).all()


def test_exact_form_is_the_reference() -> None:
    model = random_bnn([40, 20, 12, 6], seed=9, negative_gamma=0.5)
    bits = np.random.default_rng(0).random((3000, 40)) < 0.5
    net = search_net.exact_form(model)
    first = search_net.signs(bits) @ search_net.first_weights(net)
    assert (search_net.exact_labels(net, first) == predict(model, bits)).all()


def test_search_is_deterministic_for_a_seed() -> None:
    model = random_bnn([30, 12, 8, 6], seed=3)

    def run(seed: int) -> list[tuple[bytes | None, bytes | None, int]]:
        results = []
        for label in range(6):
            outcome = search.search(model, Query(Region.everything(30), label=label), seed=seed)
            witness = None if outcome.witness is None else outcome.witness.tobytes()
            best = None if outcome.best is None else outcome.best.tobytes()
            results.append((witness, best, outcome.evaluations))
        return results

    first = run(0)
    assert any(witness is not None for witness, _, _ in first)
    assert run(0) == first
    assert run(1) != first


def test_search_respects_its_budget() -> None:
    model = random_bnn([40, 10, 4], seed=0)
    query = Query(Region.everything(40), label=0)
    outcome = search.search(model, query, budget=0)
    assert outcome.witness is None and outcome.evaluations == 0


def test_query_without_a_label_takes_any_point_of_the_region() -> None:
    model = random_bnn([20, 6, 3], seed=0)
    region = Region.with_fixed(20, {1: True, 2: True})
    witness = search.find_witness(model, Query(region))
    assert witness is not None and bool(region.contains(witness))


@pytest.mark.parametrize(("widths", "seed"), NETWORKS)
def test_check_sat_agrees_with_and_without_search(widths: list[int], seed: int) -> None:
    """Same SAT/UNSAT answer for every label and region, and the one enumeration gives;
    witnesses answer the query whichever way they were found."""
    model = random_bnn(widths, seed=seed)
    formula = bnnc.compile(model).formula
    methods = set()
    for region in regions(model.n_inputs, seed)[::3]:
        labels = reachable(model, region)
        for label in range(model.n_classes):
            query = Query(region, label=label)
            with_search = solve.check_sat(model, formula, query=query, method="sat")
            without = solve.check_sat(model, formula, query=query, search=False, method="sat")
            assert with_search.satisfiable == without.satisfiable == (label in labels)
            assert without.method == "sat"
            methods.add(with_search.method)
            if not with_search.satisfiable:
                assert with_search.method == "sat"
            for result in (with_search, without):
                if result.witness is not None:
                    assert_answers(model, query, result.witness)
    assert "search" in methods


def test_check_sat_uses_the_local_search_on_larger_inputs() -> None:
    """64 inputs: too many to enumerate; SAT answers come from the local search."""
    model = random_bnn([64, 32, 32, 4], seed=11)
    formula = bnnc.compile(model).formula
    bits = np.random.default_rng(0).random((4000, 64)) < 0.5
    for label in sorted(set(predict(model, bits).tolist())):
        result = solve.check_sat(model, formula, label, method="sat")
        assert result.satisfiable and result.method == "search"
        assert result.witness is not None and int(predict(model, result.witness)) == label
        assert solve.check_sat(model, formula, label, search=False, method="sat").satisfiable


def test_solver_with_phases_from_a_failed_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the search finds nothing, the solver starts from the network state of its best
    point: the answers are still exactly the reachable labels."""
    model = random_bnn([16, 10, 8, 5], seed=2)
    formula = bnnc.compile(model).formula
    rng = np.random.default_rng(0)

    def failed(model: BnnModel | IlpModel, query: Query, **_: object) -> search.SearchOutcome:
        return search.SearchOutcome(None, rng.random(model.n_inputs) < 0.5, 0, 1)

    monkeypatch.setattr(solve, "simulate", failed)
    labels = reachable(model, Region.everything(16))
    for label in range(5):
        result = solve.check_sat(model, formula, label)
        assert result.satisfiable == (label in labels) and result.method == "sat"
        if result.witness is not None:
            assert int(predict(model, result.witness)) == label


def test_a_search_witness_the_formula_rejects_is_a_bug() -> None:
    """The witness is checked through the formula: with the formula of another network, a
    witness it labels differently is reported as an internal error, never returned."""
    model = random_bnn([20, 8, 4], seed=0)
    other = bnnc.compile(random_bnn([20, 8, 4], seed=1)).formula
    checked = 0
    for label in range(4):
        witness = search.find_witness(model, Query(Region.everything(20), label=label))
        if witness is None:
            continue
        other_label = int(predict(random_bnn([20, 8, 4], seed=1), witness))
        if other_label == label:
            assert solve.check_sat(model, other, label, method="sat").method == "search"
        else:
            checked += 1
            with pytest.raises(InternalError):
                solve.check_sat(model, other, label, method="sat")
    assert checked


@pytest.mark.skipif(not TFC.exists(), reason=f"{TFC} not found (../shared beside the repo)")
def test_search_finds_every_label_of_tfc_w1a1() -> None:
    """FINN's TFC-w1a1 MNIST network: the default search finds an input for every label, and
    the model itself (onnxruntime) agrees."""
    model = bnnc.load(TFC)
    assert isinstance(model, BnnModel) and model.framework_predict is not None
    for label in range(10):
        query = Query(Region.everything(784), label=label)
        witness = search.find_witness(model, query, budget=search.default_budget(model))
        assert witness is not None, label
        assert int(model.framework_predict(witness[None, :])[0]) == label
