"""The retraining loop: invert the network, label the samples garbage, retrain, measure."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from bnnc.engines.decide import make_query
from bnnc.engines.sample import sample, validate_samples
from bnnc.ir.bnn import BnnModel
from bnnc.ir.reference import predict
from bnnc.passes.pipeline import compile_model
from bnnc.training.retrain.report import round_line
from bnnc.training.retrain.results import GARBAGE, RetrainConfig, RetrainResult, RoundReport
from bnnc.training.retrain.shares import RetrainError, label_shares
from bnnc.training.train import TrainConfig, accuracy, train

__all__ = ["Log", "nearest_distance", "retrain"]

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
        # CMSGen, as in the paper (and bnnc before issue 16): garbage-class retraining needs
        # varied inputs per label, not proportions, and a rare label must not wait for UniGen.
        result = sample(model, formula, query, per_label, seed=(seed + c) % 2**31, sampler="cmsgen")
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
    (see the package docstring); every round is measured."""
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
    say(round_line(reports[-1], n_digits))
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
        say(round_line(reports[-1], n_digits))
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
