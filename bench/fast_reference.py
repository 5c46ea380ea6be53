"""The fast reference against the float reference: labels per second, side by side in one run.

    python bench/fast_reference.py                  # TFC-w1a1 (if ../shared) and 100-20-10
    python bench/fast_reference.py --repeats 9      # more rounds (the minimum is reported)
    python bench/fast_reference.py --out DIR        # write DIR/fast_reference.{md,json}

For each network and batch of 10,000 inputs (TFC-w1a1: the MNIST test images, binarised at
0.5, and uniform random inputs; a random 100-20-10 network: random inputs), each round times:

* ``reference``: ``bnnc.ir.reference.predict``, the model's own float arithmetic block by
  block with int64 matrix products (numpy runs those without BLAS, on one core);
* ``popcount`` and ``gemm``: ``PackedNet.predict`` with each kernel (``bnnc.ir.fast_reference``),
  boolean rows in, labels out; ``popcount`` runs on one core, ``gemm`` on BLAS's threads;
* ``popcount, packed``: ``PackedNet.labels_of_packed`` on inputs already packed into words;
* ``bnnc.predict``: the API, which compiles once per model (``bnnc.passes.fast_predict``) and
  then runs the default kernel.

The methods are interleaved round by round, so that a change in the machine's load hits them
alike (gemm last, then a pause: BLAS threads spin after a call and would slow the next method);
the table shows the fastest round of each (the usual estimate on a shared machine) and the
ratio of the reference's time to the method's, and the JSON keeps every round.  Every method's
labels are checked against the reference's: a difference stops the benchmark.
The one-off cost of compiling (ILP stage and packing) is shown on its own.  Writes
``bench/results/fast_reference.md`` and ``.json`` with the machine's load.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suite import machine_info  # bench/ is not a package: imported by path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TFC = SHARED / "models" / "qonnx-tfc-w1a1.onnx"
MNIST = SHARED / "data" / "t10k-images-idx3-ubyte.gz"
BATCH = 10_000
# OpenBLAS's threads spin for a while after each call: on a 2-core machine they slowed the
# method timed next by 2-3× (seen as "popcount, packed" at 5.4 µs right after gemm, 2.2 µs
# otherwise).  gemm runs last in each round, and the round waits this long after it.
BLAS_SETTLE_S = 0.5


def batches(seed: int) -> list[tuple[str, Any, np.ndarray]]:
    """(network, model, inputs) rows: TFC-w1a1 on MNIST and random inputs, and 100-20-10."""
    import bnnc
    from bnnc.training.generate import random_bnn

    rng = np.random.default_rng(seed)
    rows: list[tuple[str, Any, np.ndarray]] = []
    if TFC.is_file() and MNIST.is_file():
        tfc = bnnc.load(TFC)
        with gzip.open(MNIST) as f:
            images = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 784)[:BATCH]
        rows.append(("TFC-w1a1, MNIST test images", tfc, (images / 255.0) >= 0.5))
        rows.append(("TFC-w1a1, random inputs", tfc, rng.random((BATCH, 784)) < 0.5))
    else:
        print(f"(no TFC-w1a1 rows: {TFC} or {MNIST} not found)")
    small = random_bnn([100, 20, 10], seed=seed)
    rows.append(("random 100-20-10, random inputs", small, rng.random((BATCH, 100)) < 0.5))
    return rows


def measure(model: Any, inputs: np.ndarray, repeats: int) -> dict[str, Any]:
    import bnnc
    from bnnc.ir.fast_reference import PackedNet, pack_bits
    from bnnc.ir.reference import predict
    from bnnc.passes.pipeline import compile_model

    start = time.perf_counter()
    ilp = compile_model(model, until="ilp").ilp
    assert ilp is not None
    nets = {kernel: PackedNet.from_ilp(ilp, kernel) for kernel in ("popcount", "gemm")}
    compile_s = time.perf_counter() - start
    words = pack_bits(inputs)
    bnnc.predict(model, inputs)  # compiles the API's cached network before the rounds
    methods: dict[str, Callable[[], np.ndarray]] = {
        "reference": lambda: predict(model, inputs),
        "popcount": lambda: nets["popcount"].predict(inputs),
        "popcount, packed": lambda: nets["popcount"].labels_of_packed(words),
        "bnnc.predict": lambda: bnnc.predict(model, inputs),
        "gemm": lambda: nets["gemm"].predict(inputs),  # last: see BLAS_SETTLE_S
    }
    expected = predict(model, inputs)
    rounds: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(repeats):
        for name, run in methods.items():
            began = time.perf_counter()
            labels = run()
            rounds[name].append(time.perf_counter() - began)
            if not np.array_equal(labels, expected):
                raise SystemExit(f"{name} disagrees with the reference: a bnnc bug")
            if name == "gemm":
                time.sleep(BLAS_SETTLE_S)
    best = {name: min(times) for name, times in rounds.items()}
    return {
        "inputs": len(inputs),
        "compile_s": round(compile_s, 4),
        "us_per_input": {n: round(t / len(inputs) * 1e6, 3) for n, t in best.items()},
        "ratio": {n: round(best["reference"] / t, 1) for n, t in best.items()},
        "rounds_s": {n: [round(t, 5) for t in times] for n, times in rounds.items()},
    }


def markdown(results: list[dict[str, Any]], machine: dict[str, Any], repeats: int) -> str:
    names = list(results[0]["us_per_input"])
    lines = [
        "# Fast reference: bit-packed exact inference against the float reference",
        "",
        "Written by `bench/fast_reference.py` (see its docstring).  Batches of "
        f"{BATCH:,} inputs; µs per input in the fastest of {repeats} interleaved rounds, and "
        "the speed-up over `bnnc.ir.reference.predict` in brackets.  Every method gave the "
        "reference's label on every input.  Machine: "
        f"{machine['cpus']} CPUs ({machine['cpu']}), Python {machine['python']}, numpy "
        f"{machine['numpy']}, started {machine['started']}, {machine['wall_min']} min; 1-minute "
        f"load {machine['load_1min_at_start']} at the start and {machine['load_1min_now']} at "
        "the end.  `popcount` and `bnnc.predict` run the same kernel (the API adds a cache "
        "look-up): the gap between them is the machine's noise.",
        "",
        "| network, inputs | compile s | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for row in results:
        cells = [
            f"{row['us_per_input'][n]:.2f} ({row['ratio'][n]:g}×)"
            if n != "reference"
            else f"{row['us_per_input'][n]:.1f}"
            for n in names
        ]
        lines.append(f"| {row['network']} | {row['compile_s']:.2f} | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    started, load_before = time.time(), os.getloadavg()[0]
    results = []
    for network, model, inputs in batches(args.seed):
        row = {"network": network, **measure(model, inputs, args.repeats)}
        results.append(row)
        shown = ", ".join(
            f"{n} {row['us_per_input'][n]:.2f} µs ({row['ratio'][n]:g}×)" for n in row["ratio"]
        )
        print(f"{network}: {shown}", flush=True)
    machine = {
        **machine_info(started, load_before),
        "cpu": cpu_name(),
        "numpy": np.__version__,
        "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine, "repeats": args.repeats, "results": results}
    (args.out / "fast_reference.json").write_text(json.dumps(payload, indent=2) + "\n")
    (args.out / "fast_reference.md").write_text(markdown(results, machine, args.repeats))
    print(f"wrote {args.out / 'fast_reference.md'} and .json")


if __name__ == "__main__":
    main()
