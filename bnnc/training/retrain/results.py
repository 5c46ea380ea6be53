"""What a retraining run is given (:class:`RetrainConfig`) and what it measures
(:class:`RoundReport` per round, :class:`RetrainResult` for the run): the loop fills them, the
reports and the plot read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnnc.encodings import ENCODING_NAMES
from bnnc.engines.enumerate import MAX_ENUMERATE_INPUTS
from bnnc.ir.bnn import BnnModel
from bnnc.training.retrain.shares import (
    COUNT_METHODS,
    CountMethod,
    LabelShare,
    RetrainError,
    resolve_method,
)
from bnnc.training.train import TrainConfig, TrainState

__all__ = ["GARBAGE", "RetrainConfig", "RetrainResult", "RoundReport"]

GARBAGE = "garbage"


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
                raise RetrainError(f"{name} must be ≥ 0, got {getattr(self, name)}", parameter=name)
        if self.garbage_repeat < 1:
            raise RetrainError(
                f"garbage_repeat must be ≥ 1, got {self.garbage_repeat}", parameter="garbage_repeat"
            )
        if self.rounds and self.samples == 0:
            raise RetrainError(
                "retraining needs at least 1 garbage sample per label", parameter="samples"
            )
        if self.encoding not in ENCODING_NAMES:
            raise RetrainError(
                f"unknown encoding {self.encoding!r}; choose {', '.join(ENCODING_NAMES)}",
                parameter="encoding",
            )
        if self.count not in COUNT_METHODS:
            raise RetrainError(
                f"unknown counting method {self.count!r}; choose {', '.join(COUNT_METHODS)}",
                parameter="count",
            )
        if self.mc_samples < 1:
            raise RetrainError(
                f"mc_samples must be ≥ 1, got {self.mc_samples}", parameter="mc_samples"
            )
        if n_inputs is not None and self.count == "enumerate" and n_inputs > MAX_ENUMERATE_INPUTS:
            raise RetrainError(
                f"counting by enumeration handles at most {MAX_ENUMERATE_INPUTS} inputs, the "
                f"network has {n_inputs}; use montecarlo or approx",
                parameter="count",
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
            "count_method": resolve_method(self.config.count, self.n_inputs),
            "seconds": round(self.seconds, 3),
            "real_nearest": self.real_nearest,
            "rounds": rounds,
        }
