"""Shares of the input space per label: how much of all 2^n inputs the network gives each label.

Exact by enumeration for small inputs, estimated by Monte Carlo or ApproxMC, or exact by Ganak
(see :data:`COUNT_METHODS`).  :class:`RetrainError` lives here, at the bottom of the package,
because counting is the first thing that can refuse a parameter.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

from bnnc.engines.count import count
from bnnc.engines.decide import make_query
from bnnc.engines.enumerate import enumerate_counts, montecarlo_counts
from bnnc.errors import UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.passes.pipeline import compile_model

__all__ = [
    "AUTO_ENUMERATE_INPUTS",
    "COUNT_METHODS",
    "CountMethod",
    "LabelShare",
    "RetrainError",
    "label_shares",
    "resolve_method",
]

CountMethod = Literal["auto", "enumerate", "montecarlo", "approx", "exact", "none"]
COUNT_METHODS: tuple[str, ...] = ("auto", "enumerate", "montecarlo", "approx", "exact", "none")
"""How shares of the input space are measured.

``enumerate``: every one of the 2^n inputs through the reference inference (exact; n ≤
:data:`bnnc.engines.enumerate.MAX_ENUMERATE_INPUTS`).  ``montecarlo``: ``mc_samples`` uniform
random inputs through the reference inference (an unbiased estimate with a 95 % Wilson
interval).  ``approx``: ApproxMC on the compiled formula, per label ((ε, δ) = (0.8, 0.2)
bounds).  ``exact``: Ganak on the compiled formula, per label (exact, but minutes per label on
25-20-10 networks).  ``auto``: ``enumerate`` up to 26 inputs, else ``montecarlo``.  ``none``: no
shares.
"""

AUTO_ENUMERATE_INPUTS = 26


class RetrainError(UsageError):
    """Bad retraining parameters (exit code 2, a usage error)."""


def _wilson(hits: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95 % Wilson score interval for a binomial proportion."""
    if total == 0:
        return (0.0, 1.0)
    p = hits / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class LabelShare:
    """The share of all 2^n inputs that the network gives one label.

    ``count`` is the exact or estimated number of inputs (None for Monte Carlo, which
    estimates the share directly); ``low``/``high`` bound the share (equal to it when exact;
    a 95 % interval for Monte Carlo; ApproxMC's (1 + ε) bounds with probability 1 − δ).
    """

    label: int
    name: str
    share: float
    low: float
    high: float
    count: int | None
    method: str
    seconds: float


def resolve_method(method: CountMethod, n_inputs: int) -> CountMethod:
    """The method ``auto`` stands for at ``n_inputs`` inputs (any other method is itself)."""
    if method == "auto":
        return "enumerate" if n_inputs <= AUTO_ENUMERATE_INPUTS else "montecarlo"
    return method


def label_shares(
    model: BnnModel,
    method: CountMethod = "auto",
    *,
    encoding: str = "totalizer",
    mc_samples: int = 1_000_000,
    seed: int = 0,
) -> list[LabelShare]:
    """The share of the input space of every label (see :data:`COUNT_METHODS`)."""
    method = resolve_method(method, model.n_inputs)
    names = model.class_names or tuple(str(c) for c in range(model.n_classes))
    space = 2**model.n_inputs
    if method == "none":
        return []
    if method in ("enumerate", "montecarlo"):
        start = time.perf_counter()
        if method == "enumerate":
            counts = enumerate_counts(model)
        else:
            counts = montecarlo_counts(model, mc_samples, seed=seed)
        seconds = time.perf_counter() - start
        out = []
        for c, hits in enumerate(counts.tolist()):
            if method == "enumerate":
                share = hits / space
                out.append(LabelShare(c, names[c], share, share, share, hits, method, seconds))
            else:
                low, high = _wilson(hits, mc_samples)
                out.append(
                    LabelShare(c, names[c], hits / mc_samples, low, high, None, method, seconds)
                )
        return out
    if method not in ("approx", "exact"):
        raise RetrainError(f"unknown counting method {method!r}; choose {', '.join(COUNT_METHODS)}")
    formula = compile_model(model, encoding).formula
    out = []
    for c in range(model.n_classes):
        query = make_query(model, c, None)
        result = count(formula, query, method=method, seed=seed + 1)
        low, high = result.bounds
        out.append(
            LabelShare(
                c,
                names[c],
                result.share,
                min(1.0, low / space),
                min(1.0, high / space),
                result.count,
                method,
                result.seconds,
            )
        )
    return out
