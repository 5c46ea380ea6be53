"""Declared input domains: what values a model's own input takes, when the graph does not say.

Many exports feed their first ``MatMul``/``Gemm`` with the raw graph input: the network expects
±1 (or 0/1) values but the graph does not binarise them.  The user declares the domain
(``--input-domain``, ``bnnc.load(..., input_domain=...)``):

- ``pm1``: every input element is −1 or +1 (an input bit true means +1);
- ``01``: every input element is 0 or 1 (true means 1);
- ``int:LO..HI``: integers LO ≤ x ≤ HI (e.g. ``int:0..255`` for 8-bit pixels);
- ``real``: any real (float32) value — the meaning a thresholding graph already gives its input.

>>> parse_input_domain("int:0..255")
InputDomain(kind='int', low=0, high=255)
>>> str(parse_input_domain("pm1")), parse_input_domain("01").values
('pm1', (0.0, 1.0))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import UsageError

DomainKind = Literal["pm1", "01", "int", "real"]
DOMAIN_SYNTAX = "pm1, 01, int:LO..HI or real"
_INT = re.compile(r"int:(-?\d+)\.\.(-?\d+)")
# Integer domains are read exactly in float32 inputs only up to 2^24.
_INT_LIMIT = 1 << 24


@dataclass(frozen=True)
class InputDomain:
    kind: DomainKind
    low: int | None = None  # int:LO..HI only
    high: int | None = None

    def __str__(self) -> str:
        return f"int:{self.low}..{self.high}" if self.kind == "int" else self.kind

    @property
    def binary(self) -> bool:
        """Two values per element (pm1, 01)."""
        return self.kind in ("pm1", "01")

    @property
    def values(self) -> tuple[float, float]:
        """The two values of a binary domain: (the value of a false bit, of a true bit)."""
        if self.kind == "pm1":
            return (-1.0, 1.0)
        if self.kind == "01":
            return (0.0, 1.0)
        raise ValueError(f"the input domain {self} is not binary")


def parse_input_domain(text: str | InputDomain | None) -> InputDomain | None:
    """``pm1``, ``01``, ``int:LO..HI`` or ``real`` (None passes through); a bad one is a
    :class:`UsageError` naming ``input_domain``."""
    if text is None or isinstance(text, InputDomain):
        return text
    value = text.strip().lower()
    if value in ("pm1", "01", "real"):
        kind: DomainKind = "pm1" if value == "pm1" else "01" if value == "01" else "real"
        return InputDomain(kind)
    match = _INT.fullmatch(value)
    if match is None:
        raise UsageError(f"input_domain: {text!r} is not {DOMAIN_SYNTAX}", parameter="input_domain")
    low, high = int(match[1]), int(match[2])
    if low > high or max(abs(low), abs(high)) > _INT_LIMIT:
        raise UsageError(
            f"input_domain: {text!r}: need LO ≤ HI, both within ±{_INT_LIMIT:,}",
            parameter="input_domain",
        )
    return InputDomain("int", low, high)


def order_clauses(n_elements: int, unary: int, first_var: int = 1) -> list[list[int]]:
    """u_j,k+1 → u_j,k for every element of an order-encoded integer input: element j's
    ``unary`` bits are variables ``first_var + j·unary …``; the chain leaves one assignment per
    value, so formulas over the bits stay parsimonious over the integer inputs.

    >>> order_clauses(2, 3)
    [[-2, 1], [-3, 2], [-5, 4], [-6, 5]]
    """
    return [
        [-(first_var + j * unary + k + 1), first_var + j * unary + k]
        for j in range(n_elements)
        for k in range(unary - 1)
    ]


def ordered_size(fixed: NDArray[np.int8], unary: int) -> int:
    """The number of order-encoded integer vectors (groups of ``unary`` bits u_1 ≥ u_2 ≥ …)
    that agree with ``fixed`` (per bit: −1 free, 0 or 1): per group, the values m whose
    encoding (m ones, then zeros) the fixed bits allow.

    >>> ordered_size(np.array([-1, -1, -1, 1, -1, 0], dtype=np.int8), 3)
    8
    """
    groups = np.asarray(fixed).reshape(-1, unary)
    zeros = np.concatenate([np.zeros((len(groups), 1), int), np.cumsum(groups == 0, axis=1)], 1)
    ones = np.cumsum((groups == 1)[:, ::-1], axis=1)[:, ::-1]
    ones = np.concatenate([ones, np.zeros((len(groups), 1), int)], axis=1)
    # value m: bits 1..m true (no fixed 0 among them), bits m+1..K false (no fixed 1).
    allowed = (zeros == 0) & (ones == 0)
    total = 1
    for n in allowed.sum(axis=1).tolist():
        total *= int(n)
    return total
