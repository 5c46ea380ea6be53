"""A sweep from start to end: inputs, resume, tasks on an engine, records, progress."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bnnc.api as bnnc
from bnnc.errors import UsageError
from bnnc.sweep import engines
from bnnc.sweep.inputs import check_with_model, load_inputs
from bnnc.sweep.records import FORMAT, JsonlWriter, check_header, read_jsonl
from bnnc.sweep.tasks import ModelRef, RadiusQuery, Task, make_task


@dataclass(frozen=True)
class SweepResult:
    """The records of the chosen inputs (by image number), those found in the JSONL file
    already (``skipped``) and those run now (``ran``), and the header."""

    header: dict[str, Any]
    records: tuple[dict[str, Any], ...]
    skipped: int
    ran: int
    seconds: float


def sweep(
    model_path: str | Path,
    data: str,
    query: RadiusQuery,
    *,
    images: str | None = None,
    threshold: float = bnnc.DEFAULT_THRESHOLD,
    jsonl: str | Path | None = None,
    engine: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    cache: bool | None = None,
    input_domain: str | None = None,
) -> SweepResult:
    """The robustness radius of ``model_path`` at every chosen input of ``data`` (see
    :mod:`bnnc.sweep`); records already in ``jsonl`` are not run again."""
    began = time.perf_counter()
    if query.max_flips < 0:
        raise UsageError(
            f"max_flips must be at least 0, got {query.max_flips}", parameter="max_flips"
        )
    engines.check(engine, scheduler, workers)
    model = bnnc.load(model_path, cache=cache, input_domain=input_domain)
    ref = ModelRef.of(model_path, input_domain)
    inputs = load_inputs(model, data, images, threshold)
    header = {
        "sweep": FORMAT,
        "model": Path(model_path).name,
        "model_sha256": ref.digest,
        "input_domain": input_domain,
        "data": inputs.source,
        "binarisation": inputs.binarisation,
        "max_flips": query.max_flips,
        "input_shape": list(model.input_shape),
        "class_names": list(model.class_names) if model.class_names else None,
        "query": {
            "time_limit": query.time_limit,
            "method": query.method,
            "solver": query.solver,
            "strategy": query.strategy,
            "encoding": query.encoding,
        },
    }
    done: dict[int, dict[str, Any]] = {}
    has_header = False
    if jsonl is not None and Path(jsonl).exists():
        loaded = read_jsonl(jsonl)
        check_header(jsonl, loaded.header, header)
        has_header = loaded.header is not None
        header = loaded.header or header
        chosen = set(inputs.indices.tolist())
        done = {r["index"]: r for r in loaded.records if r["index"] in chosen}
    tasks = [
        make_task(index, inputs.bits[j], int(inputs.truth[j]), query)
        for j, index in enumerate(inputs.indices.tolist())
        if index not in done
    ]
    if tasks:  # ONNX: the model itself gives the bits' labels on the raw inputs
        check_with_model(model, inputs, bnnc.predict(model, inputs.bits))
    new: list[dict[str, Any]] = []
    created = jsonl is not None and not Path(jsonl).exists()
    try:
        _run(engine, ref, tasks, jsonl, header, has_header, progress, workers, scheduler, new)
    except BaseException:
        if created and not new:  # nothing written: leave no file behind
            assert jsonl is not None
            Path(jsonl).unlink(missing_ok=True)
        raise
    order = {index: j for j, index in enumerate(inputs.indices.tolist())}
    records = sorted([*done.values(), *new], key=lambda r: order[r["index"]])
    return SweepResult(header, tuple(records), len(done), len(new), time.perf_counter() - began)


def _run(
    engine: str,
    ref: ModelRef,
    tasks: list[Task],
    jsonl: str | Path | None,
    header: dict[str, Any],
    has_header: bool,
    progress: bool,
    workers: int | None,
    scheduler: str | None,
    new: list[dict[str, Any]],
) -> None:
    """Run the tasks; each record is written to ``jsonl`` (if any) and added to ``new``."""
    with contextlib.ExitStack() as stack:
        writer = None
        if jsonl is not None and tasks:
            writer = stack.enter_context(JsonlWriter(jsonl, header, has_header=has_header))
        bar = stack.enter_context(_progress(len(tasks), progress))

        def on_record(record: dict[str, Any]) -> None:
            if writer is not None:
                writer.write(record)
            new.append(record)
            bar(record)

        engines.run(engine, ref, tasks, on_record, workers=workers, scheduler=scheduler)


@contextlib.contextmanager
def _progress(total: int, show: bool) -> Iterator[Any]:
    """A progress bar with rate and ETA on stderr (rich), or nothing."""
    if not show or total == 0:
        yield lambda _record: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("radius search"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("sweep", total=total, rate="")
        start = time.perf_counter()
        count = [0]

        def advance(_record: Any) -> None:
            count[0] += 1
            rate = count[0] / max(time.perf_counter() - start, 1e-9)
            bar.update(task, advance=1, rate=f"{rate:.2f}/s")

        yield advance
