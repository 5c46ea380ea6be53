"""Start-up: the wall time of short `bnnc` commands, where loading the model is most of the work.

    python bench/startup.py                 # 5 runs of each command
    python bench/startup.py --runs 9 --out bench/results/startup

Commands (each a fresh process, as a build script runs them; the runs go round-robin over the
commands, so that the machine's load falls on all of them alike):

- ``bnnc --version``;
- ``bnnc MODEL -o OUT`` on the paper's 100-20-10 network in the text language
  (``examples/paper-100-20-10.bnn``) and as ONNX (the same network exported by
  ``bnnc.save_onnx``): read anew (``BNNC_NO_CACHE=1``), on a first run (an empty cache: read
  and stored) and cached (``bnnc.frontend.onnx.cache``);
- FINN's TFC-w1a1 (``../shared/models``, 784-64-64-64-10), read anew and cached: the robustness
  query of MNIST test image 0 at one flip (``--near img0.npy --max-flips 1 --not-label 7
  --check-sat``), and ``-o OUT`` (the whole network's formula: mostly the CNF encoding).

Per command: the median and minimum wall time and the median CPU time (user + system) of the
runs.  The machine is shared (other benchmarks run beside this one): the CPU time and the
minimum show what load does to the wall times.  Tables in ``--out`` (.md, .json).
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

import bnnc
from bnnc.ir.bnn import BnnModel
from bnnc.training.data import read_idx_images

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import machine_info

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TFC = SHARED / "models" / "qonnx-tfc-w1a1.onnx"
TEXT = ROOT / "examples" / "paper-100-20-10.bnn"
BNNC = Path(sys.executable).parent / "bnnc"


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit code) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 10, 20):
        raise SystemExit(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.decode()}")
    return wall, cpu, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "startup")
    args = parser.parse_args()
    started, load = time.time(), os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bnnc-startup-"))
    out = str(work / "out")
    onnx = work / "paper-100-20-10.onnx"
    text_model = bnnc.load(TEXT)
    assert isinstance(text_model, BnnModel)
    bnnc.save_onnx(text_model, onnx)

    base = {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}
    base.pop("BNNC_NO_CACHE", None)
    anew = {**base, "BNNC_NO_CACHE": "1"}
    # (name, argv, env, fresh cache per run)
    cases: list[tuple[str, list[str], dict[str, str], bool]] = [
        ("bnnc --version", [str(BNNC), "--version"], base, False),
        ("100-20-10 text -o OUT", [str(BNNC), str(TEXT), "-o", out], base, False),
        ("100-20-10 ONNX -o OUT, read anew", [str(BNNC), str(onnx), "-o", out], anew, False),
        ("100-20-10 ONNX -o OUT, first run", [str(BNNC), str(onnx), "-o", out], base, True),
        ("100-20-10 ONNX -o OUT, cached", [str(BNNC), str(onnx), "-o", out], base, False),
    ]
    if TFC.exists():
        image = read_idx_images(SHARED / "data" / "t10k-images-idx3-ubyte.gz")[0]
        np.save(work / "img0.npy", (image.reshape(-1) / 255.0 >= 0.5))
        query = ["--near", str(work / "img0.npy"), "--max-flips", "1", "--not-label", "7"]
        tfc_query = [str(BNNC), str(TFC), *query, "--check-sat"]
        tfc_out = [str(BNNC), str(TFC), "-o", out]
        cases += [
            ("TFC-w1a1 K=1 query, read anew", tfc_query, anew, False),
            ("TFC-w1a1 K=1 query, cached", tfc_query, base, False),
            ("TFC-w1a1 -o OUT, read anew", tfc_out, anew, False),
            ("TFC-w1a1 -o OUT, cached", tfc_out, base, False),
        ]
    for _, argv, env, _ in cases:  # warm the cache (and the OS's file cache)
        run(argv, env)
    times: dict[str, list[tuple[float, float, int]]] = {name: [] for name, *_ in cases}
    for r in range(args.runs):
        for name, argv, env, fresh in cases:
            if fresh:
                env = {**env, "XDG_CACHE_HOME": str(work / f"cache-first-{r}")}
            times[name].append(run(argv, env))
    rows: list[dict[str, Any]] = []
    for name, argv, _, _ in cases:
        walls = [w for w, _, _ in times[name]]
        rows.append(
            {
                "command": name,
                "argv": " ".join(Path(a).name if "/" in a else a for a in argv[1:]),
                "wall_median_s": round(statistics.median(walls), 3),
                "wall_min_s": round(min(walls), 3),
                "cpu_median_s": round(statistics.median(c for _, c, _ in times[name]), 3),
                "exit": times[name][0][2],
                "walls_s": [round(w, 3) for w in walls],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    info = machine_info(started, load)
    info["runs"] = args.runs
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    lines = [
        "# Start-up: wall time of short `bnnc` commands",
        "",
        f"`python bench/startup.py --runs {args.runs}`: median and minimum of {args.runs} runs "
        "(fresh processes, round-robin), and the median CPU time (user + system). "
        f"Machine: {info['cpus']} CPUs, Python {info['python']}, {info['started']}, load "
        f"{info['load_1min_at_start']} → {info['load_1min_now']} (shared: other benchmarks "
        "ran beside this one).",
        "",
        "| command | wall median (s) | wall min (s) | CPU median (s) | exit |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['command']} | {r['wall_median_s']:.3f} | {r['wall_min_s']:.3f} | "
        f"{r['cpu_median_s']:.3f} | {r['exit']} |"
        for r in rows
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}.md/.json")


if __name__ == "__main__":
    main()
