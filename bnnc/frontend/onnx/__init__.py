"""ONNX frontend: BNNs as Brevitas/QONNX, FINN, PyTorch and Larq export them.

The graph is read as a chain of *blocks*.  A block starts where a ``MatMul`` or ``Gemm`` reads
binarised values (±a) through a constant weight matrix whose rows are ±c multiples of a ternary
row, and continues through elementwise operators with constant operands (bias ``Add``,
``BatchNormalization``, ``Mul``/``Div``/``Sub``, ``Clip``, ``Sign``, ``BipolarQuant``, 1-bit
``Quant``, ``MultiThreshold``, ``GreaterOrEqual`` + ``Where``, …): its *tail*.  A block whose tail
feeds the next ``MatMul`` is an inner block; the last one is the output block, whose tail gives
the scores (an ``ArgMax``/``TopK`` after it is allowed; a tail that ends in a binarisation gets
an identity argmax over its ±1 outputs).

Operators are matched by ``op_type`` whatever their domain.  Constant sub-graphs (weight
quantisers, ``Transpose``, the ``Shape → Gather → Unsqueeze → Concat → Reshape`` flatten) are
folded from the static input shape.

Exactness: bnnc never re-implements a tail's arithmetic.  It cuts the tail out of the graph and
evaluates it in the model's own engine (``engine``) at every reachable integer pre-activation,
so the thresholds agree with the engine on every input.  The linear layer itself computes
gain·t + offset for the integer sum t = ⟨s, x⟩ of a ±1 row s (gain = α·a·c for activations ±a,
weights ±c and Gemm's α; offset = β·bias).  When gain is a power of two and the bias sits on a
fine enough grid, every partial sum is exact in float32, so the result is exactly
gain·t + offset whatever order the engine adds in.  Otherwise (e.g. PyTorch's dynamo exporter,
which merges batch norm into the weights, or a real-valued Gemm bias) the float32 result lies
within a rigorous bound of the real value for *every* summation order (Higham's γ_k bound, see
:func:`~bnnc.frontend.onnx.exactness.rounding_bound`); bnnc evaluates the tail at both ends of
that interval for every reachable t and compiles only if the tail's decision is the same at
both ends (the tail is monotone), refusing otherwise with a message that names the node.  The
input bits are the first binarisation of the model input; the preprocessing before it
(``Mul``, ``Sub``, ``Div``, a flatten) must be elementwise, and each bit's condition on the
original input element is found by bisection in the engine.

Weights may sit in an external data file next to the model (``model.onnx.data``).

The package follows the reading, one concern per module:

- ``load``: the file, its external data, its one input, the folded constants, graph slicing
  (:class:`~bnnc.frontend.onnx.load.OnnxSource`, frozen);
- ``patterns``: the walk that recognises the blocks, and the model assembled from them;
- ``tails``: a block's tail cut out of the graph and run in the model's engine;
- ``exactness``: exact float32 sums, the rounding bound, and the band checks;
- ``inputs``: the input bits, their scale and their conditions on the input;
- ``readback``: the blocks read back in bnnc's trained form, for ``--emit bnn``;
- ``engine``: onnxruntime, or onnx's reference evaluator with the custom operators;
- ``predict``: the model's own inference on the input a bit vector stands for;
- ``cache``: the models read before, stored in the user's cache directory (no onnx import).

The trained form.  ``--emit bnn`` prints an ONNX model in bnnc's text language from the
parameters it reads back from the graph (:class:`~bnnc.ir.bnn.TrainedForm`).  The model carries
them itself, in its ``trained_form`` field, read back at load time: a frozen value, excluded
from equality, that ``bnnc.backend.onnx_text`` reads given only the model.  Reading back costs
well under a millisecond, so no reader state (graph, engines, folded tensors) needs to outlive
the load, and a copy of the model (``dataclasses.replace``) keeps its trained form; the printer
still checks every candidate against the model's own thresholds, so a stale one is never
printed.

Warnings (a ``Sign`` whose reachable 0 bnnc reads as +1) are :class:`~bnnc.errors.BnncWarning`;
the CLI prints them as ``bnnc: warning: …``.
"""

from __future__ import annotations

from pathlib import Path

from bnnc.ir.bnn import BnnModel, TrainedForm
from bnnc.ir.domain import InputDomain, parse_input_domain

__all__ = ["TrainedForm", "load_onnx", "trained_form"]


def load_onnx(
    path: str | Path,
    *,
    cache: bool | None = None,
    input_domain: str | InputDomain | None = None,
    expand_int: bool = False,
) -> BnnModel:
    """Read a BNN from an ONNX file; see the package docstring for the patterns.

    A file read before comes from bnnc's cache (``cache``), without importing onnx; ``cache``
    False (or ``BNNC_NO_CACHE=1``) reads the file anew.  ``input_domain`` declares what the
    model's input takes (``pm1``, ``01``, ``int:LO..HI``, ``real``; see ``bnnc.ir.domain``).
    ``expand_int``: under ``int:LO..HI`` a first layer that reads the integers themselves is
    order-encoded (``bnnc.frontend.onnx.pixels``; such models are not cached).
    """
    # Nothing of the reader at import time: a cached load never imports onnx.
    from bnnc.frontend.onnx.cache import load_cached

    domain = parse_input_domain(input_domain)

    def read(file: Path) -> BnnModel:
        from bnnc.frontend.onnx.patterns import read

        return read(file, domain, expand_int=expand_int).model

    return load_cached(Path(path), read, cache=cache, variant=str(domain or ""))


def trained_form(model: BnnModel) -> TrainedForm | None:
    """The trained form read back from the graph of a model that :func:`load_onnx` returned
    (None for any other model)."""
    return model.trained_form
