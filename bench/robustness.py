"""Robustness queries on FINN's TFC-w1a1: specialisation, methods and solvers, side by side.

    python bench/robustness.py                     # images 0-19, K in 1 2 3 5 8 12 16
    python bench/robustness.py --images 100 --ks 1 2 3 5 8 --out bench/results/robustness

For MNIST test image i (binarised at pixel/255 ≥ 0.5, the model's own input condition) with
label L, the query is "an input within K flips that the network does not label L"
(``--near img --max-flips K --not-label L --check-sat``).  Per query, in one process with the
model loaded and lowered to its ILP stage once (as ``bnnc robustness`` does): the time to
specialise and compile, the time to decide (``auto``: the
method bnnc chooses), which method answered, the free neurons per hidden layer, and the answer;
SAT witnesses are validated by the model itself (onnxruntime) inside ``check_sat``.  Answers are
cross-checked by enumeration (the bit-packed reference over every input of the ball) for
K ≤ ``--check-k``.  ``--no-specialise`` is measured for K = 1 on the first images, with the cap.
Every query runs under ``--cap`` seconds (UNKNOWN beyond).  Tables in ``--out`` (.md, .json),
with the machine's load: read the figures as ratios, the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import bnnc
import bnnc.engines.decide as decide
from bnnc.training.data import load_mnist, read_idx_images, read_idx_labels

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import machine_info

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MODEL = SHARED / "models" / "qonnx-tfc-w1a1.onnx"
PAPER = ROOT / "examples" / "paper" / "mnist10x10-100-20-10.bnn"  # NPAQ-style, trained here


def inputs(which: str, n: int) -> tuple[bnnc.Model, np.ndarray, np.ndarray, str]:
    """The model, the first ``n`` MNIST test inputs as it reads them (bits), their labels."""
    if which == "paper":  # MNIST area-averaged to 10x10 and binarised, as it was trained
        data = load_mnist(size=10)
        title = "the paper's trained 100-20-10 (MNIST 10x10 test split)"
        return bnnc.load(PAPER), data.test_bits[:n], data.test_labels[:n], title
    images = read_idx_images(SHARED / "data" / "t10k-images-idx3-ubyte.gz")[:n]
    truth = read_idx_labels(SHARED / "data" / "t10k-labels-idx1-ubyte.gz")[:n]
    bits = images.reshape(len(images), -1) / 255.0 >= 0.5  # the model's own input condition
    return bnnc.load(MODEL), bits, truth, "TFC-w1a1 (MNIST test images)"


def query_row(
    model: bnnc.Model,
    ilp: bnnc.Model,
    bits: np.ndarray,
    label: int,
    k: int,
    cap: float,
    specialise: bool,
    solver: str = "cadical",
) -> dict[str, Any]:
    """One query; ``ilp`` is the model's ILP stage, lowered once (as ``bnnc robustness`` does)."""
    query = bnnc.query(model, not_label=label, near=bits, max_flips=k)
    start = time.perf_counter()
    compiled = bnnc.compile(ilp, region=query.region if specialise else None)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    result = bnnc.check_sat(model, compiled, query=query, time_limit=cap, solver=solver)
    decide_s = time.perf_counter() - start
    spec = compiled.spec
    return {
        "k": k,
        "solver": solver,
        "specialised": specialise,
        "answer": result.status.value,
        "method": result.method,
        "reason": result.reason,
        "compile_s": round(compile_s, 4),
        "decide_s": round(decide_s, 4),
        "free": [layer.free for layer in spec.layers] if spec else None,
        "variables": compiled.formula.num_vars,
        "clauses": len(compiled.formula.clauses),
    }


def untabulated(
    model: bnnc.Model,
    ilp: bnnc.Model,
    bits: np.ndarray,
    label: int,
    k: int,
    cap: float,
    solver: str,
) -> dict[str, Any]:
    """The same query by the previous ``auto`` (no tabulation step): answer and decide time."""
    saved, decide.TABULATE_AUTO = decide.TABULATE_AUTO, 0
    try:
        row = query_row(model, ilp, bits, label, k, cap, True, solver)
    finally:
        decide.TABULATE_AUTO = saved
    return {key: row[key] for key in ("answer", "method", "decide_s")}


def tabulation_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The queries tabulation answered, against the previous ``auto`` on the same query."""
    done = [r for r in rows if "without_tabulation" in r]
    if not done:
        return []
    lines = [
        "Queries answered by tabulation, against `auto` without the tabulation step (same run;"
        " the pattern search, switch bound and solver still run):",
        "",
    ]
    for k in sorted({r["k"] for r in done}):
        mine = [r for r in done if r["k"] == k]
        now = statistics.median(r["decide_s"] for r in mine)
        before = [r["without_tabulation"] for r in mine]
        then = statistics.median(b["decide_s"] for b in before)
        unknown = sum(b["answer"] == "UNKNOWN" for b in before)
        lines.append(
            f"* K = {k}: {len(mine)} queries, median {now:.3f} s against {then:.3f} s "
            f"({then / max(now, 1e-6):.0f}x); {unknown} were UNKNOWN at the cap without it"
        )
    return [*lines, ""]


def cross_check(model: bnnc.Model, bits: np.ndarray, label: int, k: int) -> str:
    query = bnnc.query(model, not_label=label, near=bits, max_flips=k)
    result = bnnc.check_sat(model, bnnc.compile(model, region=query.region), query=query,
                            method="enumerate")  # fmt: skip
    return result.status.value


def radius_row(
    model: bnnc.Model, bits: np.ndarray, max_flips: int, cap: float, strategy: str
) -> dict[str, Any]:
    """The radius search of ``bnnc robustness`` at one image (model loaded once)."""
    start = time.perf_counter()
    result = bnnc.robustness(model, bits, max_flips, time_limit=cap, strategy=strategy)
    return {
        "strategy": strategy,
        "status": result.status,
        "radius": result.radius,
        "counterexample_flips": result.counterexample_flips,
        "steps": len(result.steps),
        "seconds": round(time.perf_counter() - start, 4),
    }


def radius_summary(rows: list[dict[str, Any]], strategies: list[str]) -> list[str]:
    lines = ["| image | " + " | ".join(strategies) + " |", "|---|" + "---|" * len(strategies)]
    for image in sorted({r["image"] for r in rows}):
        cells = []
        for strategy in strategies:
            r = next(r for r in rows if r["image"] == image and r["strategy"] == strategy)
            what = {"robust": "robust", "radius": f"radius {r['radius']}"}.get(
                r["status"], f"≥ {r['radius']}" + (
                    f", < {r['counterexample_flips']}" if r["counterexample_flips"] else "")
            )  # fmt: skip
            cells.append(f"{what} ({r['seconds']:.1f} s)")
        lines.append(f"| {image} | " + " | ".join(cells) + " |")
    return lines


def summary(rows: list[dict[str, Any]], ks: list[int], solver: str = "cadical") -> list[list[str]]:
    table = []
    for k in ks:
        mine = [r for r in rows if r["k"] == k and r["specialised"] and r["solver"] == solver]
        if not mine:
            continue
        total = sorted(r["compile_s"] + r["decide_s"] for r in mine)
        decide = sorted(r["decide_s"] for r in mine)
        answers = {a: sum(r["answer"] == a for r in mine) for a in ("SAT", "UNSAT", "UNKNOWN")}
        methods = {
            m: sum(r["method"] == m for r in mine)
            for m in ("enumerate", "tabulate", "search", "sat")
        }
        fast = sum(r["decide_s"] <= 0.5 for r in mine)
        free = [r["free"] for r in mine if r["free"]]
        median_free = (
            "/".join(str(int(statistics.median(f[i] for f in free))) for i in range(len(free[0])))
            if free else "-"
        )  # fmt: skip
        table.append([
            str(k), str(len(mine)),
            f"{statistics.median(decide):.3f}", f"{decide[int(0.9 * (len(decide) - 1))]:.3f}",
            f"{decide[-1]:.3f}", f"{statistics.median(total):.3f}",
            " ".join(f"{n} {a}" for a, n in answers.items() if n),
            " ".join(f"{n} {m}" for m, n in methods.items() if n),
            f"{fast}/{len(mine)}",
            median_free,
        ])  # fmt: skip
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3, 5, 8, 12, 16])
    parser.add_argument("--cap", type=float, default=10.0)
    parser.add_argument("--check-k", type=int, default=1)
    parser.add_argument("--unspecialised-images", type=int, default=3)
    parser.add_argument(
        "--solvers",
        nargs="+",
        default=["cadical"],
        help="deciders to compare on every query (registry names)",
    )
    parser.add_argument(
        "--radius-images",
        type=int,
        default=10,
        help="images for the radius search (bnnc robustness), 0 for none",
    )
    parser.add_argument("--radius-k", type=int, default=16)
    parser.add_argument("--strategies", nargs="+", default=["per-radius", "incremental"])
    parser.add_argument("--model", choices=["tfc", "paper"], default="tfc")
    parser.add_argument(
        "--compare-images",
        type=int,
        default=20,
        help="re-run the tabulated queries of the first images by the previous auto",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "robustness")
    args = parser.parse_args()
    if not MODEL.exists():
        sys.exit(f"bench/robustness.py: {MODEL} is missing (../shared/models)")
    started, load = time.time(), __import__("os").getloadavg()[0]
    start = time.perf_counter()
    model, bits_all, truth, title = inputs(args.model, args.images)
    load_s = time.perf_counter() - start
    labels = bnnc.predict(model, bits_all)
    ilp = bnnc.compile(model, until="ilp").ilp
    assert ilp is not None
    rows: list[dict[str, Any]] = []
    mismatches = 0
    for i, bits in enumerate(bits_all):
        for k in args.ks:
            for solver in args.solvers:
                row = query_row(model, ilp, bits, int(labels[i]), k, args.cap, True, solver)
                row.update(image=i, label=int(labels[i]), correct=bool(labels[i] == truth[i]))
                if row["method"] == "tabulate" and i < args.compare_images:
                    row["without_tabulation"] = untabulated(model, ilp, bits, int(labels[i]), k,
                                                            args.cap, solver)  # fmt: skip
                if k <= args.check_k and row["answer"] != "UNKNOWN":
                    row["enumerated"] = cross_check(model, bits, int(labels[i]), k)
                    mismatches += row["enumerated"] != row["answer"]
                rows.append(row)
                print(json.dumps(row), flush=True)
        if i < args.unspecialised_images:
            row = query_row(model, ilp, bits, int(labels[i]), 1, args.cap, False)
            row.update(image=i, label=int(labels[i]))
            rows.append(row)
            print(json.dumps(row), flush=True)
    radii: list[dict[str, Any]] = []
    for i, bits in enumerate(bits_all[: args.radius_images]):
        for strategy in args.strategies:
            row = radius_row(model, bits, args.radius_k, args.cap, strategy)
            row.update(image=i)
            radii.append(row)
            print(json.dumps(row), flush=True)
    info = machine_info(started, load)
    info.update(model_load_s=round(load_s, 3), cross_check_mismatches=mismatches)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "robustness.json").write_text(
        json.dumps({"machine": info, "rows": rows, "radii": radii}, indent=1)
    )
    header = ["K", "queries", "decide median s", "p90", "max", "compile+decide median s",
              "answers", "methods", "decided ≤ 0.5 s", "free neurons (median)"]  # fmt: skip
    lines = [
        f"# Robustness queries on {title}, inputs 0–{args.images - 1}",
        "",
        f"Machine: {info}. Cap {args.cap:g} s per query. Model load {load_s:.2f} s (once).",
        f"Answers cross-checked by enumeration for K ≤ {args.check_k}: {mismatches} mismatches.",
        "",
        *(
            line
            for solver in args.solvers
            for line in (
                f"Solver `{solver}`:",
                "",
                "| " + " | ".join(header) + " |",
                "|" + "---|" * len(header),
                *("| " + " | ".join(r) + " |" for r in summary(rows, args.ks, solver)),
                "",
            )
        ),
        *tabulation_lines(rows),
        "Without specialisation (K = 1):",
        "",
        *(
            f"* image {r['image']}: {r['answer']} in {r['compile_s'] + r['decide_s']:.2f} s "
            f"({r['variables']} variables, {r['clauses']} clauses)"
            for r in rows if not r["specialised"]
        ),
        "",
        f"Radius search (`bnnc robustness --max-flips {args.radius_k} --timeout {args.cap:g}`), "
        "per strategy: the answer and its wall time, model loaded once.",
        "",
        *radius_summary(radii, args.strategies),
    ]  # fmt: skip
    (args.out / "robustness.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
