"""The pass pipeline: BNN → MILP → ILP → cardinality → CNF, each stage kept and timed.

Each pass is run by :func:`_run`, which verifies its input and output and re-raises any
failure with the pass's name in its message (onnx-ir style), keeping the error's type.
"""

from __future__ import annotations

import copy
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, TypeVar

from bnnc.encodings import DEFAULT_ENCODING, encoder
from bnnc.errors import BnncError, EncodingLimitError, UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.card import CardModel
from bnnc.ir.cnf import CnfFormula
from bnnc.ir.domain import order_clauses
from bnnc.ir.ilp import IlpModel
from bnnc.ir.milp import MilpModel
from bnnc.ir.region import Region
from bnnc.passes.lower_bnn_to_milp import lower_bnn_to_milp
from bnnc.passes.lower_card_to_cnf import lower_card_to_cnf
from bnnc.passes.lower_ilp_to_card import lower_ilp_to_card
from bnnc.passes.lower_milp_to_ilp import lower_bnn_to_ilp
from bnnc.passes.specialise import Specialisation, specialise

Stage = Literal["bnn", "milp", "ilp", "spec", "card", "cnf"]
STAGES: tuple[Stage, ...] = ("bnn", "milp", "ilp", "spec", "card", "cnf")
"""``spec`` is the ILP specialised to a region (the identity when there is none)."""


class _Verifiable(Protocol):
    def verify(self) -> None: ...


In = TypeVar("In", bound=_Verifiable)
Out = TypeVar("Out", bound=_Verifiable)


@dataclass
class Compilation:
    """Every stage a compilation produced (``None`` for stages it started after or stopped
    before; the MILP only when it is the last stage asked for, ``--emit milp``, since the ILP
    pass reads the model's arithmetic directly) and the wall time of each pass in seconds."""

    source: BnnModel | IlpModel
    encoding: str
    milp: MilpModel | None = None
    ilp: IlpModel | None = None
    spec: Specialisation | None = None  # with a region: the ILP specialised to it
    card: CardModel | None = None
    cnf: CnfFormula | None = None
    timings: dict[str, float] = field(default_factory=dict)
    pending: Callable[[], None] | None = None  # lazy: builds card and cnf on first use

    def force(self) -> None:
        """Run the stages a lazy compilation left for later."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending()

    @property
    def formula(self) -> CnfFormula:
        self.force()
        if self.cnf is None:
            raise BnncError("this compilation stopped before the CNF stage")
        return self.cnf

    def stats(self) -> dict[str, Any]:
        self.force()
        cnf = self.cnf
        return {
            "model": self.source.name,
            "encoding": self.encoding,
            "inputs": self.source.n_inputs,
            "classes": self.source.n_classes,
            "variables": cnf.num_vars if cnf else None,
            "clauses": len(cnf.clauses) if cnf else None,
            "specialisation": self.spec.to_json() if self.spec else None,
            "seconds": {name: round(t, 6) for name, t in self.timings.items()},
        }

    @property
    def lowered(self) -> IlpModel | None:
        """The ILP the later stages were built from: specialised when there is a region."""
        return self.spec.ilp if self.spec is not None else self.ilp


def _run(name: str, fn: Callable[[In], Out], arg: In, timings: dict[str, float]) -> Out:
    start = time.perf_counter()
    try:
        arg.verify()
        result = fn(arg)
        result.verify()
    except BnncError as err:
        # The same type of error (and exit code), so that callers can still catch e.g.
        # EncodingLimitError, naming the pass so that a broken invariant names its culprit;
        # chained to the original, which is left as it was.
        if err.message.startswith("in pass "):
            raise
        named = copy.copy(err)
        named.message = f"in pass {name}: {err.message}"
        raise named from err
    timings[name] = time.perf_counter() - start
    return result


def model_hash(ilp: IlpModel) -> str:
    """sha256 of the model's integer form: equal for every text that compiles to the same ILP."""
    digest = hashlib.sha256()
    digest.update(repr((ilp.name, ilp.input_shape, ilp.class_names)).encode())
    for layer in ilp.layers:
        digest.update(layer.name.encode())
        digest.update(layer.weights.tobytes())
        digest.update(layer.thresholds.astype("<i8").tobytes())
    digest.update(ilp.output.name.encode())
    digest.update(ilp.output.weights.tobytes())
    digest.update(ilp.output.beats.astype("<i8").tobytes())
    for staircase in ilp.output.staircases:  # absent for most models: their hash is unchanged
        digest.update(repr((staircase.above, staircase.below, staircase.steps)).encode())
    return digest.hexdigest()


# Compiling keeps every stage: measured at about 800 bytes per non-zero weight (peak RSS of
# `bnnc MODEL -o OUT`: random 100-1000-10 108 MB, 100-4000-10 333 MB; 20,000 neurons on 784
# inputs would need ~12 GB).  A model past the limit is refused
# before the first pass allocates anything; BNNC_MAX_MEMORY (in GiB) moves the limit.
BYTES_PER_WEIGHT = 800
DEFAULT_MAX_MEMORY_GIB = 4.0


def memory_estimate(model: BnnModel | IlpModel) -> int:
    """Bytes compiling ``model`` needs, roughly: per non-zero weight of every layer."""
    layers = model.blocks if isinstance(model, BnnModel) else model.layers
    weights = sum(int((layer.weights != 0).sum()) for layer in layers)
    out = model.output
    weights += out.n_classes * out.n_in
    return BYTES_PER_WEIGHT * weights


def check_memory(model: BnnModel | IlpModel) -> None:
    """Raise :class:`EncodingLimitError` if compiling ``model`` needs more than the limit."""
    try:
        limit_gib = float(os.environ.get("BNNC_MAX_MEMORY", DEFAULT_MAX_MEMORY_GIB))
    except ValueError:
        limit_gib = DEFAULT_MAX_MEMORY_GIB
    need = memory_estimate(model)
    if need > limit_gib * 2**30:
        raise EncodingLimitError(
            f"compiling model {model.name!r} needs about {need / 2**30:.2f} GiB "
            f"({BYTES_PER_WEIGHT} bytes per non-zero weight); the limit is {limit_gib:g} GiB "
            "(set BNNC_MAX_MEMORY, in GiB, to raise it)"
        )


def compile_model(
    model: BnnModel | IlpModel,
    encoding: str = DEFAULT_ENCODING,
    *,
    until: Stage = "cnf",
    region: Region | None = None,
    lazy: bool = False,
) -> Compilation:
    """Lower ``model`` stage by stage up to ``until``.

    ``lazy``: the card and CNF stages run on first use of ``Compilation.formula`` (a query
    that tabulation or the pattern search answers never pays for its CNF: 0.3 s on TFC-w1a1
    at 8 flips).

    With a ``region`` (other than the whole input space), the ILP is specialised to it
    (``bnnc.passes.specialise``): the formula is then exact on the region's inputs only, and
    records the region, whose clauses every use of it adds (``CnfFormula.region``).
    """
    encoder(encoding)  # an unknown name is a UsageError before any work
    result = Compilation(source=model, encoding=encoding)
    stop = STAGES.index(until)
    if stop >= 1:
        check_memory(model)
    if isinstance(model, BnnModel):
        if stop == 1:  # only --emit milp prints it; the ILP pass reads the model itself
            result.milp = _run("lower_bnn_to_milp", lower_bnn_to_milp, model, result.timings)
        if stop >= 2:
            result.ilp = _run("lower_bnn_to_ilp", lower_bnn_to_ilp, model, result.timings)
    else:
        if until in ("bnn", "milp"):
            raise BnncError(
                f"model {model.name!r} is already in the lowered (ILP) form; "
                f"it has no {until} stage"
            )
        model.verify()
        result.ilp = model
    if stop >= 3 and region is not None and not region.is_everything:
        assert result.ilp is not None
        if region.n_inputs != result.ilp.n_inputs:
            raise UsageError(
                f"the region is over {region.n_inputs} input bits, the model has "
                f"{result.ilp.n_inputs}",
                parameter="region",
            )

        def to_region(ilp: IlpModel) -> Specialisation:
            return specialise(ilp, region)

        result.spec = _run("specialise", to_region, result.ilp, result.timings)

    def rest() -> None:
        """The card and CNF stages (run now, or on first use of ``formula`` when lazy)."""
        lowered = result.lowered
        if stop >= 4:
            assert lowered is not None
            result.card = _run("lower_ilp_to_card", lower_ilp_to_card, lowered, result.timings)
        if stop >= 5:
            assert result.card is not None and result.ilp is not None
            digest = model_hash(result.ilp)  # the model's, not the specialised form's
            spec_region = result.spec.region if result.spec is not None else None

            unary = model.order_encoded if isinstance(model, BnnModel) else 0

            def to_cnf(card: CardModel) -> CnfFormula:
                formula = lower_card_to_cnf(card, encoding, digest)
                if unary:  # integer inputs: one assignment per value (parsimony)
                    formula.clauses.extend(order_clauses(card.layout.n_inputs // unary, unary))
                    formula = replace(formula, order_encoded=unary)
                if spec_region is None:
                    return formula
                return replace(formula, region=spec_region)

            result.cnf = _run("lower_card_to_cnf", to_cnf, result.card, result.timings)

    if lazy and stop >= 4:
        result.pending = rest
    else:
        rest()
    return result
