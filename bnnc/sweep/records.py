"""The sweep's records: the JSONL file, resuming from it, and the summary built from records.

The JSONL file
    Its first line is a header (``{"sweep": 1, "model": …, "max_flips": …}``) that says what
    was swept; then one record per input (:func:`bnnc.sweep.tasks.record_of`), appended as each
    finishes.  A record is written as one ``write`` of a whole line, then flushed and fsynced:
    a sweep that is interrupted or killed leaves complete lines, and at most a partial last line,
    which :func:`open_jsonl` cuts off before it appends.  Resuming reads the complete lines only,
    checks that the header is the same sweep's, and skips the inputs it lists.

The summary
    :func:`curve` counts, at each k = 0…K, the inputs *certified* robust within k flips (the
    search proved their radius ≥ k), those with a counterexample of at most k flips, and the
    rest, *unknown* at k (a time limit ran out): an unknown is never counted as robust.  The
    certified robust accuracy at k counts the correctly labelled inputs certified at k.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from bnnc.errors import OutputError, UsageError
from bnnc.training.data import DataError

FORMAT = 1
HEADER_FIELDS = ("model", "data", "binarisation", "max_flips", "input_shape")
RECORD_FIELDS = ("status", "result", "radius", "max_flips", "counterexample", "correct", "input")
# What must match for a JSONL file to be resumed by another run.
SAME_SWEEP = ("model_sha256", "input_domain", "data", "binarisation", "max_flips")


@dataclass(frozen=True)
class Loaded:
    """The header and the records of a JSONL file (complete lines only, each index once)."""

    header: dict[str, Any] | None
    records: tuple[dict[str, Any], ...]
    duplicates: int  # records of an index seen before (left out)
    partial: bool  # the file ended in a partial line (a write cut short)


def read_jsonl(path: str | Path) -> Loaded:
    """The complete lines of a sweep's JSONL file (see the module docstring)."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror or err}", where=str(file)) from None
    lines = data.split(b"\n")
    partial = lines[-1] != b""  # no newline at the end: the last write was cut short
    header: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    seen: set[int] = set()
    duplicates = 0
    for number, line in enumerate(lines[:-1], start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise DataError(f"line {number} is not JSON", where=str(file)) from None
        if not isinstance(item, dict):
            raise DataError(f"line {number} is not a JSON object", where=str(file))
        if "sweep" in item:
            missing = [key for key in HEADER_FIELDS if key not in item]
            if missing or not isinstance(item.get("max_flips"), int):
                what = f"without {missing[0]}" if missing else "with a max_flips not a number"
                raise DataError(f"line {number}: a sweep header {what}", where=str(file))
            header = header or item
        elif isinstance(item.get("index"), int):
            missing = [key for key in RECORD_FIELDS if key not in item]
            if missing:
                raise DataError(f"line {number}: a record without {missing[0]}", where=str(file))
            if item["index"] in seen:
                duplicates += 1
                continue
            seen.add(item["index"])
            records.append(item)
        else:
            raise DataError(f"line {number} is neither a header nor a record", where=str(file))
    return Loaded(header, tuple(records), duplicates, partial)


def check_header(
    path: str | Path, found: Mapping[str, Any] | None, wanted: Mapping[str, Any]
) -> None:
    """Refuse to resume a JSONL file of another sweep (another model, data or K)."""
    if found is None:
        return
    for key in SAME_SWEEP:
        if found.get(key) != wanted.get(key):
            raise UsageError(
                f"{path} holds another sweep ({key} {found.get(key)!r}, not "
                f"{wanted.get(key)!r}); give another file",
                parameter="jsonl",
            )


class JsonlWriter:
    """Appends records to a sweep's JSONL file, each line flushed and fsynced."""

    def __init__(self, path: str | Path, header: Mapping[str, Any], *, has_header: bool) -> None:
        self.path = Path(path)
        self._file: BinaryIO = open_jsonl(self.path)
        if not has_header:
            self.write(header)

    def write(self, item: Mapping[str, Any]) -> None:
        line = json.dumps(item, separators=(",", ":")).encode() + b"\n"
        self._file.write(line)  # one write of the whole line
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_jsonl(path: Path) -> BinaryIO:
    """``path`` opened for appending, a partial last line (a write cut short) cut off."""
    try:
        file = open(path, "a+b")  # noqa: SIM115 (closed by JsonlWriter)
        size = file.seek(0, os.SEEK_END)
        if size:
            back = min(size, 1 << 20)
            file.seek(size - back)
            tail = file.read(back)
            if not tail.endswith(b"\n"):
                cut = tail.rfind(b"\n")
                keep = size - back + cut + 1 if cut >= 0 else (0 if back == size else size)
                file.truncate(keep)
                file.seek(keep)
    except OSError as err:
        raise OutputError(f"{path}: cannot write: {err.strerror or err}") from None
    return file


# ---------------------------------------------------------------------------- the summary


@dataclass(frozen=True)
class Point:
    """The sweep at k flips."""

    k: int
    certified: int  # proved robust within k flips
    broken: int  # a counterexample of at most k flips is known
    unknown: int  # neither
    certified_correct: int  # certified and correctly labelled


def lower_bound(record: Mapping[str, Any]) -> int:
    """The radius proved for the input (robust: K)."""
    return int(record["max_flips"] if record["result"] == "robust" else record["radius"])


def counterexample_flips(record: Mapping[str, Any]) -> int | None:
    example = record.get("counterexample")
    return None if example is None else len(example)


def curve(records: Sequence[Mapping[str, Any]], max_flips: int) -> list[Point]:
    """Certified, broken and unknown counts at each k = 0…max_flips."""
    points = []
    for k in range(max_flips + 1):
        certified = broken = correct = 0
        for record in records:
            flips = counterexample_flips(record)
            if lower_bound(record) >= k:
                certified += 1
                correct += record.get("correct") is True
            elif flips is not None and flips <= k:
                broken += 1
        points.append(Point(k, certified, broken, len(records) - certified - broken, correct))
    return points


def summary_lines(
    records: Sequence[Mapping[str, Any]], max_flips: int, *, skipped: int = 0
) -> list[str]:
    """The terminal summary: counts, then one row per k."""
    n = len(records)
    if n == 0:
        return ["no records"]
    statuses: dict[str, int] = {}
    for record in records:
        status = str(record["status"])
        statuses[status] = statuses.get(status, 0) + 1
    labelled = [r for r in records if r.get("correct") is not None]
    right = sum(r["correct"] is True for r in labelled)
    seconds = sorted(float(r.get("seconds", 0.0)) for r in records)
    lines = [
        f"{n} inputs"
        + (f" ({skipped} already done, not run again)" if skipped else "")
        + ", "
        + ", ".join(f"{count} {status}" for status, count in sorted(statuses.items())),
        f"accuracy: {_share(right, len(labelled))}" if labelled else "accuracy: no labels",
        f"query time: median {seconds[n // 2]:.3f} s, max {seconds[-1]:.3f} s, "
        f"total {sum(seconds):.1f} s",
        "",
        f"{'k':>3}  {'certified robust':>18}  {'counterexample':>16}  {'unknown':>8}  "
        f"{'certified robust accuracy':>26}",
    ]
    for p in curve(records, max_flips):
        accuracy = _share(p.certified_correct, len(labelled)) if labelled else "-"
        lines.append(
            f"{p.k:>3}  {_share(p.certified, n):>18}  {p.broken:>16}  {p.unknown:>8}  "
            f"{accuracy:>26}"
        )
    return lines


def _share(count: int, total: int) -> str:
    return f"{count}/{total} ({100 * count / total:.1f}%)" if total else "-"


def summary_json(records: Sequence[Mapping[str, Any]], max_flips: int) -> dict[str, Any]:
    labelled = [r for r in records if r.get("correct") is not None]
    return {
        "inputs": len(records),
        "labelled": len(labelled),
        "correct": sum(r["correct"] is True for r in labelled),
        "max_flips": max_flips,
        "curve": [p.__dict__ for p in curve(records, max_flips)],
    }


CSV_FIELDS = (
    "index", "truth", "label", "correct", "status", "result", "radius", "max_flips",
    "counterexample_flips", "counterexample_label", "counterexample", "method", "seconds",
    "cpu_seconds", "worker",
)  # fmt: skip


def csv_text(records: Iterable[Mapping[str, Any]]) -> str:
    """One CSV row per record (the flipped bits space-separated; the input bits left out)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for record in sorted(records, key=lambda r: int(r["index"])):
        flips = counterexample_flips(record)
        row = dict(record, counterexample_flips=flips)
        if record.get("counterexample") is not None:
            row["counterexample"] = " ".join(map(str, record["counterexample"]))
        writer.writerow(["" if row.get(f) is None else row.get(f) for f in CSV_FIELDS])
    return out.getvalue()
