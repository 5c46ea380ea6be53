"""bnnc — compile binarised neural networks to exact, parsimonious CNF formulas.

The Python API has the same verbs as the command line::

    import bnnc
    model = bnnc.load("examples/tiny.bnn")
    compiled = bnnc.compile(model, encoding="totalizer")
    bnnc.write_dimacs(compiled, "tiny.cnf", target_label=1)
    result = bnnc.check_sat(model, compiled, label=1)    # result.witness: input bits
    samples = bnnc.sample(model, compiled, label=1, n=100).samples   # CMSGen, validated
    share = bnnc.count(model, compiled, label=1).share                # Ganak, exact
    near = bnnc.Query(bnnc.Region.ball(bits, 2), not_label=1)        # robustness queries
    label = bnnc.infer(model, compiled, bits)            # inference through the formula
    labels = bnnc.predict(model, batch_of_bits)          # numpy reference inference
"""

from __future__ import annotations

from bnnc._version import __version__
from bnnc.api import (
    Compilation,
    CountResult,
    Query,
    Region,
    SampleResult,
    SatResult,
    check_sat,
    compile,
    count,
    emit,
    infer,
    load,
    predict,
    sample,
    to_dimacs,
    variable_map,
    write_dimacs,
)

__all__ = [
    "Compilation",
    "CountResult",
    "Query",
    "Region",
    "SampleResult",
    "SatResult",
    "__version__",
    "check_sat",
    "compile",
    "count",
    "emit",
    "infer",
    "load",
    "predict",
    "sample",
    "to_dimacs",
    "variable_map",
    "write_dimacs",
]
