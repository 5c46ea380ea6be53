"""Nothing lost: Ctrl-C during a local sweep, then a resumed run, gives every record once; a
sweep through a real Dask cluster (Dask's own scheduler and worker commands on 127.0.0.1)
gives the local pool's records, also when a worker is killed mid-sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bnnc.sweep import RadiusQuery, sweep
from tests.sweep.conftest import BIN, Cluster, Small, records, stripped

DELAY = "BNNC_SWEEP_TEST_DELAY"


def _reference(small: Small, tmp_path: Path, images: str | None = None) -> dict[int, dict]:
    jsonl = tmp_path / "reference.jsonl"
    sweep(
        small.model_path,
        str(small.npy),
        RadiusQuery(3),
        images=images,
        jsonl=jsonl,
        engine="inprocess",
    )
    return stripped(records(jsonl))


def _wait_for_records(jsonl: Path, n: int, process: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + 60
    while not jsonl.exists() or jsonl.read_text().count("\n") < n + 1:
        assert time.monotonic() < deadline, "the sweep wrote no records"
        assert process is None or process.poll() is None, "the sweep ended early"
        time.sleep(0.05)


def test_ctrl_c_then_resume_loses_nothing(small: Small, tmp_path: Path) -> None:
    jsonl = tmp_path / "r.jsonl"
    command = [
        str(BIN / "bnnc"),
        "robustness",
        str(small.model_path),
        "--data",
        str(small.npy),
        "--max-flips",
        "3",
        "--workers",
        "2",
        "--jsonl",
        str(jsonl),
    ]
    env = dict(os.environ, **{DELAY: "0.25"})
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _wait_for_records(jsonl, 4, process)
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, err
    assert err.decode().strip().splitlines()[-1] == "bnnc: interrupted"
    text = jsonl.read_text()
    assert text.endswith("\n")  # complete lines only
    done = records(jsonl)
    assert 4 <= len(done) < 48
    resumed = subprocess.run(command, capture_output=True, text=True, check=True)
    assert f"{len(done)} of 48 inputs already in" in resumed.stderr
    assert stripped(records(jsonl)) == _reference(small, tmp_path)


def test_dask_cluster_gives_the_local_records(
    small: Small, tmp_path: Path, cluster: Cluster
) -> None:
    jsonl = tmp_path / "dask.jsonl"
    result = sweep(
        small.model_path,
        str(small.npy),
        RadiusQuery(3),
        jsonl=jsonl,
        engine="dask",
        scheduler=cluster.address,
    )
    assert result.ran == 48
    local = tmp_path / "local.jsonl"
    sweep(small.model_path, str(small.npy), RadiusQuery(3), jsonl=local, workers=2)
    assert stripped(records(jsonl)) == stripped(records(local))
    assert len({r["worker"] for r in records(jsonl).values()}) == 2  # both workers ran tasks


@pytest.mark.parametrize("cluster", [0.1], indirect=True)  # every task sleeps 0.1 s
def test_killing_a_dask_worker_loses_nothing(
    small: Small, tmp_path: Path, cluster: Cluster
) -> None:
    jsonl = tmp_path / "dask.jsonl"
    command = [
        sys.executable,
        "-m",
        "bnnc",
        "robustness",
        str(small.model_path),
        "--data",
        str(small.npy),
        "--images",
        "0:24",
        "--max-flips",
        "3",
        "--engine",
        "dask",
        "--scheduler",
        cluster.address,
        "--jsonl",
        str(jsonl),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_records(jsonl, 4, process)
        cluster.kill_worker(0)  # its tasks in flight go to the other worker
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert stripped(records(jsonl)) == _reference(small, tmp_path, "0:24")


def _pool_workers(pid: int) -> list[int]:
    """The local pool's worker processes: children of the sweep started by spawn (not
    multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = []
    for child in map(int, children):
        command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"spawn_main" in command:
            workers.append(child)
    return workers


def test_killing_a_local_worker_loses_nothing(small: Small, tmp_path: Path) -> None:
    jsonl = tmp_path / "r.jsonl"
    command = [str(BIN / "bnnc"), "robustness", str(small.model_path), "--data",
               str(small.npy), "--images", "0:24", "--max-flips", "3", "--workers", "2",
               "--jsonl", str(jsonl)]  # fmt: skip
    env = dict(os.environ, **{DELAY: "0.1"})
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_records(jsonl, 4, process)
        workers = _pool_workers(process.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)  # the pool breaks; a new one runs what is left
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert stripped(records(jsonl)) == _reference(small, tmp_path, "0:24")
