"""bnnc robustness --data: the records agree with brute force, every engine gives the same
records, a sweep resumes from its JSONL file, and the summary is rebuilt from records alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import bnnc.api as bnnc
from bnnc.cli import app
from bnnc.sweep import RadiusQuery, read_jsonl, sweep
from bnnc.sweep.records import curve, summary_lines
from tests.sweep.conftest import Small, records, stripped

runner = CliRunner()


def test_records_agree_with_brute_force(small: Small, tmp_path: Path) -> None:
    jsonl = tmp_path / "r.jsonl"
    result = sweep(
        small.model_path, str(small.npy), RadiusQuery(3), jsonl=jsonl, engine="inprocess"
    )
    labels = bnnc.predict(small.model, small.inputs)
    rows = np.load(small.npy).astype(bool)
    assert [r["index"] for r in result.records] == list(range(len(rows)))
    for record, row in zip(result.records, rows, strict=True):
        assert record["input"] == "".join("1" if b else "0" for b in row)
        distance = (small.inputs != row).sum(axis=1)
        label = int(bnnc.predict(small.model, row[None, :])[0])
        nearest = int(distance[labels != label].min(initial=99))
        assert record["label"] == label and record["truth"] is None
        if nearest > 3:
            assert (record["result"], record["radius"], record["counterexample"]) == (
                "robust",
                3,
                None,
            )
        else:
            assert (record["result"], record["radius"]) == ("radius", nearest - 1)
            example = row.copy()
            example[record["counterexample"]] ^= True
            assert len(record["counterexample"]) == nearest
            other = int(bnnc.predict(small.model, example[None, :])[0])
            assert other == record["counterexample_label"] != label
    assert stripped(records(jsonl)) == stripped({r["index"]: r for r in result.records})


def test_local_pool_gives_the_in_process_records(small: Small, tmp_path: Path) -> None:
    here, pool = tmp_path / "here.jsonl", tmp_path / "pool.jsonl"
    sweep(small.model_path, str(small.npy), RadiusQuery(4), jsonl=here, engine="inprocess")
    sweep(small.model_path, str(small.npy), RadiusQuery(4), jsonl=pool, workers=2)
    assert stripped(records(here)) == stripped(records(pool))
    assert len({r["worker"] for r in records(pool).values()}) == 2


def test_resume_runs_only_what_is_missing(small: Small, tmp_path: Path) -> None:
    jsonl = tmp_path / "r.jsonl"
    first = sweep(
        small.model_path,
        str(small.npy),
        RadiusQuery(3),
        images="0:20,30",
        jsonl=jsonl,
        engine="inprocess",
    )
    assert (first.skipped, first.ran) == (0, 21)
    second = sweep(
        small.model_path, str(small.npy), RadiusQuery(3), jsonl=jsonl, engine="inprocess"
    )
    assert (second.skipped, second.ran) == (21, 27)
    third = sweep(small.model_path, str(small.npy), RadiusQuery(3), jsonl=jsonl, engine="inprocess")
    assert (third.skipped, third.ran) == (48, 0)
    assert sorted(records(jsonl)) == list(range(48))
    # Another K is another sweep: refused, the file untouched.
    before = jsonl.read_bytes()
    with pytest.raises(bnnc.BnncError, match="another sweep"):
        sweep(small.model_path, str(small.npy), RadiusQuery(4), jsonl=jsonl, engine="inprocess")
    assert jsonl.read_bytes() == before


def test_a_partial_last_line_is_ignored_and_cut(small: Small, tmp_path: Path) -> None:
    jsonl = tmp_path / "r.jsonl"
    sweep(
        small.model_path,
        str(small.npy),
        RadiusQuery(2),
        images="0:5",
        jsonl=jsonl,
        engine="inprocess",
    )
    whole = jsonl.read_bytes()
    jsonl.write_bytes(whole[: -len(whole.splitlines()[-1]) // 2 - 1])  # cut the last line
    loaded = read_jsonl(jsonl)
    assert loaded.partial and len(loaded.records) == 4
    again = sweep(
        small.model_path,
        str(small.npy),
        RadiusQuery(2),
        images="0:5",
        jsonl=jsonl,
        engine="inprocess",
    )
    assert (again.skipped, again.ran) == (4, 1)
    assert jsonl.read_text().count("\n") == 6 and sorted(records(jsonl)) == list(range(5))


def test_curve_counts_unknowns_apart() -> None:
    def record(result: str, radius: int, flips: int | None, correct: bool | None) -> dict:
        example = None if flips is None else list(range(flips))
        return {
            "result": result,
            "status": result,
            "radius": radius,
            "max_flips": 4,
            "counterexample": example,
            "correct": correct,
        }

    items = [
        record("robust", 4, None, True),
        record("radius", 1, 2, True),
        record("unknown", 2, None, False),  # proved robust up to 2, then the time ran out
        record("unknown", 0, 3, True),  # a counterexample at 3 flips, nothing proved
    ]
    got = [(p.certified, p.broken, p.unknown, p.certified_correct) for p in curve(items, 4)]
    assert got == [(4, 0, 0, 3), (3, 0, 1, 2), (2, 1, 1, 1), (1, 2, 1, 1), (1, 2, 1, 1)]
    assert "certified robust accuracy" in "\n".join(summary_lines(items, 4))


def test_command_line_sweep_outputs_and_from_jsonl(small: Small, tmp_path: Path) -> None:
    jsonl, csv, plot, png = (tmp_path / f"r.{x}" for x in ("jsonl", "csv", "plot.png", "png"))
    args = [
        "robustness",
        str(small.model_path),
        "--data",
        str(small.npy),
        "--max-flips",
        "3",
        "--engine",
        "inprocess",
        "--jsonl",
        str(jsonl),
    ]
    out = runner.invoke(app, [*args, "--csv", str(csv), "--plot", str(plot), "--png", str(png)])
    assert out.exit_code == 0, out.output
    assert "certified robust" in out.stdout
    assert csv.read_text().count("\n") == 49
    assert plot.read_bytes()[:4] == png.read_bytes()[:4] == b"\x89PNG"
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "48 of 48 inputs already in" in again.stderr
    rebuilt = runner.invoke(app, ["robustness", "--from-jsonl", str(jsonl), "--json"])
    assert rebuilt.exit_code == 0, rebuilt.output
    summary = json.loads(rebuilt.stdout)
    assert summary["inputs"] == 48 and len(summary["curve"]) == 4
    table = out.stdout.splitlines()[1:]
    assert runner.invoke(app, ["robustness", "--from-jsonl", str(jsonl)]).stdout.splitlines()[
        1:
    ] == [line.replace(" (48 already done, not run again)", "") for line in table]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--near", "0000000000"], "--near is for one input"),
        (["--engine", "spark"], "unknown engine 'spark'"),
        (["--engine", "dask"], "--scheduler"),
        (["--scheduler", "tcp://127.0.0.1:1"], "for the dask engine only"),
        (["--images", "5:x"], "--images: '5:x' is not an image number"),
        (["--images", "99"], "--images: image 99 is not in the data"),
        (["--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_bad_sweep_options_are_one_line(
    small: Small, tmp_path: Path, extra: list[str], message: str
) -> None:
    jsonl = tmp_path / "r.jsonl"
    out = runner.invoke(
        app,
        [
            "robustness",
            str(small.model_path),
            "--data",
            str(small.npy),
            "--max-flips",
            "2",
            "--jsonl",
            str(jsonl),
            *extra,
        ],
    )
    assert out.exit_code == 2, out.output
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bnnc: usage error: ") and message in lines[0]
    assert not jsonl.exists()


def test_from_jsonl_takes_no_sweep_options(tmp_path: Path) -> None:
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text('{"sweep": 1, "max_flips": 2}\n')
    out = runner.invoke(app, ["robustness", "--from-jsonl", str(jsonl), "--images", "0:3"])
    assert out.exit_code == 2 and "reads records only: no --images" in out.stderr
    out = runner.invoke(app, ["robustness", "--from-jsonl", str(jsonl)])
    assert (
        out.exit_code == 3
        and out.stderr == f"bnnc: error: {jsonl}: line 1: a sweep header without model\n"
    )


def test_sweep_options_need_a_sweep(small: Small) -> None:
    out = runner.invoke(
        app,
        [
            "robustness",
            str(small.model_path),
            "--near",
            "0" * 10,
            "--max-flips",
            "1",
            "--csv",
            "x.csv",
        ],
    )
    assert out.exit_code == 2 and "--csv: for sweeps only" in out.stderr
