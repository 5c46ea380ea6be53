"""Random BNNs with the shapes of trained ones, for examples, benchmarks and tests.

Weights are uniform ±1.  Batch-norm statistics are *calibrated* the way a trained network's are:
the running mean of a neuron is near the mean of its pre-activation (which for random ±1 inputs
is its bias) and its variance near that pre-activation's variance (its fan-in); γ and β are
drawn around 1 and 0, with a few negative γ.  The thresholds therefore sit near the middle of the
reachable range, the hardest case for cardinality encodings.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from bnnc.ir.bnn import BatchNorm, BnnModel, InnerBlock, OutputBlock
from bnnc.ir.tensor import frozen, ternary


def random_bnn(
    widths: Sequence[int],
    *,
    seed: int = 0,
    input_shape: tuple[int, ...] | None = None,
    name: str | None = None,
    negative_gamma: float = 0.1,
) -> BnnModel:
    """A random BNN with layer widths ``widths`` (inputs first, classes last)."""
    if len(widths) < 2:
        raise ValueError("need at least an input width and a class count")
    rng = np.random.default_rng(seed)
    blocks = []
    for k, (n_in, n_out) in enumerate(pairwise(widths[:-1])):
        bias = rng.normal(0.0, 1.0, n_out)
        gamma = rng.normal(1.0, 0.25, n_out) * np.where(rng.random(n_out) < negative_gamma, -1, 1)
        bn = BatchNorm(
            gamma=frozen(gamma, np.float64),
            beta=frozen(rng.normal(0.0, 0.5, n_out), np.float64),
            mean=frozen(bias + rng.normal(0.0, 0.5 * np.sqrt(n_in), n_out), np.float64),
            var=frozen(n_in * rng.uniform(0.5, 1.5, n_out), np.float64),
            eps=1e-5,
        )
        weights = ternary(rng.choice(np.array([-1, 1], dtype=np.int8), size=(n_out, n_in)))
        blocks.append(InnerBlock(f"h{k + 1}", weights, frozen(bias, np.float64), bn))
    n_in, n_classes = widths[-2], widths[-1]
    output = OutputBlock(
        "out",
        ternary(rng.choice(np.array([-1, 1], dtype=np.int8), size=(n_classes, n_in))),
        frozen(rng.normal(0.0, 1.0, n_classes), np.float64),
    )
    shape = input_shape or (widths[0],)
    model = BnnModel(
        name=name or "random_" + "_".join(map(str, widths)),
        input_shape=shape,
        blocks=tuple(blocks),
        output=output,
    )
    model.verify()
    return model
