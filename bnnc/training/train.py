"""A numpy trainer for the paper's BNNs (appendix A; Courbariaux et al. 2016, BinaryNet).

The network is the paper's block structure: each inner block is a binarised linear layer
(±1 weights, a real bias), a batch norm and sign (sign(0) = +1); the output block is a
binarised linear layer with a real bias, and the label is the argmax of its scores.

Training (full-precision shadow weights, as in BinaryNet):

* **Latent weights.** Every layer keeps real weights W clipped to [−1, 1]; the forward pass
  uses sign(W) (sign(0) = +1).  Gradients reach W through the *straight-through estimator*:
  ∂L/∂W is computed as if sign were the identity, and W is clipped back to [−1, 1] after each
  step.
* **Activations.** sign(z) in the forward pass; in the backward pass the gradient flows
  where |z| ≤ 1 (the derivative of hardtanh) and is 0 elsewhere.
* **Batch norm.** Batch statistics (biased variance) in training; running statistics for
  inference, updated as ``r ← (1 − momentum)·r + momentum·batch`` with the unbiased batch
  variance, as PyTorch does.  After the last epoch (``TrainConfig.recalibrate``, on by
  default) the statistics are set to the exact mean and unbiased variance over the whole
  training set (:func:`recalibrate`).  The inner blocks' linear bias is kept at 0 (a batch norm
  in training mode removes any constant, so it would receive no gradient; the batch norm's β
  is the learnt shift).
* **Output.** Softmax cross-entropy on ``t · (A x) + c`` with a learnt temperature t > 0 (the
  raw ±1 sums of a 20-wide layer are too large for a softmax at the start).  Since t > 0, the
  label argmax(t·A x + c) is argmax(A x + c/t): the exported model's output bias is c / t.
* **Optimiser.** Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-8) on the latent weights, γ, β, c and
  log t; the learning rate decays linearly to ``lr · final_lr`` over the run.  Each epoch
  draws a fresh order of the samples and cuts it into n // batch_size mini-batches of
  near-equal size.  Latent weights start Glorot-uniform, γ = 1, β = 0, c = 0, t = 1/√fan-in.
  Everything random comes from ``numpy.random.default_rng``, seeded with ``seed`` (and the
  step count, when a run continues a state), so a run is reproducible for a seed on a given
  machine (float sums in BLAS may round differently elsewhere).
* **More classes, more data.** :meth:`TrainState.with_classes` widens the output block (e.g. a
  "garbage" class for the paper's retraining loop) and :func:`train` continues from a state
  with any training samples, including ones labelled with the new class.

The trained network is a :class:`bnnc.ir.bnn.BnnModel` in float64 with the training's eps; the
accuracies reported are those of its reference inference (:func:`bnnc.predict`), i.e. of the
network bnnc compiles.

One module, a little over the usual size on purpose: the loop (:func:`train`), the
straight-through gradients (``_step``) and Adam (``_adam``) read and update the same
:class:`TrainState` arrays in one step, and are easier to check against the rules above side by
side than spread over files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import UsageError
from bnnc.ir.bnn import BatchNorm, BnnModel, InnerBlock, OutputBlock
from bnnc.ir.reference import predict
from bnnc.ir.tensor import frozen, ternary

__all__ = [
    "EpochRecord",
    "Progress",
    "ProgressFn",
    "TrainConfig",
    "TrainError",
    "TrainResult",
    "TrainState",
    "accuracy",
    "init_state",
    "parse_arch",
    "recalibrate",
    "train",
]

Array = NDArray[np.float64]


class TrainError(UsageError):
    """Bad training parameters or data that do not fit the architecture (exit code 2)."""


def parse_arch(text: str) -> tuple[int, ...]:
    """``"100-20-10"`` → (100, 20, 10): inputs, hidden widths, classes."""
    parts = text.replace(",", "-").split("-")
    try:
        widths = tuple(int(p) for p in parts)
    except ValueError:
        raise TrainError(
            f"architecture {text!r}: expected widths like 100-20-10 (inputs-hidden-...-classes)",
            parameter="arch",
        ) from None
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise TrainError(
            f"architecture {text!r}: need at least inputs and classes, every width ≥ 1",
            parameter="arch",
        )
    return widths


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters.

    ``final_lr`` is the fraction of ``lr`` reached on the last step (linear decay).  With
    ``recalibrate``, the batch-norm statistics of the final network are, after the last epoch,
    set to the exact mean and unbiased variance of each block's pre-activation over the whole
    training set (inference mode, block by block) instead of the momentum running averages,
    which lag behind the last weight flips (about +1 point of test accuracy on 10×10 MNIST).
    """

    epochs: int = 25
    batch_size: int = 100
    lr: float = 0.01
    final_lr: float = 0.01
    seed: int = 0
    momentum: float = 0.1
    eps: float = 1e-5
    recalibrate: bool = True

    def check(self) -> None:
        if self.epochs < 0:
            raise TrainError(f"epochs must be ≥ 0, got {self.epochs}", parameter="epochs")
        if self.batch_size < 2:
            raise TrainError(
                f"the batch size must be ≥ 2 (batch norm), got {self.batch_size}",
                parameter="batch_size",
            )
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise TrainError(
                f"the learning rate must be a positive finite number, got {self.lr}",
                parameter="lr",
            )
        if not 0 <= self.final_lr <= 1:
            raise TrainError(f"final_lr must lie in [0, 1], got {self.final_lr}")
        if not 0 < self.momentum <= 1:
            raise TrainError(f"the batch-norm momentum must lie in (0, 1], got {self.momentum}")
        if not (np.isfinite(self.eps) and self.eps > 0):
            raise TrainError(f"eps must be > 0, got {self.eps}")


@dataclass
class TrainState:
    """Everything training needs to continue: parameters, batch-norm statistics, Adam moments.

    Parameter names: ``w1 … wK`` latent weights of the inner blocks and ``w_out`` of the output
    block; ``gamma1``, ``beta1``, …; ``c_out`` (output bias, training scale) and ``log_t``
    (log temperature).  ``mean1``/``var1``, … are the running statistics.
    """

    arch: tuple[int, ...]
    eps: float
    params: dict[str, Array]
    stats: dict[str, Array]
    adam_m: dict[str, Array]
    adam_v: dict[str, Array]
    step: int = 0

    @property
    def n_hidden_layers(self) -> int:
        return len(self.arch) - 2

    @property
    def n_classes(self) -> int:
        return self.arch[-1]

    def copy(self) -> TrainState:
        def dup(d: dict[str, Array]) -> dict[str, Array]:
            return {k: v.copy() for k, v in d.items()}

        return TrainState(
            self.arch,
            self.eps,
            dup(self.params),
            dup(self.stats),
            dup(self.adam_m),
            dup(self.adam_v),
            self.step,
        )

    def with_classes(self, n_classes: int, seed: int = 0) -> TrainState:
        """A copy with the output block widened to ``n_classes`` (e.g. a new "garbage" class):
        new rows get fresh random latent weights and the mean output bias; the rest is kept."""
        if n_classes < self.n_classes:
            raise TrainError(f"cannot shrink {self.n_classes} classes to {n_classes}")
        state = self.copy()
        extra = n_classes - self.n_classes
        if extra == 0:
            return state
        rng = np.random.default_rng(seed)
        n_in = self.arch[-2]
        rows = _init_weights(rng, n_in, extra)
        c = state.params["c_out"]
        state.params["w_out"] = np.vstack([state.params["w_out"], rows])
        state.params["c_out"] = np.concatenate([c, np.full(extra, c.mean() if c.size else 0.0)])
        for moments in (state.adam_m, state.adam_v):
            moments["w_out"] = np.vstack([moments["w_out"], np.zeros((extra, n_in))])
            moments["c_out"] = np.concatenate([moments["c_out"], np.zeros(extra)])
        state.arch = (*self.arch[:-1], n_classes)
        return state

    def to_model(
        self,
        *,
        name: str | None = None,
        input_shape: tuple[int, ...] | None = None,
        class_names: Sequence[str] | None = None,
    ) -> BnnModel:
        """The inference network: sign of the latent weights, running batch-norm statistics,
        output bias c / t; float64 arithmetic, the training's eps."""
        blocks = []
        for k in range(1, self.n_hidden_layers + 1):
            w = self.params[f"w{k}"]
            bn = BatchNorm(
                gamma=frozen(self.params[f"gamma{k}"], np.float64),
                beta=frozen(self.params[f"beta{k}"], np.float64),
                mean=frozen(self.stats[f"mean{k}"], np.float64),
                var=frozen(self.stats[f"var{k}"], np.float64),
                eps=float(self.eps),
            )
            bias = frozen(np.zeros(w.shape[0]), np.float64)
            blocks.append(InnerBlock(f"h{k}", ternary(_sign(w)), bias, bn))
        t = float(np.exp(self.params["log_t"][0]))
        output = OutputBlock(
            "out",
            ternary(_sign(self.params["w_out"])),
            frozen(self.params["c_out"] / t, np.float64),
        )
        model = BnnModel(
            name=name or "bnn_" + "_".join(map(str, self.arch)),
            input_shape=input_shape or (self.arch[0],),
            blocks=tuple(blocks),
            output=output,
            class_names=tuple(class_names) if class_names is not None else None,
        )
        model.verify()
        return model


def _sign(x: Array) -> NDArray[np.int8]:
    return np.where(x >= 0, 1, -1).astype(np.int8)


def _init_weights(rng: np.random.Generator, n_in: int, n_out: int) -> Array:
    """Glorot-uniform latent weights (well inside [−1, 1], so that signs can flip early)."""
    limit = float(np.sqrt(6.0 / (n_in + n_out)))
    return rng.uniform(-limit, limit, size=(n_out, n_in))


def init_state(arch: Sequence[int], *, seed: int = 0, eps: float = 1e-5) -> TrainState:
    """A fresh network for ``arch`` (inputs, hidden widths…, classes)."""
    widths = tuple(int(w) for w in arch)
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise TrainError(f"architecture {widths}: need inputs and classes, every width ≥ 1")
    rng = np.random.default_rng(seed)
    params: dict[str, Array] = {}
    stats: dict[str, Array] = {}
    for k in range(1, len(widths) - 1):
        n_in, n_out = widths[k - 1], widths[k]
        params[f"w{k}"] = _init_weights(rng, n_in, n_out)
        params[f"gamma{k}"] = np.ones(n_out)
        params[f"beta{k}"] = np.zeros(n_out)
        stats[f"mean{k}"] = np.zeros(n_out)
        stats[f"var{k}"] = np.full(n_out, float(n_in))  # the variance of a ±1 sum of n_in terms
    params["w_out"] = _init_weights(rng, widths[-2], widths[-1])
    params["c_out"] = np.zeros(widths[-1])
    params["log_t"] = np.array([-0.5 * np.log(widths[-2])])  # t = 1/sqrt(fan-in)
    zeros = {k: np.zeros_like(v) for k, v in params.items()}
    return TrainState(
        widths,
        float(eps),
        params,
        stats,
        zeros,
        {k: np.zeros_like(v) for k, v in params.items()},
    )


# --------------------------------------------------------------------------- progress, results


@dataclass(frozen=True)
class Progress:
    """Reported after every mini-batch.  ``loss`` and ``accuracy`` are running means over the
    epoch so far (training mode: batch statistics); on an epoch's last batch
    ``test_accuracy`` is the inference network's accuracy on the test data, if given.  With
    recalibration and test data, one more report for the last batch follows the training, with
    the final network's test accuracy."""

    epoch: int  # 1-based
    epochs: int
    batch: int  # 1-based
    batches: int
    loss: float
    accuracy: float
    test_accuracy: float | None = None


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    loss: float
    train_accuracy: float  # running, in training mode
    test_accuracy: float | None
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    model: BnnModel
    state: TrainState
    history: tuple[EpochRecord, ...] = field(default=())
    seconds: float = 0.0


def accuracy(model: BnnModel, bits: NDArray[np.bool_], labels: NDArray[np.integer]) -> float:
    """The share of inputs that the model's reference inference labels correctly."""
    if len(labels) == 0:
        return float("nan")
    return float(np.mean(predict(model, bits) == np.asarray(labels)))


# --------------------------------------------------------------------------- the training loop


def _check_data(
    arch: tuple[int, ...], bits: NDArray[np.bool_], labels: NDArray[np.integer]
) -> None:
    if bits.ndim != 2 or bits.shape[1] != arch[0]:
        raise TrainError(
            f"the architecture takes {arch[0]} inputs, the data have shape {tuple(bits.shape)}"
        )
    if labels.shape != (bits.shape[0],):
        raise TrainError(f"{bits.shape[0]} inputs but {labels.size} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= arch[-1]):
        raise TrainError(
            f"labels must lie in 0..{arch[-1] - 1} (the architecture has {arch[-1]} classes), "
            f"found {int(labels.min())}..{int(labels.max())}"
        )


def train(
    bits: NDArray[np.bool_],
    labels: NDArray[np.integer],
    arch: Sequence[int] | None = None,
    *,
    config: TrainConfig | None = None,
    state: TrainState | None = None,
    test: tuple[NDArray[np.bool_], NDArray[np.integer]] | None = None,
    progress: ProgressFn | None = None,
    input_shape: tuple[int, ...] | None = None,
    class_names: Sequence[str] | None = None,
    name: str | None = None,
) -> TrainResult:
    """Train on ``bits`` (n × inputs, True = +1) and ``labels`` (0..classes−1).

    Either ``arch`` (a fresh network, seeded by ``config.seed``) or ``state`` (continue from a
    previous run: latent weights, statistics and Adam moments are kept; if ``arch`` is given
    too and has more classes, the output block is widened with :meth:`TrainState.with_classes`).
    The training data may contain any extra samples, e.g. labelled with a new "garbage" class.
    """
    config = config or TrainConfig()
    config.check()
    if state is None:
        if arch is None:
            raise TrainError("give an architecture or a state to continue from")
        state = init_state(arch, seed=config.seed, eps=config.eps)
    else:
        state = state.copy()
        if arch is not None:
            wanted = tuple(int(w) for w in arch)
            if wanted[:-1] != state.arch[:-1]:
                raise TrainError(
                    f"cannot continue a {'-'.join(map(str, state.arch))} network as "
                    f"{'-'.join(map(str, wanted))}: only the class count may grow"
                )
            state = state.with_classes(wanted[-1], seed=config.seed)
    x_all = np.asarray(bits, dtype=bool)
    y_all = np.asarray(labels, dtype=np.int64)
    _check_data(state.arch, x_all, y_all)
    if test is not None:
        _check_data(state.arch, np.asarray(test[0], dtype=bool), np.asarray(test[1]))

    def model_now() -> BnnModel:
        return state.to_model(name=name, input_shape=input_shape, class_names=class_names)

    rng = np.random.default_rng([config.seed, state.step])  # continued runs draw fresh orders
    n = len(y_all)
    if n < 2 and config.epochs:
        raise TrainError(f"training needs at least 2 samples (batch norm), got {n}")
    signs = np.where(x_all, 1.0, -1.0)
    # n // batch_size batches of near-equal size (never smaller than batch_size, or n)
    batches = max(1, n // config.batch_size)
    total_steps = config.epochs * batches
    history: list[EpochRecord] = []
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        test_acc: float | None = None
        for b, index in enumerate(np.array_split(rng.permutation(n), batches)):
            done = (epoch - 1) * batches + b
            lr = config.lr * (1.0 - (1.0 - config.final_lr) * done / max(1, total_steps - 1))
            loss, hits = _step(state, signs[index], y_all[index], lr, config.momentum)
            loss_sum += loss * index.size
            correct += hits
            seen += index.size
            if b == batches - 1 and test is not None:
                test_acc = accuracy(model_now(), test[0], np.asarray(test[1]))
            if progress is not None:
                progress(
                    Progress(
                        epoch,
                        config.epochs,
                        b + 1,
                        batches,
                        loss_sum / seen,
                        correct / seen,
                        test_acc,
                    )
                )
        history.append(
            EpochRecord(
                epoch, loss_sum / seen, correct / seen, test_acc, time.perf_counter() - epoch_start
            )
        )
    if config.recalibrate and config.epochs:
        recalibrate(state, x_all)
        if history and test is not None:
            last = history[-1]
            test_acc = accuracy(model_now(), test[0], np.asarray(test[1]))
            history[-1] = EpochRecord(
                last.epoch, last.loss, last.train_accuracy, test_acc, last.seconds
            )
            if progress is not None:  # the final network's accuracy, as the last report
                progress(
                    Progress(
                        last.epoch,
                        config.epochs,
                        batches,
                        batches,
                        last.loss,
                        last.train_accuracy,
                        test_acc,
                    )
                )
    return TrainResult(model_now(), state, tuple(history), time.perf_counter() - start)


def recalibrate(state: TrainState, bits: NDArray[np.bool_]) -> None:
    """Set every block's batch-norm statistics to the mean and unbiased variance of its
    pre-activation over ``bits``, in inference mode, first block first (in place)."""
    a = np.where(np.asarray(bits, dtype=bool), 1.0, -1.0)
    if len(a) < 2:
        raise TrainError("recalibration needs at least 2 samples")
    p = state.params
    for k in range(1, state.n_hidden_layers + 1):
        pre = a @ np.where(p[f"w{k}"] >= 0, 1.0, -1.0).T
        mean, var = pre.mean(axis=0), pre.var(axis=0, ddof=1)
        state.stats[f"mean{k}"], state.stats[f"var{k}"] = mean, var
        z = (pre - mean) / np.sqrt(var + state.eps) * p[f"gamma{k}"] + p[f"beta{k}"]
        a = np.where(z >= 0, 1.0, -1.0)


def _step(
    state: TrainState, x: Array, y: NDArray[np.int64], lr: float, momentum: float
) -> tuple[float, int]:
    """One mini-batch: forward with batch statistics, backward (STE), Adam; returns the mean
    loss and the number of correct labels (before the update)."""
    p = state.params
    eps = state.eps
    m = x.shape[0]
    caches = []
    a = x
    for k in range(1, state.n_hidden_layers + 1):
        wb = np.where(p[f"w{k}"] >= 0, 1.0, -1.0)
        pre = a @ wb.T
        mu = pre.mean(axis=0)
        var = pre.var(axis=0)
        inv = 1.0 / np.sqrt(var + eps)
        xhat = (pre - mu) * inv
        z = p[f"gamma{k}"] * xhat + p[f"beta{k}"]
        caches.append((a, wb, xhat, inv, z))
        stats_mean, stats_var = state.stats[f"mean{k}"], state.stats[f"var{k}"]
        stats_mean *= 1.0 - momentum
        stats_mean += momentum * mu
        stats_var *= 1.0 - momentum
        stats_var += momentum * var * (m / (m - 1))
        a = np.where(z >= 0, 1.0, -1.0)
    wb_out = np.where(p["w_out"] >= 0, 1.0, -1.0)
    t = float(np.exp(p["log_t"][0]))
    raw = a @ wb_out.T
    scores = t * raw + p["c_out"]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_p = shifted - log_z
    loss = float(-log_p[np.arange(m), y].mean())
    hits = int(np.count_nonzero(scores.argmax(axis=1) == y))

    grads: dict[str, Array] = {}
    d_scores = np.exp(log_p)
    d_scores[np.arange(m), y] -= 1.0
    d_scores /= m
    grads["c_out"] = d_scores.sum(axis=0)
    grads["log_t"] = np.array([float((d_scores * raw).sum()) * t])
    grads["w_out"] = t * (d_scores.T @ a)
    d_a = t * (d_scores @ wb_out)
    for k in range(state.n_hidden_layers, 0, -1):
        a_prev, wb, xhat, inv, z = caches[k - 1]
        d_z = d_a * (np.abs(z) <= 1.0)  # straight-through estimator of sign
        grads[f"gamma{k}"] = (d_z * xhat).sum(axis=0)
        grads[f"beta{k}"] = d_z.sum(axis=0)
        d_xhat = d_z * p[f"gamma{k}"]
        d_pre = inv * (d_xhat - d_xhat.mean(axis=0) - xhat * (d_xhat * xhat).mean(axis=0))
        grads[f"w{k}"] = d_pre.T @ a_prev
        if k > 1:
            d_a = d_pre @ wb

    state.step += 1
    _adam(state, grads, lr)
    return loss, hits


_BETA1, _BETA2, _ADAM_EPS = 0.9, 0.999, 1e-8


def _adam(state: TrainState, grads: dict[str, Array], lr: float) -> None:
    step = state.step
    correction = np.sqrt(1.0 - _BETA2**step) / (1.0 - _BETA1**step)
    for key, grad in grads.items():
        m, v = state.adam_m[key], state.adam_v[key]
        m *= _BETA1
        m += (1.0 - _BETA1) * grad
        v *= _BETA2
        v += (1.0 - _BETA2) * grad * grad
        param = state.params[key]
        param -= lr * correction * m / (np.sqrt(v) + _ADAM_EPS)
        if key.startswith("w"):
            np.clip(param, -1.0, 1.0, out=param)
