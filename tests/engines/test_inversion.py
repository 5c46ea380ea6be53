"""Inversion workflows by meaning: regions, queries, sampling (CMSGen), counting (Ganak, ApproxMC).

Every count is compared with brute-force enumeration through the reference inference, and every
sample is checked against it.  Networks are tiny on purpose: Ganak spends a fixed time on tree
decompositions that grows quickly with the formula, and the point here is exactness.
"""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
from scipy.stats import chisquare

import bnnc
from bnnc.engines.count import count, region_size
from bnnc.engines.decide import check_sat
from bnnc.engines.sample import frequencies, sample
from bnnc.errors import ModelError
from bnnc.ir.query import Query
from bnnc.ir.region import Region
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs

SHAPE = [8, 5, 3]


@pytest.fixture(scope="module")
def small() -> tuple[bnnc.api.Model, bnnc.Compilation, np.ndarray, np.ndarray]:
    model = random_bnn(SHAPE, seed=2)
    compiled = bnnc.compile(model, "totalizer")
    inputs = all_inputs(SHAPE[0])
    return model, compiled, inputs, bnnc.predict(model, inputs)


# ---------------------------------------------------------------------------------------------
# regions


def test_region_membership_and_closed_form_sizes() -> None:
    inputs = all_inputs(7)
    center = inputs[37]
    fixed = Region.with_fixed(7, {0: True, 5: False})
    ball = Region.ball(center, 2)
    both = fixed.intersect(ball)
    for region in (Region.everything(7), fixed, ball, both):
        inside = region.contains(inputs)
        assert region.size() == int(inside.sum())
    assert ball.size() == sum(comb(7, i) for i in range(3))
    two_balls = ball.intersect(Region.ball(inputs[90], 3))
    assert two_balls.size() is None  # no closed form: counted by Ganak instead


def test_contradictory_fixed_bits_are_an_error() -> None:
    with pytest.raises(ModelError, match="fixed to both"):
        Region.with_fixed(4, {1: True}).intersect(Region.with_fixed(4, {1: False}))
    with pytest.raises(ModelError, match="out of range"):
        Region.with_fixed(4, {4: True})


# ---------------------------------------------------------------------------------------------
# exact and approximate counts against brute force


def test_exact_counts_per_label_match_enumeration_and_sum_to_the_space(small) -> None:  # type: ignore[no-untyped-def]
    _model, compiled, _inputs, labels = small
    everything = Region.everything(SHAPE[0])
    counts = []
    for label in range(SHAPE[-1]):
        result = count(compiled.formula, Query(everything, label=label))
        assert result.count == int((labels == label).sum())
        assert result.space == 2 ** SHAPE[0]
        # Parsimony: the unprojected model count is the same number.
        unprojected = count(compiled.formula, Query(everything, label=label), projected=False)
        assert unprojected.count == result.count
        counts.append(result.count)
    assert sum(counts) == 2 ** SHAPE[0]


@pytest.mark.parametrize("case", ["fixed", "ball", "ball-and-fixed", "two-balls", "not-label"])
def test_exact_counts_in_regions_match_enumeration(small, case: str) -> None:  # type: ignore[no-untyped-def]
    model, compiled, inputs, labels = small
    n = SHAPE[0]
    region = {
        "fixed": Region.with_fixed(n, {0: False, 1: False, 7: True}),
        "ball": Region.ball(inputs[77], 2),
        "ball-and-fixed": Region.ball(inputs[77], 3).intersect(Region.with_fixed(n, {2: True})),
        "two-balls": Region.ball(inputs[77], 3).intersect(Region.ball(inputs[200], 4)),
        "not-label": Region.ball(inputs[77], 2),
    }[case]
    query = (
        Query(region, not_label=int(labels[77]))
        if case == "not-label"
        else Query(region, label=int(labels[77]))
    )
    expected = int(query.accepts(model, inputs).sum())
    result = count(compiled.formula, query)
    assert result.count == expected
    assert result.space == int(region.contains(inputs).sum())
    assert region_size(compiled.formula, query) == result.space


def test_approximate_count_brackets_the_exact_one(small) -> None:  # type: ignore[no-untyped-def]
    _model, compiled, _inputs, labels = small
    label = int(np.bincount(labels).argmax())
    result = count(
        compiled.formula,
        Query(Region.everything(SHAPE[0]), label=label),
        method="approx",
        epsilon=0.8,
        delta=0.2,
        seed=1,
    )
    low, high = result.bounds
    assert low <= int((labels == label).sum()) <= high


def test_api_count_and_share(small) -> None:  # type: ignore[no-untyped-def]
    model, compiled, _inputs, labels = small
    result = bnnc.count(model, compiled, label=0)
    assert result.count == int((labels == 0).sum())
    assert result.share == pytest.approx(result.count / 2 ** SHAPE[0])


# ---------------------------------------------------------------------------------------------
# check-sat with regions (robustness)


def test_robustness_queries_agree_with_enumeration(small) -> None:  # type: ignore[no-untyped-def]
    model, compiled, inputs, labels = small
    for center in (3, 77, 150, 201):
        for flips in (0, 1, 2):
            query = Query(Region.ball(inputs[center], flips), not_label=int(labels[center]))
            result = check_sat(model, compiled.formula, query=query)
            assert result.satisfiable == bool(query.accepts(model, inputs).any())
            if result.satisfiable:
                assert result.witness is not None
                assert query.accepts(model, result.witness[None, :])[0]


# ---------------------------------------------------------------------------------------------
# sampling


def test_samples_answer_the_query_and_are_reproducible(small) -> None:  # type: ignore[no-untyped-def]
    model, compiled, _inputs, labels = small
    label = int(np.bincount(labels).argmax())
    query = Query(Region.with_fixed(SHAPE[0], {0: True}), label=label)
    first = bnnc.sample(model, compiled, query=query, n=40, seed=5)
    again = bnnc.sample(model, compiled, query=query, n=40, seed=5)
    assert first.drawn == 40
    assert query.accepts(model, first.samples).all()
    assert np.array_equal(first.samples, again.samples)


def test_unique_sampling_exhausts_the_preimage_exactly(small) -> None:  # type: ignore[no-untyped-def]
    model, compiled, inputs, labels = small
    label = int(np.bincount(labels).argmin())
    preimage = {row.tobytes() for row in np.packbits(inputs[labels == label], axis=-1)}
    query = Query(Region.everything(SHAPE[0]), label=label)
    result = sample(model, compiled.formula, query, len(preimage) + 5, seed=1, unique=True)
    assert result.exhausted and result.drawn == len(preimage)
    assert set(frequencies(result.samples)) == preimage


def test_sampling_an_empty_preimage_draws_nothing(small) -> None:  # type: ignore[no-untyped-def]
    model, compiled, inputs, labels = small
    query = Query(Region.ball(inputs[0], 0), not_label=int(labels[0]))
    result = sample(model, compiled.formula, query, 3)
    assert result.drawn == 0 and result.exhausted


def test_interrupt_keeps_what_was_drawn(small) -> None:  # type: ignore[no-untyped-def]
    model, compiled, _inputs, labels = small

    def stop_after_three(drawn: int) -> None:
        if drawn == 3:
            raise KeyboardInterrupt

    query = Query(Region.everything(SHAPE[0]), label=int(labels[0]))
    result = sample(
        model, compiled.formula, query, 50, on_sample=stop_after_three, sampler="cmsgen"
    )
    assert result.interrupted and result.drawn == 3
    assert query.accepts(model, result.samples).all()


def preimage_with_about(model: bnnc.api.Model, n: int, size: int) -> tuple[int, list[bytes]]:
    """A label whose preimage has at least ``size`` inputs (the smallest such), and its inputs."""
    inputs = all_inputs(n)
    labels = bnnc.predict(model, inputs)
    sizes = np.bincount(labels, minlength=model.n_classes)
    label = int(np.argmin(np.where(sizes >= size, sizes, 10**9)))
    return label, [row.tobytes() for row in np.packbits(inputs[labels == label], axis=-1)]


def chi_square_p(samples: np.ndarray, preimage: list[bytes]) -> float:
    seen = frequencies(samples)
    assert set(seen) <= set(preimage), "a sample outside the preimage"
    _, p_value = chisquare([seen.get(key, 0) for key in preimage])
    return float(p_value)


def test_unigen_samples_are_uniform_over_the_preimage() -> None:
    """Chi-square goodness of fit against uniform, at a fixed seed, on an enumerable preimage."""
    model = random_bnn([9, 6, 4], seed=11)
    compiled = bnnc.compile(model, "totalizer")
    label, preimage = preimage_with_about(model, 9, 20)
    draws = 12 * len(preimage)
    query = Query(Region.everything(9), label=label)
    result = sample(model, compiled.formula, query, draws, seed=7, sampler="unigen")
    assert result.drawn == draws
    p_value = chi_square_p(result.samples, preimage)
    assert p_value > 0.001, f"UniGen samples are not uniform (p = {p_value:.2g})"


def test_cmsgen_is_documented_as_not_uniform_here() -> None:
    """CMSGen is a heuristic: on this preimage a chi-square test rejects uniformity, as the
    sampler's documentation says.  If a CMSGen release fixes that, this test fails and the
    documentation (bnnc/engines/sample.py, docs/inversion.md) must be updated."""
    model = random_bnn([9, 6, 4], seed=11)
    compiled = bnnc.compile(model, "totalizer")
    label, preimage = preimage_with_about(model, 9, 20)
    query = Query(Region.everything(9), label=label)
    result = sample(model, compiled.formula, query, 40 * len(preimage), seed=7, sampler="cmsgen")
    assert chi_square_p(result.samples, preimage) < 1e-6


def test_unigen_on_an_empty_preimage_draws_nothing(small) -> None:  # type: ignore[no-untyped-def]
    model, compiled, inputs, labels = small
    query = Query(Region.ball(inputs[0], 0), not_label=int(labels[0]))
    result = sample(model, compiled.formula, query, 3, sampler="unigen")
    assert result.drawn == 0


# ---------------------------------------------------------------------------------------------
# regions in the text language


REGION_MODEL = """network tiny
input 2x3
block h {
  weights {
    +-+ -+-
    ++0 0--
  }
}
output o {
  weights {
    +-
    -+
  }
}
fix {
  +.0
  ...
}
near {
  ++-
  -1+
} within 2
"""


def test_text_regions_parse_print_and_count() -> None:
    from bnnc.backend.text import print_bnn
    from bnnc.frontend.text import parse_text

    model = parse_text(REGION_MODEL)
    assert model.region is not None
    inputs = all_inputs(6)
    expected = Region.with_fixed(6, {0: True, 2: False}).intersect(
        Region.ball([True, True, False, False, True, True], 2)
    )
    assert np.array_equal(model.region.contains(inputs), expected.contains(inputs))
    again = parse_text(print_bnn(model))  # type: ignore[arg-type]
    assert again.region is not None
    assert np.array_equal(again.region.contains(inputs), expected.contains(inputs))
    compiled = bnnc.compile(model, "totalizer")
    labels = bnnc.predict(model, inputs)
    for label in range(2):
        query = Query(model.region, label=label)
        got = count(compiled.formula, query).count
        assert got == int((expected.contains(inputs) & (labels == label)).sum())


@pytest.mark.parametrize(
    ("change", "message", "line"),
    [
        (("+.0", "+.x"), "a 'fix' bit is +, -, 1, 0 or ., not 'x'", 16),
        (("-1+", "-1."), "a 'near' bit is +, -, 1 or 0, not '.'", 21),
        (("  ...\n}\nnear", "  ..\n}\nnear"), "'fix' gives 5 bits; the input has 6 (2x3)", 15),
    ],
)
def test_text_region_errors_point_at_the_spot(
    change: tuple[str, str], message: str, line: int
) -> None:
    from bnnc.errors import ParseError
    from bnnc.frontend.text import parse_text

    with pytest.raises(ParseError) as info:
        parse_text(REGION_MODEL.replace(*change), "m.bnn")
    assert message in str(info.value)
    assert f"m.bnn:{line}:" in str(info.value)


def test_contradictory_text_regions_are_an_error() -> None:
    from bnnc.errors import ParseError
    from bnnc.frontend.text import parse_text

    with pytest.raises(ParseError, match=r"m\.bnn:23:.*fixed to both"):
        parse_text(REGION_MODEL + "fix {\n  -.....\n}\n", "m.bnn")


def test_enumeration_counts_match_the_counters_in_every_region(small) -> None:  # type: ignore[no-untyped-def]
    from bnnc.engines.count import count_by_enumeration

    model, compiled, inputs, labels = small
    n = SHAPE[0]
    for region in (
        Region.everything(n),
        Region.with_fixed(n, {1: True, 4: False}),
        Region.ball(inputs[9], 3).intersect(Region.ball(inputs[60], 4)),
    ):
        queries = [Query(region, label=c) for c in range(SHAPE[-1])]
        results = count_by_enumeration(model, queries)
        inside = region.contains(inputs)
        assert [r.count for r in results] == [
            int((inside & (labels == c)).sum()) for c in range(SHAPE[-1])
        ]
        assert all(r.space == int(inside.sum()) for r in results)
        assert results[0].count == count(compiled.formula, queries[0]).count


def test_enumeration_refuses_huge_regions() -> None:
    from bnnc.engines.count import count_by_enumeration
    from bnnc.errors import EncodingLimitError

    model = random_bnn([40, 3, 2], seed=0)
    with pytest.raises(EncodingLimitError, match="2\\^40"):
        count_by_enumeration(model, [Query(Region.everything(40), label=0)])


def test_enumeration_of_the_whole_space_tabulates_like_the_general_path() -> None:
    from bnnc.engines.count import count_by_enumeration

    model = random_bnn([12, 6, 4], seed=3)
    inputs = all_inputs(12)
    labels = bnnc.predict(model, inputs)
    everything = Region.everything(12)
    huge_ball = Region.ball(inputs[0], 12)  # the whole space, but through the general path
    for region in (everything, huge_ball):
        queries = [Query(region, label=c) for c in range(4)] + [
            Query(region, not_label=1),
            Query(region),
        ]
        got = [r.count for r in count_by_enumeration(model, queries)]
        expected = [int((labels == c).sum()) for c in range(4)]
        assert got == [*expected, 4096 - expected[1], 4096]


def test_validation_rejects_inputs_that_do_not_answer_the_query(small) -> None:  # type: ignore[no-untyped-def]
    """A sample or witness the network does not give the label is a bnnc bug: an error."""
    from dataclasses import replace

    from bnnc.engines.decide import validate_inputs
    from bnnc.engines.sample import validate_samples
    from bnnc.errors import InternalError

    model, compiled, inputs, labels = small
    label = int(labels[0])
    query = Query(Region.everything(SHAPE[0]), label=label)
    wrong = inputs[labels != label][:3]
    with pytest.raises(InternalError, match="does not answer the query"):
        validate_inputs(model, query, wrong, what="witness")
    outside = Query(Region.with_fixed(SHAPE[0], {0: not bool(inputs[0][0])}), label=label)
    with pytest.raises(InternalError, match="does not answer the query"):
        validate_inputs(model, outside, inputs[:1], what="witness")
    good = sample(model, compiled.formula, query, 5, seed=2)
    validate_samples(model, good)  # the real samples pass
    with pytest.raises(InternalError, match="sample 0"):
        validate_samples(model, replace(good, samples=wrong))
