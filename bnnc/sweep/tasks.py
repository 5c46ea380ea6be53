"""One task of a sweep: a model, an input and the query → one record (a JSON-able dict).
(The engines also run other kinds of task, :class:`SweepTask`: one label's count.)

A task carries everything a worker needs, so that any engine can run it anywhere: the model as
a :class:`ModelRef` (its file's bytes and sha256, so that a Dask worker on another machine
needs no shared file system), the input bits, the true label and the query's options.  A
worker loads each model once (:func:`model_of` keeps it by digest) and then runs tasks on it.

Records are deterministic: the same task gives the same record on any engine, apart from the
fields in :data:`RUN_FIELDS` (when and where it ran).  The radius search answers with the
same radius and counterexample whenever no time limit cuts a method short.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import resource
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

import bnnc.api as bnnc
from bnnc.ir.ilp import IlpModel

RUN_FIELDS = ("seconds", "cpu_seconds", "worker")
"""Record fields that say how a task ran, not what it found: left out when records of two
runs are compared."""

DELAY_ENV = "BNNC_SWEEP_TEST_DELAY"
"""Test hook: seconds each task sleeps first, so that tests can interrupt a sweep or kill a
worker while tasks are in flight.  Not for use outside the tests."""


@dataclass(frozen=True)
class ModelRef:
    """A model file by content: its name (the suffix picks the frontend), bytes and sha256."""

    name: str
    data: bytes = field(repr=False)
    digest: str
    input_domain: str | None = None  # as bnnc.load takes it (--input-domain)
    integer_inputs: bool = False  # as bnnc.load takes it (bnnc count: the order clauses)

    @classmethod
    def of(
        cls, path: str | Path, input_domain: str | None = None, *, integer_inputs: bool = False
    ) -> ModelRef:
        data = Path(path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        return cls(Path(path).name, data, digest, input_domain, integer_inputs)

    @property
    def key(self) -> str:
        """What a worker keeps the model by: the file's content and how it is read."""
        return f"{self.digest}:{self.input_domain}:{self.integer_inputs}"


class SweepTask(Protocol):
    """What the engines run: a task numbered ``index`` that makes its record from the model.
    Each kind of task (the radius search here, a label's count in :mod:`bnnc.sweep.counts`)
    brings its own ``run``, so the engines and their failure handling serve them all."""

    @property
    def index(self) -> int: ...

    def run(self, ref: ModelRef) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RadiusQuery:
    """The question asked of every input: the radius search's options."""

    max_flips: int
    time_limit: float | None = None
    method: str = "auto"
    solver: str = "auto"
    strategy: str = "per-radius"
    encoding: str = bnnc.DEFAULT_ENCODING


@dataclass(frozen=True)
class Task:
    """Image ``index`` of the data, its bits and true label (−1: unknown), and the query."""

    index: int
    bits: bytes  # np.packbits of the input bits: small to send
    truth: int
    query: RadiusQuery

    def input_bits(self, n_inputs: int) -> NDArray[np.bool_]:
        unpacked = np.unpackbits(np.frombuffer(self.bits, dtype=np.uint8), count=n_inputs)
        return unpacked.astype(bool)

    def run(self, ref: ModelRef) -> dict[str, Any]:
        return run_radius(ref, self)


def make_task(index: int, bits: NDArray[np.bool_], truth: int, query: RadiusQuery) -> Task:
    return Task(int(index), np.packbits(np.asarray(bits, dtype=bool)).tobytes(), int(truth), query)


_MODELS: dict[str, bnnc.Model] = {}
_ILPS: dict[tuple[str, str], IlpModel] = {}  # (digest, encoding) → the ILP stage


def model_of(ref: ModelRef) -> bnnc.Model:
    """The model of ``ref``, loaded once per process (its file written to a temporary folder,
    since the frontends read files; an ONNX model also goes through bnnc's cache)."""
    model = _MODELS.get(ref.key)
    if model is None:
        with tempfile.TemporaryDirectory(prefix="bnnc-sweep-") as folder:
            path = Path(folder) / ref.name
            path.write_bytes(ref.data)
            model = bnnc.load(
                path, input_domain=ref.input_domain, integer_inputs=ref.integer_inputs
            )
        _MODELS[ref.key] = model
    return model


def _allow_children() -> None:
    """Time limits run some solvers in a child process (bnnc.engines.child), and a daemonic
    process may not have children.  Dask's nanny starts its workers as daemons (unless
    ``distributed.worker.daemon`` is False): a task process stops being one, so that its solver
    children can be started; they are still stopped at their deadline by the engine."""
    process = multiprocessing.current_process()
    if process.daemon:
        process._config["daemon"] = False  # type: ignore[attr-defined]


def run_task(ref: ModelRef, task: SweepTask) -> dict[str, Any]:
    """Run one task of any kind on any engine (its ``run`` makes the record)."""
    _allow_children()
    delay = os.environ.get(DELAY_ENV)
    if delay:
        time.sleep(float(delay))
    return task.run(ref)


def run_radius(ref: ModelRef, task: Task) -> dict[str, Any]:
    """A radius task: the model's label, the radius search, the record."""
    began, cpu = time.perf_counter(), cpu_seconds()
    model = model_of(ref)
    centre = task.input_bits(model.n_inputs)
    query = task.query
    ilp = _ILPS.get((ref.key, query.encoding))
    if ilp is None:  # lowered once per worker, shared by its tasks (as by every radius)
        ilp = bnnc.compile(model, query.encoding, until="ilp").ilp
        assert ilp is not None
        _ILPS[ref.key, query.encoding] = ilp
    result = bnnc.robustness(
        model,
        centre,
        query.max_flips,
        encoding=query.encoding,
        solver=query.solver,
        method=query.method,
        time_limit=query.time_limit,
        strategy=query.strategy,
        ilp=ilp,
    )
    record = record_of(model, task, result, centre, time.perf_counter() - began)
    record["cpu_seconds"] = round(cpu_seconds() - cpu, 4)
    return record


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (solvers stopped at a deadline
    run in children): what a task costs whatever else the machine runs."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def methods(result: bnnc.Robustness) -> str:
    """The methods that answered the search's steps, each once, in order (``enumerate``,
    ``tabulate``, ``search``, ``sat`` …)."""
    return "+".join(dict.fromkeys(step.result.method for step in result.steps)) or "none"


def record_of(
    model: bnnc.Model,
    task: Task,
    result: bnnc.Robustness,
    centre: NDArray[np.bool_],
    seconds: float,
) -> dict[str, Any]:
    """The JSON record of one input (README, "Robustness sweeps")."""
    correct = None if task.truth < 0 else result.label == task.truth
    example = result.counterexample
    flipped = None if example is None else np.flatnonzero(example != centre).tolist()
    return {
        "index": task.index,
        "truth": None if task.truth < 0 else task.truth,
        "label": result.label,
        "correct": correct,
        "status": "misclassified" if correct is False else result.status,
        "result": result.status,
        "radius": result.radius,
        "max_flips": result.max_flips,
        "counterexample": flipped,  # the bits flipped from the input
        "counterexample_label": result.counterexample_label,
        "method": methods(result),
        # validated by the reference inference, and by the model itself (ONNX) when true
        "checked_by_model": example is not None and bnnc.checked_by_framework(model),
        "input": "".join("1" if b else "0" for b in centre.tolist()),
        "seconds": round(seconds, 4),
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
