"""Fixtures of the sweep tests: a small text model with inputs, and a local Dask cluster
started with Dask's own commands (scheduler and workers each in its own process group, all
stopped when the test ends)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bnnc.api as bnnc
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs

BIN = Path(sys.executable).parent
WIDTHS = [10, 6, 3]


@dataclass
class Small:
    """A random 10-6-3 text model, and .npy files of some of its inputs."""

    model_path: Path
    model: bnnc.Model
    inputs: np.ndarray  # every input, lexicographic
    npy: Path  # the first 48 inputs


@pytest.fixture
def small(tmp_path: Path) -> Small:
    model = random_bnn(WIDTHS, seed=4)
    path = tmp_path / "small.bnn"
    bnnc.save_text(model, path)
    inputs = all_inputs(WIDTHS[0])
    npy = tmp_path / "inputs.npy"
    rng = np.random.default_rng(0)
    np.save(npy, inputs[rng.choice(len(inputs), 48, replace=False)].astype(np.uint8))
    return Small(path, bnnc.load(path), inputs, npy)


def records(path: Path) -> dict[int, dict[str, Any]]:
    """The records of a JSONL file by image number (each must appear once)."""
    items = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    by_index = {r["index"]: r for r in items}
    assert len(by_index) == len(items), "a record is duplicated"
    return by_index


def stripped(items: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    from bnnc.sweep import RUN_FIELDS

    return {i: {k: v for k, v in r.items() if k not in RUN_FIELDS} for i, r in items.items()}


@dataclass
class Cluster:
    address: str
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def kill_worker(self, which: int) -> None:
        os.killpg(self.workers[which].pid, signal.SIGKILL)
        self.workers[which].wait()


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(BIN / "dask"), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A scheduler and two one-thread workers on 127.0.0.1, on free ports.  A test marked
    ``@pytest.mark.parametrize("worker_delay", [S])`` (indirect) makes every task sleep S s."""
    pytest.importorskip("distributed")
    delay = getattr(request, "param", None)
    env = dict(os.environ)
    if delay:
        env["BNNC_SWEEP_TEST_DELAY"] = str(delay)
    file = tmp_path / "scheduler.json"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(
            _start(
                [
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    str(file),
                ],
                tmp_path / "scheduler.log",
                env,
            )
        )
        deadline = time.monotonic() + 60
        while not file.exists():
            assert time.monotonic() < deadline, (tmp_path / "scheduler.log").read_text()
            time.sleep(0.05)
        address = json.loads(file.read_text())["address"]
        workers = [
            _start(
                [
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    "--name",
                    f"w{i}",
                ],
                tmp_path / f"worker{i}.log",
                env,
            )
            for i in range(2)
        ]
        processes += workers
        _wait_for_workers(address, 2)
        yield Cluster(address, workers)
    finally:
        _stop(processes)


def _wait_for_workers(address: str, n: int) -> None:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(n, timeout=60)
