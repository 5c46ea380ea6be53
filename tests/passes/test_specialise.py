"""The region specialisation pass (bnnc.passes.specialise): on every input of the region the
specialised network gives the same label as the original, for random networks and regions; the
folding really happens (free-neuron counts), and an empty region is recognised."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnc.ir.bnn import BnnModel
from bnnc.ir.reference import predict
from bnnc.ir.region import Region
from bnnc.passes.pipeline import compile_model
from bnnc.passes.specialise import specialise
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs
from tests.strategies import bnn_models


@st.composite
def regions(draw: st.DrawFn, n: int) -> Region:
    """Fixed bits, up to two balls (possibly disjoint from the fixed bits: then empty)."""
    region = Region.everything(n)
    fixed = draw(st.dictionaries(st.integers(0, n - 1), st.booleans(), max_size=n))
    if fixed:
        region = region.intersect(Region.with_fixed(n, fixed))
    for _ in range(draw(st.integers(0, 2))):
        centre = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        region = region.intersect(Region.ball(centre, draw(st.integers(0, n))))
    return region


def check_on_region(model: BnnModel, region: Region) -> None:
    ilp = compile_model(model, until="ilp").ilp
    assert ilp is not None
    spec = specialise(ilp, region)
    spec.verify()
    inputs = all_inputs(model.n_inputs)
    inside = inputs[region.contains(inputs)]
    assert spec.empty == (len(inside) == 0) or not spec.empty  # empty ⇒ really empty
    if len(inside):
        np.testing.assert_array_equal(predict(spec.ilp, inside), predict(model, inside))
        # The whole pipeline on from the specialised ILP agrees too (card, CNF lowering).
        compile_model(spec.ilp, "totalizer").formula.verify()


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_specialised_labels_agree_on_every_input_of_the_region(data: st.DataObject) -> None:
    model = data.draw(bnn_models(max_inputs=10, max_width=6, max_blocks=2))
    check_on_region(model, data.draw(regions(model.n_inputs)))


def test_balls_fold_most_neurons_of_a_wide_network() -> None:
    model = random_bnn([400, 64, 64, 10], seed=3)
    ilp = compile_model(model, until="ilp").ilp
    assert ilp is not None
    centre = np.random.default_rng(0).random(400) < 0.5
    everything = specialise(ilp, Region.everything(400))
    assert [layer.free for layer in everything.layers] == [64, 64]
    tight = specialise(ilp, Region.ball(centre, 2))
    free = [layer.free for layer in tight.layers]
    assert free[0] < 16, free  # a 2-flip ball moves a 400-input sum by at most 4
    inputs = np.repeat(centre[None, :], 200, axis=0)
    rng = np.random.default_rng(1)
    for row in inputs:
        row[rng.choice(400, size=rng.integers(0, 3), replace=False)] ^= True
    np.testing.assert_array_equal(predict(tight.ilp, inputs), predict(model, inputs))


def test_fixed_bits_outside_a_ball_make_the_region_empty() -> None:
    model = random_bnn([6, 3, 2], seed=0)
    ilp = compile_model(model, until="ilp").ilp
    assert ilp is not None
    region = Region.ball(np.zeros(6, bool), 1).intersect(Region.with_fixed(6, {0: True, 1: True}))
    assert specialise(ilp, region).empty and region.size() == 0
