"""Where a sweep's tasks run: in this process, on a local process pool, or on a Dask cluster.

Every engine takes the same tasks and hands back the same records, each to ``on_record`` as
soon as it is done (so that the caller writes it before anything else can go wrong), in the
order they finish.  None of them writes a scheduler: the pool is ``concurrent.futures``', the
cluster Dask's.

* ``inprocess``: one task after the other, here.
* ``local`` (the default): a ``ProcessPoolExecutor`` of ``workers`` processes, each of which
  loads the model once (its initializer) and then receives only the tasks' bits.  A worker
  that dies breaks the pool: the pool is started again and the unfinished tasks resubmitted,
  so nothing is lost.  Workers ignore Ctrl-C; the parent stops them (SIGTERM, then SIGKILL).
* ``dask``: ``distributed.Client(scheduler)``; the model is scattered to every worker once, the
  tasks are submitted with retries, and results are taken ``as_completed``.  When a worker
  dies, Dask's scheduler gives its tasks to the others.  ``dask[distributed]`` is imported only
  here (the extra ``bnnc[dask]``).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from bnnc.errors import UsageError
from bnnc.sweep.tasks import ModelRef, SweepTask, model_of, run_task

ENGINES = ("local", "inprocess", "dask")
Record = dict[str, Any]
OnRecord = Callable[[Record], None]

RESTARTS = 3
"""How often the local pool is started again after a worker died, before the sweep gives up
(a task that kills its worker every time would otherwise loop forever)."""
RETRIES = 2
"""Dask: how often a task that raised is run again (a worker that dies is handled by Dask's
scheduler itself, up to ``distributed.scheduler.allowed-failures`` times)."""


def run(
    engine: str,
    ref: ModelRef,
    tasks: Sequence[SweepTask],
    on_record: OnRecord,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
) -> None:
    """Run ``tasks`` on ``engine``, calling ``on_record`` with each record as it finishes."""
    if engine not in ENGINES:
        raise UsageError(
            f"unknown engine {engine!r}; choose {', '.join(ENGINES)}", parameter="engine"
        )
    if engine == "dask":
        if scheduler is None:
            raise UsageError(
                "the dask engine needs the scheduler's address (tcp://HOST:PORT)",
                parameter="scheduler",
            )
        run_dask(ref, tasks, on_record, scheduler)
    elif scheduler is not None:
        raise UsageError("a scheduler is for the dask engine only", parameter="scheduler")
    elif engine == "inprocess" or workers == 1 or len(tasks) <= 1:
        for task in tasks:
            on_record(run_task(ref, task))
    else:
        run_local(ref, tasks, on_record, workers or os.cpu_count() or 1)


def check(engine: str, scheduler: str | None, workers: int | None = None) -> None:
    """Refuse a bad engine, scheduler or pool size before any work (or file) is done."""
    if workers is not None and workers < 1:
        raise UsageError(f"workers must be at least 1, got {workers}", parameter="workers")
    if engine not in ENGINES:
        raise UsageError(
            f"unknown engine {engine!r}; choose {', '.join(ENGINES)}", parameter="engine"
        )
    if engine == "dask":
        _distributed()  # the extra is installed
        if scheduler is None:
            raise UsageError(
                "the dask engine needs the scheduler's address (tcp://HOST:PORT)",
                parameter="scheduler",
            )
    elif scheduler is not None:
        raise UsageError("a scheduler is for the dask engine only", parameter="scheduler")


def slots(engine: str, workers: int | None = None, scheduler: str | None = None) -> int:
    """How many tasks ``engine`` runs at once: what :func:`run` uses for ``workers`` (every
    core by default), 1 in-process, and on Dask the threads of the workers connected now."""
    if engine == "inprocess" or workers == 1:
        return 1
    if engine != "dask":
        return workers or os.cpu_count() or 1
    assert scheduler is not None
    client = _client(scheduler)
    try:
        threads: dict[str, int] = client.nthreads()
        return max(1, sum(threads.values()))
    finally:
        client.close()


# ------------------------------------------------------------------------ the local pool

_REF: list[ModelRef] = []  # the pool worker's model, set by its initializer


def _start_worker(ref: ModelRef) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _REF.append(ref)
    model_of(ref)  # load (and compile the fast reference of) the model once per worker


def _run_here(task: SweepTask) -> Record:
    return run_task(_REF[0], task)


def run_local(ref: ModelRef, tasks: Sequence[SweepTask], on_record: OnRecord, workers: int) -> None:
    left = {task.index: task for task in tasks}
    restarts = 0
    while left:
        try:
            with _pool(ref, min(workers, len(left))) as pool:
                futures: dict[Future[Record], int] = {
                    pool.submit(_run_here, task): index for index, task in left.items()
                }
                while futures:
                    done, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for future in done:
                        index = futures.pop(future)
                        record = future.result()  # BrokenProcessPool if a worker died
                        on_record(record)
                        del left[index]
        except BrokenProcessPool:
            restarts += 1
            if restarts > RESTARTS:
                raise
            # The pool is lost with every task in it; the finished ones were written.


@contextmanager
def _pool(ref: ModelRef, workers: int) -> Iterator[ProcessPoolExecutor]:
    # spawn, not fork: the parent may hold onnxruntime's threads, which fork does not copy.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, context, initializer=_start_worker, initargs=(ref,))
    try:
        yield pool
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the pool and its workers now: tasks in flight are lost (their inputs were not
    written, so a resumed sweep runs them again)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(1.0)
        if process.is_alive():
            process.kill()
            process.join()


# ------------------------------------------------------------------------------ Dask


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as error:
        raise UsageError(
            "the dask engine needs the Python package 'distributed': pip install 'bnnc[dask]'",
            parameter="engine",
        ) from error
    return distributed


def run_dask(
    ref: ModelRef, tasks: Sequence[SweepTask], on_record: OnRecord, scheduler: str
) -> None:
    distributed = _distributed()
    client = _client(scheduler)
    try:
        # Once to every worker, not with every task: a worker that joins later fetches it.
        model = client.scatter(ref, broadcast=True, hash=False)
        run_id = uuid.uuid4().hex[:8]  # keys unique to this run: a resumed sweep's are new
        futures = [
            client.submit(
                run_task,
                model,
                task,
                key=f"bnnc-sweep-{run_id}-{task.index}",
                retries=RETRIES,
                pure=False,
            )
            for task in tasks
        ]
        try:
            for future in distributed.as_completed(futures, loop=client.loop):
                on_record(future.result())
                future.release()
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        client.close()


def _client(scheduler: str) -> Any:
    distributed = _distributed()
    try:
        return distributed.Client(scheduler, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise UsageError(
            f"cannot reach the Dask scheduler at {scheduler}: {err}", parameter="scheduler"
        ) from None
