"""The benchmark suite: every network × encoding, sizes and solver/sampler/counter times.

    python bench/suite.py                    # everything (long: hours on 2 cores)
    python bench/suite.py --quick            # 25-20-10 and 100-20-10 only, short caps
    python bench/suite.py --shapes 100-20-10 --encodings adder totalizer --cap 30

Networks: for each shape, a *random* one (``bnnc.generate.random_bnn``: thresholds calibrated to
sit mid-range, the hard case) and a *trained* one (``bnnc.train`` on MNIST downsampled to the
input size — 5×5, 10×10, 20×20 or 28×28 — from ``$BNNC_DATA`` or ``../shared/data``; skipped
with a message if the data are missing).  For each network and encoding the suite records:
variables, clauses, compile time (in-process), the time to decide each label with CaDiCaL
(``check_sat(search=False)``: the solver alone), the time for 100 CMSGen samples of label 2, and
the exact-count time of label 2 with Ganak where feasible (inputs ≤ 25).  Every solver, sampler
and counter run is a separate process with a time cap (``--cap``); capped runs show ``>cap``.

Writes ``bench/results/suite.md`` and ``bench/results/suite.json`` (or ``--out DIR``).

Reference points (issue 5; NPAQ on the paper's trained 100-20-10): 62,726 variables / 114,740
clauses (cardinality networks, 10 s), 104,904 / 206,626 (BDD), 10,932 / 101,971 (adder), none of
them parsimonious.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inversion import fmt, measure  # bench/ is not a package: imported by path

SHAPES: dict[str, tuple[list[int], int]] = {
    "25-20-10": ([25, 20, 10], 5),
    "100-20-10": ([100, 20, 10], 10),
    "100-25-10-10": ([100, 25, 10, 10], 10),
    "400-100-10": ([400, 100, 10], 20),
    "784-64-64-64-10": ([784, 64, 64, 64, 10], 28),
}
TRAIN_EPOCHS = 10
COUNT_MAX_INPUTS = 25


def networks(shape: str, out: Path, seed: int) -> list[tuple[str, Path]]:
    """The random and (data permitting) trained network of a shape, written as text models."""
    from bnnc.data import DataError, load_mnist
    from bnnc.generate import random_bnn
    from bnnc.printer import print_bnn
    from bnnc.train import TrainConfig, train

    widths, side = SHAPES[shape]
    made = []
    random_path = out / f"random-{shape}.bnn"
    model = random_bnn(widths, seed=seed, input_shape=(side, side))
    random_path.write_text(print_bnn(model))
    made.append(("random", random_path))
    try:
        data = load_mnist(size=side)
    except DataError as err:
        print(f"  (no trained {shape}: {err})")
        return made
    result = train(
        data.train_bits,
        data.train_labels,
        widths,
        config=TrainConfig(epochs=TRAIN_EPOCHS, seed=seed),
        test=(data.test_bits, data.test_labels),
        input_shape=(side, side),
    )
    trained_path = out / f"trained-{shape}.bnn"
    trained_path.write_text(print_bnn(result.model))
    made.append(("trained", trained_path))
    return made


def sizes(path: Path, encoding: str) -> tuple[int, int, float]:
    import bnnc

    model = bnnc.load(path)
    start = time.perf_counter()
    compiled = bnnc.compile(model, encoding)
    seconds = time.perf_counter() - start
    return compiled.formula.num_vars, len(compiled.formula.clauses), seconds


def main() -> None:
    from bnnc.encodings import ENCODING_NAMES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument(
        "--encodings", nargs="*", default=[e for e in ENCODING_NAMES if e != "direct"]
    )
    parser.add_argument("--cap", type=float, default=120.0, help="seconds per measurement")
    parser.add_argument("--quick", action="store_true", help="two small shapes, 20 s caps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if args.quick:
        args.shapes, args.cap = ["25-20-10", "100-20-10"], 20.0
    args.out.mkdir(parents=True, exist_ok=True)
    models_dir = args.out / "models"
    models_dir.mkdir(exist_ok=True)

    rows: list[dict[str, Any]] = []
    for shape in args.shapes:
        print(f"\n== {shape}", flush=True)
        for kind, path in networks(shape, models_dir, args.seed):
            n_inputs = SHAPES[shape][0][0]
            for encoding in args.encodings:
                n_vars, n_clauses, compile_s = sizes(path, encoding)
                decide = [measure("witness", path, encoding, c, args.cap)[0] for c in range(10)]
                sample_s, _ = measure("sample", path, encoding, 2, args.cap)
                count_s = (
                    measure("count", path, encoding, 2, args.cap)[0]
                    if n_inputs <= COUNT_MAX_INPUTS
                    else "n/a"
                )
                row = {
                    "network": f"{kind} {shape}",
                    "encoding": encoding,
                    "variables": n_vars,
                    "clauses": n_clauses,
                    "compile_s": round(compile_s, 3),
                    "decide_s": decide,
                    "samples_100_s": sample_s,
                    "count_label_2_s": count_s,
                }
                rows.append(row)
                solved = [d for d in decide if d is not None]
                count_text = count_s if isinstance(count_s, str) else fmt(count_s, args.cap)
                print(
                    f"  {kind:<8}{encoding:<11}{n_vars:>9}{n_clauses:>10}  compile "
                    f"{compile_s:.2f} s  decided {len(solved)}/10 (max "
                    f"{fmt(max(solved) if solved else None, args.cap)} s)  100 samples "
                    f"{fmt(sample_s, args.cap)} s  count {count_text}",
                    flush=True,
                )
    write_tables(rows, args.out, args.cap)


def write_tables(rows: list[dict[str, Any]], out: Path, cap: float) -> None:
    (out / "suite.json").write_text(json.dumps({"cap_s": cap, "rows": rows}, indent=1) + "\n")
    lines = [
        f"# bnnc benchmark suite (cap {cap:g} s per run; `>cap` = not finished)",
        "",
        "| network | encoding | variables | clauses | compile s | labels decided | max decide s "
        "| 100 samples s | count s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        solved = [d for d in row["decide_s"] if d is not None]
        count = row["count_label_2_s"]
        lines.append(
            f"| {row['network']} | {row['encoding']} | {row['variables']:,} | {row['clauses']:,} "
            f"| {row['compile_s']:.2f} | {len(solved)}/10 "
            f"| {fmt(max(solved) if solved else None, cap)} | {fmt(row['samples_100_s'], cap)} "
            f"| {count if count == 'n/a' else fmt(count, cap)} |"
        )
    (out / "suite.md").write_text("\n".join(lines) + "\n")
    print(f"\nwrote {out / 'suite.md'} and {out / 'suite.json'}")


if __name__ == "__main__":
    main()
