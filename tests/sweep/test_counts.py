"""``bnnc count --all-labels`` on the sweep engines: where the labels are counted one by one,
the local pool, the in-process engine and a real Dask cluster give the sequential counts (same
methods and guarantees, exact counts summing to the space); where enumeration or the layer-wise
count applies the engine is not used; bad engine options are one-line usage errors; a label out
of time on the pool is UNKNOWN, exit 30."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import bnnc.api as bnnc
from bnnc.training.generate import random_bnn
from tests.sweep.conftest import BIN, Cluster


def _save(tmp_path: Path, widths: list[int], seed: int) -> Path:
    path = tmp_path / f"random-{'-'.join(map(str, widths))}.bnn"
    bnnc.save_text(random_bnn(widths, seed=seed), path)
    return path


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    """2^32 inputs (too many to enumerate), which Ganak counts in about a second a label, and
    3 first-layer neurons (so --method auto takes the layer-wise count)."""
    return _save(tmp_path, [32, 3, 3], 0)


@pytest.fixture
def hard(tmp_path: Path) -> Path:
    """2^40 inputs and 6 first-layer neurons: Ganak has no count within seconds."""
    return _save(tmp_path, [40, 6, 3], 0)


def _count(model: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    command = [str(BIN / "bnnc"), "count", str(model), "--all-labels", "--json", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    record = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, record, done.stderr


def _counts(record: dict[str, Any]) -> list[dict[str, Any]]:
    """What a count found and how, not how long it took."""
    return [{k: v for k, v in c.items() if k != "seconds"} for c in record["counts"]]


@pytest.mark.parametrize(
    "engine", [["--workers", "2"], ["--engine", "inprocess"]], ids=["local", "inprocess"]
)
def test_engines_give_the_sequential_counts(chain: Path, engine: list[str]) -> None:
    code, sequential, err = _count(chain, "--exact")
    assert code == 0, err
    code, parallel, err = _count(chain, "--exact", *engine)
    assert code == 0, err
    assert _counts(parallel) == _counts(sequential)
    assert parallel["method"] == "exact" and parallel["reason"] == "asked for"
    assert sum(c["count"] for c in parallel["counts"]) == parallel["space"] == 2**32


def test_a_specialised_region_on_the_pool(chain: Path) -> None:
    region = ("--fix", "0-3=0", "--exact")  # 2^28 inputs: each worker specialises to them
    code, sequential, err = _count(chain, *region)
    assert code == 0, err
    code, parallel, err = _count(chain, *region, "--workers", "2")
    assert code == 0, err
    assert _counts(parallel) == _counts(sequential)
    assert sum(c["count"] for c in parallel["counts"]) == 2**28


def test_approx_counts_on_the_pool_are_the_sequential_ones(hard: Path) -> None:
    code, sequential, err = _count(hard, "--approx", "--seed", "3")
    assert code == 0, err
    code, parallel, err = _count(hard, "--approx", "--seed", "3", "--workers", "2")
    assert code == 0, err
    assert _counts(parallel) == _counts(sequential)
    assert all(c["guarantee_kind"] == sequential["counts"][0]["guarantee_kind"]
               for c in parallel["counts"])  # fmt: skip


def test_dask_cluster_gives_the_sequential_counts(chain: Path, cluster: Cluster) -> None:
    code, sequential, err = _count(chain, "--exact")
    assert code == 0, err
    code, parallel, err = _count(chain, "--exact", "--engine", "dask", "--scheduler",
                                 cluster.address)  # fmt: skip
    assert code == 0, err
    assert _counts(parallel) == _counts(sequential)
    assert sum(c["count"] for c in parallel["counts"]) == 2**32


def test_layer_wise_count_ignores_the_engine(chain: Path) -> None:
    code, sequential, err = _count(chain)
    assert code == 0, err
    code, parallel, err = _count(chain, "--workers", "2")
    assert code == 0, err
    assert parallel["method"] == "layers" and not err
    assert _counts(parallel) == _counts(sequential)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler: a scheduler is for the dask engine"),
        (["--engine", "dask"], "--scheduler: the dask engine needs the scheduler's address"),
        (["--engine", "bogus"], "--engine: unknown engine 'bogus'"),
        (["--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_bad_engine_options_are_usage_errors(chain: Path, args: list[str], message: str) -> None:
    if "dask" in args:
        pytest.importorskip("distributed")
    code, record, err = _count(chain, *args)
    assert code == 2 and not record
    assert err.count("\n") == 1 and err.startswith(f"bnnc: usage error: {message}"), err


def test_engine_options_need_all_labels(chain: Path) -> None:
    command = [str(BIN / "bnnc"), "count", str(chain), "--label", "1", "--workers", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("bnnc: usage error: --workers, --engine and --scheduler")


def test_label_out_of_time_on_the_pool_is_unknown(hard: Path) -> None:
    began = time.perf_counter()
    code, record, err = _count(hard, "--exact", "--timeout", "1", "--workers", "2")
    assert code == 30, err
    assert record["result"] == "unknown" and "ran out of time" in record["reason"]
    assert time.perf_counter() - began < 20  # the timeout and the pool's start-up


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_ctrl_c_stops_the_workers_and_their_counters(hard: Path) -> None:
    command = [str(BIN / "bnnc"), "count", str(hard), "--all-labels", "--exact", "--workers", "2",
               "--timeout", "60"]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        counters: list[int] = []
        while len(counters) < 2:  # each worker has forked its Ganak child
            assert time.monotonic() < deadline and process.poll() is None, "no counters"
            time.sleep(0.1)
            workers = [w for w in _children(process.pid) if Path(f"/proc/{w}").exists()]
            counters = [c for w in workers for c in _children(w)]
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, err
    assert err.decode().strip().splitlines()[-1] == "bnnc: interrupted"
    time.sleep(0.5)  # the kernel's SIGKILL of orphaned counters is immediate, reaping is not
    alive = [c for c in counters if Path(f"/proc/{c}").exists()
             and Path(f"/proc/{c}/stat").read_text().split()[2] != "Z"]  # fmt: skip
    assert not alive, "a counter outlived the count"


def test_killing_a_pool_worker_loses_no_label(chain: Path) -> None:
    code, sequential, err = _count(chain, "--exact")
    assert code == 0, err
    command = [str(BIN / "bnnc"), "count", str(chain), "--all-labels", "--json", "--exact",
               "--workers", "2"]  # fmt: skip
    env = dict(os.environ, BNNC_SWEEP_TEST_DELAY="1")  # each task sleeps 1 s first
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while len(workers) < 2:
            assert time.monotonic() < deadline and process.poll() is None, "no pool"
            time.sleep(0.05)
            workers = [w for w in _children(process.pid) if _is_pool_worker(w)]
        os.kill(workers[0], signal.SIGKILL)  # the pool breaks; a new one counts what is left
        output, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors
    assert _counts(json.loads(output)) == _counts(sequential)


def _is_pool_worker(pid: int) -> bool:
    """Started by spawn (not multiprocessing's resource tracker), and still there."""
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
