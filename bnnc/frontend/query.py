"""Queries written as text: labels, input bits, fixed-bit specs and Hamming balls → a Query.

The command line and the API take the same strings (``label="2"`` or a class name,
``fix=["0-9=0"]`` or a mask, ``near="0110…"`` or a ``.npy`` file, ``max_flips=3``); this module
reads them.  A bad value raises :class:`~bnnc.errors.UsageError` naming the API parameter
(``fix``, ``near``, …); the CLI turns the parameter into its flag.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import UsageError
from bnnc.frontend.box import box_region
from bnnc.ir.bnn import BnnModel
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query
from bnnc.ir.region import Region

_ON, _OFF, _FREE = "1+", "0-", ".?"


def parse_label(text: str, model: BnnModel | IlpModel, parameter: str = "label") -> int:
    """A label given as an index or a class name."""
    names = model.class_names or ()
    if text in names:
        return names.index(text)
    try:
        label = int(text)
    except ValueError:
        known = f" (classes: {', '.join(names)})" if names else ""
        raise UsageError(f"unknown label {text!r}{known}", parameter=parameter) from None
    if not 0 <= label < model.n_classes:
        raise UsageError(
            f"label {label} is out of range 0..{model.n_classes - 1}", parameter=parameter
        )
    return label


def parse_bits(text: str, n_inputs: int, parameter: str) -> NDArray[np.bool_]:
    """Input bits written as 0/1 or -/+ (blanks, commas and underscores ignored).

    >>> parse_bits("+-1_0", 4, "infer").tolist()
    [True, False, True, False]
    """
    chars = [ch for ch in text if not ch.isspace() and ch not in ",_"]
    bad = [ch for ch in chars if ch not in _ON + _OFF]
    if bad:
        raise UsageError(f"bits must be 0/1 or -/+, found {bad[0]!r}", parameter=parameter)
    if len(chars) != n_inputs:
        raise UsageError(
            f"the model takes {n_inputs} input bits, got {len(chars)}", parameter=parameter
        )
    return np.array([ch in _ON for ch in chars], dtype=bool)


def read_input(text: str, n_inputs: int, parameter: str) -> NDArray[np.bool_]:
    """An input given inline as bits, or as a file: .npy (0/1, ±1 or bool) or text bits."""
    path = Path(text)
    if path.suffix == ".npy" or (path.suffix and path.exists()):
        try:
            if path.suffix == ".npy":
                array = np.load(path, allow_pickle=False)
            else:
                return parse_bits(_strip_comments(path.read_text()), n_inputs, parameter)
        except (OSError, ValueError) as err:
            raise UsageError(f"cannot read {path}: {err}", parameter=parameter) from None
        values = np.asarray(array).reshape(-1)
        if values.size != n_inputs:
            raise UsageError(
                f"{path}: {values.size} values, the model takes {n_inputs}", parameter=parameter
            )
        if values.dtype == np.bool_:
            return values.astype(bool)
        if np.isin(values, (0, 1)).all():
            return values.astype(bool)
        if np.isin(values, (-1, 1)).all():
            return values > 0
        raise UsageError(f"{path}: values must be 0/1, -1/+1 or booleans", parameter=parameter)
    return parse_bits(text, n_inputs, parameter)


def _strip_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def parse_fix(spec: str, n_inputs: int) -> dict[int, bool]:
    """A fixed-bit spec → {bit: value}: ``I=V`` or ``I-J=V`` items (V 0/1 or -/+),
    comma-separated; or a mask of one character per bit (0/- off, 1/+ on, '.' free), inline or
    as ``@FILE``.

    >>> parse_fix("0-2=1, 4=-", 6)
    {0: True, 1: True, 2: True, 4: False}
    >>> parse_fix("1.0", 3)
    {0: True, 2: False}
    """
    if spec.startswith("@"):
        path = Path(spec[1:])
        try:
            spec = _strip_comments(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise UsageError(
                f"cannot read {path}: {err.strerror or err}", parameter="fix"
            ) from None
        except UnicodeDecodeError:
            raise UsageError(f"{path} is not a UTF-8 text file", parameter="fix") from None
    if "=" not in spec:
        chars = [ch for ch in spec if not ch.isspace() and ch not in ",_"]
        bad = [ch for ch in chars if ch not in _ON + _OFF + _FREE]
        if bad:
            raise UsageError(
                f"a mask has 0/1, -/+ or '.' per bit, found {bad[0]!r}", parameter="fix"
            )
        if len(chars) != n_inputs:
            raise UsageError(
                f"the mask has {len(chars)} bits, the model takes {n_inputs}", parameter="fix"
            )
        return {i: ch in _ON for i, ch in enumerate(chars) if ch not in _FREE}
    values: dict[int, bool] = {}
    # Items are separated by commas (and by lines, in a file); blanks only around an item.
    for line in spec.splitlines():
        if not line.strip():
            continue
        for raw in line.split(","):
            item = raw.strip()
            match = _FIX_ITEM.fullmatch(item)
            if match is None:
                what = repr(item) if item else "an empty item"
                raise UsageError(
                    f"{what}: expected I=V or I-J=V (bit indices I ≤ J, V 0/1 or -/+)",
                    parameter="fix",
                )
            first, last, value = match.groups()
            lo, hi = int(first), int(last or first)
            if not 0 <= lo <= hi < n_inputs:
                raise UsageError(
                    f"{item!r}: bits must lie in 0..{n_inputs - 1}, first ≤ last", parameter="fix"
                )
            for bit in range(lo, hi + 1):
                values[bit] = value in "1+"
    return values


# One --fix item: a bit or a range of bits (ASCII digits), '=', one value.
_FIX_ITEM = re.compile(r"([0-9]+)(?:-([0-9]+))?=([01+-])")


def build_query(
    model: BnnModel | IlpModel,
    *,
    label: str | int | None = None,
    not_label: str | int | None = None,
    fix: Sequence[str] = (),
    near: str | NDArray[np.bool_] | None = None,
    max_flips: int | None = None,
    box_near: str | NDArray[Any] | None = None,
    eps: int | None = None,
) -> Query:
    """The query the arguments describe, intersected with any region the model file declares.

    Labels are indices or class names; ``fix`` items are specs for :func:`parse_fix`; ``near``
    is an input (bits as text, a ``.npy`` path, or an array) and ``max_flips`` the radius of the
    Hamming ball around it.  ``box_near`` (integers, or a ``.npy``/text file of them) and
    ``eps`` are an L∞ box in pixel units on a model whose first layer reads integer inputs
    (:mod:`bnnc.frontend.box`).
    """
    n = model.n_inputs
    region = model.region if model.region is not None else Region.everything(n)
    for spec in fix:
        region = region.intersect(Region.with_fixed(n, parse_fix(spec, n)))
    if (near is None) != (max_flips is None):
        raise UsageError(
            "near and max_flips go together", parameter="near", mentions=("max_flips",)
        )
    if near is not None and max_flips is not None:
        if max_flips < 0:
            raise UsageError("max_flips must be at least 0", parameter="max_flips")
        center = read_input(near, n, "near") if isinstance(near, str) else np.asarray(near, bool)
        region = region.intersect(Region.ball(center.reshape(-1), max_flips))
    if (box_near is None) != (eps is None):
        raise UsageError("box_near and eps go together", parameter="box_near", mentions=("eps",))
    if box_near is not None and eps is not None:
        region = region.intersect(box_region(model, box_near, eps))
    query = Query(
        region,
        label=_label(label, model, "label"),
        not_label=_label(not_label, model, "not_label"),
    )
    query.check(model.n_classes)
    return query


def _label(value: str | int | None, model: BnnModel | IlpModel, parameter: str) -> int | None:
    if value is None:
        return None
    return parse_label(str(value), model, parameter)
