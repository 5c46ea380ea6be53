"""bnnc — compile binarised neural networks to exact, parsimonious CNF formulas.

The Python API has the same verbs as the command line; README.md ("Python API") has the tour
and docs/ the reference.  From the root of a checkout (this example is a doctest)::

    >>> import bnnc
    >>> model = bnnc.load("examples/tiny.bnn")            # .bnn text or .onnx
    >>> compiled = bnnc.compile(model, encoding="totalizer")
    >>> compiled.stats()["variables"], compiled.stats()["clauses"]
    (81, 264)
    >>> result = bnnc.check_sat(model, compiled, label=1)  # result.witness: input bits
    >>> result.satisfiable
    True
    >>> bnnc.infer(model, compiled, [0, 1, 0, 0, 1, 0, 0, 1, 0])  # inference through the formula
    1
    >>> bnnc.predict(model, [[0, 1, 0, 0, 1, 0, 0, 1, 0], [1] * 9])  # numpy reference inference
    array([1, 0])
    >>> bnnc.sample(model, compiled, label=1, n=100).samples.shape  # CMSGen, each one validated
    (100, 9)
    >>> bnnc.count(model, compiled, label=1).count  # Ganak, exact
    120
    >>> near = bnnc.Query(bnnc.Region.ball([0, 1, 0, 0, 1, 0, 0, 1, 0], 1), not_label=1)
    >>> bnnc.check_sat(model, compiled, query=near).satisfiable  # robust within one flip
    False

``bnnc.write_dimacs(compiled, "tiny.cnf", target_label=1)`` writes the formula as DIMACS.
"""

from __future__ import annotations

from bnnc._version import __version__
from bnnc.api import *  # noqa: F403 (the API is bnnc's namespace: bnnc.compile, bnnc.query, …)
from bnnc.api import __all__ as _api_names

__all__ = ["__version__", *_api_names]
