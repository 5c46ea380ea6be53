"""ε-box robustness on a first layer reading digit pixels 0..16 (issue 15, item 2): which
solver path decides ``bnnc compile --box-near IMG --eps E --not-label C --check-sat`` fastest.

    python bench/pixels.py                          # test images 0-3, ε in 1 3 5 10 15, 20 s cap
    python bench/pixels.py --images 2 --eps 1 3 --cap 5

The model is bench/domains.py's 64-45-10 digits model (pixels order-encoded: 16 unary bits
per pixel, 2ε of them free in a box).  Per query: the specialised ILP (``spec``: the box's
fixed bits folded), then

* ``cadical``: the CNF (``-e auto``: cardinality networks over the free unary bits) + CaDiCaL;
* ``exact`` / ``cpsat``: the specialised ILP as pseudo-Boolean constraints (``--solver exact``,
  ``--solver cpsat``; ``bnnc.engines.pb``): a first-layer neuron is one linear constraint over
  the free unary bits, no cardinality network.

Every answer is checked: a SAT witness by the reference and onnxruntime (through
``bnnc.check_sat``), and the three solvers must agree where they all answer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import bnnc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from domains import DIGITS, build_model  # noqa: E402
from suite import machine_info  # noqa: E402

from bnnc.training.data import read_digits_csv, split_indices  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "pixels"
SOLVERS = ("cadical", "exact", "cpsat")


def run(model: bnnc.Model, image: np.ndarray, label: int, eps: int, solver: str, cap: float):
    query = bnnc.query(model, not_label=str(label), box_near=image, eps=eps)
    t0 = time.perf_counter()
    compiled = bnnc.compile(model, "auto", region=query.region, lazy=solver != "cadical")
    t1 = time.perf_counter()
    if solver != "cadical":
        # The native solvers never need the CNF: decide the specialised ILP directly.
        from bnnc.engines import registry
        from bnnc.engines.pb import pb_problem

        assert compiled.lowered is not None
        decision = registry.native_decider(solver).decide(
            pb_problem(compiled.lowered, query), time_limit=cap
        )
        status = decision.answer.name
        if status == "SAT":
            assert decision.values is not None
            bits = np.asarray(decision.values[1 : model.n_inputs + 1], dtype=bool)
            got = int(bnnc.predict(model, bits[None, :])[0])
            assert got != label and query.region.contains(bits[None, :])[0], "bad witness"
    else:
        result = bnnc.check_sat(
            model, compiled, query=query, search=False, solver="cadical", method="sat",
            time_limit=cap,
        )  # fmt: skip
        status = result.status.value if result.satisfiable is not None else "UNKNOWN"
    t2 = time.perf_counter()
    return status, t1 - t0, t2 - t1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--eps", type=int, nargs="+", default=[1, 3, 5, 10, 15])
    parser.add_argument("--solvers", nargs="+", default=list(SOLVERS))
    parser.add_argument("--cap", type=float, default=20.0)
    # Building the CNF is not capped (8 s at ε = 3, growing with 2ε bits per pixel).
    parser.add_argument("--cnf-max-eps", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started, load = time.time(), __import__("os").getloadavg()[0]
    images, labels = read_digits_csv(DIGITS)
    train, test = split_indices(len(images))
    work = Path(tempfile.mkdtemp(prefix="bnnc_pixels_"))
    path = work / "digits_int.onnx"
    accuracy = build_model(path, images[train], labels[train])
    model = bnnc.load(path, cache=False, input_domain="int:0..16", integer_inputs=True)
    rows = []
    for eps in args.eps:
        for index in test[: args.images].tolist():
            pixels = images[index].reshape(-1).astype(int)
            bits = (np.arange(16)[None, :] < pixels[:, None]).reshape(1, -1)
            label = int(bnnc.predict(model, bits)[0])
            answers = {}
            for solver in args.solvers:
                if solver == "cadical" and eps > args.cnf_max_eps:
                    continue
                status, build, solve = run(model, pixels, label, eps, solver, args.cap)
                answers[solver] = status
                rows.append({"image": index, "eps": eps, "solver": solver, "result": status,
                             "build_s": build, "solve_s": solve})  # fmt: skip
                print(f"image {index} ε={eps} {solver}: {status} build {build:.2f} s "
                      f"solve {solve:.2f} s", flush=True)  # fmt: skip
            decided = {s for s in answers.values() if s != "UNKNOWN"}
            assert len(decided) <= 1, f"solvers disagree: {answers}"
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine_info(started, load)
    (args.out / "pixels.json").write_text(
        json.dumps({"accuracy": accuracy, "rows": rows, "machine": info}, indent=1) + "\n"
    )
    lines = [
        "# ε-box queries in `bnnc compile`, digits pixels 0..16 (order encoding): solvers",
        "",
        f"Model 64-45-10 from `bench/domains.py` (training accuracy {accuracy:.1%}); test images "
        f"0–{args.images - 1}; query: some label other than the model's own in the box; cap "
        f"{args.cap:g} s per solve. Time = build (specialised ILP, and the CNF for cadical) + "
        f"solve. Machine: {info.get('cpus')} CPUs, started {info.get('started')}.",
        "",
        "| ε | solver | sat | unsat | unknown | median build s | median solve s | max total s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for eps in args.eps:
        for solver in args.solvers:
            mine = [r for r in rows if r["eps"] == eps and r["solver"] == solver]
            if not mine:
                lines.append(f"| {eps} | {solver} | not run (--cnf-max-eps) | | | | | |")
                continue
            n = {s: sum(r["result"] == s for r in mine) for s in ("SAT", "UNSAT", "UNKNOWN")}
            build = statistics.median(r["build_s"] for r in mine)
            solve = statistics.median(r["solve_s"] for r in mine)
            worst = max(r["build_s"] + r["solve_s"] for r in mine)
            lines.append(f"| {eps} | {solver} | {n['SAT']} | {n['UNSAT']} | {n['UNKNOWN']} | "
                         f"{build:.2f} | {solve:.2f} | {worst:.2f} |")  # fmt: skip
    (args.out / "pixels.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
