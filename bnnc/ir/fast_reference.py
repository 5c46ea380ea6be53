"""Fast exact inference: the integer semantics of an :class:`~bnnc.ir.ilp.IlpModel`, batched.

The float reference (``bnnc.ir.reference``) re-runs the model's own arithmetic block by block
with int64 matrix products, which numpy does without BLAS: ~70 µs per input on TFC-w1a1.  The
ILP stage has already read every neuron off that arithmetic at every reachable pre-activation
(neuron i fires ⇔ ⟨a_i, x⟩ ≥ C_i, classes compared by thresholds or staircases on integer
sums), so the labels it gives are the model's labels on every input, and they only need integer
sums of ±1 values.  :class:`PackedNet` computes those sums with one of two kernels:

``gemm``
    float32 matrix products of the 0/1 input bits b with the weight rows: ⟨a, x⟩ = 2⟨a, b⟩ − Σa
    for x = 2b − 1.  Every partial sum is an integer of magnitude ≤ n_in, so float32 (24-bit
    mantissa) is exact for n_in < 2^24 whatever order or fused multiply-add BLAS uses.
``popcount``
    XNOR-popcount on bits packed into uint64 words: ⟨a, x⟩ = n′ − 2·popcount((x ⊕ p) ∧ z) with
    p the +1 mask and z the non-zero mask of the row (n′ non-zero weights): a mismatch is a
    non-zero weight whose sign differs from the input's.

Both give the same integers; the thresholds are compared on them in integers (or as float32
integers that are clamped to the reachable range first, so that no large threshold is rounded).

``popcount`` is the default: on the 2-core machine of ``bench/results/fast_reference.md`` it
was 3–4× faster than ``gemm`` end to end.  Its first TFC-w1a1 layer costs about 1 µs per input
(13 words × 64 neurons, three numpy passes each), about what one core's float32 product of
784 × 64 costs, but it stays on one core like the float reference, and the narrow layers after
it are a few vector operations, where a BLAS call mostly pays for waking its threads (which
then spin and take the core from whatever runs next).  ``gemm`` stays selectable, and the
benchmark measures both, for machines where BLAS has cores to spare.

Class comparisons (:meth:`PackedArgmax.labels`) compare every ordered pair of classes on
contiguous int16 columns of class sums, n(n − 1) cheap vector steps; above
:data:`PAIRWISE_MAX_CLASSES` classes a knockout of 2(n − 1) steps wins, although each of its steps
gathers per row (about 15× the cost of a contiguous step).

The ``bnnc.api.predict`` glue (compile the ILP once per model, fall back to the float reference
where the ILP stage refuses a model) lives in ``bnnc.passes.fast_predict``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnnc.errors import ModelError, UsageError
from bnnc.ir.ilp import ArgmaxLayer, IlpModel, ThresholdLayer

Kernel = Literal["gemm", "popcount"]
KERNELS: tuple[Kernel, ...] = ("gemm", "popcount")
WORD_BITS = 64
# float32 represents every integer of magnitude ≤ 2^24, so sums over fewer inputs are exact.
GEMM_MAX_INPUTS = 1 << 24
# Rows per chunk.  gemm: bounds the float32 copy of the inputs (784 inputs → 25 MB) while
# keeping each BLAS call large enough that its thread start-up is amortised.  popcount: keeps
# the (rows, neurons) buffers of a layer in cache (64 neurons → 512 KB of uint64).
CHUNK_ROWS: dict[Kernel, int] = {"gemm": 8192, "popcount": 1024}
_WORD = np.dtype("<u8")  # bit j of word w is input 64·w + j, on any platform
# Up to this many classes, labels compare every ordered pair of classes (n(n − 1) contiguous
# vector steps of ~4 µs per 65,536 rows); above it, the knockout's 2(n − 1) steps, each of which
# gathers per row (~60 µs), cost less.
PAIRWISE_MAX_CLASSES = 24


_BYTE_COUNTS = np.array([bin(v).count("1") for v in range(256)], dtype=np.uint8)


def _popcount(words: NDArray[np.uint64], out: NDArray[np.uint8]) -> None:
    """out[...] = the number of set bits of each word."""
    if hasattr(np, "bitwise_count"):
        np.bitwise_count(words, out=out)
    else:  # numpy < 2.0: a byte table
        as_bytes = np.ascontiguousarray(words).view(np.uint8).reshape(*words.shape, 8)
        np.sum(_BYTE_COUNTS[as_bytes], axis=-1, dtype=np.uint8, out=out)


def _clamped(values: list[int], bound: int) -> NDArray[np.int64]:
    """Python integers (of any size) clamped to [−bound, bound], as int64."""
    return np.array([min(max(int(v), -bound), bound) for v in values], dtype=np.int64)


def pack_bits(bits: NDArray[np.bool_]) -> NDArray[np.uint64]:
    """Rows of bits (True = +1) → rows of little-endian uint64 words, zero-padded."""
    rows, n = bits.shape
    words = -(-n // WORD_BITS)
    if n % WORD_BITS:  # pad to whole words: packing a flat array is the fast path of packbits
        padded = np.zeros((rows, words * WORD_BITS), dtype=bool)
        padded[:, :n] = bits
        bits = padded
    flat = np.packbits(np.ascontiguousarray(bits).reshape(-1), bitorder="little")
    return flat.view(_WORD).reshape(rows, words)


def unpack_bits(words: NDArray[np.uint64], n: int) -> NDArray[np.bool_]:
    """The inverse of :func:`pack_bits`: the first ``n`` bits of each row."""
    as_bytes = np.ascontiguousarray(words, dtype=_WORD).view(np.uint8)
    return np.unpackbits(as_bytes, axis=1, count=n, bitorder="little").astype(bool)


@dataclass(frozen=True, eq=False)
class PackedRows:
    """Rows of weights in {−1, 0, +1}, in the forms both kernels use."""

    positive: NDArray[np.uint64]  # (rows, words): bit set where the weight is +1
    nonzero: NDArray[np.uint64]  # (rows, words): bit set where the weight is not 0
    dense: bool  # no zero weight at all: the AND with ``nonzero`` can be skipped
    active: NDArray[np.int64]  # (rows,): n′, the number of non-zero weights
    matrix: NDArray[np.float32]  # (n_in, rows): the weights, transposed, for x_bits @ matrix
    row_sums: NDArray[np.int64]  # (rows,): Σ a, to turn ⟨a, b⟩ into ⟨a, 2b − 1⟩

    @classmethod
    def from_weights(cls, weights: NDArray[np.int8]) -> PackedRows:
        return cls(
            positive=pack_bits(weights > 0),
            nonzero=pack_bits(weights != 0),
            dense=bool((weights != 0).all()),
            active=np.count_nonzero(weights, axis=1).astype(np.int64),
            matrix=np.ascontiguousarray(weights.T, dtype=np.float32),
            row_sums=weights.sum(axis=1, dtype=np.int64),
        )

    @property
    def n_in(self) -> int:
        return int(self.matrix.shape[0])

    def mismatches(self, words: NDArray[np.uint64]) -> NDArray[np.integer]:
        """popcount((x ⊕ p) ∧ z) per input row and weight row: (rows of x, rows of weights)."""
        shape = (words.shape[0], self.active.size)
        differ = np.empty(shape, dtype=np.uint64)
        counts = np.empty(shape, dtype=np.uint8)
        total: NDArray[np.integer] | None = None
        # One word at a time into preallocated buffers: three passes over a (batch, rows) array
        # per word, instead of materialising (batch, rows, words) and reducing its short axis
        # (measured 2.5× slower).  Counts fit uint16 below 2^16 inputs.
        for w in range(words.shape[1]):
            np.bitwise_xor(words[:, w, None], self.positive[None, :, w], out=differ)
            if not self.dense:
                np.bitwise_and(differ, self.nonzero[None, :, w], out=differ)
            _popcount(differ, counts)
            if words.shape[1] == 1:
                return counts
            if total is None:
                total = counts.astype(np.uint16 if self.n_in < 1 << 16 else np.int64)
            else:
                np.add(total, counts, out=total)
        assert total is not None  # there is at least one word
        return total

    def column_sums(self, words: NDArray[np.uint64]) -> NDArray[np.int64]:
        """⟨a, x⟩ per weight row and input row, as (rows of weights, rows of x): one contiguous
        column per weight row, the layout :meth:`PackedArgmax.labels_of_columns` reads."""
        sums = np.empty((self.active.size, words.shape[0]), dtype=np.int64)
        differ = np.empty(words.shape[0], dtype=np.uint64)
        counts = np.empty(words.shape[0], dtype=np.uint8)
        for r in range(self.active.size):
            sums[r] = self.active[r]
            for w in range(words.shape[1]):
                np.bitwise_xor(words[:, w], self.positive[r, w], out=differ)
                if not self.dense:
                    np.bitwise_and(differ, self.nonzero[r, w], out=differ)
                _popcount(differ, counts)
                sums[r] -= 2 * counts.astype(np.int64)
        return sums

    def sums_popcount(self, words: NDArray[np.uint64]) -> NDArray[np.int64]:
        """⟨a, x⟩ = n′ − 2·mismatches for packed inputs."""
        return self.active[None, :] - 2 * self.mismatches(words).astype(np.int64)

    def sums_gemm(self, bits01: NDArray[np.float32]) -> NDArray[np.int64]:
        """⟨a, x⟩ = 2⟨a, b⟩ − Σa for 0/1 inputs b as float32 (exact: see the module doc)."""
        return 2 * (bits01 @ self.matrix).astype(np.int64) - self.row_sums[None, :]


@dataclass(frozen=True, eq=False)
class PackedLayer:
    """A threshold layer: neuron i fires ⇔ ⟨a_i, x⟩ ≥ C_i, restated per kernel."""

    rows: PackedRows
    max_mismatches: NDArray[np.int32]  # popcount: fires ⇔ mismatches ≤ (n′ − C) / 2
    min_dot: NDArray[np.float32]  # gemm: fires ⇔ ⟨a, b⟩ ≥ ⌈(C + Σa) / 2⌉, clamped

    @classmethod
    def from_layer(cls, layer: ThresholdLayer) -> PackedLayer:
        rows = PackedRows.from_weights(layer.weights)
        # ⟨a, x⟩ ∈ [−n′, n′]: a threshold clamped to one past that decides the same, and the
        # arithmetic below cannot overflow whatever integer a model file wrote.
        c = np.clip(layer.thresholds, -rows.active - 1, rows.active + 1).astype(np.int64)
        # n′ − 2m ≥ C ⇔ m ≤ ⌊(n′ − C) / 2⌋, and m only takes values in 0..n′.
        max_mismatches = np.clip((rows.active - c) // 2, -1, rows.active).astype(np.int32)
        # 2d − Σa ≥ C ⇔ d ≥ ⌈(C + Σa) / 2⌉ for the integer d = ⟨a, b⟩ ∈ [−n_in, n_in]; clamped
        # to [−n_in − 1, n_in + 1] first, where it decides the same, so float32 holds it exactly.
        bound = rows.n_in + 1
        min_dot = np.clip(-((-(c + rows.row_sums)) // 2), -bound, bound).astype(np.float32)
        return cls(rows, max_mismatches, min_dot)

    @property
    def min_sums(self) -> NDArray[np.int64]:
        """C′ with neuron i firing ⇔ ⟨a_i, x⟩ ≥ C′_i: n′ − 2m ≥ C′ ⇔ m ≤ (n′ − C′) / 2."""
        return self.rows.active - 2 * self.max_mismatches.astype(np.int64)

    def fires_popcount(self, words: NDArray[np.uint64]) -> NDArray[np.bool_]:
        return self.rows.mismatches(words) <= self.max_mismatches[None, :]

    def fires_gemm(self, bits01: NDArray[np.float32]) -> NDArray[np.bool_]:
        return np.asarray(bits01 @ self.rows.matrix >= self.min_dot[None, :])


@dataclass(frozen=True, eq=False)
class PackedArgmax:
    """The output layer: integer class sums, then the pairwise comparisons of the ILP.

    Every ordered pair is a threshold on the difference of the sums: c ranks above j ⇔
    s_c − s_j ≥ table[c, j].  For c < j that is ``beats[c, j]``; for c > j it is the negation of
    "j ranks above c", s_j − s_c ≥ T ⇔ s_c − s_j ≤ −T, so c ranks above j ⇔ s_c − s_j ≥ 1 − T.
    Pairs compared by a staircase are overridden where they occur.
    """

    name: str
    rows: PackedRows
    table: NDArray[np.int64]  # (classes, classes), zero on the diagonal
    # (above, below, v steps, u steps): above ranks above below ⇔ ∀ steps: s_below < v or
    # s_above ≥ u
    staircases: tuple[tuple[int, int, NDArray[np.int64], NDArray[np.int64]], ...]

    @classmethod
    def from_layer(cls, out: ArgmaxLayer) -> PackedArgmax:
        n = out.n_classes
        # Sums lie in [−n_in, n_in] and differences in [−2n_in, 2n_in]: thresholds clamped to
        # just past that decide the same, and the arithmetic then stays in int64 whatever
        # integers a model file wrote.
        bound = out.n_in + 1
        above, below = np.triu_indices(n, k=1)
        beats = _clamped(out.beats[above, below].tolist(), 2 * bound)
        table = np.zeros((n, n), dtype=np.int64)
        table[above, below] = beats
        table[below, above] = 1 - beats
        staircases = tuple(
            (
                st.above,
                st.below,
                _clamped([v for v, _ in st.steps], bound),
                _clamped([u for _, u in st.steps], bound),
            )
            for st in out.staircases
        )
        return cls(out.name, PackedRows.from_weights(out.weights), table, staircases)

    @property
    def n_classes(self) -> int:
        return int(self.rows.active.size)

    @staticmethod
    def _row_starts(sums: NDArray[np.int64]) -> NDArray[np.intp]:
        return np.arange(0, sums.size, sums.shape[1], dtype=np.intp)

    def _ranks_above(
        self, sums: NDArray[np.int64], cand: NDArray[np.intp], j: int
    ) -> NDArray[np.bool_]:
        """Per row: does class ``cand[row]`` rank above class j (True where cand = j)?"""
        s_cand = sums.reshape(-1)[self._row_starts(sums) + cand]
        s_j = sums[:, j]
        result = np.asarray(s_cand - s_j >= self.table[cand, j])
        for above, below, v, u in self.staircases:
            if j not in (above, below):
                continue
            other = below if j == above else above
            rows = np.flatnonzero(cand == other)
            if rows.size == 0:
                continue
            s_above, s_below = (s_j, s_cand) if j == above else (s_cand, s_j)
            holds = ((s_below[rows, None] < v[None, :]) | (s_above[rows, None] >= u[None, :])).all(
                axis=1
            )
            result[rows] = ~holds if j == above else holds
        return result

    def labels(self, sums: NDArray[np.int64]) -> NDArray[np.int64]:
        """The class that ranks above every other, per row of class sums (as ``_ilp_argmax``)."""
        return self.labels_of_columns(sums.T)

    def labels_of_columns(self, columns: NDArray[np.integer]) -> NDArray[np.int64]:
        """:meth:`labels` from the class sums as columns (classes, rows), by every ordered pair.

        Class c wins a row if it ranks above every other class there.  The relation of each pair
        is one comparison and its negation, so at most one class wins; checking that one does is
        the reference's "exactly one winner".  Sums lie in [−n_in, n_in], so their
        differences fit int16 below 2^14 inputs, which halves the memory traffic.
        """
        if self.n_classes > PAIRWISE_MAX_CLASSES:
            return self._labels_by_knockout(np.ascontiguousarray(columns.T))
        small = 2 * (self.rows.n_in + 1) < 1 << 15
        dtype = np.int16 if small else np.int64
        sums: NDArray[np.integer] = np.ascontiguousarray(columns, dtype=dtype)
        rows = sums.shape[1]
        table = self.table.astype(dtype)  # clamped to ±2(n_in + 1) in from_layer, so it fits
        stairs = {(above, below): (v, u) for above, below, v, u in self.staircases}
        difference = np.empty(rows, dtype=dtype)
        ranks_above = np.empty(rows, dtype=bool)
        wins = np.empty(rows, dtype=bool)
        found = np.zeros(rows, dtype=bool)
        labels = np.zeros(rows, dtype=np.int64)
        for c in range(self.n_classes):
            wins.fill(True)
            for j in range(self.n_classes):
                if j == c:
                    continue
                if (c, j) in stairs or (j, c) in stairs:
                    ranks_above[:] = self._staircase(sums, c, j, stairs)
                else:
                    np.subtract(sums[c], sums[j], out=difference)
                    np.greater_equal(difference, table[c, j], out=ranks_above)
                np.logical_and(wins, ranks_above, out=wins)
            np.copyto(labels, c, where=wins)
            np.logical_or(found, wins, out=found)
        if not found.all():
            raise ModelError(
                f"layer {self.name!r}: the comparison table does not rank the classes "
                "consistently for some input (no single winner)"
            )
        return labels

    @staticmethod
    def _staircase(
        sums: NDArray[np.integer],
        c: int,
        j: int,
        stairs: dict[tuple[int, int], tuple[NDArray[np.int64], NDArray[np.int64]]],
    ) -> NDArray[np.bool_]:
        """Does c rank above j, for a pair compared by a staircase (either way round)?"""
        above, below = (c, j) if (c, j) in stairs else (j, c)
        v, u = stairs[above, below]
        s_above, s_below = sums[above].astype(np.int64), sums[below].astype(np.int64)
        holds = ((s_below[:, None] < v[None, :]) | (s_above[:, None] >= u[None, :])).all(axis=1)
        return np.asarray(holds if c == above else ~holds)

    def _labels_by_knockout(self, sums: NDArray[np.int64]) -> NDArray[np.int64]:
        """:meth:`labels` for many classes, from rows of class sums (rows, classes).

        A knockout: the candidate meets each class in turn and the winner of each meeting stays.
        A class that ranks above every other stays candidate from its meeting on, so it is the
        final candidate; the final candidate is then checked against every class, which is the
        reference's "exactly one winner" (two winners cannot exist: the relation of each pair is
        one comparison and its negation).  2(n − 1) vector steps instead of n² per row.
        """
        cand = np.zeros(sums.shape[0], dtype=np.intp)
        for j in range(1, self.n_classes):
            cand = np.where(self._ranks_above(sums, cand, j), cand, j)
        consistent = np.ones(sums.shape[0], dtype=bool)
        for j in range(self.n_classes):
            consistent &= self._ranks_above(sums, cand, j)
        if not consistent.all():
            raise ModelError(
                f"layer {self.name!r}: the comparison table does not rank the classes "
                "consistently for some input (no single winner)"
            )
        return cand.astype(np.int64)


@dataclass(frozen=True, eq=False)
class PackedNet:
    """An ILP model ready for batched exact inference (see the module doc)."""

    name: str
    n_inputs: int
    layers: tuple[PackedLayer, ...]
    output: PackedArgmax
    kernel: Kernel

    @classmethod
    def from_ilp(cls, ilp: IlpModel, kernel: Kernel | Literal["auto"] = "auto") -> PackedNet:
        widths = [ilp.n_inputs] + [layer.n_out for layer in ilp.layers]
        if kernel == "auto":  # the faster on every network measured (see the module doc)
            kernel = "popcount"
        elif kernel == "gemm" and max(widths) >= GEMM_MAX_INPUTS:
            raise UsageError(
                f"the gemm kernel is exact below {GEMM_MAX_INPUTS} inputs per layer; "
                "use the popcount kernel"
            )
        elif kernel not in KERNELS:
            raise UsageError(f"unknown kernel {kernel!r}; expected one of {', '.join(KERNELS)}")
        return cls(
            name=ilp.name,
            n_inputs=ilp.n_inputs,
            layers=tuple(PackedLayer.from_layer(layer) for layer in ilp.layers),
            output=PackedArgmax.from_layer(ilp.output),
            kernel=kernel,
        )

    @property
    def n_classes(self) -> int:
        return self.output.n_classes

    def predict(self, bits: ArrayLike) -> NDArray[np.int64]:
        """The label of each input (bits on the last axis, True = +1; any batch shape), as
        ``bnnc.ir.reference.predict`` gives it for the ILP model."""
        array = as_bits(self.name, self.n_inputs, bits)
        rows = array.reshape(-1, self.n_inputs)
        sums = np.empty((rows.shape[0], self.n_classes), dtype=np.int64)
        step = CHUNK_ROWS[self.kernel]
        for start in range(0, rows.shape[0], step):
            chunk = rows[start : start + step]
            if self.kernel == "gemm":
                sums[start : start + chunk.shape[0]] = self._sums_gemm(chunk)
            else:
                sums[start : start + chunk.shape[0]] = self._sums_popcount(pack_bits(chunk))
        # The class comparisons run once over the whole batch: per chunk their small vector steps
        # cost more than the layers.
        return self.output.labels(sums).reshape(array.shape[:-1])

    def labels_of_packed(self, words: ArrayLike) -> NDArray[np.int64]:
        """The label of each row of packed inputs (:func:`pack_bits`: bit j of word w is input
        64·w + j; bits past the last input are ignored)."""
        n_words = -(-self.n_inputs // WORD_BITS)
        array = np.array(words, dtype=_WORD)  # a copy: the padding is cleared below
        if array.ndim != 2 or array.shape[1] != n_words:
            raise ModelError(
                f"model {self.name!r} takes {n_words} words of packed input bits per row, "
                f"got shape {array.shape}"
            )
        # A layer without zero weights skips the AND with its non-zero mask, so bits past the
        # last input must be zero for the XOR with the +1 mask (zero there) to ignore them.
        spare = n_words * WORD_BITS - self.n_inputs
        array[:, -1] &= np.uint64((1 << (WORD_BITS - spare)) - 1)
        sums = np.empty((array.shape[0], self.n_classes), dtype=np.int64)
        step = CHUNK_ROWS[self.kernel]
        for start in range(0, array.shape[0], step):
            chunk = array[start : start + step]
            if self.kernel == "gemm":
                sums[start : start + chunk.shape[0]] = self._sums_gemm(
                    unpack_bits(chunk, self.n_inputs)
                )
            else:
                sums[start : start + chunk.shape[0]] = self._sums_popcount(chunk)
        return self.output.labels(sums)

    def labels_after_first(self, fires: NDArray[np.bool_]) -> NDArray[np.int64]:
        """The label of each row of first-layer outputs (True = fires): the rest of the network,
        for callers that compute the first layer themselves (``bnnc.engines.enumerate``)."""
        words = pack_bits(fires)
        if len(self.layers) > 1:  # hidden layers in slices that keep their buffers in cache
            step = CHUNK_ROWS["popcount"] * 4
            slices = []
            for start in range(0, words.shape[0], step):
                part = words[start : start + step]
                for layer in self.layers[1:]:
                    part = pack_bits(layer.fires_popcount(part))
                slices.append(part)
            words = np.concatenate(slices) if slices else words[:, :0]
        return self.output.labels_of_columns(self.output.rows.column_sums(words))

    def _sums_gemm(self, bits: NDArray[np.bool_]) -> NDArray[np.int64]:
        x = bits.astype(np.float32)
        for layer in self.layers:
            x = layer.fires_gemm(x).astype(np.float32)
        return self.output.rows.sums_gemm(x)

    def _sums_popcount(self, words: NDArray[np.uint64]) -> NDArray[np.int64]:
        for layer in self.layers:
            words = pack_bits(layer.fires_popcount(words))
        return self.output.rows.sums_popcount(words)


def as_bits(name: str, n_inputs: int, bits: ArrayLike) -> NDArray[np.bool_]:
    """Input bits as booleans, checked as the float reference checks them."""
    array = np.asarray(bits)
    if array.shape[-1:] != (n_inputs,):
        raise ModelError(f"model {name!r} takes {n_inputs} input bits, got shape {array.shape}")
    if array.dtype != np.bool_:
        if not np.isin(array, (0, 1)).all():
            raise ModelError("input bits must be 0/1 or booleans")
        array = array.astype(bool)
    return array
