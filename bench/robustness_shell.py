"""Robustness queries on FINN's TFC-w1a1 from the shell: wall time per query, start included.

    python bench/robustness_shell.py                         # images 0-99, K = 8
    python bench/robustness_shell.py --images 20 --ks 5 8 --out bench/results/robustness-shell

For MNIST test image i (binarised at pixel/255 ≥ 0.5, the model's own input condition) with the
model's label L, one process per query runs what a user types:

    bnnc MODEL --near img.npy --max-flips K --not-label L --check-sat --json --timeout CAP

and the wall time (interpreter start, the cached model's load, the query), the CPU time of the
process and its children (Exact runs in a forked child), the answer and the method are
recorded.  The model cache and bnnc's bytecode cache are warmed first (a normal install has
the latter).  The CPU time is the steadier figure on a shared
machine; the load is recorded beside it.  Tables in ``--out`` (.md, .json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from robustness import MODEL, inputs
from suite import machine_info

import bnnc

ROOT = Path(__file__).resolve().parents[1]
BNNC = str(Path(sys.executable).with_name("bnnc"))
# As after a normal install: bnnc's bytecode cached (else each start compiles its sources, 0.15 s).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(argv: list[str]) -> tuple[float, float, int, dict[str, Any]]:
    """(wall s, CPU s, exit code, JSON answer) of one bnnc process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (10, 20, 30):
        raise SystemExit(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr}")
    return wall, cpu, done.returncode, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--ks", type=int, nargs="+", default=[8])
    parser.add_argument("--cap", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "robustness-shell")
    args = parser.parse_args()
    if not MODEL.exists():
        raise SystemExit(f"{MODEL} is missing (../shared/models)")
    model, bits, _, _ = inputs("tfc", args.images)
    labels = bnnc.predict(model, bits)
    started, load = time.time(), os.getloadavg()[0]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        run([BNNC, str(MODEL), "--near", "0" * 784, "--max-flips", "1", "--check-sat", "--json"])
        for i in range(args.images):
            path = Path(tmp) / f"img{i}.npy"
            np.save(path, bits[i].astype(np.uint8))
            for k in args.ks:
                argv = [BNNC, str(MODEL), "--near", str(path), "--max-flips", str(k)]
                argv += ["--not-label", str(int(labels[i])), "--check-sat", "--json"]
                wall, cpu, code, answer = run([*argv, "--timeout", str(args.cap)])
                row = {"image": i, "k": k, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
                row |= {"answer": {10: "SAT", 20: "UNSAT", 30: "UNKNOWN"}[code]}
                row["method"] = answer.get("method")
                rows.append(row)
                print(json.dumps(row), flush=True)
    info = machine_info(started, load)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "robustness-shell.json").write_text(json.dumps({"machine": info, "rows": rows}))
    lines = [
        "# Robustness queries on TFC-w1a1 from the shell (interpreter start included)",
        "",
        f"Machine: {info}. One process per query, `--timeout {args.cap:g}`, model cache warm.",
        "",
        "| K | queries | answers | wall median | wall max | within 1 s wall | CPU median | "
        "CPU max | within 1 s CPU | methods |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k in args.ks:
        sub = [r for r in rows if r["k"] == k]
        walls, cpus = [r["wall_s"] for r in sub], [r["cpu_s"] for r in sub]
        answers = {a: sum(r["answer"] == a for r in sub) for a in ("SAT", "UNSAT", "UNKNOWN")}
        methods: dict[str, int] = {}
        for r in sub:
            methods[r["method"]] = methods.get(r["method"], 0) + 1
        lines.append(
            f"| {k} | {len(sub)} | {' '.join(f'{n} {a}' for a, n in answers.items() if n)} | "
            f"{statistics.median(walls):.2f} s | {max(walls):.2f} s | "
            f"{sum(w <= 1.0 for w in walls)} | {statistics.median(cpus):.2f} s | "
            f"{max(cpus):.2f} s | {sum(c <= 1.0 for c in cpus)} | "
            f"{', '.join(f'{n} {m}' for m, n in sorted(methods.items()))} |"
        )
    slow = sorted((r for r in rows if r["wall_s"] > 1.0), key=lambda r: -r["wall_s"])
    if slow:
        lines += ["", "Queries above 1 s wall:", ""]
        lines += [
            f"* image {r['image']}, K = {r['k']}: {r['answer']} by {r['method']}, "
            f"{r['wall_s']:.2f} s wall, {r['cpu_s']:.2f} s CPU"
            for r in slow
        ]
    (args.out / "robustness-shell.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
