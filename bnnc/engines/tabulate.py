"""Deciding a query by tabulating the free neurons of one hidden layer (``method`` ``tabulate``).

After specialisation to a region (:mod:`bnnc.passes.specialise`) most neurons of a real network
are constant, and the label of an input depends on it only through the few neurons of a layer
that still vary.  If layer ℓ keeps f free neurons, the labels the network can give on the region
are among the labels of the 2^f patterns of those neurons, each run through the rest of the
network (the constants of layer ℓ are already folded into layer ℓ + 1's thresholds).  When no
pattern gives a label the query asks for, the query is unsatisfiable: a proof, exact, without a
solver.  The converse does not hold — a pattern may not be reachable from any input of the
region — so a pattern that answers the query proves nothing, and the caller goes on.

On FINN's TFC-w1a1 (784-64-64-64-10) and a Hamming ball of 8 flips around an MNIST test image,
the first layer keeps 8–22 free neurons, and for 8 of the first 20 images no pattern changes the
label: robustness proved in milliseconds where CaDiCaL took seconds or gave up at 10 s
(``bench/robustness.py``).  The pattern of a layer with f ≤ 64 free neurons is one packed word
(bit i = free neuron i), so the patterns are ``arange(2**f)`` fed to the bit-packed reference
(:class:`~bnnc.ir.fast_reference.PackedNet`) of the network's tail.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from bnnc.ir.fast_reference import PackedNet
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query

TABULATE_AUTO = 1 << 16
"""The most patterns ``auto`` tabulates: ~2 µs per pattern through TFC-w1a1's tail (2^16 in
0.07 s, 2^19 in 1.2 s on the bench machine), so 2^16 costs less than the solver's first try."""


@dataclass(frozen=True)
class Tabulation:
    """The labels the network can give over a region, as far as one layer's patterns tell."""

    layer: str  # the layer whose free neurons were tabulated
    free: int  # how many of its neurons are free
    labels: frozenset[int]  # every label some pattern of those neurons gives

    @property
    def patterns(self) -> int:
        return 1 << self.free

    def rules_out(self, query: Query) -> bool:
        """True when no pattern answers ``query``: it is then unsatisfiable on the region."""
        wanted = set(self.labels)
        if query.label is not None:
            wanted &= {query.label}
        if query.not_label is not None:
            wanted -= {query.not_label}
        return not wanted

    def describe(self) -> str:
        names = ", ".join(str(label) for label in sorted(self.labels))
        return (
            f"the {self.patterns:,} patterns of the {self.free} free neurons of layer "
            f"{self.layer!r} give only label(s) {names}"
        )


def narrowest_layer(ilp: IlpModel) -> tuple[int, int] | None:
    """(index, free neurons) of the hidden layer with the fewest free neurons (the first of
    equals), or None for a network without hidden layers."""
    if not ilp.layers:
        return None
    free = [int(layer.weights.any(axis=1).sum()) for layer in ilp.layers]
    index = int(np.argmin(free))
    return index, free[index]


def tabulate(ilp: IlpModel, max_patterns: int = TABULATE_AUTO) -> Tabulation | None:
    """The labels of every pattern of the narrowest hidden layer's free neurons of the
    specialised ``ilp``; None when there are more than ``max_patterns`` patterns."""
    narrowest = narrowest_layer(ilp)
    if narrowest is None:
        return None
    index, count = narrowest
    if count > 63 or (1 << count) > max_patterns:
        return None
    layer = ilp.layers[index]
    free = np.flatnonzero(layer.weights.any(axis=1))
    if not free.size:  # every neuron constant: one pattern; read a (zeroed) column anyway
        free = np.zeros(1, dtype=np.intp)
    # The tail reads only the free neurons: specialisation zeroed the columns of the constant
    # ones and moved their values into the thresholds of the next layer (or the comparisons).
    tail = ilp.layers[index + 1 :]
    if tail:
        first = replace(tail[0], weights=np.ascontiguousarray(tail[0].weights[:, free]))
        tail = (first, *tail[1:])
        output = ilp.output
    else:
        output = replace(ilp.output, weights=np.ascontiguousarray(ilp.output.weights[:, free]))
    sub = IlpModel(f"{ilp.name}/{layer.name}", (free.size,), tuple(tail), output)
    net = PackedNet.from_ilp(sub)
    patterns = np.arange(1 << count, dtype=np.uint64)[:, None]  # bit i: free neuron i is +1
    labels = frozenset(int(label) for label in np.unique(net.labels_of_packed(patterns)))
    return Tabulation(layer.name, count, labels)
