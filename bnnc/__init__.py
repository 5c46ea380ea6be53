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
from bnnc.api import *  # noqa: F403 (the API is bnnc's namespace: bnnc.compile, bnnc.query, …)
from bnnc.api import __all__ as _api_names

__all__ = ["__version__", *_api_names]
