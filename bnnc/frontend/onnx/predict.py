"""The model's own inference on the input tensor that a bit vector stands for: an ONNX model's
``framework_predict``, which checks every witness and sample against the file itself.

Its engine (an onnxruntime session on the whole graph) is built on first use, by a function the
reader gives: a model that answers UNSAT, or that only writes its formula, never builds one,
and a model loaded from the cache (``cache``) builds it from the file only then.  This module
imports no onnx.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray


class Runs(Protocol):
    """What :class:`Predictor` needs of an engine (``bnnc.frontend.onnx.engine.Engine``)."""

    def run(self, feeds: dict[str, NDArray[Any]]) -> list[NDArray[Any]]: ...


@dataclass(frozen=True, eq=False)
class Predictor:
    """Bits → label by the model itself: bit i selects ``on_values[i]`` or ``off_values[i]``
    as input element i (values that the input's preprocessing binarises to +1 / −1)."""

    input_name: str
    input_shape: tuple[int, ...]
    input_dtype: str
    on_values: NDArray[Any]  # flattened, one per input element
    off_values: NDArray[Any]
    single_label: bool  # the graph outputs the label itself (ArgMax/TopK), not scores
    make_engine: Callable[[], Runs]
    _engine: list[Runs] = field(default_factory=list, repr=False)  # built on first use

    def engine(self) -> Runs:
        if not self._engine:
            self._engine.append(self.make_engine())
        return self._engine[0]

    def tensor(self, bits: NDArray[np.bool_]) -> NDArray[Any]:
        """The model's input tensor that one bit vector stands for."""
        row = np.asarray(bits, dtype=bool).reshape(-1)
        return np.where(row, self.on_values, self.off_values).astype(self.input_dtype)

    @property
    def n_bits(self) -> int:
        return int(np.prod(self.input_shape))

    def __call__(self, bits: NDArray[np.bool_]) -> NDArray[np.int64]:
        engine = self.engine()
        batch = np.asarray(bits, dtype=bool).reshape(-1, self.n_bits)
        labels = []
        for row in batch:
            tensor = self.tensor(row)
            out = engine.run({self.input_name: tensor.reshape(self.input_shape)})[0]
            flat = np.asarray(out).reshape(-1)
            labels.append(int(flat[0]) if self.single_label else int(np.argmax(flat)))
        return np.asarray(labels, dtype=np.int64).reshape(np.asarray(bits).shape[:-1])


@dataclass(frozen=True, eq=False)
class UnaryPredictor(Predictor):
    """Under an integer input domain LO..HI whose values the first layer reads themselves:
    element j is LO plus the number of its ``unary`` bits that are true (order encoding; bits
    j·unary … j·unary + unary − 1)."""

    low: int = 0
    unary: int = 1

    def tensor(self, bits: NDArray[np.bool_]) -> NDArray[Any]:
        counts = np.asarray(bits, dtype=bool).reshape(-1, self.unary).sum(axis=1)
        return np.asarray(self.low + counts).astype(self.input_dtype)

    @property
    def n_bits(self) -> int:
        return int(np.prod(self.input_shape)) * self.unary
