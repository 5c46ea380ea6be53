"""Knowledge compilation for counting: d4 and SDDs against Ganak, on label-2 counts.

    python bench/knowledge_compilation.py                  # the whole ladder, 60 s per count
    python bench/knowledge_compilation.py --cap 30 --networks random-20-8-4 random-25-20-10 \
        --out bench/results/knowledge_compilation

Issue 16 asked whether a knowledge compiler counts bnnc's formulas better than Ganak (the
``exact`` counter, exact with probability ≥ 1 − δ).  Per network of a ladder (random networks
of growing width, the paper's examples, the MNIST-trained ones), the inputs the network gives
label 2 over the whole input space, counted on the CNF ``bnnc.compile`` emits (default encoding)
plus the query's clauses, by:

* ``ganak``: :func:`bnnc.engines.count.count` with ``method="ganak"`` (projected on the inputs);
* ``d4``: the d4 compiler/counter (PyPI ``d4solver``, module ``py_d4``; deterministic, exact).
  Its Python API has no projection set, so it counts every variable of the formula: bnnc's
  formulas are parsimonious (every auxiliary variable is a function of the inputs), so that is
  the input count; the reference column checks it;
* ``sdd``: a sentential decision diagram compiled bottom-up from the CNF by PySDD (PyPI
  ``pysdd``, ``SddManager.from_cnf_string``, its default balanced vtree), then model-counted:
  what BDD4BNN-style compilation costs when it starts from the CNF;
* ``bdd``: BDD4BNN's construction instead, from the network rather than the CNF
  (:func:`bdd_count`, the ``dd`` package's pure-Python ``dd.autoref``; its CUDD bindings need a
  build): each neuron's BDD is its threshold function of the BDDs of the layer below, built by
  a dynamic program over (position, partial sum), and label 2 is the conjunction, per other
  class, of "label 2's score beats it" over the last hidden layer; then the BDD's models are
  counted over the inputs.

``reference`` is the exact count from bnnc without the formula where one is cheap: enumeration
of every input for ≤ 30 inputs, the layer-wise dynamic program where it applies, else none.
Each count runs in its own process, stopped at ``--cap`` seconds (compiling the network is not
timed); once a counter runs out on two networks in a row, it is skipped on the later ones.  The
machine has 2 cores shared with other jobs: read ratios measured in the same run, not absolute
seconds.  ``python -c 'from bench.knowledge_compilation import load; print(load())'`` reads the
committed results.
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
RESULTS = ROOT / "bench" / "results" / "knowledge_compilation"
# name -> a .bnn file, or the widths of bnnc.training.generate.random_bnn (seed 0).
# Roughly in order of difficulty for the counters (neurons, then inputs).
NETWORKS: dict[str, str | tuple[int, ...]] = {
    "random-12-6-4": (12, 6, 4),
    "random-16-8-4": (16, 8, 4),
    "random-20-8-4": (20, 8, 4),
    "random-30-10-4": (30, 10, 4),
    "random-40-10-10": (40, 10, 10),
    "random-25-20-10": str(ROOT / "examples" / "paper-25-20-10.bnn"),
    "trained-25-20-10": str(ROOT / "examples" / "paper" / "mnist5x5-25-20-10.bnn"),
    "random-60-15-10": (60, 15, 10),
    "random-100-20-10": str(ROOT / "examples" / "paper-100-20-10.bnn"),
    "trained-100-20-10": str(ROOT / "examples" / "paper" / "mnist10x10-100-20-10.bnn"),
}
COUNTERS = ("ganak", "d4", "sdd", "bdd")
LABEL = 2


def _model(network: str) -> Any:
    import bnnc
    from bnnc.training.generate import random_bnn

    source = NETWORKS[network]
    return bnnc.load(source) if isinstance(source, str) else random_bnn(list(source), seed=0)


def _silence_stdout() -> None:
    # d4 and Ganak print "c ..." lines on file descriptor 1 whatever their verbosity.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)


def _count_task(network: str, counter: str, queue: Any) -> None:
    import bnnc
    from bnnc.engines.count import count
    from bnnc.ir.query import Query
    from bnnc.ir.region import Region
    from bnnc.passes.lower_query import query_clauses

    _silence_stdout()
    model = _model(network)
    formula = bnnc.compile(model).formula
    query = Query(Region.everything(model.n_inputs), label=LABEL)
    extra = query_clauses(query, formula)
    clauses = [list(c) for c in formula.clauses.joined(extra.clauses)]
    detail: dict[str, Any] = {"variables": extra.num_vars, "clauses": len(clauses)}
    start = time.perf_counter()
    if counter == "bdd":
        value, detail["bdd_nodes"] = bdd_count(model, LABEL)
    elif counter == "ganak":
        value = count(formula, query, method="ganak").count
    elif counter == "d4":
        import py_d4

        value = int(py_d4.Solver(clauses, extra.num_vars).count().getIntResult())
    else:
        from pysdd.sdd import SddManager

        dimacs = f"p cnf {extra.num_vars} {len(clauses)}\n" + "".join(
            " ".join(map(str, c)) + " 0\n" for c in clauses
        )
        manager, root = SddManager.from_cnf_string(dimacs)
        value = int(root.global_model_count())
        detail["sdd_size"] = root.size()
        del manager
    queue.put((time.perf_counter() - start, {**detail, "count": value}))


def bdd_count(model: Any, label: int) -> tuple[int, int]:
    """(inputs the network gives ``label``, BDD nodes): BDD4BNN's layer-wise construction."""
    import numpy as np
    from dd.autoref import BDD

    from bnnc.ir.bnn import block_activation, output_scores

    bdd = BDD()
    names = [f"x{i}" for i in range(model.n_inputs)]
    bdd.declare(*names)
    below = [bdd.var(name) for name in names]  # True = +1
    for block in model.blocks:
        n_in, n_out = block.weights.shape[1], block.weights.shape[0]
        sums = np.arange(-n_in, n_in + 1)
        # Which integer pre-activations fire each neuron, by the reference arithmetic itself.
        fires = block_activation(block, np.repeat(sums[:, None], n_out, axis=1), model.arithmetic)
        layer = []
        for j in range(n_out):
            weights = [int(w) for w in block.weights[j]]
            table = {int(s): bool(fires[k, j]) for k, s in enumerate(sums)}
            layer.append(_threshold(bdd, below, weights, lambda s, t=table: t[s[0]]))
        below = layer
    out = model.output
    n_classes = out.weights.shape[0]
    result = bdd.true
    for c in range(n_classes):
        if c == label:
            continue

        def wins(s: tuple[int, ...], c: int = c) -> bool:
            pre = np.zeros((1, n_classes), dtype=np.int64)
            pre[0, label], pre[0, c] = s
            score = output_scores(out, pre, model.arithmetic)[0]
            # argmax takes the first of tied classes.
            return bool(score[label] > score[c] if c < label else score[label] >= score[c])

        pairs = [(int(a), int(b)) for a, b in zip(out.weights[label], out.weights[c], strict=True)]
        result &= _threshold(bdd, below, pairs, wins)
    nodes = len(bdd)
    value = int(result.count(nvars=model.n_inputs))
    del result, below
    return value, nodes


def _threshold(bdd: Any, below: list[Any], weights: list[Any], accept: Any) -> Any:
    """The BDD of ``accept(Σ w_i·x_i)`` over the functions ``below`` (x_i = ±1): a weight is an
    int, or a pair of ints for two sums at once; memoised on (position, partial sums)."""
    memo: dict[tuple[int, tuple[int, ...]], Any] = {}
    width = 1 if isinstance(weights[0], int) else 2

    def node(i: int, partial: tuple[int, ...]) -> Any:
        key = (i, partial)
        if key not in memo:
            if i == len(weights):
                memo[key] = bdd.true if accept(partial) else bdd.false
            else:
                w = (weights[i],) if width == 1 else weights[i]
                high = tuple(p + x for p, x in zip(partial, w, strict=True))
                low = tuple(p - x for p, x in zip(partial, w, strict=True))
                memo[key] = bdd.ite(below[i], node(i + 1, high), node(i + 1, low))
        return memo[key]

    return node(0, (0,) * width)


def _reference_task(network: str, queue: Any) -> None:
    from bnnc.engines import count_layers
    from bnnc.engines.enumerate import enumerate_counts
    from bnnc.ir.query import Query
    from bnnc.ir.region import Region

    model = _model(network)
    region = Region.everything(model.n_inputs)
    start = time.perf_counter()
    if model.n_inputs <= 30:
        value, how = int(enumerate_counts(model)[LABEL]), "enumeration"
    elif count_layers.applies(model, region):
        (value,), _ = count_layers.counts(model, [Query(region, label=LABEL)])
        how = "layer-wise DP"
    else:
        queue.put((None, {"n/a": "no exact reference without the formula"}))
        return
    queue.put((time.perf_counter() - start, {"count": int(value), "how": how}))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="*", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--counters", nargs="*", default=list(COUNTERS), choices=COUNTERS)
    parser.add_argument("--cap", type=float, default=60.0, help="seconds per count")
    parser.add_argument("--out", type=Path, help="write knowledge_compilation.json and .md here")
    args = parser.parse_args()
    record: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_at_start": os.getloadavg()[0],
        "cap": args.cap,
        "networks": {},
    }
    missed = dict.fromkeys(args.counters, 0)  # networks in a row each counter ran out on
    for network in args.networks:
        print(f"\n{network}", flush=True)
        seconds, detail = measure(_reference_task, (network,), args.cap)
        row: dict[str, Any] = {"reference": {"seconds": seconds, **(detail or {})}}
        print(f"  reference: {seconds} {detail}", flush=True)
        for counter in args.counters:
            if missed[counter] >= 2:
                row[counter] = {"seconds": None, "skipped": True}
                continue
            seconds, detail = measure(_count_task, (network, counter), args.cap)
            row[counter] = {"seconds": seconds, **(detail or {})}
            missed[counter] = missed[counter] + 1 if seconds is None else 0
            print(f"  {counter}: {seconds} {detail}", flush=True)
        record["networks"][network] = row
        _write(args.out, record)  # after every network: a long run keeps what it measured
    sys.exit(0)


def _write(out: Path | None, record: dict[str, Any]) -> None:
    record["load_at_end"] = os.getloadavg()[0]
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "knowledge_compilation.json").write_text(json.dumps(record, indent=1) + "\n")
        (out / "knowledge_compilation.md").write_text(markdown(record))


def load(out: Path = RESULTS) -> dict[str, Any]:
    """The committed results (the JSON :func:`main` writes)."""
    loaded: dict[str, Any] = json.loads((out / "knowledge_compilation.json").read_text())
    return loaded


def _cell(got: dict[str, Any], cap: float) -> str:
    if got.get("skipped"):
        return "skipped"
    if "n/a" in got:
        return "n/a"
    return f">{cap:g}" if got["seconds"] is None else f"{got['seconds']:.2f}"


def _ratio(row: dict[str, Any], counter: str, against: str, cap: float) -> str:
    """counter's seconds / against's; ``<x`` when only ``counter`` finished (against: > cap)."""
    mine, theirs = row.get(counter, {}), row.get(against, {})
    if mine.get("seconds") is None or theirs.get("skipped") or counter not in row:
        return ""
    if theirs.get("seconds") is None:
        return f"<{mine['seconds'] / cap:.2g}"
    return f"{mine['seconds'] / theirs['seconds']:.2g}"


def markdown(record: dict[str, Any]) -> str:
    cap = record["cap"]
    lines = [
        "# Knowledge compilation for counting: d4 and SDDs against Ganak",
        "",
        f"`python bench/knowledge_compilation.py`, started {record['started']}; "
        f"{record['machine']}; 1-minute load {record['load_at_start']:.1f} at the start, "
        f"{record['load_at_end']:.1f} at the end.  Inputs given label {LABEL} over the whole "
        f"input space; seconds of the count alone (compiling the network not included), cap "
        f"{cap:g} s; `>cap`: no count in time; `skipped`: ran out on the two networks before.  "
        "`agree`: every count found equals the reference (or each other, without one).",
        "",
        "| network | vars / clauses | reference | ganak s | d4 s | sdd s | bdd s | d4 / ganak | "
        "bdd / ganak | count | agree |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for network, row in record["networks"].items():
        found = [row[c] for c in COUNTERS if c in row and "count" in row[c]]
        sized = next((g for g in found if "variables" in g), {})
        counts = {g["count"] for g in found}
        reference = row["reference"]
        if "count" in reference:
            counts_all = counts | {reference["count"]}
            ref = f"{reference['count']} ({reference['how']}, {reference['seconds']:.2f} s)"
        else:
            counts_all, ref = counts, "none"
        ratios = [_ratio(row, c, "ganak", cap) for c in ("d4", "bdd")]
        size = f"{sized['variables']} / {sized['clauses']}" if sized else ""
        shown = next(iter(counts_all)) if len(counts_all) == 1 else ", ".join(map(str, counts_all))
        agree = "" if not found else ("yes" if len(counts_all) == 1 else "**no**")
        lines.append(
            f"| {network} | {size} | {ref} | "
            + " | ".join(_cell(row.get(c, {"seconds": None}), cap) for c in COUNTERS)
            + f" | {' | '.join(ratios)} | {shown if found else ''} | {agree} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
