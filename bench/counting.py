"""Counting and sampling figures: per-label counts by every method, samples per second per
sampler, and the uniformity of what each sampler draws.

    python bench/counting.py                       # every network, default caps
    python bench/counting.py --networks trained-25 --cap 30 --out bench/results/counting

Networks: the paper's shapes, random (``examples/paper-*.bnn``) and trained on MNIST
(``examples/paper/mnist*.bnn``, as ``examples/paper/reproduce.py`` trains them).  Per network:

* ``count auto --all-labels``: the default, one run for every label (method and guarantee);
* per method (``enumerate``, ``layers``, ``ganak``, ``approxmc``), label 2 (the paper's label)
  and, for ``enumerate``, every label: count, seconds, guarantee; ``>cap`` when the method did
  not finish within ``--cap`` seconds, ``n/a`` when it does not apply;
* 100 samples of label 2 per sampler (``auto``, ``reject``, ``enumerate``, ``unigen``,
  ``cmsgen``), on the formula ``bnnc sample`` compiles (``-e auto``): seconds and samples per
  second;
* uniformity: on the 9-6-4 network of the test suite (an enumerable preimage of 91 inputs),
  40 draws per input by each sampler, the chi-square p-value against uniform (fixed seed).

Each measurement runs in its own process, stopped at its cap.  Figures depend on the machine
and its load (the bench machine has 2 cores shared with other jobs): the JSON keeps the load.
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

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = {
    "random-25": ROOT / "examples" / "paper-25-20-10.bnn",
    "trained-25": ROOT / "examples" / "paper" / "mnist5x5-25-20-10.bnn",
    "random-100": ROOT / "examples" / "paper-100-20-10.bnn",
    "trained-100": ROOT / "examples" / "paper" / "mnist10x10-100-20-10.bnn",
}
COUNT_METHODS = ("enumerate", "layers", "ganak", "approxmc")
SAMPLERS = ("auto", "reject", "enumerate", "unigen", "cmsgen")
LABEL = 2


def _count_task(path: str, method: str, label: int | None, queue: Any) -> None:
    import bnnc
    from bnnc.engines.count import count
    from bnnc.errors import BnncError
    from bnnc.ir.query import Query
    from bnnc.ir.region import Region

    model = bnnc.load(path)
    compiled = bnnc.compile(model)
    region = Region.everything(model.n_inputs)
    start = time.perf_counter()
    if label is None:  # auto, every label
        query = Query(region)
        results = bnnc.count_every_label(model, compiled.formula, query, method="auto")
        detail = [
            {"label": r.query.label, "count": r.count, "method": r.method,
             "guarantee": r.guarantee.describe()}
            for r in results
        ]  # fmt: skip
    elif method in ("enumerate", "layers"):
        queries = [Query(region, label=label)]
        try:
            (result,) = bnnc.count_queries(
                model, compiled.formula, queries, method="enumerate" if method == "enumerate"
                else "layers"
            )  # fmt: skip
        except BnncError as err:
            queue.put((None, {"n/a": str(err)}))
            return
        detail = {"count": result.count, "guarantee": result.guarantee.describe()}
    else:
        result = count(compiled.formula, Query(region, label=label), method=method)
        detail = {"count": result.count, "guarantee": result.guarantee.describe()}
    queue.put((time.perf_counter() - start, detail))


def _sample_task(path: str, sampler: str, n: int, queue: Any) -> None:
    import bnnc
    from bnnc.errors import BnncError

    model = bnnc.load(path)
    compiled = bnnc.compile(model, "auto")  # the encoding bnnc sample uses (the totalizer here)
    start = time.perf_counter()
    try:
        result = bnnc.sample(model, compiled, label=LABEL, n=n, seed=0, sampler=sampler)
    except BnncError as err:
        queue.put((None, {"n/a": str(err)}))
        return
    queue.put(
        (
            time.perf_counter() - start,
            {"drawn": result.drawn, "method": result.method, "guarantee": result.guarantee},
        )
    )


def _uniformity_task(sampler: str, queue: Any) -> None:
    import numpy as np
    from scipy.stats import chisquare

    import bnnc
    from bnnc.engines.sample import frequencies, sample
    from bnnc.ir.query import Query
    from bnnc.ir.region import Region
    from bnnc.training.generate import random_bnn

    model = random_bnn([9, 6, 4], seed=11)
    inputs = (np.arange(512)[:, None] >> np.arange(8, -1, -1)) & 1 > 0
    labels = bnnc.predict(model, inputs)
    sizes = np.bincount(labels, minlength=4)
    label = int(np.argmin(np.where(sizes >= 20, sizes, 10**9)))
    preimage = [r.tobytes() for r in np.packbits(inputs[labels == label], axis=-1)]
    compiled = bnnc.compile(model, "totalizer")
    query = Query(Region.everything(9), label=label)
    start = time.perf_counter()
    result = sample(model, compiled.formula, query, 40 * len(preimage), seed=7, sampler=sampler)
    seen = frequencies(result.samples)
    observed = [seen.get(key, 0) for key in preimage]
    _, p_value = chisquare(observed)
    queue.put(
        (
            time.perf_counter() - start,
            {"preimage": len(preimage), "draws": result.drawn, "p_value": float(p_value),
             "min": min(observed), "max": max(observed), "method": result.method},
        )
    )  # fmt: skip


def measure(target: Any, args: tuple[Any, ...], cap: float) -> tuple[float | None, Any]:
    """(seconds, detail) of one task in a fresh process, or (None, None) past the cap."""
    context = mp.get_context("fork")
    queue: Any = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    deadline = time.monotonic() + cap + 20  # loading and compiling are not measured
    while process.is_alive() and time.monotonic() < deadline and queue.empty():
        time.sleep(0.05)
    answer = None if queue.empty() else queue.get()
    if process.is_alive():
        process.kill()
    process.join()
    if answer is None:
        return None, None
    seconds, detail = answer
    return (seconds if seconds is not None and seconds <= cap else None), detail


def fmt(seconds: float | None, cap: float, detail: Any = None) -> str:
    if isinstance(detail, dict) and "n/a" in detail:
        return "n/a"
    return f">{cap:g}" if seconds is None else f"{seconds:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="*", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--no-uniformity", action="store_true", help="skip the chi-square runs")
    parser.add_argument("--cap", type=float, default=60.0, help="seconds per measurement")
    parser.add_argument(
        "--auto-cap", type=float, default=600.0, help="seconds for count auto, all labels"
    )
    parser.add_argument("-n", type=int, default=100, help="samples per sampler")
    parser.add_argument("--out", type=Path, help="write counting.json and counting.md here")
    args = parser.parse_args()

    record: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_at_start": os.getloadavg()[0],
        "cap": args.cap,
        "auto_cap": args.auto_cap,
        "networks": {},
    }
    for network in args.networks:
        path = str(NETWORKS[network])
        row: dict[str, Any] = {}
        print(f"\n{network}", flush=True)
        seconds, detail = measure(_count_task, (path, "auto", None), args.auto_cap)
        row["auto_all_labels"] = {"seconds": seconds, "labels": detail}
        print(f"  count auto, all labels: {fmt(seconds, args.auto_cap)} s", flush=True)
        methods: dict[str, Any] = {}
        for method in COUNT_METHODS:
            seconds, detail = measure(_count_task, (path, method, LABEL), args.cap)
            methods[method] = {"seconds": seconds, **(detail or {})}
            print(f"  count {method}, label {LABEL}: {fmt(seconds, args.cap, detail)} s "
                  f"{detail or ''}", flush=True)  # fmt: skip
        row["count_label_2"] = methods
        samplers: dict[str, Any] = {}
        for sampler in SAMPLERS:
            seconds, detail = measure(_sample_task, (path, sampler, args.n), args.cap)
            rate = None if seconds is None or not detail else detail["drawn"] / seconds
            samplers[sampler] = {"seconds": seconds, "per_second": rate, **(detail or {})}
            print(f"  {args.n} samples of label {LABEL}, {sampler}: "
                  f"{fmt(seconds, args.cap, detail)} s {detail or ''}", flush=True)  # fmt: skip
        row["samples"] = samplers
        record["networks"][network] = row
        _write(args.out, record)  # after every network: a long run keeps what it measured
    uniformity: dict[str, Any] = {}
    for sampler in () if args.no_uniformity else SAMPLERS:
        if sampler == "enumerate":
            continue  # auto enumerates this preimage: the same draws
        seconds, detail = measure(_uniformity_task, (sampler,), args.cap)
        uniformity[sampler] = {"seconds": seconds, **(detail or {})}
        print(f"uniformity, {sampler}: {detail}", flush=True)
    record["uniformity"] = uniformity
    _write(args.out, record)
    sys.exit(0)


def _write(out: Path | None, record: dict[str, Any]) -> None:
    record["load_at_end"] = os.getloadavg()[0]
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "counting.json").write_text(json.dumps(record, indent=1) + "\n")
        (out / "counting.md").write_text(markdown(record))


def markdown(record: dict[str, Any]) -> str:
    cap = record["cap"]
    lines = [
        "# Counting and sampling",
        "",
        f"`python bench/counting.py`, started {record['started']}; {record['machine']}; "
        f"1-minute load {record['load_at_start']:.1f} at the start, "
        f"{record['load_at_end']:.1f} at the end.  Cap {cap:g} s per measurement; `>cap`: "
        "did not finish; `n/a`: the method does not apply.",
        "",
        f"## Counts of label {LABEL} (whole input space)",
        "",
        "| network | method | count | seconds | guarantee |",
        "|---|---|---:|---:|---|",
    ]
    for network, row in record["networks"].items():
        for method, got in row["count_label_2"].items():
            count = got.get("count", "")
            lines.append(
                f"| {network} | {method} | {count} | {fmt(got['seconds'], cap, got)} | "
                f"{got.get('guarantee', '')} |"
            )
    lines += ["", "## `bnnc count --all-labels` (auto)", ""]
    lines += ["| network | seconds | methods | guarantees | counts |", "|---|---:|---|---|---|"]
    for network, row in record["networks"].items():
        auto = row["auto_all_labels"]
        labels = auto["labels"] or []
        methods = sorted({x["method"] for x in labels})
        guarantees = sorted({x["guarantee"] for x in labels})
        counts = ", ".join(str(x["count"]) for x in labels)
        lines.append(
            f"| {network} | {fmt(auto['seconds'], record['auto_cap'])} | {', '.join(methods)} | "
            f"{'; '.join(guarantees)} | {counts} |"
        )
    lines += ["", f"## 100 samples of label {LABEL}", ""]
    lines += ["| network | sampler | seconds | samples/s | drew with | guarantee |"]
    lines += ["|---|---|---:|---:|---|---|"]
    for network, row in record["networks"].items():
        for sampler, got in row["samples"].items():
            rate = got.get("per_second")
            lines.append(
                f"| {network} | {sampler} | {fmt(got['seconds'], cap, got)} | "
                f"{'' if rate is None else f'{rate:.1f}'} | {got.get('method', '')} | "
                f"{got.get('guarantee', '')} |"
            )
    lines += ["", "## Uniformity (9-6-4 network, enumerable preimage, 40 draws per input)", ""]
    lines += ["| sampler | drew with | draws | min / max per input | chi-square p |"]
    lines += ["|---|---|---:|---|---:|"]
    for sampler, got in record.get("uniformity", {}).items():
        if "p_value" not in got:
            lines.append(f"| {sampler} | | | | >cap |")
            continue
        lines.append(
            f"| {sampler} | {got['method']} | {got['draws']} | {got['min']} / {got['max']} | "
            f"{got['p_value']:.3g} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
