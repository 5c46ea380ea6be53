"""The benchmark suite: every network × encoding, sizes and solver/sampler/counter times.

    python bench/suite.py                    # everything (long: hours on 2 cores)
    python bench/suite.py --quick            # 25-20-10 and 100-20-10 only, 10 s caps
    python bench/suite.py --shapes 100-20-10 --encodings adder totalizer --decide-cap 30
    python bench/suite.py --measure sample --sample-cap 60 --out bench/results/sampling

Networks: for each shape, a *random* one (``bnnc.training.generate.random_bnn``: thresholds
calibrated to sit mid-range, the hard case) and a *trained* one (``bnnc.training.train`` on MNIST
downsampled to the input size — 5×5, 10×10, 20×20 or 28×28 — from ``$BNNC_DATA`` or
``../shared/data``; skipped with a message if the data are missing).  For each network and encoding
the suite records: variables, clauses, compile time (in-process), the time to decide each label with
CaDiCaL (``check_sat(search=False)``: the solver alone), the time for 100 CMSGen samples of label 2,
and the exact-count time of label 2 with Ganak where feasible (inputs ≤ 25).  Each formula is
compiled once; every solver, sampler and counter run is a forked child with its own time cap
(``--decide-cap``, ``--sample-cap``, ``--count-cap``); capped runs show ``>cap``, and a
capped sampling run also shows how many samples it drew within the cap.  ``--measure``
selects the measurements (sizes and compile times are always taken).  The tables
are rewritten after every row, with the machine's load, so a long run can be followed.

Writes ``bench/results/suite.md`` and ``bench/results/suite.json`` (or ``--out DIR``).

Reference points (issue 5; NPAQ on the paper's trained 100-20-10): 62,726 variables / 114,740
clauses (cardinality networks, 10 s), 104,904 / 206,626 (BDD), 10,932 / 101,971 (adder), none of
them parsimonious.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inversion import fmt  # bench/ is not a package: imported by path

SHAPES: dict[str, tuple[list[int], int]] = {
    "25-20-10": ([25, 20, 10], 5),
    "100-20-10": ([100, 20, 10], 10),
    "100-25-10-10": ([100, 25, 10, 10], 10),
    "400-100-10": ([400, 100, 10], 20),
    "784-64-64-64-10": ([784, 64, 64, 64, 10], 28),
}
TRAIN_EPOCHS = 10
COUNT_MAX_INPUTS = 25
# Rows not run, with the reason (printed in the table): formulas too big for this machine.
SKIP: dict[tuple[str, str], str] = {
    (
        "784-64-64-64-10",
        "seqcounter",
    ): "39 million clauses for the first layer alone (n·k ≈ 784·392 per neuron)",
}


def networks(shape: str, out: Path, seed: int) -> list[tuple[str, Path]]:
    """The random and (data permitting) trained network of a shape, written as text models."""
    from bnnc.backend.text import print_bnn
    from bnnc.training.data import DataError, load_mnist
    from bnnc.training.generate import random_bnn
    from bnnc.training.train import TrainConfig, train

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


# The network and formula under measurement, set in the parent before each fork: every
# measurement runs in a forked child that inherits them, so the formula is compiled once per row.
_CURRENT: dict[str, Any] = {}


def _task(kind: str, label: int, queue: Any, progress: Any) -> None:
    import bnnc
    from bnnc.engines.count import count
    from bnnc.engines.sample import sample
    from bnnc.ir.query import Query
    from bnnc.ir.region import Region

    model, compiled = _CURRENT["model"], _CURRENT["compiled"]
    formula = compiled.formula
    query = Query(Region.everything(model.n_inputs), label=label)
    start = time.perf_counter()
    if kind == "decide":
        result = bnnc.check_sat(model, compiled, label=label, search=False)
        detail: Any = "SAT" if result.satisfiable else "UNSAT"
    elif kind == "sample":

        def drawn_so_far(drawn: int) -> None:
            progress.value = drawn

        detail = sample(model, formula, query, 100, seed=0, on_sample=drawn_so_far).drawn
    else:
        detail = count(formula, query).count
    queue.put((time.perf_counter() - start, detail))


def measure_forked(kind: str, label: int, cap: float) -> tuple[float | None, Any]:
    """(seconds, detail) of one task in a forked child; past the cap (None, None), or for
    sampling (None, samples drawn within the cap)."""
    context = mp.get_context("fork")
    queue: Any = context.Queue()
    progress: Any = context.Value("i", 0)
    process = context.Process(target=_task, args=(kind, label, queue, progress))
    process.start()
    process.join(cap)
    if process.is_alive():
        drawn = progress.value
        process.kill()
        process.join()
        return None, (drawn if kind == "sample" else None)
    if queue.empty():  # the child died: a bug, not a slow run
        raise SystemExit(f"{kind} of label {label} failed (exit code {process.exitcode})")
    seconds, detail = queue.get()
    return (seconds if seconds <= cap else None), detail


def main() -> None:
    import bnnc
    from bnnc.encodings import ENCODING_NAMES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument(
        "--encodings", nargs="*", default=[e for e in ENCODING_NAMES if e != "direct"]
    )
    parser.add_argument("--decide-cap", type=float, default=20.0, help="seconds per label")
    parser.add_argument("--sample-cap", type=float, default=60.0, help="seconds for 100 samples")
    parser.add_argument("--count-cap", type=float, default=120.0, help="seconds per count")
    parser.add_argument(
        "--measure",
        nargs="*",
        default=["decide", "sample", "count"],
        choices=["decide", "sample", "count"],
        help="which measurements to run (sizes and compile times always)",
    )
    parser.add_argument("--quick", action="store_true", help="two small shapes, 10 s caps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if args.quick:
        args.shapes = ["25-20-10", "100-20-10"]
        args.decide_cap = args.sample_cap = args.count_cap = 10.0
    caps = {"decide": args.decide_cap, "sample": args.sample_cap, "count": args.count_cap}
    args.out.mkdir(parents=True, exist_ok=True)
    models_dir = args.out / "models"
    models_dir.mkdir(exist_ok=True)

    rows: list[dict[str, Any]] = []
    started = time.time()
    load_before = os.getloadavg()[0]
    for shape in args.shapes:
        print(f"\n== {shape}", flush=True)
        for kind, path in networks(shape, models_dir, args.seed):
            n_inputs = SHAPES[shape][0][0]
            model = bnnc.load(path)
            for encoding in args.encodings:
                if (shape, encoding) in SKIP:
                    print(f"  {kind} {shape} {encoding}: skipped ({SKIP[shape, encoding]})")
                    continue
                start = time.perf_counter()
                compiled = bnnc.compile(model, encoding)
                compile_s = time.perf_counter() - start
                _CURRENT.update(model=model, compiled=compiled)
                n_vars, n_clauses = compiled.formula.num_vars, len(compiled.formula.clauses)
                decide: list[float | None] | None = None
                if "decide" in args.measure:
                    decide = [measure_forked("decide", c, caps["decide"])[0] for c in range(10)]
                sample_s, drawn = (
                    measure_forked("sample", 2, caps["sample"])
                    if "sample" in args.measure
                    else (None, None)
                )
                count_s: float | str | None = "-"  # None: capped; a string: not measured
                if "count" in args.measure:
                    count_s = (
                        measure_forked("count", 2, caps["count"])[0]
                        if n_inputs <= COUNT_MAX_INPUTS
                        else "n/a"
                    )
                _CURRENT.clear()
                del compiled
                row = {
                    "network": f"{kind} {shape}",
                    "encoding": encoding,
                    "variables": n_vars,
                    "clauses": n_clauses,
                    "compile_s": round(compile_s, 3),
                    "decide_s": decide,
                    "samples_100_s": sample_s,
                    "samples_drawn_in_cap": drawn if sample_s is None else None,
                    "count_label_2_s": count_s,
                }
                rows.append(row)
                print("  " + " | ".join(_cells(row, caps, args.measure)), flush=True)
                # Written after every row, so an interrupted run keeps what it measured.
                write_tables(rows, args.out, caps, machine_info(started, load_before), args.measure)


def machine_info(started: float, load_before: float) -> dict[str, Any]:
    """The machine and its load, for the caption of a results table."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "wall_min": round((time.time() - started) / 60, 1),
        "load_1min_at_start": round(load_before, 2),
        "load_1min_now": round(os.getloadavg()[0], 2),
    }


def _cells(row: dict[str, Any], caps: dict[str, float], measured: list[str]) -> list[str]:
    decide = row["decide_s"]
    solved = [d for d in decide if d is not None] if decide is not None else []
    count = row["count_label_2_s"]
    samples = row["samples_100_s"]
    drawn = row.get("samples_drawn_in_cap")
    if samples is not None:
        sample_cell = f"{samples:.2f}"
    elif drawn is not None:
        sample_cell = f">{caps['sample']:g} ({drawn} drawn)"
    elif "sample" in measured:  # capped, by a run that did not count the samples drawn
        sample_cell = fmt(None, caps["sample"])
    else:
        sample_cell = "-"
    return [
        row["network"],
        row["encoding"],
        f"{row['variables']:,}",
        f"{row['clauses']:,}",
        f"{row['compile_s']:.2f}",
        f"{len(solved)}/10" if decide is not None else "-",
        fmt(max(solved) if solved else None, caps["decide"]) if decide is not None else "-",
        f"{sum(solved):.2f}" if solved else "-",
        sample_cell,
        count if isinstance(count, str) else fmt(count, caps["count"]),
    ]


def write_tables(
    rows: list[dict[str, Any]],
    out: Path,
    caps: dict[str, float],
    machine: dict[str, Any],
    measured: list[str],
) -> None:
    record = {"caps_s": caps, "measured": measured, "machine": machine, "rows": rows}
    (out / "suite.json").write_text(json.dumps(record, indent=1) + "\n")
    what = {"decide": "per label decided", "sample": "for 100 samples", "count": "per count"}
    cap_text = ", ".join(f"{caps[kind]:g} s {what[kind]}" for kind in measured)
    lines = [
        "# bnnc benchmark suite",
        "",
        f"Caps: {cap_text or 'none'}; `>cap` = not finished, `-` = not measured in this run.  "
        f"Machine: {machine['cpus']} "
        f"CPUs, Python {machine['python']}, started {machine['started']}, "
        f"{machine['wall_min']} min so far, 1-minute load {machine['load_1min_at_start']} at "
        f"the start and {machine['load_1min_now']} at the last row.",
        "",
        "| network | encoding | variables | clauses | compile s | labels decided "
        "| max decide s | sum decided s | 100 samples s | count s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += ["| " + " | ".join(_cells(row, caps, measured)) + " |" for row in rows]
    (out / "suite.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
