"""Immutable numpy arrays for the frozen IR dataclasses (onnx-ir style)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray


def frozen(values: ArrayLike, dtype: Any) -> NDArray[Any]:
    """Return a read-only copy of ``values`` with ``dtype``: IR tensors never change in place."""
    array = np.array(values, dtype=dtype, copy=True)
    array.setflags(write=False)
    return array


def ternary(values: ArrayLike) -> NDArray[np.int8]:
    """A read-only int8 matrix of weights in {-1, 0, +1}; callers verify the range."""
    return frozen(values, np.int8)
