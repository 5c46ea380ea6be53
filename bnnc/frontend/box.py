"""An L∞ box around an integer image (``--box-near IMG --eps E``) as a region of input bits.

Under an integer first layer (``int:LO..HI`` read as values, ``BnnModel.order_encoded`` = K =
HI − LO bits per element), element j's bit k means p_j ≥ LO + k + 1.  The box
p_j ∈ [max(LO, c_j − ε), min(HI, c_j + ε)] fixes bit k true up to the box's lower end and false
beyond its upper end: at most 2ε bits of each element stay free, and specialisation folds the
rest (the fixed pixels become constants of the first layer).  Together with the order clauses
every formula carries, the region's assignments are exactly the box's pixel vectors.

>>> box_fixed(np.array([0, 2, 3]), 1, 0, 3).tolist()
[[-1, 0, 0], [1, -1, -1], [1, 1, -1]]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.ilp import IlpModel
from bnnc.ir.region import FREE, Region
from bnnc.ir.tensor import frozen


def box_fixed(center: NDArray[np.int64], eps: int, low: int, high: int) -> NDArray[np.int8]:
    """Per element and unary bit: 1 (fixed true), 0 (fixed false) or FREE."""
    pmin = np.maximum(low, center - eps)
    pmax = np.minimum(high, center + eps)
    level = low + 1 + np.arange(high - low)
    return np.where(
        level[None, :] <= pmin[:, None], 1, np.where(level[None, :] > pmax[:, None], 0, FREE)
    ).astype(np.int8)


def box_region(model: BnnModel | IlpModel, center: str | NDArray[Any], eps: int) -> Region:
    """The region of the box of radius ``eps`` (pixel units) around ``center`` (an array of
    integers, or a ``.npy`` file of them, one per input element), clipped to the domain."""
    domain = model.input_domain if isinstance(model, BnnModel) else None
    unary = model.order_encoded if isinstance(model, BnnModel) else 0
    if domain is None or domain.kind != "int" or not unary:
        raise UsageError(
            "a box around an image needs a model whose first layer reads integer inputs "
            "(an ONNX model with --input-domain int:LO..HI); use --near/--max-flips for bits",
            parameter="box_near",
        )
    assert domain.low is not None and domain.high is not None
    if eps < 0:
        raise UsageError("eps must be at least 0", parameter="eps")
    values = _read_image(center) if isinstance(center, str) else np.asarray(center)
    values = values.reshape(-1)
    n_elements = model.n_inputs // unary
    if values.size != n_elements:
        raise UsageError(
            f"{values.size} values, the model reads {n_elements} elements", parameter="box_near"
        )
    if not np.isfinite(values.astype(np.float64)).all() or (values != np.round(values)).any():
        raise UsageError("the image's values must be integers", parameter="box_near")
    ints = values.astype(np.int64)
    if ((ints < domain.low) | (ints > domain.high)).any():
        raise UsageError(f"the image's values must lie in {domain}", parameter="box_near")
    fixed = box_fixed(ints, eps, domain.low, domain.high).reshape(-1)
    return Region(model.n_inputs, frozen(fixed, np.int8))


def _read_image(text: str) -> NDArray[np.int64]:
    path = Path(text)
    try:
        if path.suffix == ".npy":
            return np.asarray(np.load(path, allow_pickle=False))
        return np.array(path.read_text().replace(",", " ").split(), dtype=np.float64)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read {path}: {err}", parameter="box_near") from None
