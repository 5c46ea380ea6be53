"""The exactly uniform samplers (enumeration, rejection) and ``auto``'s choice: chi-square tests
at fixed seeds that fail if a sampler is not uniform, Ctrl-C, time limits, unique sampling."""

from __future__ import annotations

import numpy as np
import pytest

import bnnc
from bnnc.engines.sample import choose_sampler, frequencies, sample
from bnnc.engines.sample_direct import sample_by_rejection, uniform_points
from bnnc.ir.query import Query
from bnnc.ir.region import Region
from bnnc.training.generate import random_bnn
from tests.engines.test_inversion import chi_square_p, preimage_with_about
from tests.helpers import all_inputs


@pytest.mark.parametrize("sampler", ["auto", "enumerate", "reject"])
def test_default_and_direct_samplers_are_uniform(sampler: str) -> None:
    """Chi-square goodness of fit against uniform at a fixed seed, on the enumerable preimage
    on which CMSGen fails the same test (tests/engines/test_inversion.py)."""
    model = random_bnn([9, 6, 4], seed=11)
    compiled = bnnc.compile(model, "totalizer")
    label, preimage = preimage_with_about(model, 9, 20)
    query = Query(Region.everything(9), label=label)
    result = sample(model, compiled.formula, query, 40 * len(preimage), seed=7, sampler=sampler)
    assert result.drawn == 40 * len(preimage)
    assert result.method == ("enumerate" if sampler == "auto" else sampler)
    assert result.guarantee == "exactly uniform"
    p_value = chi_square_p(result.samples, preimage)
    assert p_value > 0.001, f"{sampler} samples are not uniform (p = {p_value:.2g})"


def test_a_biased_sampler_fails_the_chi_square_test() -> None:
    """The test above can fail: the same draws, skewed towards the first input, are refused."""
    model = random_bnn([9, 6, 4], seed=11)
    label, preimage = preimage_with_about(model, 9, 20)
    query = Query(Region.everything(9), label=label)
    result = sample(model, bnnc.compile(model).formula, query, 40 * len(preimage), seed=7)
    skewed = result.samples.copy()
    first = np.unpackbits(np.frombuffer(preimage[0], dtype=np.uint8))[:9].astype(bool)
    skewed[: len(skewed) // 10] = first
    assert chi_square_p(skewed, preimage) < 1e-6


def test_uniform_points_of_a_ball_with_fixed_bits_are_uniform() -> None:
    n = 8
    region = Region.with_fixed(n, {0: True, 5: False}).intersect(
        Region.ball(np.zeros(n, dtype=bool), 3)
    )
    inputs = all_inputs(n)
    inside = [row.tobytes() for row in np.packbits(inputs[region.contains(inputs)], axis=-1)]
    points = uniform_points(region, 50 * len(inside), np.random.default_rng(3))
    assert region.contains(points).all()
    assert chi_square_p(points, inside) > 0.001


def test_auto_rejects_on_a_large_region_and_uses_unigen_for_an_empty_preimage() -> None:
    model = random_bnn([30, 8, 3], seed=2)
    labels = bnnc.predict(model, np.random.default_rng(0).random((2000, 30)) < 0.5)
    common = int(np.bincount(labels).argmax())
    method, reason = choose_sampler(model, Query(Region.everything(30), label=common), 10, 0)
    assert method == "reject" and "rejection sampling" in reason
    # a label no input gets (class 2 of a network that never scores it highest) → UniGen
    never = Query(Region.everything(30), label=common, not_label=common)
    assert choose_sampler(model, never, 10, 0)[0] == "unigen"
    compiled = bnnc.compile(model)
    result = sample(model, compiled.formula, Query(Region.everything(30), label=common), 50)
    assert result.method == "reject" and result.drawn == 50
    assert Query(Region.everything(30), label=common).accepts(model, result.samples).all()


def test_rejection_keeps_its_draws_on_ctrl_c_and_never_repeats_when_unique() -> None:
    model = random_bnn([9, 6, 4], seed=11)
    label, preimage = preimage_with_about(model, 9, 20)
    query = Query(Region.everything(9), label=label)

    def stop(drawn: int) -> None:
        if drawn >= 5:
            raise KeyboardInterrupt

    stopped = sample_by_rejection(model, query, 10_000, seed=1, on_drawn=stop)
    assert stopped.interrupted and len(stopped.rows) >= 5
    assert query.accepts(model, stopped.rows).all()
    unique = sample_by_rejection(model, query, len(preimage), seed=1, unique=True)
    assert sorted(frequencies(unique.rows)) == sorted(preimage)


def test_enumeration_without_replacement_returns_the_whole_preimage() -> None:
    model = random_bnn([9, 6, 4], seed=11)
    label, preimage = preimage_with_about(model, 9, 20)
    query = Query(Region.everything(9), label=label)
    compiled = bnnc.compile(model)
    result = sample(model, compiled.formula, query, len(preimage) + 3, unique=True, seed=2)
    assert result.exhausted and sorted(frequencies(result.samples)) == sorted(preimage)
    again = sample(model, compiled.formula, query, 7, seed=2)
    assert (again.samples == sample(model, compiled.formula, query, 7, seed=2).samples).all()


def test_unigen_reports_progress_in_batches_and_stops_at_its_time_limit() -> None:
    model = random_bnn([9, 6, 4], seed=11)
    label, _ = preimage_with_about(model, 9, 20)
    query = Query(Region.everything(9), label=label)
    compiled = bnnc.compile(model, "totalizer")
    seen: list[int] = []
    result = sample(model, compiled.formula, query, 20, sampler="unigen", on_sample=seen.append)
    assert result.drawn == 20 and seen == [1, 3, 7, 15, 20]
    timed = sample(model, compiled.formula, query, 10**6, sampler="unigen", time_limit=1.0)
    assert timed.timed_out and 0 < timed.drawn < 10**6
    assert query.accepts(model, timed.samples).all()
    from bnnc.engines.sample import UNIGEN_EPSILON
    from bnnc.engines.unigen import EPSILON

    assert UNIGEN_EPSILON == EPSILON


def test_rejection_that_gives_up_hands_the_rest_to_unigen(monkeypatch: pytest.MonkeyPatch) -> None:
    from bnnc.engines import sample as sampling
    from bnnc.engines import sample_direct

    monkeypatch.setattr(sample_direct, "BATCH", 8)
    monkeypatch.setattr(sampling, "REJECT_MAX", 8)  # one batch of 8 inputs, then UniGen
    model = random_bnn([9, 6, 4], seed=11)
    label, _ = preimage_with_about(model, 9, 20)
    query = Query(Region.everything(9), label=label)
    seen: list[int] = []
    result = sample(
        model, bnnc.compile(model).formula, query, 6, sampler="reject", on_sample=seen.append
    )
    assert result.drawn == 6 and result.method == "reject+unigen"
    assert "UniGen drew the rest" in result.reason and seen[-1] == 6
    assert query.accepts(model, result.samples).all()


def test_unigen_keeps_the_batches_drawn_before_ctrl_c() -> None:
    model = random_bnn([9, 6, 4], seed=11)
    label, _ = preimage_with_about(model, 9, 20)
    query = Query(Region.everything(9), label=label)

    def stop(drawn: int) -> None:
        if drawn >= 3:
            raise KeyboardInterrupt

    result = sample(model, bnnc.compile(model).formula, query, 50, sampler="unigen", on_sample=stop)
    assert result.interrupted and result.drawn == 3
    assert query.accepts(model, result.samples).all()
