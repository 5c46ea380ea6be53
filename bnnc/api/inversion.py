"""Inversion results to files and tables: what ``bnnc sample`` and ``bnnc count`` add to the
engines (every label's count with the parsimony check; samples as .npy and PNG)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from bnnc.backend.images import write_npy, write_png_grid
from bnnc.engines.count import (
    CountResult,
    count,
    count_by_enumeration,
    region_size,
)
from bnnc.engines.count_auto import count_auto, counted_together
from bnnc.engines.count_layers import counts as count_by_layers
from bnnc.errors import InternalError, UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.cnf import CnfFormula
from bnnc.ir.ilp import IlpModel
from bnnc.ir.query import Query

CountMethod = Literal["auto", "exact", "approx", "enumerate", "layers", "d4"]


def count_queries(
    model: BnnModel | IlpModel,
    formula: CnfFormula,
    queries: list[Query],
    *,
    method: CountMethod = "auto",
    epsilon: float = 0.8,
    delta: float = 0.2,
    seed: int = 1,
    time_limit: float | None = None,
) -> list[CountResult]:
    """Count each query (over one region) with ``method``: Ganak (``exact``), ApproxMC
    (``approx``), the reference over every input of the region (``enumerate``), the dynamic
    program over the first layer's sums (``layers``), or ``auto``: the first of those that
    applies and finishes (bnnc.engines.count_auto).  Each result carries its method, the reason
    and its guarantee.  ``time_limit`` (seconds) covers all of them: when it runs out,
    TimeLimitError."""
    if not queries:
        return []
    reason = "asked for"
    integer = _integer_inputs(model)
    if method == "auto" and integer:
        # Enumeration and the layer-wise count run bit vectors, not integer vectors.
        method, reason = "exact", "integer inputs: the exact counter"
    if method in ("enumerate", "layers") and integer:
        raise UsageError(
            f"counting by {method} runs bit vectors; a model whose first layer reads integer "
            "inputs is counted by the exact or approx method",
            parameter="method",
        )
    if method == "auto":
        space = region_size(formula, queries[0])
        return count_auto(model, formula, queries, epsilon=epsilon, delta=delta, seed=seed,
                          space=space, time_limit=time_limit)  # fmt: skip
    if method == "enumerate":
        return [replace(r, reason=reason) for r in count_by_enumeration(model, queries)]
    if method == "layers":
        return _count_by_layers(model, queries, reason)
    space = region_size(formula, queries[0]) if queries else 0
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    results = []
    for q in queries:
        left = None if deadline is None else max(0.0, deadline - time.perf_counter())
        results.append(
            count(
                formula,
                q,
                method=method,
                epsilon=epsilon,
                delta=delta,
                seed=seed,
                space=space,
                time_limit=left,
            )
        )
    return [replace(r, reason=reason) for r in results]


def _count_by_layers(
    model: BnnModel | IlpModel, queries: list[Query], reason: str
) -> list[CountResult]:
    if not isinstance(model, BnnModel):
        raise UsageError(
            "the layer-wise count needs a trained network, not a lowered model", parameter="method"
        )
    start = time.perf_counter()
    try:
        counted, space = count_by_layers(model, queries)
    except ValueError as err:
        raise UsageError(str(err), parameter="method") from None
    seconds = time.perf_counter() - start
    return [
        CountResult(q, "layers", c, space, seconds, reason=reason)
        for q, c in zip(queries, counted, strict=True)
    ]


def count_every_label(
    model: BnnModel | IlpModel,
    formula: CnfFormula,
    query: Query,
    *,
    method: CountMethod = "auto",
    epsilon: float = 0.8,
    delta: float = 0.2,
    seed: int = 1,
    time_limit: float | None = None,
) -> list[CountResult]:
    """The count of every label over the query's region; exact counts are checked to sum to the
    region's size (a formula that is not parsimonious would fail here)."""
    wanted = [replace(query, label=c, not_label=None) for c in range(model.n_classes)]
    results = count_queries(
        model,
        formula,
        wanted,
        method=method,
        epsilon=epsilon,
        delta=delta,
        seed=seed,
        time_limit=time_limit,
    )
    check_label_counts(results, region_size(formula, query))
    return results


def check_label_counts(results: Sequence[CountResult], space: int) -> None:
    """The parsimony check of every label's count: when all of them are exact they must sum to
    the region's size, wherever they were counted (a formula that is not parsimonious would
    fail here)."""
    total = sum(r.count for r in results)
    if all(r.exact for r in results) and total != space:
        raise InternalError(
            f"the exact counts of all labels sum to {total}, not to the {space} inputs of "
            "the region: the formula is not parsimonious (please report this as a bnnc bug)"
        )


def counts_label_by_label(
    model: BnnModel | IlpModel, query: Query, method: CountMethod = "auto"
) -> bool:
    """Whether :func:`count_every_label` counts the labels one after the other (Ganak or
    ApproxMC on each label's formula: tasks that may run in parallel, one label each) rather
    than all at once (enumeration or the layer-wise count, in this process)."""
    if method in ("exact", "approx"):
        return True
    if method != "auto":
        return False
    return _integer_inputs(model) or not counted_together(model, query.region)


def _integer_inputs(model: BnnModel | IlpModel) -> bool:
    return isinstance(model, BnnModel) and model.order_encoded > 0


def save_samples(
    path: str | Path, samples: NDArray[np.bool_], input_shape: tuple[int, ...]
) -> None:
    """Samples as .npy: shape (N, *input shape), values −1/+1 (int8), written atomically."""
    write_npy(path, samples, input_shape)


def save_png_grid(
    path: str | Path, samples: NDArray[np.bool_], input_shape: tuple[int, ...]
) -> None:
    """A PNG grid of 2-D samples, written atomically."""
    write_png_grid(path, samples, input_shape)
