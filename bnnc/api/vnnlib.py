"""``bnnc vnnlib``: decide a VNN-LIB property on an ONNX BNN and write the VNN-COMP result."""

from __future__ import annotations

import time
from pathlib import Path

from bnnc.engines.vnnlib import VnnResult, decide_vnnlib
from bnnc.errors import ModelError
from bnnc.frontend.vnnlib import read_vnnlib
from bnnc.ir.bnn import BnnModel
from bnnc.ir.domain import parse_input_domain

__all__ = ["VnnResult", "format_vnnlib_result", "vnnlib"]


def vnnlib(
    model_path: str | Path,
    property_path: str | Path,
    *,
    time_limit: float | None = None,
    input_domain: str | None = None,
    encoding: str = "auto",
) -> VnnResult:
    """Decide the property in ``property_path`` (VNN-LIB) on the ONNX model: ``sat`` with a
    counterexample the model itself confirms, ``unsat``, ``timeout`` or ``unknown`` (the model
    is not one bnnc can compile exactly, e.g. its first layer reads real inputs)."""
    start = time.perf_counter()
    prop = read_vnnlib(property_path)  # a property outside the subset is an error, first
    domain = parse_input_domain(input_domain)
    # Read anew (not from the cache): the score bands need the graph.
    from bnnc.frontend.onnx.exactness import score_bands
    from bnnc.frontend.onnx.patterns import read

    try:
        reading = read(Path(model_path), domain, expand_int=True)
    except ModelError as err:
        if "--input-domain" not in err.message:
            raise
        # A first layer that reads the input values themselves: not exact as bits.
        return VnnResult("unknown", f"{err.where}: {err.message}" if err.where else err.message)
    model = reading.model
    bands = None
    if model.output.oracle is not None:
        bands = score_bands(reading.source, reading.blocks[-1])
    assert isinstance(model, BnnModel)
    remaining = None if time_limit is None else time_limit - (time.perf_counter() - start)
    if remaining is not None and remaining <= 0:
        return VnnResult("timeout", "the time ran out while reading the model")
    result = decide_vnnlib(model, prop, timeout=remaining, encoding=encoding, bands=bands)
    return VnnResult(result.status, result.reason, result.x, result.y, time.perf_counter() - start)


def format_vnnlib_result(result: VnnResult) -> str:
    """The VNN-COMP result file: ``sat`` and ``((X_0 v) … (Y_0 v))``, or one word."""
    if result.status != "sat":
        return result.status + "\n"
    assert result.x is not None and result.y is not None
    pairs = [f"(X_{i} {float(v)!r})" for i, v in enumerate(result.x.tolist())]
    pairs += [f"(Y_{j} {float(v)!r})" for j, v in enumerate(result.y.tolist())]
    return "sat\n(" + "\n ".join(pairs) + ")\n"
