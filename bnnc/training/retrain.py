"""Garbage-class retraining: the paper's future work (Suhail et al., section 4), measured.

The loop, for R rounds after an initial training on the real data (round 0)::

    invert the network: for every digit label c, draw K + P inputs it labels c (CMSGen,
        uniform over the preimage; every sample is checked by the reference inference)
    label the first K of each as an extra class, "garbage" (index C = the number of digit
        classes), add them to the training set (garbage accumulates over the rounds)
    retrain, warm-started from the previous network (latent weights, batch-norm statistics,
        Adam moments; round 1 widens the output block by one class)
    measure the new network

After every round, :class:`RoundReport` records

* the test accuracy on the real digits (a real digit called garbage counts as an error), and
  the share of real test digits called garbage;
* for every label (the digits, and garbage from round 1 on), the share of the **whole input
  space** (all 2^n inputs) that the network assigns to it: exact by enumeration for small
  inputs, or estimated (see :data:`CountMethod`);
* the P held-out ("fresh") inversion samples per digit label of the *previous* network, which
  the new network was not trained on: how many it still calls a digit, and how many keep the
  label the previous network gave them.

What it does not do: the garbage samples are uniform over each digit's preimage, i.e. almost
all of them are noise, so the loop teaches the network to call noise garbage; it does not make
the remaining digit regions look like digits, and K samples per round cannot cover preimages of
millions of inputs (see ``examples/paper/RESULTS.md`` for a measured run).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from bnnc.encodings import ENCODING_NAMES
from bnnc.engines.count import count
from bnnc.engines.decide import make_query
from bnnc.engines.enumerate import (
    MAX_ENUMERATE_INPUTS,
    enumerate_counts,
    first_layer_patterns,
    labels_from_first_layer,
    montecarlo_counts,
)
from bnnc.engines.sample import sample, validate_samples
from bnnc.errors import UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.reference import predict
from bnnc.passes.pipeline import compile_model
from bnnc.training.train import TrainConfig, TrainState, accuracy, train

__all__ = [
    "COUNT_METHODS",
    "GARBAGE",
    "MAX_ENUMERATE_INPUTS",
    "CountMethod",
    "LabelShare",
    "RetrainConfig",
    "RetrainError",
    "RetrainResult",
    "RoundReport",
    "enumerate_counts",
    "first_layer_patterns",
    "format_markdown",
    "format_table",
    "label_shares",
    "labels_from_first_layer",
    "montecarlo_counts",
    "nearest_distance",
    "plot_rounds",
    "retrain",
    "write_outputs",
]

CountMethod = Literal["auto", "enumerate", "montecarlo", "approx", "exact", "none"]
COUNT_METHODS: tuple[str, ...] = ("auto", "enumerate", "montecarlo", "approx", "exact", "none")
"""How shares of the input space are measured.

``enumerate``: every one of the 2^n inputs through the reference inference (exact; n ≤
:data:`MAX_ENUMERATE_INPUTS`).  ``montecarlo``: ``mc_samples`` uniform random inputs through
the reference inference (an unbiased estimate with a 95 % Wilson interval).  ``approx``:
ApproxMC on the compiled formula, per label ((ε, δ) = (0.8, 0.2) bounds).  ``exact``: Ganak on
the compiled formula, per label (exact, but minutes per label on 25-20-10 networks).
``auto``: ``enumerate`` up to 26 inputs, else ``montecarlo``.  ``none``: no shares.
"""

GARBAGE = "garbage"
AUTO_ENUMERATE_INPUTS = 26


class RetrainError(UsageError):
    """Bad retraining parameters (exit code 2, a usage error)."""


def _wilson(hits: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95 % Wilson score interval for a binomial proportion."""
    if total == 0:
        return (0.0, 1.0)
    p = hits / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class LabelShare:
    """The share of all 2^n inputs that the network gives one label.

    ``count`` is the exact or estimated number of inputs (None for Monte Carlo, which
    estimates the share directly); ``low``/``high`` bound the share (equal to it when exact;
    a 95 % interval for Monte Carlo; ApproxMC's (1 + ε) bounds with probability 1 − δ).
    """

    label: int
    name: str
    share: float
    low: float
    high: float
    count: int | None
    method: str
    seconds: float


def _resolve(method: CountMethod, n_inputs: int) -> CountMethod:
    if method == "auto":
        return "enumerate" if n_inputs <= AUTO_ENUMERATE_INPUTS else "montecarlo"
    return method


def label_shares(
    model: BnnModel,
    method: CountMethod = "auto",
    *,
    encoding: str = "totalizer",
    mc_samples: int = 1_000_000,
    seed: int = 0,
) -> list[LabelShare]:
    """The share of the input space of every label (see :data:`COUNT_METHODS`)."""
    method = _resolve(method, model.n_inputs)
    names = model.class_names or tuple(str(c) for c in range(model.n_classes))
    space = 2**model.n_inputs
    if method == "none":
        return []
    if method in ("enumerate", "montecarlo"):
        start = time.perf_counter()
        if method == "enumerate":
            counts = enumerate_counts(model)
        else:
            counts = montecarlo_counts(model, mc_samples, seed=seed)
        seconds = time.perf_counter() - start
        out = []
        for c, hits in enumerate(counts.tolist()):
            if method == "enumerate":
                share = hits / space
                out.append(LabelShare(c, names[c], share, share, share, hits, method, seconds))
            else:
                low, high = _wilson(hits, mc_samples)
                out.append(
                    LabelShare(c, names[c], hits / mc_samples, low, high, None, method, seconds)
                )
        return out
    if method not in ("approx", "exact"):
        raise RetrainError(f"unknown counting method {method!r}; choose {', '.join(COUNT_METHODS)}")
    formula = compile_model(model, encoding).formula
    out = []
    for c in range(model.n_classes):
        query = make_query(model, c, None)
        result = count(formula, query, method=method, seed=seed + 1)
        low, high = result.bounds
        out.append(
            LabelShare(
                c,
                names[c],
                result.share,
                min(1.0, low / space),
                min(1.0, high / space),
                result.count,
                method,
                result.seconds,
            )
        )
    return out


# --------------------------------------------------------------------------- the loop


@dataclass(frozen=True)
class RetrainConfig:
    """Parameters of :func:`retrain` (defaults: a few minutes for 25-20-10 on 2 cores)."""

    rounds: int = 3
    samples: int = 50  # K: garbage samples per digit label per round (for training)
    probe: int = 50  # P: fresh samples per digit label per round (held out, for measuring)
    initial_epochs: int = 10
    epochs: int = 3  # per retraining round
    lr: float = 0.01
    batch_size: int = 100
    garbage_repeat: int = 1  # each garbage sample appears this many times in the training set
    encoding: str = "totalizer"
    count: CountMethod = "auto"
    mc_samples: int = 1_000_000
    seed: int = 0

    def check(self, n_inputs: int | None = None) -> None:
        for name in ("rounds", "samples", "probe", "initial_epochs", "epochs"):
            if getattr(self, name) < 0:
                raise RetrainError(f"{name} must be ≥ 0, got {getattr(self, name)}")
        if self.garbage_repeat < 1:
            raise RetrainError(f"garbage_repeat must be ≥ 1, got {self.garbage_repeat}")
        if self.rounds and self.samples == 0:
            raise RetrainError("retraining needs at least 1 garbage sample per label")
        if self.encoding not in ENCODING_NAMES:
            raise RetrainError(
                f"unknown encoding {self.encoding!r}; choose {', '.join(ENCODING_NAMES)}"
            )
        if self.count not in COUNT_METHODS:
            raise RetrainError(
                f"unknown counting method {self.count!r}; choose {', '.join(COUNT_METHODS)}"
            )
        if self.mc_samples < 1:
            raise RetrainError(f"mc_samples must be ≥ 1, got {self.mc_samples}")
        if n_inputs is not None and self.count == "enumerate" and n_inputs > MAX_ENUMERATE_INPUTS:
            raise RetrainError(
                f"--count enumerate handles at most {MAX_ENUMERATE_INPUTS} inputs, the network "
                f"has {n_inputs}; use montecarlo or approx"
            )
        TrainConfig(
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed
        ).check()


@dataclass(frozen=True)
class RoundReport:
    """The measurements after one round (round 0: the initial network, no garbage class)."""

    round: int
    classes: int
    garbage_train: int  # distinct garbage samples in the training set so far
    test_accuracy: float  # on the real test digits
    test_called_garbage: float  # share of real test digits the network calls garbage
    shares: tuple[LabelShare, ...]  # every label, digits first, then garbage (round ≥ 1)
    probe_drawn: int  # fresh inversion samples of the previous network (0 in round 0)
    probe_still_digit: int  # … that this network still calls a digit
    probe_same_label: int  # … that keep the label the previous network gave them
    unreachable: tuple[int, ...]  # digit labels no input reaches (the sampler found none)
    probe_nearest: float | None = None  # mean Hamming distance of a fresh sample to the
    # nearest real training image (for comparison: RetrainResult.real_nearest)
    garbage_dropped: int = 0  # this round's samples equal to a real training image: not garbage
    seconds: dict[str, float] = field(default_factory=dict)

    def digit_share(self, n_digits: int) -> float | None:
        """The share of the input space labelled as any digit (None without shares)."""
        if not self.shares:
            return None
        return float(sum(s.share for s in self.shares[:n_digits]))

    def garbage_share(self, n_digits: int) -> float | None:
        if len(self.shares) <= n_digits:
            return None
        return self.shares[n_digits].share


@dataclass(frozen=True)
class RetrainResult:
    rounds: tuple[RoundReport, ...]
    models: tuple[BnnModel, ...]  # the network after each round (round 0 first)
    state: TrainState
    digit_names: tuple[str, ...]
    config: RetrainConfig
    n_inputs: int
    description: str = ""
    seconds: float = 0.0
    probes: tuple[NDArray[np.bool_], ...] = ()  # each round's fresh samples (round 0: none)
    probe_labels: tuple[NDArray[np.int64], ...] = ()  # … and the label they were drawn for
    real_nearest: float | None = None  # mean distance of a real test image to the training set
    garbage: NDArray[np.bool_] | None = None  # every sample labelled garbage, in order

    @property
    def n_digits(self) -> int:
        return len(self.digit_names)

    def to_json(self) -> dict[str, Any]:
        rounds = []
        for r in self.rounds:
            record = asdict(r)
            record["digit_share"] = r.digit_share(self.n_digits)
            record["garbage_share"] = r.garbage_share(self.n_digits)
            record["unreachable"] = list(r.unreachable)
            rounds.append(record)
        return {
            "description": self.description,
            "n_inputs": self.n_inputs,
            "digit_names": list(self.digit_names),
            "config": asdict(self.config),
            "count_method": _resolve(self.config.count, self.n_inputs),
            "seconds": round(self.seconds, 3),
            "real_nearest": self.real_nearest,
            "rounds": rounds,
        }


Log = Callable[[str], None]


def nearest_distance(
    bits: NDArray[np.bool_], reference: NDArray[np.bool_], *, chunk: int = 1000
) -> NDArray[np.int64]:
    """For each row of ``bits``, the Hamming distance to the nearest row of ``reference``."""
    n = bits.shape[1]
    ref = np.where(reference, 1.0, -1.0).astype(np.float32).T
    out = np.empty(len(bits), dtype=np.int64)
    for start in range(0, len(bits), chunk):
        part = np.where(bits[start : start + chunk], 1.0, -1.0).astype(np.float32)
        agree = (part @ ref).max(axis=1)  # n − 2·distance, exact in float32 for n < 2^24
        out[start : start + chunk] = np.rint((n - agree) / 2).astype(np.int64)
    return out


def _invert(
    model: BnnModel,
    labels: Sequence[int],
    per_label: int,
    *,
    encoding: str,
    seed: int,
) -> tuple[list[NDArray[np.bool_]], list[int]]:
    """Per label, ``per_label`` CMSGen samples (validated); and the labels with none."""
    formula = compile_model(model, encoding).formula
    drawn: list[NDArray[np.bool_]] = []
    empty: list[int] = []
    for c in labels:
        query = make_query(model, c, None)
        result = sample(model, formula, query, per_label, seed=(seed + c) % 2**31)
        validate_samples(model, result)
        if result.interrupted:
            raise KeyboardInterrupt
        drawn.append(result.samples)
        if result.drawn == 0:
            empty.append(c)
    return drawn, empty


def retrain(
    train_bits: NDArray[np.bool_],
    train_labels: NDArray[np.integer],
    test_bits: NDArray[np.bool_],
    test_labels: NDArray[np.integer],
    *,
    hidden: Sequence[int] = (20,),
    config: RetrainConfig | None = None,
    digit_names: Sequence[str] | None = None,
    input_shape: tuple[int, ...] | None = None,
    name: str = "retrain",
    description: str = "",
    log: Log | None = None,
) -> RetrainResult:
    """Train on the real data, then run ``config.rounds`` rounds of garbage-class retraining
    (see the module docstring); every round is measured."""
    config = config or RetrainConfig()
    x_train = np.asarray(train_bits, dtype=bool)
    y_train = np.asarray(train_labels, dtype=np.int64)
    x_test = np.asarray(test_bits, dtype=bool)
    y_test = np.asarray(test_labels, dtype=np.int64)
    if x_train.ndim != 2:
        raise RetrainError(f"training inputs must be (samples, bits), got shape {x_train.shape}")
    n_inputs = x_train.shape[1]
    config.check(n_inputs)
    n_digits = int(max(y_train.max(initial=-1), y_test.max(initial=-1))) + 1
    if digit_names is not None:
        if len(digit_names) < n_digits:
            raise RetrainError(f"{len(digit_names)} class names for {n_digits} classes")
        n_digits = len(digit_names)
    names = tuple(digit_names) if digit_names is not None else tuple(map(str, range(n_digits)))
    if GARBAGE in names:
        raise RetrainError(f"a class is already called {GARBAGE!r}")
    arch = (n_inputs, *(int(h) for h in hidden), n_digits)
    say = log or (lambda _message: None)
    start = time.perf_counter()

    def measure(
        model: BnnModel,
        round_no: int,
        garbage_train: int,
        probe: NDArray[np.bool_],
        probe_from: NDArray[np.int64],
        unreachable: Sequence[int],
        seconds: dict[str, float],
        dropped: int = 0,
    ) -> RoundReport:
        t = time.perf_counter()
        test_pred = predict(model, x_test)
        acc = accuracy(model, x_test, y_test)
        called_garbage = float(np.mean(test_pred == n_digits)) if len(y_test) else 0.0
        seconds["test"] = time.perf_counter() - t
        t = time.perf_counter()
        shares = label_shares(
            model,
            config.count,
            encoding=config.encoding,
            mc_samples=config.mc_samples,
            seed=config.seed + 7919 * round_no,
        )
        seconds["count"] = time.perf_counter() - t
        nearest: float | None = None
        if len(probe):
            probe_pred = predict(model, probe)
            still = int(np.count_nonzero(probe_pred < n_digits))
            same = int(np.count_nonzero(probe_pred == probe_from))
            nearest = float(nearest_distance(probe, x_train).mean())
        else:
            still = same = 0
        return RoundReport(
            round=round_no,
            classes=model.n_classes,
            garbage_train=garbage_train,
            test_accuracy=acc,
            test_called_garbage=called_garbage,
            shares=tuple(shares),
            probe_drawn=len(probe),
            probe_still_digit=still,
            probe_same_label=same,
            unreachable=tuple(unreachable),
            probe_nearest=nearest,
            garbage_dropped=dropped,
            seconds={k: round(v, 3) for k, v in seconds.items()},
        )

    t = time.perf_counter()
    base = TrainConfig(
        epochs=config.initial_epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=config.seed,
    )
    say(f"round 0: training {'-'.join(map(str, arch))} for {config.initial_epochs} epochs")
    first = train(
        x_train,
        y_train,
        arch,
        config=base,
        input_shape=input_shape,
        class_names=names,
        name=f"{name}_round0",
    )
    nothing = np.zeros((0, n_inputs), dtype=bool)
    reports = [
        measure(
            first.model,
            0,
            0,
            nothing,
            np.zeros(0, dtype=np.int64),
            (),
            {"train": time.perf_counter() - t},
        )
    ]
    say(_round_line(reports[-1], n_digits))
    models = [first.model]
    probes: list[NDArray[np.bool_]] = [nothing]
    probe_labels: list[NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)]
    state = first.state
    garbage = nothing
    for round_no in range(1, config.rounds + 1):
        previous = models[-1]
        seconds: dict[str, float] = {}
        t = time.perf_counter()
        say(
            f"round {round_no}: inverting every digit label of round {round_no - 1} "
            f"({config.samples} + {config.probe} samples each, {config.encoding})"
        )
        drawn, unreachable = _invert(
            previous,
            range(n_digits),
            config.samples + config.probe,
            encoding=config.encoding,
            seed=(config.seed * 7919 + 1009 * round_no) % 2**31,
        )
        seconds["sample"] = time.perf_counter() - t
        fresh = [d[: config.samples] for d in drawn]
        held = [d[config.samples :] for d in drawn]
        probe = np.vstack([nothing, *held])
        probe_from = np.concatenate(
            [np.full(len(h), c, dtype=np.int64) for c, h in enumerate(held)]
            + [np.zeros(0, dtype=np.int64)]
        )
        probes.append(probe)
        probe_labels.append(probe_from)
        # A sample that equals a real training image is a digit, not garbage: left out.
        candidates = np.vstack([nothing, *fresh])
        real = nearest_distance(candidates, x_train) == 0
        garbage = np.vstack([garbage, candidates[~real]])
        repeated = np.repeat(garbage, config.garbage_repeat, axis=0)
        bits = np.vstack([x_train, repeated])
        labels = np.concatenate([y_train, np.full(len(repeated), n_digits, dtype=np.int64)])
        t = time.perf_counter()
        say(
            f"round {round_no}: retraining on {len(y_train)} digits + {len(garbage)} garbage "
            f"samples for {config.epochs} epochs"
        )
        result = train(
            bits,
            labels,
            (*arch[:-1], n_digits + 1),
            config=TrainConfig(
                epochs=config.epochs,
                batch_size=config.batch_size,
                lr=config.lr,
                seed=config.seed + round_no,
            ),
            state=state,
            input_shape=input_shape,
            class_names=(*names, GARBAGE),
            name=f"{name}_round{round_no}",
        )
        seconds["train"] = time.perf_counter() - t
        state = result.state
        models.append(result.model)
        reports.append(
            measure(
                result.model,
                round_no,
                len(garbage),
                probe,
                probe_from,
                unreachable,
                seconds,
                int(np.count_nonzero(real)),
            )
        )
        say(_round_line(reports[-1], n_digits))
    return RetrainResult(
        tuple(reports),
        tuple(models),
        state,
        names,
        config,
        n_inputs,
        description,
        time.perf_counter() - start,
        tuple(probes),
        tuple(probe_labels),
        float(nearest_distance(x_test, x_train).mean()) if len(x_test) else None,
        garbage,
    )


# --------------------------------------------------------------------------- reports


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def _share_text(share: LabelShare) -> str:
    value = 100 * share.share
    if share.share == 0:
        return "0"
    if value >= 1:
        return f"{value:.1f}%"
    if value >= 0.01:
        return f"{value:.2f}%"
    return f"{value:.1e}%"


def _round_line(r: RoundReport, n_digits: int) -> str:
    line = (
        f"round {r.round}: test accuracy {_pct(r.test_accuracy)}, digit share "
        f"{_pct(r.digit_share(n_digits), 2)}, garbage share {_pct(r.garbage_share(n_digits), 2)}"
    )
    if r.probe_drawn:
        line += f", fresh samples still digits {r.probe_still_digit}/{r.probe_drawn}"
    return line


SUMMARY_HEADER = (
    "round",
    "garbage in training",
    "test accuracy",
    "test digits → garbage",
    "input space → digits",
    "input space → garbage",
    "fresh samples still digits",
    "… same digit",
    "… pixels from nearest real image",
)


def _summary_rows(result: RetrainResult) -> list[list[str]]:
    rows = []
    n = result.n_digits
    for r in result.rounds:
        probe = f"{r.probe_still_digit}/{r.probe_drawn}" if r.probe_drawn else "–"
        if r.probe_drawn:
            probe += f" ({_pct(r.probe_still_digit / r.probe_drawn, 0)})"
        same = f"{r.probe_same_label}/{r.probe_drawn}" if r.probe_drawn else "–"
        rows.append(
            [
                str(r.round),
                str(r.garbage_train) + (f" (−{r.garbage_dropped})" if r.garbage_dropped else ""),
                _pct(r.test_accuracy),
                _pct(r.test_called_garbage) if r.round else "–",
                _pct(r.digit_share(n), 2),
                _pct(r.garbage_share(n), 2),
                probe,
                same,
                "–" if r.probe_nearest is None else f"{r.probe_nearest:.2f}",
            ]
        )
    return rows


def _share_rows(result: RetrainResult) -> tuple[list[str], list[list[str]]]:
    header = ["round", *result.digit_names, GARBAGE]
    rows = []
    for r in result.rounds:
        cells = [_share_text(s) for s in r.shares]
        cells += ["–"] * (len(header) - 1 - len(cells))
        rows.append([str(r.round), *cells])
    return header, rows


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _method_note(result: RetrainResult) -> str:
    method = _resolve(result.config.count, result.n_inputs)
    n = result.n_inputs
    return {
        "enumerate": f"exact: all 2^{n} inputs enumerated through the reference inference",
        "montecarlo": (
            f"estimated from {result.config.mc_samples:,} uniform random inputs "
            "(95% Wilson intervals in the JSON report)"
        ),
        "approx": "ApproxMC estimates, (ε, δ) = (0.8, 0.2)",
        "exact": "exact model counts (Ganak)",
        "none": "not measured",
    }[method]


def format_table(result: RetrainResult) -> str:
    """The report as plain-text tables (for the terminal)."""
    header, rows = _share_rows(result)
    return (
        _text_table(SUMMARY_HEADER, _summary_rows(result))
        + f"\n\nshare of the input space per label ({_method_note(result)}):\n"
        + _text_table(header, rows)
    )


def format_markdown(result: RetrainResult, *, plot: str | None = None) -> str:
    """The report as Markdown: both tables, what the columns mean, the plot if given."""
    cfg = result.config
    header, rows = _share_rows(result)
    parts = [
        "# Garbage-class retraining",
        "",
        result.description,
        "",
        f"Rounds {cfg.rounds}; per round and digit label {cfg.samples} garbage samples "
        f"(for training) and {cfg.probe} fresh samples (held out), drawn with CMSGen from the "
        f"`{cfg.encoding}` formula; initial training {cfg.initial_epochs} epochs, "
        f"{cfg.epochs} epochs per round (warm start), lr {cfg.lr}, seed {cfg.seed}; "
        f"{result.seconds:.0f} s in total.",
        "",
        _md_table(SUMMARY_HEADER, _summary_rows(result)),
        "",
        f"Share of the input space per label ({_method_note(result)}):",
        "",
        _md_table(header, rows),
        "",
        "*garbage in training*: inversion samples labelled garbage so far; (−d): this "
        "round's samples that equal a real training image, left out. "
        "*test accuracy*: on the real test digits (a digit called garbage is an error). "
        "*input space → digits*: the share of all inputs that the network labels as any digit. "
        "*fresh samples*: inversion samples of the previous round's network that were not "
        "trained on; *still digits*: the new network labels them as some digit; *same digit*: "
        "as the digit the previous network gave them; *pixels from nearest real image*: the mean "
        "Hamming distance from a fresh sample to the closest real training image"
        + (
            f" (for comparison, a real test image is {result.real_nearest:.2f} pixels from its "
            "closest training image)."
            if result.real_nearest is not None
            else "."
        ),
    ]
    if plot:
        parts += ["", f"![retraining rounds]({plot})"]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- the plot (PIL)

_PALETTE = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


Series = tuple[str, Sequence[float | None], tuple[int, int, int]]


def _panel(
    draw: Any,
    box: tuple[int, int, int, int],
    title: str,
    xs: Sequence[int],
    series: Sequence[Series],
    *,
    log: bool = False,
    floor: float = 1e-7,
) -> None:
    """One line chart in ``box`` (left, top, right, bottom), y in [0, 1] or log10 [floor, 1]."""
    left, top, right, bottom = box
    small, big = _font(12), _font(14)
    draw.text((left, top), title, fill=(0, 0, 0), font=big)
    x0, y0, x1, y1 = left + 58, top + 26, right - 120, bottom - 28
    draw.rectangle((x0, y0, x1, y1), outline=(0, 0, 0))
    if log:
        lo, hi = math.log10(floor), 0.0
        ticks = [10.0**e for e in range(int(lo), 1)]
    else:
        lo, hi = 0.0, 1.0
        ticks = [0.0, 0.25, 0.5, 0.75, 1.0]

    def y_of(v: float) -> float:
        t = (math.log10(max(v, floor)) if log else v) - lo
        return y1 - (y1 - y0) * t / (hi - lo)

    span = max(1, xs[-1] - xs[0]) if xs else 1

    def x_of(x: int) -> float:
        return x0 + 12 + (x1 - x0 - 24) * (x - xs[0]) / span

    for v in ticks:
        y = y_of(v)
        draw.line((x0, y, x1, y), fill=(225, 225, 225))
        label = (f"1e{round(math.log10(v))}" if v < 1 else "1") if log else f"{v:.0%}"
        draw.text((x0 - 6, y), label, fill=(0, 0, 0), font=small, anchor="rm")
    for x in xs:
        draw.text((x_of(x), y1 + 6), str(x), fill=(0, 0, 0), font=small, anchor="mt")
    draw.text(((x0 + x1) / 2, y1 + 16), "round", fill=(0, 0, 0), font=small, anchor="mt")
    for k, (name, ys, colour) in enumerate(series):
        points = [(x_of(x), y_of(y)) for x, y in zip(xs, ys, strict=True) if y is not None]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for px, py in points:
            draw.ellipse((px - 3, py - 3, px + 3, py + 3), fill=colour)
        ly = y0 + 4 + 16 * k
        draw.line((x1 + 10, ly + 7, x1 + 28, ly + 7), fill=colour, width=3)
        draw.text((x1 + 32, ly), name, fill=(0, 0, 0), font=small)


def plot_rounds(result: RetrainResult) -> Any:
    """A PNG-ready PIL image: shares per digit (log scale); totals, accuracy, fresh samples."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1000, 440), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    xs = [r.round for r in result.rounds]
    n = result.n_digits
    per_digit: list[Series] = []
    for c, name in enumerate(result.digit_names):
        values = [r.shares[c].share if r.shares else None for r in result.rounds]
        per_digit.append((f"label {name}", values, _PALETTE[c % len(_PALETTE)]))
    positive = [v for _, ys, _ in per_digit for v in ys if v is not None and v > 0]
    floor = 10.0 ** min(-3, math.floor(math.log10(min(positive)))) if positive else 1e-7
    _panel(
        draw,
        (10, 10, 500, 430),
        "share of the input space per digit label (log)",
        xs,
        per_digit,
        log=True,
        floor=max(floor, 1e-30),
    )
    totals: list[Series] = [
        ("test accuracy", [r.test_accuracy for r in result.rounds], (0, 0, 0)),
        ("digit share", [r.digit_share(n) for r in result.rounds], (31, 119, 180)),
        ("garbage share", [r.garbage_share(n) for r in result.rounds], (214, 39, 40)),
        (
            "fresh still digit",
            [r.probe_still_digit / r.probe_drawn if r.probe_drawn else None for r in result.rounds],
            (44, 160, 44),
        ),
    ]
    _panel(draw, (510, 10, 995, 430), "accuracy; shares of the input space", xs, totals)
    return image


def write_outputs(result: RetrainResult, folder: str | Path, stem: str = "retrain") -> list[Path]:
    """Write ``stem``.md, .json, .png and the final network as ``stem``-final.bnn (atomically)."""
    import io

    from bnnc.backend.onnx_export import save_text
    from bnnc.io import write_atomic

    out = Path(folder)
    png = out / f"{stem}.png"
    buffer = io.BytesIO()
    plot_rounds(result).save(buffer, format="PNG")
    write_atomic(png, buffer.getvalue())
    md = out / f"{stem}.md"
    write_atomic(md, format_markdown(result, plot=png.name))
    js = out / f"{stem}.json"
    write_atomic(js, json.dumps(result.to_json(), indent=1) + "\n")
    model = out / f"{stem}-final.bnn"
    save_text(result.models[-1], model)
    written = [md, js, png, model]
    shape = result.models[0].input_shape
    if len([d for d in shape if d != 1]) == 2:
        for round_no, probe in enumerate(result.probes):
            if len(probe):
                grid = out / f"{stem}-fresh-round{round_no}.png"
                write_sample_grid(grid, probe, result.probe_labels[round_no], shape)
                written.append(grid)
    return written


def write_sample_grid(
    path: str | Path,
    samples: NDArray[np.bool_],
    labels: NDArray[np.int64],
    input_shape: tuple[int, ...],
    per_label: int = 10,
) -> None:
    """A PNG with one row per label (in label order): the first ``per_label`` samples drawn for
    it; missing samples are left grey."""
    from bnnc.backend.images import image_grid, write_png

    dims = [d for d in input_shape if d != 1]
    picture = (dims[0], dims[1])
    rows = []
    for c in np.unique(labels).tolist():
        mine = samples[labels == c][:per_label]
        if len(mine):
            rows.append(image_grid(mine, picture, columns=per_label))
    write_png(path, np.vstack(rows))
