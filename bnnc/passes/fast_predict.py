"""Exact labels for any model, fast: the ILP stage compiled once per model and bit-packed.

:func:`fast_predict` gives the labels of ``bnnc.ir.reference.predict`` (the model's own
arithmetic) on every input.  It compiles the model to its ILP stage, whose integer thresholds
are read off that arithmetic at every reachable pre-activation, and runs the result with
:class:`bnnc.ir.fast_reference.PackedNet` (~30× faster on TFC-w1a1).  Compiling costs about as
much as running the float reference on a thousand inputs of that network (0.1–0.2 s), so a model
is compiled once it has been asked for :data:`MIN_ROWS` inputs in all; smaller uses keep the
float reference.  A model the ILP stage refuses (a ``ModelError``: e.g. an activation that is
not monotone) keeps the float reference for good.

The compiled network is cached per model object, weakly (it goes when the model goes).  IR
models are immutable (frozen dataclasses of read-only arrays, ``bnnc.ir.tensor.frozen``); a
model built from writeable arrays is fingerprinted by their contents on every call instead, so
that changing one in place cannot return stale labels.

Before its first use, a compiled network is checked against the float reference on the first
:data:`SPOT_CHECK_ROWS` rows of the batch that triggered it: a disagreement is a bnnc bug
(``InternalError``), not a label.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnnc.errors import InternalError, ModelError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.fast_reference import PackedNet, as_bits
from bnnc.ir.ilp import IlpModel
from bnnc.ir.reference import predict as reference_predict
from bnnc.passes.pipeline import compile_model

Model = BnnModel | IlpModel

MIN_ROWS = 1024
SPOT_CHECK_ROWS = 32


@dataclass
class _Entry:
    fingerprint: bytes | None  # contents of the model's writeable arrays, if it has any
    rows_seen: int = 0
    net: PackedNet | None = None
    refused: bool = False  # the ILP stage refused the model: the float reference answers


_CACHE: weakref.WeakKeyDictionary[Model, _Entry] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def fast_predict(model: Model, bits: ArrayLike) -> NDArray[np.int64]:
    """The label of each input (bits on the last axis, True = +1; any batch shape): exactly
    ``bnnc.ir.reference.predict(model, bits)``, by the packed ILP once it pays off."""
    array = as_bits(model.name, model.n_inputs, bits)
    rows = int(np.prod(array.shape[:-1], dtype=np.int64))
    with _LOCK:
        entry = _entry(model)
        entry.rows_seen += rows
        if entry.net is None and not entry.refused and entry.rows_seen >= MIN_ROWS:
            entry.net = _compile(model, entry)
            if entry.net is not None:
                _spot_check(model, entry.net, array.reshape(-1, model.n_inputs))
        net = entry.net
    if net is None:
        return reference_predict(model, array)
    return net.predict(array)


def fast_predictor(model: Model) -> PackedNet | None:
    """The model's packed network, compiled now if it was not yet; None if the ILP stage
    refuses the model (then only the float reference labels it)."""
    with _LOCK:
        entry = _entry(model)
        if entry.net is None and not entry.refused:
            entry.net = _compile(model, entry)
        return entry.net


def _entry(model: Model) -> _Entry:
    fingerprint = _fingerprint(model)
    entry = _CACHE.get(model)
    if entry is None or entry.fingerprint != fingerprint:
        entry = _Entry(fingerprint)
        _CACHE[model] = entry
    return entry


def _compile(model: Model, entry: _Entry) -> PackedNet | None:
    try:
        ilp = compile_model(model, until="ilp").ilp
    except ModelError:
        entry.refused = True
        return None
    assert ilp is not None
    return PackedNet.from_ilp(ilp)


def _spot_check(model: Model, net: PackedNet, rows: NDArray[np.bool_]) -> None:
    sample = rows[:SPOT_CHECK_ROWS]
    expected = reference_predict(model, sample)
    got = net.predict(sample)
    if not np.array_equal(got, expected):
        row = int(np.flatnonzero(got != expected)[0])
        raise InternalError(
            f"model {model.name!r}: the packed ILP labels input {row} {int(got[row])}, the "
            f"reference inference {int(expected[row])} (please report this as a bnnc bug)"
        )


def _arrays(model: Model) -> Iterator[NDArray[Any]]:
    """Every array the model's labels depend on."""
    if isinstance(model, BnnModel):
        for block in model.blocks:
            yield block.weights
            yield block.bias
            if block.batchnorm is not None:
                bn = block.batchnorm
                yield from (bn.gamma, bn.beta, bn.mean, bn.var)
        yield model.output.weights
        yield model.output.bias
    else:
        for layer in model.layers:
            yield layer.weights
            yield layer.thresholds
        yield model.output.weights
        yield model.output.beats


def _fingerprint(model: Model) -> bytes | None:
    """None for a model of read-only arrays (the IR's own); else a digest of their contents."""
    arrays = list(_arrays(model))
    if not any(a.flags.writeable for a in arrays):
        return None
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        digest.update(repr((array.dtype.str, array.shape)).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.digest()
