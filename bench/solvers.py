"""Solvers side by side on TFC-w1a1 robustness queries: CaDiCaL (CNF) against Exact and CP-SAT
(the ILP stage as pseudo-Boolean constraints), on the same specialised formulas.

    python bench/solvers.py                                  # images 0-99, K in 1 2 3 5 8
    python bench/solvers.py --images 20 --ks 12 16 --cap 2 --out bench/results/solvers/large-k
    python bench/solvers.py --label-models examples/paper-100-20-10.bnn --cap 10

For MNIST test image i (binarised at pixel/255 ≥ 0.5, as in ``bench/robustness.py``) with label
L, the query is "an input within K flips that the network does not label L".  Per image and K
the network is specialised to the ball and compiled once; then every solver decides that query
alone (no enumeration, no witness search: ``check_sat --method sat --no-search`` minus the
bookkeeping), under ``--cap`` seconds (UNKNOWN beyond).  CaDiCaL gets the CNF with the query's
clauses; Exact and CP-SAT get :func:`bnnc.engines.pb.pb_problem` of the specialised ILP; the
time of building that problem is reported apart.  Every SAT witness is validated by the model
itself (onnxruntime) and the reference; two solvers that answer differently (SAT vs UNSAT) are
counted as disagreements (a bug).  K values run in sequence and the tables are rewritten after
each one, so a stopped run keeps what it measured.  Read the times as ratios: the machine is
shared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import bnnc
from bnnc.engines import registry
from bnnc.engines.decide import validate_inputs
from bnnc.engines.pb import pb_problem
from bnnc.passes.lower_query import query_clauses

sys.path.insert(0, str(Path(__file__).resolve().parent))
from robustness import MODEL, ROOT, SHARED
from suite import machine_info

from bnnc.training.data import read_idx_images

SOLVERS = ["cadical", "exact", "cpsat"]


def decide(
    model: bnnc.Model, compiled: bnnc.Compilation, query: bnnc.Query, solver: str, cap: float
) -> dict[str, Any]:
    """One solver on one compiled query: its answer and the time it took."""
    n = compiled.formula.layout.n_inputs
    start = time.perf_counter()
    if registry.is_native(solver):
        assert compiled.lowered is not None
        problem = pb_problem(compiled.lowered, query)
        build_s = time.perf_counter() - start
        decision = registry.native_decider(solver).decide(problem, time_limit=cap)
    else:
        extra = query_clauses(query, compiled.formula)
        clauses = compiled.formula.clauses.joined(extra.clauses)
        build_s = time.perf_counter() - start
        decision = registry.decider(solver).decide(clauses, extra.num_vars, time_limit=cap)
    total = time.perf_counter() - start
    if decision.values is not None:
        validate_inputs(model, query, decision.values[None, 1 : n + 1], what="witness")
    return {
        "solver": solver,
        "answer": decision.answer.value,
        "build_s": round(build_s, 4),
        "solve_s": round(total - build_s, 4),
    }


def table(rows: list[dict[str, Any]], ks: list[int], solvers: list[str]) -> list[str]:
    header = ["K", "solver", "decided", "SAT", "UNSAT", "mean s", "median s", "p90 s", "max s",
              "mean vs cadical", "median vs cadical"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for k in ks:
        base = _times(rows, k, "cadical")
        for solver in solvers:
            mine = [r for r in rows if r["k"] == k and r["solver"] == solver]
            if not mine:
                continue
            times = _times(rows, k, solver)
            answers = [r["answer"] for r in mine]
            mean = statistics.fmean(times)
            ratios = (
                f"{statistics.fmean(base) / mean:.1f}x | "
                f"{statistics.median(base) / statistics.median(times):.1f}x"
                if base
                else "- | -"
            )
            lines.append(
                f"| {k} | {solver} | {len(mine) - answers.count('UNKNOWN')}/{len(mine)} | "
                f"{answers.count('SAT')} | {answers.count('UNSAT')} | {mean:.3f} | "
                f"{statistics.median(times):.3f} | {times[int(0.9 * (len(times) - 1))]:.3f} | "
                f"{times[-1]:.3f} | {ratios} |"
            )
    return lines


def _times(rows: list[dict[str, Any]], k: int, solver: str) -> list[float]:
    """Build and solve time per query (an UNKNOWN counts as its full time)."""
    return sorted(
        r["build_s"] + r["solve_s"] for r in rows if r["k"] == k and r["solver"] == solver
    )


def write(args: argparse.Namespace, info: dict[str, Any], rows: list[dict[str, Any]],
          ks: list[int], disagreements: int) -> None:  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "solvers.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    lines = [
        f"# Solvers on TFC-w1a1 robustness queries (MNIST test images 0–{args.images - 1})",
        "",
        f"Machine: {info}.",
        f"Cap {args.cap:g} s per query and solver; the network specialised to each ball once, "
        "every solver on the same formula (no enumeration, no witness search).  Times include "
        "building the solver's input (CNF clauses of the query, or the pseudo-Boolean problem) "
        "and, for Exact, the forked child that enforces the cap.  UNKNOWN counts as its full "
        f"time.  Disagreements between solvers: {disagreements}.",
        "",
        *table(rows, ks, args.solvers),
    ]
    (args.out / "solvers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


def label_queries(args: argparse.Namespace) -> None:
    """Inversion: "an input the network labels L", every label, on the whole input space."""
    started, load = time.time(), __import__("os").getloadavg()[0]
    rows: list[dict[str, Any]] = []
    for path in args.label_models:
        model = bnnc.load(path)
        compiled = bnnc.compile(model)
        for label in range(model.n_classes):
            query = bnnc.query(model, label=label)
            for solver in args.solvers:
                row = decide(model, compiled, query, solver, args.cap)
                row.update(model=Path(path).name, label=label, k=Path(path).name)
                rows.append(row)
                print(json.dumps(row), flush=True)
    info = machine_info(started, load)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "labels.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    lines = [
        "# Solvers on label queries (inversion over the whole input space)",
        "",
        f"Machine: {info}.  Cap {args.cap:g} s per query and solver; one query per label, "
        "the first column is the model.",
        "",
        *table(rows, [Path(path).name for path in args.label_models], args.solvers),
    ]
    (args.out / "labels.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3, 5, 8])
    parser.add_argument("--cap", type=float, default=2.0)
    parser.add_argument("--solvers", nargs="+", default=SOLVERS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "solvers")
    parser.add_argument(
        "--label-models",
        nargs="+",
        default=[],
        help="instead: label queries (every label, whole input space) on these models",
    )
    parser.add_argument(
        "--render", action="store_true", help="rewrite solvers.md from solvers.json in --out"
    )
    args = parser.parse_args()
    if args.render:
        saved = json.loads((args.out / "solvers.json").read_text())
        rows = saved["rows"]
        ks = list(dict.fromkeys(r["k"] for r in rows))
        by_query: dict[tuple[int, int], set[str]] = {}
        for r in rows:
            by_query.setdefault((r["k"], r["image"]), set()).add(r["answer"])
        clashes = sum({"SAT", "UNSAT"} <= answers for answers in by_query.values())
        args.images = len({r["image"] for r in rows})
        write(args, saved["machine"], rows, ks, clashes)
        return
    if args.label_models:
        label_queries(args)
        return
    if not MODEL.exists():
        sys.exit(f"bench/solvers.py: {MODEL} is missing (../shared/models)")
    started, load = time.time(), __import__("os").getloadavg()[0]
    model = bnnc.load(MODEL)
    images = read_idx_images(SHARED / "data" / "t10k-images-idx3-ubyte.gz")[: args.images]
    bits_all = images.reshape(len(images), -1) / 255.0 >= 0.5
    labels = bnnc.predict(model, bits_all)
    ilp = bnnc.compile(model, until="ilp").ilp
    assert ilp is not None
    for solver in args.solvers:  # load each solver library once before timing anything
        first = bnnc.query(model, not_label=int(labels[0]), near=bits_all[0], max_flips=0)
        decide(model, bnnc.compile(ilp, region=first.region), first, solver, args.cap)
    rows: list[dict[str, Any]] = []
    disagreements = 0
    done: list[int] = []
    for k in args.ks:  # in sequence: the tables are rewritten after each K
        for i, bits in enumerate(bits_all):
            label = int(labels[i])
            query = bnnc.query(model, not_label=label, near=bits, max_flips=k)
            start = time.perf_counter()
            compiled = bnnc.compile(ilp, region=query.region)
            compile_s = time.perf_counter() - start
            free = [layer.free for layer in compiled.spec.layers] if compiled.spec else None
            answers = set()
            for solver in args.solvers:
                row = decide(model, compiled, query, solver, args.cap)
                row.update(image=i, label=label, k=k, compile_s=round(compile_s, 4), free=free)
                rows.append(row)
                answers.add(row["answer"])
                print(json.dumps(row), flush=True)
            disagreements += {"SAT", "UNSAT"} <= answers
        done.append(k)
        write(args, machine_info(started, load), rows, done, disagreements)


if __name__ == "__main__":
    main()
