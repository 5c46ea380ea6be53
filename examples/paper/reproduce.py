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
import signal
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
    nearest_distance,
    retrain,
    write_outputs,
    write_sample_grid,
)
from bnnc.training.train import TrainConfig, TrainResult, accuracy, train

sys.path.insert(0, str(Path(__file__).resolve().parent))

from render import render  # RESULTS.md, beside this script (not a package): imported by path

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
    # A forked child inherits the parent's Python SIGTERM handler (pytest-xdist's workers set
    # one), which cannot run while Ganak computes: restore the default so terminate() stops it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
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
        process.join(1.0)
        if process.is_alive():  # SIGTERM not honoured: SIGKILL cannot be ignored
            process.kill()
            process.join()
        return None, seconds
    return (queue.get() if not queue.empty() else None), seconds


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
    result["sample_encoding"] = SAMPLE_ENCODING  # RESULTS.md names it
    compiled = bnnc.compile(model, SAMPLE_ENCODING)
    layout = compiled.formula.layout
    result["label_var"] = layout.output_var(label)
    result["inputs"] = (1, layout.n_inputs)
    log(f"part 1: sampling {settings.samples} inputs for label {label} with CMSGen")
    start = time.perf_counter()
    # CMSGen, the paper's sampler (bnnc's default, auto, is exactly uniform: docs/inversion.md)
    drawn = bnnc.sample(
        model, compiled, label=label, n=settings.samples, seed=settings.seed, sampler="cmsgen"
    )
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
    result["sweep"] = sweep_unreachable(settings, dataset, log)
    return result


def sweep_unreachable(settings: Settings, dataset: Dataset, log: Log) -> list[dict[str, Any]]:
    """Are there under-trained networks with an unreachable label?  Check-sat for every label of
    networks over seeds, epochs and both ways of keeping the batch-norm statistics."""
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
    return sweep


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
