"""``bnnc count --all-labels`` on a sweep engine: one task per label where the labels are
counted one after the other (Ganak, ApproxMC), so that they run in parallel.

Where enumeration or the layer-wise count applies (:func:`bnnc.api.counts_label_by_label` is
false) every label is counted at once, in this process, and the engine is not used: those
methods are fast, and a pool would only add its start-up.  Otherwise each label is a
:class:`CountTask`: the worker loads the model (:func:`~bnnc.sweep.tasks.model_of`, as the CLI
loads it), compiles the formula as the CLI does (once per worker and run) and counts that
label with :func:`bnnc.api.count_queries`, the same call as the sequential count, so each
result has the same method, reason and guarantee.

Time limits: each label gets ``time_limit / ceil(labels / slots)`` seconds, ``slots`` being how
many tasks the engine runs at once (:func:`~bnnc.sweep.engines.slots`).  The labels run in
``ceil(labels / slots)`` rounds, so the whole count keeps ``time_limit`` (plus the pool's
start-up) however long each label takes: an equal share is what the sequential chain gives a
label too, and a label cannot borrow time from a label on another worker.  A label that runs
out of time is a record saying so, not an exception in the worker (Dask would run it again):
its record stops the run with :class:`~bnnc.errors.TimeLimitError`, as the first label out of
time stops the sequential count.
"""

from __future__ import annotations

import math
import os
import socket
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

import bnnc.api as bnnc
from bnnc.errors import InternalError, TimeLimitError
from bnnc.sweep import engines
from bnnc.sweep.tasks import ModelRef, cpu_seconds, model_of


@dataclass(frozen=True)
class CountTask:
    """Count one label's query over its region: ``index`` is the label."""

    index: int
    query: bnnc.Query  # the label's query over the region
    run_id: str  # the run whose formula this is (workers compile it once per run)
    encoding: str
    specialise: bool  # compile the network specialised to the region, as the CLI does
    method: bnnc.CountMethod
    epsilon: float
    delta: float
    seed: int
    time_limit: float | None  # this label's share (module doc)

    def run(self, ref: ModelRef) -> dict[str, Any]:
        """The record: the label, its CountResult or why there is none (``unknown``)."""
        began, cpu = time.perf_counter(), cpu_seconds()
        model = model_of(ref)
        formula = _formula(ref, model, self)
        left = self.time_limit
        if left is not None:  # compiling came out of the label's share
            left = max(0.0, left - (time.perf_counter() - began))
        query = self.query
        if formula.region is not None:  # a specialised formula answers for its own region only
            query = replace(query, region=formula.region)  # (equal to the query's: this run's)
        result, unknown = None, None
        try:
            (result,) = bnnc.count_queries(model, formula, [query], method=self.method,
                                           epsilon=self.epsilon, delta=self.delta, seed=self.seed,
                                           time_limit=left)  # fmt: skip
        except TimeLimitError as err:
            unknown = str(err)
        return {
            "index": self.index,
            "result": result,
            "unknown": unknown,
            "seconds": round(time.perf_counter() - began, 4),
            "cpu_seconds": round(cpu_seconds() - cpu, 4),
            "worker": f"{socket.gethostname()}:{os.getpid()}",
        }


_FORMULA: dict[tuple[str, str], bnnc.CnfFormula] = {}  # this run's formula only


def _formula(ref: ModelRef, model: bnnc.Model, task: CountTask) -> bnnc.CnfFormula:
    """The formula of ``task``'s run, compiled by the first of its tasks on this worker.  Only
    the latest run's is kept: a Dask worker serves runs one after the other."""
    key = (ref.key, task.run_id)
    formula = _FORMULA.get(key)
    if formula is None:
        _FORMULA.clear()
        region = task.query.region if task.specialise else None
        formula = bnnc.compile(model, task.encoding, region=region).formula
        _FORMULA[key] = formula
    return formula


def count_every_label(
    ref: ModelRef,
    model: bnnc.Model,
    formula: bnnc.CnfFormula,
    query: bnnc.Query,
    *,
    encoding: str,
    specialise: bool,
    method: bnnc.CountMethod = "auto",
    epsilon: float = 0.8,
    delta: float = 0.2,
    seed: int = 1,
    time_limit: float | None = None,
    engine: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
) -> list[bnnc.CountResult]:
    """:func:`bnnc.api.count_every_label` with the labels as tasks on ``engine`` where they are
    counted one by one (module doc).  ``ref`` is the file ``model`` was loaded from, and
    ``formula`` its formula compiled with ``encoding`` (specialised to the query's region when
    ``specialise``); the workers compile the same."""
    engines.check(engine, scheduler, workers)
    options: dict[str, Any] = {"method": method, "epsilon": epsilon, "delta": delta,
                               "seed": seed, "time_limit": time_limit}  # fmt: skip
    if not bnnc.counts_label_by_label(model, query, method):
        return bnnc.count_every_label(model, formula, query, **options)
    labels = model.n_classes
    share = None
    if time_limit is not None:
        rounds = math.ceil(labels / min(labels, engines.slots(engine, workers, scheduler)))
        share = time_limit / rounds
    run_id = uuid.uuid4().hex
    tasks = [
        CountTask(c, replace(query, label=c, not_label=None), run_id, encoding, specialise, method,
                  epsilon, delta, seed, share)
        for c in range(labels)
    ]  # fmt: skip
    results: dict[int, bnnc.CountResult] = {}

    def on_record(record: dict[str, Any]) -> None:
        if record["unknown"] is not None:
            raise TimeLimitError(record["unknown"])  # the engine stops the other labels
        results[record["index"]] = record["result"]

    engines.run(engine, ref, tasks, on_record, workers=workers, scheduler=scheduler)
    if len(results) != labels:
        raise InternalError(f"{labels - len(results)} labels were not counted")
    ordered = [results[c] for c in range(labels)]
    bnnc.check_label_counts(ordered, bnnc.region_size(formula, query))
    return ordered
