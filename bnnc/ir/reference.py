"""Reference inference with numpy: the oracle the formula is checked against.

For a :class:`~bnnc.ir.bnn.BnnModel` this is the network's own arithmetic (``bnnc.ir.bnn``), in the
float precision its framework uses; for an :class:`~bnnc.ir.ilp.IlpModel` (the lowered text form)
it is the integer semantics of the thresholds.  Inputs are boolean arrays with the (flattened)
input bits on the last axis, True meaning +1; any leading batch shape is allowed.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnnc.errors import ModelError
from bnnc.ir.bnn import BnnModel, block_activation, output_scores
from bnnc.ir.ilp import IlpModel


def _as_bits(model: BnnModel | IlpModel, bits: ArrayLike) -> NDArray[np.bool_]:
    array = np.asarray(bits)
    if array.shape[-1:] != (model.n_inputs,):
        raise ModelError(
            f"model {model.name!r} takes {model.n_inputs} input bits, got shape {array.shape}"
        )
    if array.dtype != np.bool_:
        if not np.isin(array, (0, 1)).all():
            raise ModelError("input bits must be 0/1 or booleans")
        array = array.astype(bool)
    return array


def _signs(bits: NDArray[np.bool_]) -> NDArray[np.int64]:
    return np.where(bits, 1, -1).astype(np.int64)


def _dot(x: NDArray[np.int64], weights: NDArray[np.int8]) -> NDArray[np.int64]:
    """x @ weightsᵀ, exactly: in float64 (BLAS; integer matmul is unaccelerated, 50x slower on
    a convolution's 784 x 5408 rows), exact since every sum is an integer below 2^53."""
    product = x.astype(np.float64) @ weights.T.astype(np.float64)
    return product.astype(np.int64)


def hidden_activations(model: BnnModel | IlpModel, bits: ArrayLike) -> list[NDArray[np.bool_]]:
    """The output bits of every inner block (True = +1), for the given inputs."""
    x = _signs(_as_bits(model, bits))
    layers: list[NDArray[np.bool_]] = []
    if isinstance(model, BnnModel):
        for block in model.blocks:
            fires = block_activation(block, _dot(x, block.weights), model.arithmetic)
            layers.append(fires)
            x = _signs(fires)
    else:
        for layer in model.layers:
            fires = np.asarray(_dot(x, layer.weights) >= layer.thresholds)
            layers.append(fires)
            x = _signs(fires)
    return layers


def predict(model: BnnModel | IlpModel, bits: ArrayLike) -> NDArray[np.int64]:
    """The label of each input: argmax of the scores, ties to the lowest index."""
    layers = hidden_activations(model, bits)
    x = _signs(layers[-1]) if layers else _signs(_as_bits(model, bits))
    if isinstance(model, BnnModel):
        preact = _dot(x, model.output.weights)
        scores = output_scores(model.output, preact, model.arithmetic)
        return np.asarray(np.argmax(scores, axis=-1), dtype=np.int64)
    return _ilp_argmax(model, x)


def _ilp_argmax(model: IlpModel, x: NDArray[np.int64]) -> NDArray[np.int64]:
    weights = model.output.weights.astype(np.int64)
    n = model.n_classes
    batch = x.shape[:-1]
    is_winner = np.ones((*batch, n), dtype=bool)
    staircases = {(st.above, st.below): st for st in model.output.staircases}
    for c in range(n):
        for j in range(c + 1, n):
            if (c, j) in staircases:  # a staircase over the two sums, not their difference
                c_above = staircases[(c, j)].holds(x @ weights[c], x @ weights[j])
            else:
                c_above = (x @ (weights[c] - weights[j])) >= model.output.beats[c, j]
            is_winner[..., c] &= c_above
            is_winner[..., j] &= ~c_above
    if (is_winner.sum(axis=-1) != 1).any():
        raise ModelError(
            f"layer {model.output.name!r}: the comparison table does not rank the classes "
            "consistently for some input (no single winner)"
        )
    return np.asarray(np.argmax(is_winner, axis=-1), dtype=np.int64)
