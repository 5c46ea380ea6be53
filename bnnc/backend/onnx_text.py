"""ONNX → bnnc's text language (``bnnc MODEL.onnx --emit bnn``), exactly.

The text must compile to the same integer model (ILP thresholds and argmax tables) as the ONNX
model.  bnnc first takes the blocks read back in the trained form (``BnnModel.trained_form``,
which the ONNX frontend fills: the graph's own bias and batch norm, or the tail's merged scale
and shift as one batch norm) and keeps, for each block, the first candidate whose thresholds in
bnnc's float32 reference arithmetic equal the model's; the printed text is then parsed and
compiled once more and compared whole (:func:`bnnc.passes.pipeline.model_hash`).  When some
block has no trained form, or none that agrees, the model is printed in the lowered form
(``threshold`` and ``argmax`` blocks, as ``--emit ilp`` prints it), with a leading comment that
says why.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from bnnc.backend.text import print_bnn, print_ilp
from bnnc.errors import BnncError
from bnnc.frontend.text import parse_text
from bnnc.ir.bnn import BnnModel, InnerBlock, OutputBlock, TrainedForm
from bnnc.ir.ilp import IlpModel
from bnnc.passes.pipeline import compile_model, model_hash

__all__ = ["print_onnx_model"]

_CONDITION = re.compile(r"^\S+?\[[\d,]+\] (?P<test>(?:>=|<=) \S+)$")


def print_onnx_model(model: BnnModel) -> str:
    """``model`` (read from ONNX) in bnnc's text language; see the module docstring."""
    reference = _lower(model)
    form = model.trained_form
    if form is None:
        reason = "its blocks are defined by their framework's arithmetic, with no parameters"
    else:
        chosen, reason = _choose(model, form, reference)
        if chosen is not None:
            text = print_bnn(chosen)
            parsed = parse_text(text, f"<{form.source} as text>")
            if isinstance(parsed, BnnModel) and model_hash(_lower(parsed)) == model_hash(reference):
                return _comments(model, form, "trained form read back from") + text
            reason = "the printed trained form did not read back to the same thresholds"
    source = form.source if form is not None else model.name
    lines = [
        f"# bnnc: {source} in the lowered form, which is exact; no trained form: {reason}.",
        *_input_comment(model),
    ]
    return "\n".join(lines) + "\n" + print_ilp(reference)


def _lower(model: BnnModel) -> IlpModel:
    ilp = compile_model(model, until="ilp").ilp
    assert ilp is not None
    return ilp


def _choose(model: BnnModel, form: TrainedForm, reference: IlpModel) -> tuple[BnnModel | None, str]:
    """Per block, the first candidate whose integer layer equals the reference's (each layer
    depends only on the ones before it, so the choice is greedy)."""
    if form.missing:
        return None, form.missing
    if len(form.inner) != len(reference.layers) or not form.output:
        return None, "its blocks could not all be read back"
    rest = [options[0] for options in form.inner]
    chosen: list[InnerBlock] = []
    for k, options in enumerate(form.inner):
        for option in options:
            trial = _trial(model, [*chosen, option, *rest[k + 1 :]], form.output[0])
            if trial is not None and _same_layer(trial, reference, k):
                chosen.append(option)
                break
        else:
            name = reference.layers[k].name
            return None, (
                f"no parameters read back for block {name} give the model's integer thresholds "
                "in bnnc's float32 reference arithmetic (the model's engine computes its tail "
                "differently)"
            )
    for output in form.output:
        trial = _trial(model, chosen, output)
        if trial is not None and _same_output(trial, reference):
            return replace(
                model,
                blocks=tuple(chosen),
                output=output,
                arithmetic="float32",
                input_conditions=None,
                framework_predict=None,
            ), ""
    return None, (
        "the output scores read back as argmax(A x + b) rank some classes differently from the "
        "model in bnnc's float32 reference arithmetic"
    )


def _trial(model: BnnModel, blocks: list[InnerBlock], output: OutputBlock) -> IlpModel | None:
    candidate = BnnModel(
        model.name, model.input_shape, tuple(blocks), output, model.class_names, "float32"
    )
    try:
        return _lower(candidate)
    except BnncError:  # e.g. a candidate whose activation is not monotone
        return None


def _same_layer(trial: IlpModel, reference: IlpModel, k: int) -> bool:
    a, b = trial.layers[k], reference.layers[k]
    return (
        a.name == b.name
        and np.array_equal(a.weights, b.weights)
        and np.array_equal(a.thresholds, b.thresholds)
    )


def _same_output(trial: IlpModel, reference: IlpModel) -> bool:
    a, b = trial.output, reference.output
    upper = np.triu(np.ones(a.beats.shape, dtype=bool), 1)
    return (
        a.name == b.name
        and np.array_equal(a.weights, b.weights)
        and np.array_equal(a.beats[upper], b.beats[upper])
    )


def _comments(model: BnnModel, form: TrainedForm, what: str) -> str:
    lines = [
        f"# bnnc: {what} {form.source}; checked: it compiles to the same integer thresholds "
        "as the ONNX model.",
        *_input_comment(model),
    ]
    return "\n".join(lines) + "\n"


def _input_comment(model: BnnModel) -> list[str]:
    """What an input bit means on the ONNX model's input, when it is the same for every bit."""
    conditions = model.input_conditions or ()
    tests = {m["test"] if (m := _CONDITION.match(c)) else c for c in conditions}
    if len(tests) == 1 and conditions:
        first = conditions[0].split("[", 1)[0]
        return [
            f"# an input bit is +1 when its element of the ONNX input {first!r} is {tests.pop()}"
        ]
    if conditions:
        return ["# input bits: see the variable map (--map) for each bit's condition on the input"]
    return []
