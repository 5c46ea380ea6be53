"""Deciding a query by tabulating the free neurons of one hidden layer (``method`` ``tabulate``).

After specialisation to a region (:mod:`bnnc.passes.specialise`) most neurons of a real network
are constant, and the label of an input depends on it only through the few neurons of a layer
that still vary.  If layer ℓ keeps f free neurons (the first layer with at most
:data:`TABULATE_AUTO` patterns is taken: the earliest is the most precise), the labels the
network can give on the region are among the labels of the 2^f patterns of those neurons, each
run through the rest of the network (the constants of layer ℓ are already folded into layer
ℓ + 1's thresholds).  When no pattern gives a label the query asks for, the query is
unsatisfiable: a proof, exact, without a solver.  The converse does not hold — a pattern may
not be reachable from any input of the region — so a pattern that answers the query proves
nothing, and the caller goes on (:mod:`bnnc.engines.pattern_search` tries to reach it).

On FINN's TFC-w1a1 (784-64-64-64-10) and a Hamming ball of 8 flips around an MNIST test image,
the first layer keeps 8–22 free neurons, and for 8 of the first 20 images no pattern changes the
label: robustness proved in milliseconds where CaDiCaL took seconds or gave up at 10 s
(``bench/robustness.py``).  The pattern of a layer with f ≤ 64 free neurons is one packed word
(bit i = free neuron i), so the patterns are the words 0 … 2^f − 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from bnnc.ir.fast_reference import PackedNet, pack_bits
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query

TABULATE_AUTO = 1 << 20
"""The most patterns ``auto`` tabulates before anything else: up to 2^20 patterns of TFC-w1a1's
first layer go through its tail in well under 0.1 s of CPU."""

TABULATE_WIDE = 1 << 22
"""The most patterns ``auto`` tabulates of the *first* layer after a short search failed: 2^22
patterns of 22 free neurons take 0.14–0.66 s of CPU on TFC-w1a1 at 8 flips (byte comparisons
against half tables, then 31,060 to 534,345 distinct patterns of the second layer through the
rest), more than the search usually needs to find a counterexample."""


HALF_TABLE_BITS = 12  # half tables of up to 2^12 rows; longer patterns are summed bit by bit


@dataclass(frozen=True, eq=False)
class Tabulation:
    """The labels the network can give over a region, as far as one layer's patterns tell.

    Each pattern has a *code*: the packed pattern it gives the next layer's free neurons (or
    its label, when no hidden layer follows), and only the distinct codes are run further.  A
    query is ruled out by the labels of the distinct codes alone, without a pass over the
    patterns: mapping 2^22 patterns back to their distinct codes (``numpy.unique``'s inverse)
    cost more than the rest of the table on TFC-w1a1."""

    layer: str  # the layer whose free neurons were tabulated
    index: int  # its position among the hidden layers (0: the first, which reads the inputs)
    neurons: NDArray[np.intp]  # its free neurons; bit i of a pattern is neurons[i]
    codes: NDArray[np.uint64]  # the code of every pattern (indexed by the pattern's word)
    distinct: NDArray[np.uint64]  # the distinct codes, sorted
    code_labels: NDArray[np.int64]  # the label of each distinct code
    # answering(), per set of wanted codes: auto asks it up to three times per query
    _answering: dict[bytes, NDArray[np.bool_]] = field(default_factory=dict, repr=False)

    @property
    def free(self) -> int:
        return int(self.neurons.size)

    @property
    def labels(self) -> frozenset[int]:
        """Every label some pattern gives."""
        return frozenset(int(label) for label in np.unique(self.code_labels))

    @property
    def table(self) -> NDArray[np.int64]:
        """The label of every pattern (indexed by the pattern's word)."""
        labels: NDArray[np.int64] = self.code_labels[np.searchsorted(self.distinct, self.codes)]
        return labels

    def answering(self, query: Query) -> NDArray[np.bool_]:
        """Per pattern: does its label answer ``query``?"""
        wants = query.wants(self.code_labels)
        key = np.packbits(wants).tobytes()
        if key not in self._answering:
            self._answering[key] = _members(self.codes, self.distinct[wants])
        return self._answering[key]

    @property
    def patterns(self) -> int:
        return 1 << self.free

    def rules_out(self, query: Query) -> bool:
        """True when no pattern answers ``query``: it is then unsatisfiable on the region."""
        return not query.wants(self.code_labels).any()

    def describe(self) -> str:
        names = ", ".join(str(label) for label in sorted(self.labels))
        return (
            f"the {self.patterns:,} patterns of the {self.free} free neurons of layer "
            f"{self.layer!r} give only label(s) {names}"
        )


def tabulated_layer(ilp: IlpModel, max_patterns: int) -> tuple[int, int] | None:
    """(index, free neurons) of the first hidden layer with at most ``max_patterns`` patterns
    of its free neurons, or None.

    The earliest such layer gives the most precise table: the patterns a later layer takes
    over the earlier one's patterns are among all of its own patterns, not necessarily all of
    them (and a first-layer table lets the pattern search steer the inputs)."""
    for index, layer in enumerate(ilp.layers):
        count = int(layer.weights.any(axis=1).sum())
        if count <= 63 and (1 << count) <= max_patterns:
            return index, count
    return None


def tabulate(ilp: IlpModel, max_patterns: int = TABULATE_AUTO) -> Tabulation | None:
    """The label of every pattern of the free neurons of the first hidden layer of the
    specialised ``ilp`` that has at most ``max_patterns`` of them; None if none has."""
    chosen = tabulated_layer(ilp, max_patterns)
    if chosen is None:
        return None
    index, _ = chosen
    sub, neurons = _tail(ilp, index)
    codes, distinct, labels = _codes_of_every_pattern(sub)
    return Tabulation(ilp.layers[index].name, index, neurons, codes, distinct, labels)


def labels_of_patterns(
    ilp: IlpModel, index: int, words: NDArray[np.uint64]
) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """The labels of some patterns (words, bit i = free neuron i) of layer ``index``'s free
    neurons, and those neurons: a partial table, for layers with too many patterns to list."""
    sub, neurons = _tail(ilp, index)
    if not sub.layers:
        net = PackedNet.from_ilp(sub)
        return net.output.labels(_sums_of(sub.output.weights, sub.n_inputs, words)), neurons
    first = sub.layers[0]
    limit = np.clip(first.thresholds, -sub.n_inputs - 1, sub.n_inputs + 1)
    fires = _sums_of(first.weights, sub.n_inputs, words) >= limit[None, :]
    return _labels_after_first(sub, pack_bits(fires)), neurons


def _tail(ilp: IlpModel, index: int) -> tuple[IlpModel, NDArray[np.intp]]:
    """The network after layer ``index``, reading only that layer's free neurons."""
    layer = ilp.layers[index]
    neurons = free = np.flatnonzero(layer.weights.any(axis=1))
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
    return IlpModel(f"{ilp.name}/{layer.name}", (free.size,), tuple(tail), output), neurons


def _sums_of(weights: NDArray[np.int8], n: int, words: NDArray[np.uint64]) -> NDArray[np.int64]:
    """⟨row, x⟩ for every row and the x of each word (bit i: x_i = +1): by the half tables
    while they are small, else from the words' bits (a half table of 2^(n/2) rows would not
    fit in memory beyond n ≈ 40)."""
    low = n // 2
    if n <= 2 * HALF_TABLE_BITS:
        low_sums, high_sums = _half_tables(weights, n)
        low_part = (words & np.uint64((1 << low) - 1)).astype(np.intp)
        high_part = (words >> np.uint64(low)).astype(np.intp)
        return (low_sums[low_part] + high_sums[high_part]).astype(np.int64)
    signs = np.where((words[:, None] >> np.arange(n, dtype=np.uint64)) & np.uint64(1), 1.0, -1.0)
    # Float32 sums of at most 63 terms ±1 are exact.
    return np.rint(signs.astype(np.float32) @ weights.T.astype(np.float32)).astype(np.int64)


def _codes_of_every_pattern(
    sub: IlpModel,
) -> tuple[NDArray[np.uint64], NDArray[np.uint64], NDArray[np.int64]]:
    """For every input word 0 … 2^n − 1 of a network with n ≤ 63 inputs, its code (the packed
    outputs of the first layer, or the label when there is no hidden layer); the distinct
    codes, sorted; and their labels.

    The first layer's sums are read off two tables, one per half of the input bits (2·2^(n/2)
    rows instead of 2^n popcounts), and every later layer runs only on the distinct patterns of
    the layer before (on TFC-w1a1 the 2^19 patterns of the first layer's free neurons give far
    fewer distinct patterns of the second: its constant neurons are the same in all)."""
    net = PackedNet.from_ilp(sub)
    n = sub.n_inputs
    if sub.layers and sub.layers[0].n_out <= 64:
        first = sub.layers[0]
        codes = _all_fires(first.weights, first.thresholds, n)[:, 0]
        distinct = _sorted_distinct(codes)
        return codes, distinct, _labels_after_first(sub, distinct[:, None])
    if sub.layers:  # patterns of more than one word: their labels are the codes
        first = sub.layers[0]
        labels = _labels_after_first(sub, _all_fires(first.weights, first.thresholds, n))
    else:
        labels = net.output.labels(_all_sums(sub.output.weights, n)).astype(np.int64)
    codes = labels.astype(np.uint64)
    distinct = _sorted_distinct(codes)
    return codes, distinct, distinct.astype(np.int64)


HASH_BITS = 22
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: odd, bits well spread


def _members(codes: NDArray[np.uint64], wanted: NDArray[np.uint64]) -> NDArray[np.bool_]:
    """Per code: is it among ``wanted``?  ``numpy.isin`` sorts all 2^22 codes once more than a
    few dozen are wanted (0.5–1 s on TFC-w1a1); a bit table of their hashes screens the codes
    in one gather, and only the codes that pass are checked exactly.

    >>> _members(np.array([5, 7, 9, 5], dtype=np.uint64), np.array([5, 9], dtype=np.uint64))
    array([ True, False,  True,  True])
    """
    if wanted.size <= 64:  # isin compares against each wanted code in turn: fast enough
        return np.isin(codes, wanted)
    shift = np.uint64(64 - HASH_BITS)
    screen = np.zeros(1 << HASH_BITS, dtype=bool)
    screen[((wanted * _GOLDEN) >> shift).astype(np.intp)] = True  # wraps mod 2^64, as meant
    maybe = np.flatnonzero(screen[((codes * _GOLDEN) >> shift).astype(np.intp)])
    members = np.zeros(codes.size, dtype=bool)
    members[maybe] = np.isin(codes[maybe], wanted)
    return members


def _sorted_distinct(codes: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The distinct values, sorted (a plain sort: ten times faster than ``numpy.unique``'s
    argsort on 2^22 codes, which only the inverse needs)."""
    ordered = np.sort(codes)
    keep = np.empty(ordered.size, dtype=bool)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _labels_after_first(sub: IlpModel, fired: NDArray[np.uint64]) -> NDArray[np.int64]:
    """The labels, given the packed outputs of the tail's first layer: the later layers run
    only on the distinct patterns of the layer before."""
    net = PackedNet.from_ilp(sub)
    words, row = _distinct(fired)
    for layer in net.layers[1:]:
        words, inverse = _distinct(pack_bits(layer.fires_popcount(words)))
        row = inverse[row]
    labels = net.output.labels(net.output.rows.sums_popcount(words))
    return labels[row]


def _half_tables(weights: NDArray[np.int8], n: int) -> tuple[NDArray[np.int32], ...]:
    """⟨row, x⟩ over the low ⌊n/2⌋ and the high bits of x, for every value of each half."""
    low = n // 2

    def table(bits: int, columns: NDArray[np.int8]) -> NDArray[np.int32]:
        signs = np.where((np.arange(1 << bits)[:, None] >> np.arange(bits)) & 1, 1, -1)
        return (signs @ columns.T.astype(np.int32)).astype(np.int32)  # (2^bits, rows)

    return table(low, weights[:, :low]), table(n - low, weights[:, low:])


def _all_sums(weights: NDArray[np.int8], n: int) -> NDArray[np.int64]:
    """⟨row, x⟩ for every row and every x ∈ {−1, +1}ⁿ, x in word order (bit i: x_i = +1)."""
    low_sums, high_sums = _half_tables(weights, n)
    # word = high · 2^low + low: high-major order is word order.
    sums = high_sums[:, None, :] + low_sums[None, :, :]
    return sums.reshape(1 << n, -1).astype(np.int64)


def _all_fires(
    weights: NDArray[np.int8], thresholds: NDArray[np.int64], n: int
) -> NDArray[np.uint64]:
    """The packed outputs of a threshold layer for every x ∈ {−1, +1}ⁿ, in word order, a block
    of high halves at a time (bounded memory).

    Neuron j fires at x = (low, high) ⇔ low_sums[low, j] ≥ limit_j − high_sums[high, j]; both
    sides fit in int8 (|low sums| ≤ 32, |right side| ≤ 64 + 32 for n ≤ 63), and comparing
    bytes is ~5x faster than summing int32 on 2^22 patterns of 64 neurons."""
    low_sums, high_sums = _half_tables(weights, n)
    limit = np.clip(thresholds, -n - 1, n + 1)  # decides the same: |sum| ≤ n
    low = low_sums.astype(np.int8)
    high = (limit[None, :] - high_sums).astype(np.int8)
    rows = low.shape[0]
    step = max(1, (1 << 16) // rows)
    fired = np.empty((high.shape[0] * rows, -(-weights.shape[0] // 64)), dtype=np.uint64)
    for start in range(0, high.shape[0], step):
        block = low[None, :, :] >= high[start : start + step, None, :]
        fired[start * rows : (start + block.shape[0]) * rows] = pack_bits(
            block.reshape(-1, weights.shape[0])
        )
    return fired


def _distinct(words: NDArray[np.uint64]) -> tuple[NDArray[np.uint64], NDArray[np.intp]]:
    """The distinct rows of packed patterns, and for each row the index of its distinct row."""
    if words.shape[1] == 1:  # one word per pattern: the fast 1-D unique
        distinct, inverse = np.unique(words[:, 0], return_inverse=True)
        return distinct[:, None], inverse.reshape(-1)
    rows, inverse = np.unique(words, axis=0, return_inverse=True)
    return rows, inverse.reshape(-1)
