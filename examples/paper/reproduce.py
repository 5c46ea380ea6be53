"""Reproduce Suhail, Chakraborty & Sethi, *Network inversion of binarised neural nets* (ICLR 2024
Tiny Papers), with bnnc, and run the paper's future work (garbage-class retraining).

    .venv/bin/python examples/paper/reproduce.py            # the full run, ~12 minutes on 2 cores
    .venv/bin/python examples/paper/reproduce.py --quick    # a smaller run, ~1 minute

Writes ``RESULTS.md``, the figures (PNG) and the trained models (bnnc text) into
``examples/paper/`` (``examples/paper/quick/`` with ``--quick``; ``--out`` to choose).  Every
number except the timings is deterministic for a seed (``--seed``) on a given machine.

Data: the MNIST test set (t10k) in ``$BNNC_DATA`` or ``../shared/data`` (see ``bnnc.training.data``:
split i % 5 == 4 → test, area-averaged, pixel ≥ 0.2 of full intensity is +1).

1. **Inversion (paper, Fig. 1 and 2).**  100-20-10 on 10×10 MNIST for 25 epochs; compile; draw
   100 inputs for label 2 with CMSGen (every one checked by the reference inference); PNG grids
   of training images and of the samples; formula sizes next to the paper's.
2. **Unreachable labels (paper, label 8).**  25-20-10 on 5×5 MNIST, under-trained (1 epoch):
   check-sat for every label (UNSAT proves that no input gets it), exact counts of every label
   by enumerating all 2^25 inputs, cross-checked with ApproxMC (and Ganak, with a time limit);
   and a sweep over seeds and epochs looking for unreachable labels.
3. **Garbage-class retraining (the paper's future work).**  ``bnnc.training.retrain`` on 25-20-10.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

import bnnc
from bnnc.backend.images import image_grid, png_bytes
from bnnc.backend.onnx_export import save_text
from bnnc.engines.enumerate import (
    enumerate_counts,
    first_layer_patterns,
    labels_from_first_layer,
    montecarlo_counts,
)
from bnnc.errors import BnncError
from bnnc.io import write_atomic
from bnnc.ir.bnn import BnnModel
from bnnc.training.data import DataError, Dataset, data_dir, load_mnist
from bnnc.training.retrain import (
    RetrainConfig,
    RetrainResult,
    format_markdown,
    nearest_distance,
    retrain,
    write_outputs,
    write_sample_grid,
)
from bnnc.training.train import TrainConfig, TrainResult, accuracy, train

HERE = Path(__file__).resolve().parent
PAPER_VARS, PAPER_CLAUSES = 60_000, 100_000  # "over 60k variables and 100k clauses" (NPAQ)
PAPER_SMALL_VARS, PAPER_SMALL_CLAUSES = 6_000, 13_000  # "6k variables and 13k clauses"
SIZE_ENCODINGS = ("adder", "totalizer", "seqcounter", "cardnet")
SAMPLE_ENCODING = "totalizer"  # CMSGen is by far fastest on it (see RESULTS.md)

Log = Callable[[str], None]


@dataclass(frozen=True)
class Settings:
    """What a run does; ``quick()`` is the small variant."""

    seed: int = 0
    big_epochs: int = 25
    samples: int = 100
    sample_label: int = 2
    mc_inputs: int = 1_000_000
    big_size: int = 10  # part 1: SIZE×SIZE images, a SIZE²-20-10 network
    small_size: int = 5  # parts 2 and 3
    hidden: int = 20  # the hidden layer's width (the paper: 20)
    approx_big: bool = True  # ApproxMC count of the sampled label in part 1
    small_epochs: int = 1
    approx_small: bool = True  # ApproxMC cross-check of every label in part 2
    ganak_timeout: float = 60.0  # Ganak on one label in part 2 (0: skip)
    sweep_seeds: int = 10
    sweep_epochs: tuple[int, ...] = (1, 2, 3)
    retrain: RetrainConfig | None = field(default_factory=RetrainConfig)

    @staticmethod
    def quick(seed: int = 0) -> Settings:
        return Settings(
            seed=seed,
            samples=10,
            mc_inputs=100_000,
            approx_big=False,
            approx_small=False,
            ganak_timeout=0.0,
            sweep_seeds=3,
            sweep_epochs=(1,),
            retrain=RetrainConfig(
                rounds=1, samples=5, probe=5, initial_epochs=3, epochs=2, seed=seed
            ),
        )


# --------------------------------------------------------------------------- helpers


def train_network(
    dataset: Dataset,
    epochs: int,
    seed: int,
    hidden: int = 20,
    name: str | None = None,
    recalibrate: bool = True,
) -> TrainResult:
    arch = (dataset.n_inputs, hidden, dataset.n_classes)
    return train(
        dataset.train_bits,
        dataset.train_labels,
        arch,
        config=TrainConfig(epochs=epochs, seed=seed, recalibrate=recalibrate),
        input_shape=dataset.image_shape,
        class_names=dataset.class_names,
        name=name or f"mnist{dataset.image_shape[0]}x{dataset.image_shape[1]}_25_20_10",
    )


def names(size: int, dataset: Dataset, hidden: int = 20) -> dict[str, Any]:
    """How a network of part 1 or 2 is called in the text and in file names."""
    n = size * size
    arch = f"{n}-{hidden}-{dataset.n_classes}"
    return {
        "data": dataset.description,
        "n": n,
        "arch": arch,
        "shape": f"{size}×{size}",
        "name": f"mnist{size}x{size}_{arch.replace('-', '_')}",
        "file": f"mnist{size}x{size}-{arch}.bnn",
    }


def witness_row(
    witnesses: Sequence[NDArray[np.bool_] | None], shape: tuple[int, int], scale: int = 12
) -> NDArray[np.uint8]:
    """One picture per label, left to right; a label without a witness is a mid-grey cell."""
    gap = 2
    rows = np.array(
        [w if w is not None else np.zeros(shape[0] * shape[1], bool) for w in witnesses]
    )
    grid = image_grid(rows, shape, columns=len(witnesses), scale=scale, gap=gap)
    cell_h, cell_w = shape[0] * scale, shape[1] * scale
    for c, w in enumerate(witnesses):
        if w is None:
            left = gap + c * (cell_w + gap)
            grid[gap : gap + cell_h, left : left + cell_w] = 96
    return grid


def formula_sizes(model: BnnModel, encodings: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for encoding in encodings:
        start = time.perf_counter()
        compiled = bnnc.compile(model, encoding)
        seconds = time.perf_counter() - start
        formula = compiled.formula
        rows.append(
            {
                "encoding": encoding,
                "variables": formula.num_vars,
                "clauses": len(formula.clauses),
                "seconds": seconds,
            }
        )
    return rows


def _ganak_child(model: BnnModel, label: int, queue: Any) -> None:
    compiled = bnnc.compile(model, "adder")
    queue.put(bnnc.count(model, compiled, label=label, method="exact").count)


def ganak_with_timeout(model: BnnModel, label: int, timeout: float) -> tuple[int | None, float]:
    """Ganak's exact count of ``label`` in a child process, stopped after ``timeout`` s."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_ganak_child, args=(model, label, queue), daemon=True)
    start = time.perf_counter()
    process.start()
    process.join(timeout)
    seconds = time.perf_counter() - start
    if process.is_alive():
        process.terminate()
        process.join()
        return None, seconds
    return (queue.get() if not queue.empty() else None), seconds


def fmt_int(value: int) -> str:
    return f"{value:,}"


def fmt_share(share: float) -> str:
    if share == 0:
        return "0"
    if share >= 0.001:
        return f"{100 * share:.2f}%"
    return f"{100 * share:.2e}%"


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- part 1: inversion


def part_inversion(settings: Settings, out: Path, log: Log) -> dict[str, Any]:
    """100-20-10 on 10×10 MNIST; sample label 2; figures; sizes."""
    result: dict[str, Any] = {}
    size = settings.big_size
    dataset = load_mnist(size=size)
    result.update(names(size, dataset, settings.hidden))
    log(
        f"part 1: training {result['arch']} on {result['shape']} MNIST for "
        f"{settings.big_epochs} epochs"
    )
    trained = train_network(
        dataset, settings.big_epochs, settings.seed, settings.hidden, name=result["name"]
    )
    model = trained.model
    result["train_seconds"] = trained.seconds
    result["test_accuracy"] = accuracy(model, dataset.test_bits, dataset.test_labels)
    result["train_accuracy"] = accuracy(model, dataset.train_bits, dataset.train_labels)
    result["n_train"], result["n_test"] = len(dataset.train_labels), len(dataset.test_labels)
    save_text(model, out / result["file"])
    log(f"part 1: test accuracy {result['test_accuracy']:.1%}")

    # Fig. 1: the first ten training images of every digit, one row per digit
    picks = np.concatenate(
        [np.flatnonzero(dataset.train_labels == d)[:10] for d in range(dataset.n_classes)]
    )
    write_sample_grid(
        out / "fig1-training-images.png",
        dataset.train_bits[picks],
        dataset.train_labels[picks],
        dataset.image_shape,
    )

    result["sizes"] = formula_sizes(model, SIZE_ENCODINGS)
    label = settings.sample_label
    compiled = bnnc.compile(model, SAMPLE_ENCODING)
    layout = compiled.formula.layout
    result["label_var"] = layout.output_var(label)
    result["inputs"] = (1, layout.n_inputs)
    log(f"part 1: sampling {settings.samples} inputs for label {label} with CMSGen")
    start = time.perf_counter()
    drawn = bnnc.sample(model, compiled, label=label, n=settings.samples, seed=settings.seed)
    result["sample_seconds"] = time.perf_counter() - start
    samples = drawn.samples
    result["drawn"] = drawn.drawn
    result["distinct"] = len({row.tobytes() for row in np.packbits(samples, axis=1)})
    result["validated"] = int(np.count_nonzero(bnnc.predict(model, samples) == label))
    write_atomic(
        out / "fig2-inverted-label2.png",
        png_bytes(image_grid(samples, dataset.image_shape, columns=10)),
    )
    # How far are the samples from real images?
    twos = dataset.train_bits[dataset.train_labels == label]
    test_twos = dataset.test_bits[dataset.test_labels == label]
    result["dist_sample_any"] = float(nearest_distance(samples, dataset.train_bits).mean())
    result["dist_sample_label"] = float(nearest_distance(samples, twos).mean())
    result["dist_test_label"] = float(nearest_distance(test_twos, twos).mean())
    result["ink_samples"] = float(samples.mean())
    result["ink_real"] = float(twos.mean())
    # The share of the input space per label: Monte Carlo (exact enumeration of 2^100 is out)
    start = time.perf_counter()
    mc = montecarlo_counts(model, settings.mc_inputs, seed=settings.seed)
    result["mc_seconds"] = time.perf_counter() - start
    result["mc_counts"] = mc.tolist()
    result["test_recall"] = [
        float(np.mean(bnnc.predict(model, dataset.test_bits[dataset.test_labels == d]) == d))
        for d in range(dataset.n_classes)
    ]
    if settings.approx_big:
        log(f"part 1: ApproxMC count of label {label}")
        approx = bnnc.count(model, compiled, label=label, method="approx", seed=settings.seed + 1)
        result["approx"] = {
            "count": approx.count,
            "share": approx.share,
            "bounds": approx.bounds,
            "seconds": approx.seconds,
        }
    return result


# --------------------------------------------------------------------------- part 2: unreachable


def check_all_labels(model: BnnModel, encoding: str = SAMPLE_ENCODING) -> list[dict[str, Any]]:
    compiled = bnnc.compile(model, encoding)
    rows = []
    for label in range(model.n_classes):
        start = time.perf_counter()
        answer = bnnc.check_sat(model, compiled, label=label)
        rows.append(
            {
                "label": label,
                "satisfiable": answer.satisfiable,
                "method": answer.method,
                "witness": answer.witness,
                "seconds": time.perf_counter() - start,
            }
        )
    return rows


def part_unreachable(settings: Settings, out: Path, log: Log) -> dict[str, Any]:
    result: dict[str, Any] = {}
    size = settings.small_size
    dataset = load_mnist(size=size)
    result.update(names(size, dataset, settings.hidden))
    log(
        f"part 2: training {result['arch']} on {result['shape']} MNIST for "
        f"{settings.small_epochs} epoch(s)"
    )
    trained = train_network(
        dataset, settings.small_epochs, settings.seed, settings.hidden, name=result["name"]
    )
    model = trained.model
    save_text(model, out / result["file"])
    result["test_accuracy"] = accuracy(model, dataset.test_bits, dataset.test_labels)
    result["sizes"] = formula_sizes(model, SIZE_ENCODINGS)
    rows = check_all_labels(model)
    result["checks"] = rows
    write_atomic(
        out / "fig-witnesses.png",
        png_bytes(witness_row([r["witness"] for r in rows], dataset.image_shape)),
    )
    log(f"part 2: exact counts of every label (all 2^{model.n_inputs} inputs)")
    start = time.perf_counter()
    counts = enumerate_counts(model)
    result["enumerate_seconds"] = time.perf_counter() - start
    result["counts"] = counts.tolist()
    patterns, _ = first_layer_patterns(model)
    result["patterns"] = len(patterns)
    result["hidden"] = patterns.shape[1]
    result["constant_neurons"] = int(np.all(patterns == patterns[0], axis=0).sum())
    result["patterns_won"] = np.bincount(
        labels_from_first_layer(model, patterns), minlength=model.n_classes
    ).tolist()
    # spot check of the enumeration against bnnc.predict on random inputs
    rng = np.random.default_rng(settings.seed)
    probe = rng.random((200_000, model.n_inputs)) < 0.5
    result["spot_check"] = np.bincount(bnnc.predict(model, probe), minlength=10).tolist()
    if settings.approx_small:
        compiled = bnnc.compile(model, SAMPLE_ENCODING)
        approx = []
        for label in range(model.n_classes):
            log(f"part 2: ApproxMC count of label {label}")
            a = bnnc.count(model, compiled, label=label, method="approx", seed=settings.seed + 1)
            low, high = a.bounds
            approx.append(
                {
                    "count": a.count,
                    "low": low,
                    "high": high,
                    "seconds": a.seconds,
                    "inside": low <= counts[label] <= high,
                }
            )
        result["approx"] = approx
    if settings.ganak_timeout > 0:
        label = int(np.argmin(counts))
        log(f"part 2: Ganak count of label {label} (at most {settings.ganak_timeout:.0f} s)")
        value, seconds = ganak_with_timeout(model, label, settings.ganak_timeout)
        result["ganak"] = {
            "label": label,
            "count": value,
            "seconds": seconds,
            "timeout": settings.ganak_timeout,
        }
    # Sweep: are there under-trained networks with an unreachable label?
    sweep = []
    for recalibrate in (True, False):
        for epochs in settings.sweep_epochs:
            for seed in range(settings.sweep_seeds):
                log(f"part 2: sweep, {epochs} epoch(s), seed {seed}, recalibrate {recalibrate}")
                net = train_network(
                    dataset, epochs, seed, settings.hidden, recalibrate=recalibrate
                ).model
                checks = check_all_labels(net)
                sweep.append(
                    {
                        "recalibrate": recalibrate,
                        "epochs": epochs,
                        "seed": seed,
                        "test_accuracy": accuracy(net, dataset.test_bits, dataset.test_labels),
                        "unsat": [c["label"] for c in checks if not c["satisfiable"]],
                        "by_solver": sum(1 for c in checks if c["method"] == "sat"),
                        "seconds": sum(c["seconds"] for c in checks),
                    }
                )
    result["sweep"] = sweep
    return result


# --------------------------------------------------------------------------- part 3: retraining


def part_retrain(settings: Settings, out: Path, log: Log) -> RetrainResult | None:
    if settings.retrain is None:
        return None
    dataset = load_mnist(size=settings.small_size)
    tag = names(settings.small_size, dataset, settings.hidden)
    result = retrain(
        dataset.train_bits,
        dataset.train_labels,
        dataset.test_bits,
        dataset.test_labels,
        hidden=(settings.hidden,),
        config=settings.retrain,
        digit_names=dataset.class_names,
        input_shape=dataset.image_shape,
        name=tag["name"],
        description=f"{tag['arch']} on {dataset.description}.",
        log=lambda m: log(f"part 3: {m}"),
    )
    folder = out / "retrain"
    folder.mkdir(exist_ok=True)
    write_outputs(result, folder)
    return result


# --------------------------------------------------------------------------- RESULTS.md


def _size_rows(sizes: Sequence[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            f"`{s['encoding']}`",
            fmt_int(s["variables"]),
            fmt_int(s["clauses"]),
            f"{s['seconds']:.2f}",
        ]
        for s in sizes
    ]


def retrain_findings(three: RetrainResult, approx_seconds: float | None) -> list[str]:
    """What the retraining run shows, worded from its numbers (no fixed claims)."""
    rounds = three.rounds
    first, second, last = rounds[0], rounds[1], rounds[-1]
    n = three.n_digits
    items = []
    drop = first.test_accuracy - last.test_accuracy
    cost = (
        "about the same accuracy on real digits"
        if abs(drop) < 0.02
        else (
            f"a loss of {100 * drop:.1f} points of accuracy"
            if drop > 0
            else f"a gain of {-100 * drop:.1f} points of accuracy (each round also trains "
            "further on the real digits)"
        )
    )
    items.append(
        f"**The digit labels' share of the input space fell from "
        f"{fmt_share(first.digit_share(n) or 0)} to {fmt_share(last.digit_share(n) or 0)}** in "
        f"{plural(last.round, 'round')} ({last.garbage_train} garbage samples in all), with "
        f"{cost}: "
        f"test accuracy {first.test_accuracy:.1%} → {last.test_accuracy:.1%}; "
        f"{last.test_called_garbage:.1%} of the real test digits are called garbage."
    )
    counts = [s.count for s in last.shares[:n] if s.count is not None]
    remaining = (
        f"; the digit preimages still hold {min(counts):,} to {max(counts):,} inputs each, "
        f"against {last.round * three.config.samples} samples per label trained on"
        if counts
        else ""
    )
    frac1 = second.probe_still_digit / max(1, second.probe_drawn)
    frac = last.probe_still_digit / max(1, last.probe_drawn)
    if last.round > 1:
        trend = (
            f"{'rose' if frac > frac1 else 'went'} from {frac1:.0%} (round 1) to {frac:.0%} "
            f"(round {last.round})"
        )
    else:
        trend = f"is {frac:.0%}"
    why = (
        ": the less of each digit's preimage is left, the harder what is left is to separate "
        "from the real digits"
        if last.round > 1 and frac > frac1
        else ""
    )
    items.append(
        "**It does not remove all garbage.**  The share of fresh inversion samples (of the "
        f"previous network, not trained on) that the new network still calls a digit {trend}"
        f"{why}{remaining}."
    )
    if last.probe_nearest is not None and three.real_nearest is not None:
        closer = (
            last.round > 1
            and second.probe_nearest is not None
            and last.probe_nearest < second.probe_nearest
        )
        change = f" (round 1: {second.probe_nearest:.2f})" if last.round > 1 else ""
        head = (
            "**Inverted inputs come closer to real images, but stay apart from them.**"
            if closer
            else "**Inverted inputs stay apart from real images.**"
        )
        items.append(
            f"{head}  The last round's fresh samples are {last.probe_nearest:.2f} pixels on "
            f"average from the closest real training image{change}; a real test image is "
            f"{three.real_nearest:.2f} pixels from the closest training image (see the "
            "fresh-sample grids)."
        )
    sample_s = [r.seconds.get("sample", 0.0) for r in rounds[1:]]
    items.append(
        "CMSGen time per round (inverting every digit label): "
        + ", ".join(f"{t:.0f} s" for t in sample_s)
        + (
            "; it grows as the digit preimages shrink."
            if len(sample_s) > 1 and sample_s[-1] > 1.5 * sample_s[0]
            else "."
        )
    )
    method = "enumerated" if rounds[0].shares and rounds[0].shares[0].method == "enumerate" else ""
    approx = (
        f"about {approx_seconds:.0f} s per label for the 100-input network of part 1"
        if approx_seconds is not None
        else "about a minute per label for a 100-input network"
    )
    items.append(
        (f"The shares are exact (all 2^{three.n_inputs} inputs enumerated).  " if method else "")
        + "For 100-input networks `bnnc retrain --count montecarlo` estimates them from "
        "random inputs, which cannot resolve shares below about 1e-6; ApproxMC "
        f"(`--count approx`) can, at {approx}."
    )
    return items


def sweep_table(sweep: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """One row per training setting (batch-norm statistics, epochs) over the seeds."""
    header = [
        "batch-norm statistics",
        "epochs",
        "seeds",
        "test accuracy (min–max)",
        "networks with an unreachable label",
        "unreachable labels (seed: labels)",
        "labels decided by CaDiCaL",
    ]
    rows = []
    keys = list(dict.fromkeys((s["recalibrate"], s["epochs"]) for s in sweep))
    for recalibrate, epochs in keys:
        group = [s for s in sweep if (s["recalibrate"], s["epochs"]) == (recalibrate, epochs)]
        accs = [s["test_accuracy"] for s in group]
        seeds = [s["seed"] for s in group]
        bad = [s for s in group if s["unsat"]]
        rows.append(
            [
                "recalibrated" if recalibrate else "running averages",
                str(epochs),
                f"{min(seeds)}–{max(seeds)}" if len(seeds) > 1 else str(seeds[0]),
                f"{min(accs):.1%}–{max(accs):.1%}",
                f"{len(bad)} of {len(group)}",
                "; ".join(f"{s['seed']}: {', '.join(map(str, s['unsat']))}" for s in bad) or "–",
                str(sum(s["by_solver"] for s in group)),
            ]
        )
    return header, rows


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def render(
    settings: Settings,
    command: str,
    one: dict[str, Any],
    two: dict[str, Any],
    three: RetrainResult | None,
    seconds: float,
) -> str:
    label = settings.sample_label
    lines: list[str] = []
    add = lines.append
    add("# Reproducing *Network inversion of binarised neural nets* with bnnc")
    add("")
    add(
        "Generated by `examples/paper/reproduce.py` — do not edit by hand.  Command: "
        f"`{command}` ({seconds / 60:.1f} minutes on {platform.machine()} with "
        f"{multiprocessing.cpu_count()} cores, Python {platform.python_version()}, "
        f"bnnc {bnnc.__version__}).  Every number except the timings is deterministic for "
        f"the seed ({settings.seed})."
    )
    add("")
    add(f"Data: {one['data']}.  The paper does not say how it downsampled or binarised MNIST.")
    add("")
    # ---- part 1
    add(
        f"## 1. Inverting a {one['arch']} network for label {label} (paper, section 3, "
        "Fig. 1 and 2)"
    )
    add("")
    add(
        f"Trained {one['arch']} on {one['shape']} images (binarised linear → batch norm → "
        "sign, binarised linear output) "
        f"for {settings.big_epochs} epochs with `bnnc.training.train` "
        f"in {one['train_seconds']:.1f} s: "
        f"**test accuracy {one['test_accuracy']:.1%}** on {one['n_test']:,} held-out images "
        f"(train {one['train_accuracy']:.1%} on {one['n_train']:,}); the paper reports about "
        f"75% for 100-20-10 on 10×10.  Model: [`{one['file']}`]({one['file']})."
    )
    add("")
    add(f"Fig. 1 — training images (the first ten of each digit, {one['shape']}, +1 white):")
    add("")
    add("![training images](fig1-training-images.png)")
    add("")
    add(
        f"The formula: variables {one['inputs'][0]}–{one['inputs'][1]} are the inputs and "
        f"{one['inputs'][1] + 1}–{one['inputs'][1] + 10} the labels, as in the paper (label "
        f"{label} is variable {one['label_var']}).  Its size per cardinality encoding, next to "
        f'the paper\'s NPAQ encoding ("over 60k variables and 100k clauses"):'
    )
    add("")
    size_rows = _size_rows(one["sizes"])
    size_rows.append(["paper (NPAQ)", "> 60,000", "> 100,000", ""])
    add(md_table(["encoding", "variables", "clauses", "compile s"], size_rows))
    add("")
    add(
        f"Sampling: **{one['drawn']} inputs for label {label} in {one['sample_seconds']:.1f} s** "
        f"with CMSGen on the `{SAMPLE_ENCODING}` formula (label fixed by a unit clause, "
        f"projection on the inputs); {one['distinct']} distinct; **all {one['validated']} "
        f"validated**: the reference inference (`bnnc.predict`) labels every one {label} "
        "(`bnnc.engines.sample` checks this and fails otherwise), as the paper checked by feeding "
        "them to the network."
    )
    add("")
    add(f"Fig. 2 — inverted images for label {label}:")
    add("")
    add("![inverted images](fig2-inverted-label2.png)")
    add("")
    mc = one["mc_counts"]
    total = sum(mc)
    add(
        (
            f"As in the paper, most samples look nothing like a {label}.  "
            if one["dist_sample_label"] > 3 * one["dist_test_label"]
            else ""
        )
        + "Measured: a sample is on "
        f"average {one['dist_sample_label']:.1f} of {one['n']} pixels away from the closest "
        "training "
        f"{label} ({one['dist_sample_any']:.1f} from the closest training image of any digit), "
        f"while a real test {label} is {one['dist_test_label']:.1f} pixels from the closest "
        f"training {label}; {one['ink_samples']:.0%} of the samples' pixels are +1 against "
        f"{one['ink_real']:.0%} in real {label}s.  The reason is the size of the preimage: of "
        f"{total:,} uniform random inputs, the network labels "
        f"{mc[label] / total:.1%} as {label} ({one['mc_seconds']:.1f} s, Monte Carlo; "
        "per-label shares below), so a uniform sample of the inputs labelled "
        f"{label} is essentially a random input that happens to land there."
    )
    add("")
    if "approx" in one:
        a = one["approx"]
        lo, hi = a["bounds"]
        add(
            f"ApproxMC: {a['count']:.3e} inputs are labelled {label} (share "
            f"{a['share']:.1%}; with probability ≥ 0.8 the count lies in [{lo:.3e}, "
            f"{hi:.3e}]), in {a['seconds']:.0f} s; the Monte Carlo estimate "
            f"{mc[label] / total * 2 ** one['n']:.3e} lies "
            + ("inside" if lo <= mc[label] / total * 2 ** one["n"] <= hi else "**outside**")
            + " these bounds."
        )
        add("")
    add(
        md_table(
            ["label", *map(str, range(10))],
            [
                ["share of random inputs", *(f"{c / total:.1%}" for c in mc)],
                ["test recall", *(f"{r:.0%}" for r in one["test_recall"])],
            ],
        )
    )
    add("")
    # ---- part 2
    add(
        f"## 2. Labels no input reaches? {two['arch']} on {two['shape']} MNIST, under-trained "
        "(paper: 25-20-10, label 8)"
    )
    add("")
    add(
        f"Trained {two['arch']} for {plural(settings.small_epochs, 'epoch')} (seed "
        f"{settings.seed}): test "
        f"accuracy {two['test_accuracy']:.1%}.  Model: "
        f'[`{two["file"]}`]({two["file"]}).  Formula sizes (paper, 25-20-10: "6k '
        'variables and 13k clauses"):'
    )
    add("")
    size_rows = _size_rows(two["sizes"])
    size_rows.append(["paper (NPAQ)", "6,000", "13,000", ""])
    add(md_table(["encoding", "variables", "clauses", "compile s"], size_rows))
    add("")
    counts = two["counts"]
    n_small = two["n"]
    space = 2**n_small
    unsat = [r["label"] for r in two["checks"] if not r["satisfiable"]]
    header = ["label", "check-sat", "found by", "seconds", "inputs with this label", "share"]
    rows = []
    for r in two["checks"]:
        c = r["label"]
        rows.append(
            [
                c,
                "SAT" if r["satisfiable"] else "**UNSAT**",
                {"search": "simulation", "sat": "CaDiCaL"}.get(r["method"], r["method"]),
                f"{r['seconds']:.2f}",
                fmt_int(counts[c]),
                fmt_share(counts[c] / space),
            ]
        )
    if "approx" in two:
        header += ["ApproxMC", "exact count within bounds"]
        for row, a in zip(rows, two["approx"], strict=True):
            row += [f"{a['count']:,} ({a['seconds']:.0f} s)", "yes" if a["inside"] else "**no**"]
    add(
        "Check-sat for every label (`bnnc.check_sat`, `totalizer` encoding; a witness found by "
        "bnnc's simulation search is checked through the formula, UNSAT can only come from "
        "CaDiCaL), and the exact number of inputs per label, **by brute force**: all "
        f"2^{n_small} = {space:,} inputs enumerated through the reference inference in "
        f"{two['enumerate_seconds']:.1f} s (`bnnc.engines.enumerate.enumerate_counts`):"
    )
    add("")
    add(md_table(header, rows))
    add("")
    if unsat:
        add(
            f"**Unreachable: label(s) {', '.join(map(str, unsat))}** — the formula with the "
            f"label fixed is unsatisfiable, so no input of the 2^{n_small} gets it, as the paper "
            "found for label 8."
        )
    else:
        smallest = int(np.argmin(counts))
        add(
            "**No label is unreachable in this run**: every label has a witness (pictured "
            f"below, one per label), and the smallest preimage (label {smallest}) still has "
            f"{counts[smallest]:,} inputs ({fmt_share(counts[smallest] / space)} of all)."
        )
    add("")
    add("One witness per label, labels 0–9 from left to right (grey: none exists):")
    add("")
    add("![witnesses](fig-witnesses.png)")
    add("")
    spot = two["spot_check"]
    add(
        f"The enumeration is checked against 200,000 random inputs through `bnnc.predict` "
        f"(shares {', '.join(f'{s / sum(spot):.1%}' for s in spot)}) and, in the tests, "
        "against `bnnc.predict` on every input of small networks."
    )
    if "approx" in two:
        inside = sum(a["inside"] for a in two["approx"])
        total_s = sum(a["seconds"] for a in two["approx"])
        add(
            f"ApproxMC ((ε, δ) = (0.8, 0.2)) took {total_s:.0f} s for the ten labels; the exact "
            f"count lies within its bounds for {inside} of 10 labels."
        )
    if "ganak" in two:
        g = two["ganak"]
        if g["count"] is None:
            add(
                f"Ganak (exact model counting, `adder` encoding) did not finish label "
                f"{g['label']} within {g['timeout']:.0f} s, so exact counts here come from "
                "enumeration; model counting is the tool for inputs too many to enumerate."
            )
        else:
            same = "equal to" if g["count"] == counts[g["label"]] else "**different from**"
            add(
                f"Ganak counted label {g['label']} exactly in {g['seconds']:.0f} s: "
                f"{g['count']:,}, {same} the enumeration."
            )
    add("")
    sweep = two["sweep"]
    with_unsat = [s for s in sweep if s["unsat"]]
    add(
        f"Sweep: {len(sweep)} under-trained {two['arch']} networks (epochs "
        f"{', '.join(map(str, settings.sweep_epochs))} × seeds "
        f"{'0' if settings.sweep_seeds == 1 else f'0–{settings.sweep_seeds - 1}'}, "
        "with the batch-norm statistics recalibrated on the whole training set after training "
        "(`bnnc.training.train`'s default) or left as the running averages of training, "
        "as a PyTorch "
        f"model would keep them), check-sat for every label: **{len(with_unsat)} of "
        f"{len(sweep)} have an unreachable label**."
    )
    add("")
    add(md_table(*sweep_table(sweep)))
    add("")
    won = two["patterns_won"]
    reach = (
        "a label is unreachable exactly when it loses on every output pattern of the hidden "
        "layer that some input produces.  In the network of the table above, inputs produce "
        f"{two['patterns']:,} of the 2^{two['hidden']} = {2 ** two['hidden']:,} hidden patterns "
        f"({two['constant_neurons']} of the {two['hidden']} hidden neurons are constant)"
    )
    if unsat:
        add(
            f"Why: {reach}; labels {', '.join(map(str, unsat))} win on none of them (counted "
            "by the same enumeration)."
        )
    else:
        add(
            f"Why every label is reachable here: {reach}, and every label wins on at least "
            f"{min(won):,} of them (label {int(np.argmin(won))}; counted by the same "
            "enumeration).  "
            + (
                "No network of the sweep has an unreachable label either; the paper does not "
                "describe its trainer in enough detail to tell what made its label 8 "
                "unreachable."
                if not with_unsat
                else "Other networks of the sweep do have unreachable labels."
            )
        )
    add("")
    # ---- part 3
    if three is not None:
        add("## 3. The paper's future work: garbage-class retraining (`bnnc retrain`)")
        add("")
        body = format_markdown(three, plot="retrain/retrain.png")
        body = body.split("\n", 2)[2]  # drop the title
        add(body.strip())
        add("")
        add(
            "Fresh samples per round (one row per digit label; inversion samples of the "
            "previous round's network, not trained on): "
            + ", ".join(
                f"[round {r}](retrain/retrain-fresh-round{r}.png)"
                for r in range(1, len(three.rounds))
            )
            + "."
        )
        add("")
        last = three.rounds[-1]
        if len(three.rounds) > 1:
            add(
                f"![fresh samples, round {last.round}](retrain/retrain-fresh-round{last.round}.png)"
            )
            add("")
            add("What it achieves and what it does not, in this run:")
            add("")
            approx_seconds = one["approx"]["seconds"] if "approx" in one else None
            lines += [f"* {item}" for item in retrain_findings(three, approx_seconds)]
            add("")
    add("## How to run")
    add("")
    add("```sh")
    add(".venv/bin/python examples/paper/reproduce.py            # this file")
    add(".venv/bin/python examples/paper/reproduce.py --quick    # a smaller run")
    add(f"bnnc examples/paper/{one['file']} --target-label {label} --check-sat")
    add(
        f"bnnc sample examples/paper/{one['file']} --label {label} -n 100 "
        f"-e {SAMPLE_ENCODING} --png label{label}.png"
    )
    add(
        f"bnnc train --size {settings.big_size} --epochs {settings.big_epochs} --seed "
        f"{settings.seed}"
        + (f" --arch {one['arch']}" if settings.hidden != 20 else "")
        + " -o model.bnn  # part 1's training"
    )
    if three is not None:
        cfg = three.config
        add(
            f"bnnc retrain --size {settings.small_size} --rounds {cfg.rounds} --samples "
            f"{cfg.samples} --probe {cfg.probe} --initial-epochs {cfg.initial_epochs} --epochs "
            f"{cfg.epochs} --seed {cfg.seed}"
            + (f" --hidden {settings.hidden}" if settings.hidden != 20 else "")
            + " -o retrain/  # part 3"
        )
    add("```")
    add("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def run(settings: Settings, out: Path, command: str, log: Log) -> str:
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    one = part_inversion(settings, out, log)
    two = part_unreachable(settings, out, log)
    three = part_retrain(settings, out, log)
    text = render(settings, command, one, two, three, time.perf_counter() - start)
    write_atomic(out / "RESULTS.md", text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (about a minute)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, help="output folder (default: examples/paper)")
    parser.add_argument("--no-retrain", action="store_true", help="skip part 3")
    args = parser.parse_args(argv)
    settings = Settings.quick(args.seed) if args.quick else Settings(seed=args.seed)
    if not args.quick:
        settings = Settings(seed=args.seed, retrain=RetrainConfig(seed=args.seed))
    if args.no_retrain:
        settings = Settings(**{**settings.__dict__, "retrain": None})
    out = args.out or (HERE / "quick" if args.quick else HERE)
    command = "python examples/paper/reproduce.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])
    )
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    try:
        if not (data_dir() / "t10k-images-idx3-ubyte.gz").exists():
            raise DataError(
                f"the MNIST files are not in {data_dir()}; set BNNC_DATA to the folder holding "
                "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz"
            )
        run(settings, out, command, log)
    except BnncError as err:
        print(f"bnnc: error: {err}".splitlines()[0], file=sys.stderr)
        return int(err.exit_code)
    except KeyboardInterrupt:
        print("bnnc: interrupted", file=sys.stderr)
        return 130
    print(f"wrote {out / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
