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

    def __call__(self, bits: NDArray[np.bool_]) -> NDArray[np.int64]:
        engine = self.engine()
        n = int(np.prod(self.input_shape))
        batch = np.asarray(bits, dtype=bool).reshape(-1, n)
        labels = []
        for row in batch:
            tensor = np.where(row, self.on_values, self.off_values).astype(self.input_dtype)
            out = engine.run({self.input_name: tensor.reshape(self.input_shape)})[0]
            flat = np.asarray(out).reshape(-1)
            labels.append(int(flat[0]) if self.single_label else int(np.argmax(flat)))
        return np.asarray(labels, dtype=np.int64).reshape(np.asarray(bits).shape[:-1])
