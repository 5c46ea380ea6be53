"""FINN's TFC-w1a1 MNIST network (../shared/models) through the ONNX frontend: figures only.

    python bench/onnx_tfc.py                 # compile, accuracy, agreement, inversion per label
    python bench/onnx_tfc.py --labels 0 1    # inversion for some labels only
    python bench/onnx_tfc.py --budget 120    # seconds per label before giving up (default 600)

Prints: load and compile time, variables and clauses, the decoded network's MNIST test accuracy
(the model's own is 92.96 %), agreement of the formula with the model on the first 1,000 test
images and 1,000 random inputs, and for each label the time of --check-sat (SAT with a witness
checked by the model itself, UNSAT, or "gave up" after the budget).
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import bnnc
from bnnc import solve

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
TFC = SHARED / "models" / "qonnx-tfc-w1a1.onnx"


def mnist(count: int) -> tuple[np.ndarray, np.ndarray]:
    with (
        gzip.open(SHARED / "data" / "t10k-images-idx3-ubyte.gz") as images,
        gzip.open(SHARED / "data" / "t10k-labels-idx1-ubyte.gz") as labels,
    ):
        pixels = np.frombuffer(images.read()[16:], np.uint8).reshape(-1, 784)[:count]
        return (pixels / 255.0).astype(np.float32) >= 0.5, np.frombuffer(
            labels.read()[8:], np.uint8
        )[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="*", default=list(range(10)))
    parser.add_argument("--budget", type=float, default=600.0)
    parser.add_argument("--encoding", default="adder")
    args = parser.parse_args()
    if not TFC.exists():
        sys.exit(f"{TFC} not found: this benchmark needs ../shared beside the repository")

    start = time.perf_counter()
    model = bnnc.load(TFC)
    loaded = time.perf_counter() - start
    compiled = bnnc.compile(model, args.encoding)
    formula = compiled.formula
    print(
        f"load {loaded:.2f} s, compile {time.perf_counter() - start - loaded:.2f} s "
        f"({args.encoding}): {formula.num_vars:,} variables, {len(formula.clauses):,} clauses"
    )

    bits, labels = mnist(10_000)
    accuracy = float((bnnc.predict(model, bits) == labels).mean())
    print(f"decoded network's test accuracy: {accuracy:.2%} (the model's own: 92.96%)")

    rng = np.random.default_rng(0)
    inputs = np.concatenate([bits[:1000], rng.random((1000, 784)) < 0.5])
    assert model.framework_predict is not None
    expected = model.framework_predict(inputs).tolist()
    start = time.perf_counter()
    got = solve.formula_labels(formula, inputs)
    agree = sum(g == [e] for g, e in zip(got, expected, strict=True))
    print(
        f"formula agrees with the model on {agree}/2000 inputs "
        f"(1,000 test images, 1,000 random; {time.perf_counter() - start:.1f} s)"
    )

    for label in args.labels:
        command = [
            sys.executable,
            "-m",
            "bnnc",
            str(TFC),
            "-e",
            args.encoding,
            "--target-label",
            str(label),
            "--check-sat",
        ]
        start = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.budget)
            verdict = {10: "SAT (witness checked by the model)", 20: "UNSAT"}.get(
                done.returncode, f"exit {done.returncode}"
            )
        except subprocess.TimeoutExpired:
            verdict = f"gave up after {args.budget:.0f} s"
        print(f"label {label}: {verdict}, {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
