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

from typing import TYPE_CHECKING, Any

from bnnc._version import __version__ as __version__

if TYPE_CHECKING:
    from bnnc.api import *  # noqa: F403 (the API is bnnc's namespace: bnnc.compile, bnnc.query, …)


def __getattr__(name: str) -> Any:
    """The API loads on first use (PEP 562): ``import bnnc`` costs nothing until then, so the
    ``bnnc`` script (bnnc._entry) has its signal handlers in place before numpy and onnx load."""
    import bnnc.api as api

    if name == "__all__":
        return ["__version__", *api.__all__]
    if name in api.__all__:
        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bnnc' has no attribute {name!r}")


def __dir__() -> list[str]:
    import bnnc.api as api

    return sorted({*globals(), *api.__all__})
