"""FINN's TFC-w1a1 MNIST network (../shared/models) through the ONNX frontend: figures only.

    python bench/onnx_tfc.py                    # compile, accuracy, agreement, inversion
    python bench/onnx_tfc.py --labels 0 1       # inversion for some labels only
    python bench/onnx_tfc.py --budget 120       # seconds per label before giving up (default 600)
    python bench/onnx_tfc.py --inversion-only   # skip accuracy and agreement (~2-4 minutes)
    python bench/onnx_tfc.py --no-search        # the SAT solver alone: check_sat(search=False)

Prints: load and compile time, variables and clauses, the decoded network's MNIST test accuracy
(the model's own is 92.96 %), agreement of the formula with the model on the first 1,000 test
images and 1,000 random inputs, and for each label the time of check_sat (SAT with a witness
checked by the model itself, and whether the witness search or the solver found it; UNSAT; or
"gave up" after the budget).  Each label runs in its own process, so the budget can stop it;
the process time adds loading and compiling (~2.5 s).

Measured (2 shared cores, load 2-4; 120,541 variables, 826,417 clauses with ``adder``):

* with the search (the default), every label is SAT, found by the search and checked through
  the formula and by the model: check_sat 0.54, 0.77, 0.76, 0.73, 0.84, 0.74, 0.70, 0.67,
  0.49, 0.49 s for labels 0-9 (whole process 2.3-3.5 s).  The search itself takes ~0.02 s
  (784-791 network evaluations: one or two steps; over seeds 0-7 at most 3,157, four steps);
  the rest is the confirmation through the formula (building a MiniSat instance of 826k
  clauses and solving under the input bits).
* ``--no-search`` (plain CaDiCaL): label 1 SAT in 1.6 s, labels 0 and 3 gave up after 90 s
  (earlier runs: label 0 under 10 minutes, others over 240 s).
* CaDiCaL with the phases of a search's best point (what check_sat does when the search
  fails; measured with an earlier, weaker search stopped one step short of its witness):
  labels 0, 1, 3, 7, 9 SAT in 2.7-4.0 s including the phase computation, labels 4 and 6 gave
  up after 70 s; plain CaDiCaL gave up after 70 s on labels 3 and 7.
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
from bnnc.engines import decide as solve
from bnnc.ir.bnn import BnnModel

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
    parser.add_argument("-e", "--encoding", default="adder")
    parser.add_argument("--no-search", action="store_true", help="check_sat(search=False)")
    parser.add_argument("--inversion-only", action="store_true", help="skip accuracy and agreement")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.encoding, not args.no_search)
        return
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

    if args.inversion_only:
        return inversion(args)

    bits, labels = mnist(10_000)
    accuracy = float((bnnc.predict(model, bits) == labels).mean())
    print(f"decoded network's test accuracy: {accuracy:.2%} (the model's own: 92.96%)")

    rng = np.random.default_rng(0)
    inputs = np.concatenate([bits[:1000], rng.random((1000, 784)) < 0.5])
    assert isinstance(model, BnnModel) and model.framework_predict is not None
    expected = model.framework_predict(inputs).tolist()
    start = time.perf_counter()
    got = solve.formula_labels(formula, inputs)
    agree = sum(g == [e] for g, e in zip(got, expected, strict=True))
    print(
        f"formula agrees with the model on {agree}/2000 inputs "
        f"(1,000 test images, 1,000 random; {time.perf_counter() - start:.1f} s)"
    )

    inversion(args)


def inversion(args: argparse.Namespace) -> None:
    """check_sat for each label, each in its own process, stopped after the budget."""
    what = "solver only (--no-search)" if args.no_search else "search, then solver"
    print(f"inversion per label ({what}; {args.budget:.0f} s budget per label):")
    for label in args.labels:
        command = [sys.executable, __file__, "--worker", str(label), "-e", args.encoding]
        if args.no_search:
            command.append("--no-search")
        start = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.budget)
            if done.returncode == 0:
                verdict = done.stdout.strip().splitlines()[-1]
            else:
                verdict = f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
        except subprocess.TimeoutExpired:
            verdict = f"gave up after {args.budget:.0f} s"
        print(
            f"label {label}: {verdict}; process {time.perf_counter() - start:.1f} s "
            "(with load and compile)",
            flush=True,
        )


def worker(label: int, encoding: str, search: bool) -> None:
    """One label in a fresh process (so that the budget can stop it): load, compile, time
    check_sat alone, and print the verdict."""
    model = bnnc.load(TFC)
    formula = bnnc.compile(model, encoding).formula
    start = time.perf_counter()
    result = solve.check_sat(model, formula, label, search=search)
    seconds = time.perf_counter() - start
    if result.satisfiable:
        how = "search" if result.method == "search" else "solver"
        verdict = f"SAT (witness found by the {how}, checked by the model)"
    else:
        verdict = "UNSAT"
    print(f"{verdict}, check_sat {seconds:.2f} s")


if __name__ == "__main__":
    main()
