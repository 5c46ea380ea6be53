"""Inversion figures per network and encoding: first witness per label, 100 samples, exact counts.

    python bench/inversion.py                       # both networks, every encoding, default caps
    python bench/inversion.py --encodings totalizer adder --cap 60 --json out.json

Networks: the bundled examples/paper-25-20-10.bnn and examples/paper-100-20-10.bnn (random,
with batch norm calibrated so thresholds sit mid-range: the hard case).  For each encoding:

* ``witness``: time for ``check_sat`` per label, without the local search (the SAT solver alone,
  CaDiCaL via pysat) and, in brackets, with it (bnnc's default);
* ``100 samples``: time for 100 CMSGen samples of one label (label 2, as in the paper);
* ``count``: exact Ganak count time per label.

Each measurement runs in its own process with a time cap (``--cap`` seconds); a capped run
prints ``>cap``.  Figures depend on the machine and its load: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = {
    "25-20-10": ROOT / "examples" / "paper-25-20-10.bnn",
    "100-20-10": ROOT / "examples" / "paper-100-20-10.bnn",
}


def _task(kind: str, path: str, encoding: str, label: int, queue: Any) -> None:
    import bnnc
    from bnnc.engines.count import count
    from bnnc.engines.sample import sample
    from bnnc.ir.query import Query
    from bnnc.ir.region import Region

    model = bnnc.load(path)
    compiled = bnnc.compile(model, encoding)
    start = time.perf_counter()
    if kind in ("witness", "witness-search"):
        result = bnnc.check_sat(model, compiled, label=label, search=kind == "witness-search")
        detail: Any = "SAT" if result.satisfiable else "UNSAT"
    elif kind == "sample":
        query = Query(Region.everything(model.n_inputs), label=label)
        drawn = sample(model, compiled.formula, query, 100, seed=0)
        detail = drawn.drawn
    else:
        query = Query(Region.everything(model.n_inputs), label=label)
        detail = count(compiled.formula, query).count
    queue.put((time.perf_counter() - start, detail))


def measure(
    kind: str, path: Path, encoding: str, label: int, cap: float
) -> tuple[float | None, Any]:
    """(seconds, detail) of one task in a fresh process, or (None, None) past the cap."""
    queue: Any = mp.get_context("fork").Queue()
    process = mp.get_context("fork").Process(
        target=_task, args=(kind, str(path), encoding, label, queue)
    )
    process.start()
    process.join(cap + 30)  # loading and compiling are not part of the measured time
    if process.is_alive():
        process.kill()
        process.join()
        return None, None
    if queue.empty():
        return None, "failed"
    seconds, detail = queue.get()
    return (seconds if seconds <= cap else None), detail


def fmt(seconds: float | None, cap: float) -> str:
    return f">{cap:g}" if seconds is None else f"{seconds:.2f}"


def main() -> None:
    from bnnc.encodings import ENCODING_NAMES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="*", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument(
        "--encodings", nargs="*", default=[e for e in ENCODING_NAMES if e != "direct"]
    )
    parser.add_argument("--cap", type=float, default=60.0, help="seconds per measurement")
    parser.add_argument("--labels", type=int, nargs="*", default=list(range(10)))
    parser.add_argument("--no-count", action="store_true", help="skip the Ganak counts")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()

    records: list[dict[str, Any]] = []
    for network in args.networks:
        path = NETWORKS[network]
        for encoding in args.encodings:
            row: dict[str, Any] = {"network": network, "encoding": encoding}
            print(f"\n{network}  {encoding}", flush=True)
            witness = []
            for label in args.labels:
                plain, answer = measure("witness", path, encoding, label, args.cap)
                searched, _ = measure("witness-search", path, encoding, label, args.cap)
                witness.append(
                    {"label": label, "solver": plain, "search": searched, "answer": answer}
                )
                print(
                    f"  witness label {label}: {fmt(plain, args.cap)} s solver "
                    f"({fmt(searched, args.cap)} s with search) {answer or ''}",
                    flush=True,
                )
            row["witness"] = witness
            seconds, _ = measure("sample", path, encoding, 2, args.cap)
            row["samples_100_label_2"] = seconds
            print(f"  100 samples of label 2: {fmt(seconds, args.cap)} s", flush=True)
            counts = []
            if not args.no_count:
                for label in args.labels:
                    seconds, value = measure("count", path, encoding, label, args.cap)
                    counts.append({"label": label, "seconds": seconds, "count": value})
                    print(f"  exact count label {label}: {fmt(seconds, args.cap)} s {value or ''}")
            row["counts"] = counts
            records.append(row)
    if args.json:
        args.json.write_text(json.dumps({"cap": args.cap, "rows": records}, indent=1) + "\n")
    sys.exit(0)


if __name__ == "__main__":
    main()
