"""The engines bnnc knows, by name.

Adding a backend takes one new module and one line here: the module (``bnnc/engines/NAME.py``)
defines a class that implements a protocol of :mod:`bnnc.engines.base` (:class:`Decider`,
:class:`Sampler` or :class:`Counter`), makes its instances without arguments, imports its solver
library inside its methods, and says in its docstring whether it honours ``time_limit``; the
line maps the name to ``"module:Class"`` in the table of its kind below.  Nothing else changes:
``check_sat(solver=...)``, ``sample(sampler=...)`` and ``count(method=...)`` look the name up
here, and the conformance tests in ``tests/engines/`` run every registered backend.

The tables hold import paths, not classes, and a backend's module is imported only when its
name is looked up: ``import bnnc`` loads no backend module, whatever a backend imports.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from typing import Final

from bnnc.engines.base import Counter, Decider, NativeDecider, Sampler
from bnnc.errors import InternalError, UsageError

DECIDERS: Final[Mapping[str, str]] = {
    "cadical": "bnnc.engines.cadical:CaDiCaL",
}
NATIVE_DECIDERS: Final[Mapping[str, str]] = {
    # Solvers on the ILP stage as pseudo-Boolean constraints (bnnc.engines.pb), each an
    # optional extra: the value is "module:Class", then the PyPI package it needs.
    "exact": "bnnc.engines.exact:Exact",
    "cpsat": "bnnc.engines.cpsat:CpSat",
}
NATIVE_PACKAGES: Final[Mapping[str, str]] = {"exact": "exact", "cpsat": "ortools"}
AUTO_SOLVERS: Final[tuple[str, ...]] = ("exact", "cadical")
"""What ``solver="auto"`` picks: the first of these that is installed.  Measured on TFC-w1a1
robustness queries (``bench/solvers.py``, README "Solvers"): Exact decides the most queries
within a time limit and is the fastest at every K; CaDiCaL is always installed."""
SOLVERS: Final[tuple[str, ...]] = ("auto", *DECIDERS, *NATIVE_DECIDERS)
"""Every name ``check_sat(solver=...)`` and ``--solver`` take."""

SAMPLERS: Final[Mapping[str, str]] = {
    "cmsgen": "bnnc.engines.cmsgen:CMSGen",
    "unigen": "bnnc.engines.unigen:UniGen",
}
COUNTERS: Final[Mapping[str, str]] = {
    "ganak": "bnnc.engines.ganak:Ganak",
    "approxmc": "bnnc.engines.approxmc:ApproxMC",
    "enumerate": "bnnc.engines.bruteforce:Enumeration",
    # d4: deterministic exact, an optional extra (bnnc[d4]); bench/knowledge_compilation.py.
    "d4": "bnnc.engines.d4:D4",
}


def choices(names: Mapping[str, str] | list[str]) -> str:
    """``a, b or c``: the names, for an error message."""
    listed = sorted(names)
    return listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} or {listed[-1]}"


def decider(name: str, *, parameter: str = "solver") -> Decider:
    """The decider registered as ``name`` (UsageError naming ``parameter`` if there is none)."""
    backend = _make(DECIDERS, name, "solver", parameter)
    if not isinstance(backend, Decider):
        raise _not_a(name, DECIDERS[name], "Decider")
    return backend


def installed(name: str) -> bool:
    """Whether the package a native decider needs is importable (CNF deciders always are)."""
    package = NATIVE_PACKAGES.get(name)
    if package is None:
        return True
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # ValueError: a None entry in sys.modules (blocked)
        return False


def resolve_solver(name: str, *, parameter: str = "solver") -> str:
    """The decider ``name`` stands for: ``auto`` is the first of :data:`AUTO_SOLVERS` that is
    installed; an unknown name is a UsageError naming ``parameter``."""
    if name == "auto":
        return next(solver for solver in AUTO_SOLVERS if installed(solver))
    if name not in DECIDERS and name not in NATIVE_DECIDERS:
        raise UsageError(
            f"unknown solver {name!r}; choose {choices(list(SOLVERS))}", parameter=parameter
        )
    return name


def is_native(name: str) -> bool:
    """Whether the (resolved) solver ``name`` works on the ILP stage rather than the CNF."""
    return name in NATIVE_DECIDERS


def native_decider(name: str, *, parameter: str = "solver") -> NativeDecider:
    """The native decider registered as ``name`` (UsageError naming ``parameter`` if none)."""
    backend = _make(NATIVE_DECIDERS, name, "solver", parameter)
    if not installed(name):  # before any work, not when the solver is first called
        raise UsageError(
            f"the solver {name!r} needs the Python package {NATIVE_PACKAGES[name]!r}: "
            f"pip install 'bnnc[{name}]'",
            parameter=parameter,
        )
    if not isinstance(backend, NativeDecider):
        raise _not_a(name, NATIVE_DECIDERS[name], "NativeDecider")
    return backend


def sampler(name: str, *, parameter: str = "sampler") -> Sampler:
    """The sampler registered as ``name`` (UsageError naming ``parameter`` if there is none)."""
    backend = _make(SAMPLERS, name, "sampler", parameter)
    if not isinstance(backend, Sampler):
        raise _not_a(name, SAMPLERS[name], "Sampler")
    return backend


def counter(name: str, *, parameter: str = "counter") -> Counter:
    """The counter registered as ``name`` (UsageError naming ``parameter`` if there is none)."""
    backend = _make(COUNTERS, name, "counter", parameter)
    if not isinstance(backend, Counter):
        raise _not_a(name, COUNTERS[name], "Counter")
    return backend


def _make(table: Mapping[str, str], name: str, kind: str, parameter: str) -> object:
    if name not in table:
        raise UsageError(f"unknown {kind} {name!r}; choose {choices(table)}", parameter=parameter)
    module, _, attribute = table[name].partition(":")
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != module:
            raise  # a library the backend needs is not installed: not a bnnc bug
        raise _unloadable(kind, name, table[name]) from error
    factory = getattr(loaded, attribute, None)
    if factory is None:
        raise _unloadable(kind, name, table[name])
    return factory()


def _unloadable(kind: str, name: str, path: str) -> InternalError:
    # A registry line pointing nowhere is a bnnc bug, not the user's.
    return InternalError(
        f"the {kind} {name!r} is registered as {path!r}, which does not exist "
        "(please report this as a bnnc bug)"
    )


def _not_a(name: str, path: str, protocol: str) -> InternalError:
    return InternalError(
        f"{path} (registered as {name!r}) does not implement the {protocol} protocol "
        "(please report this as a bnnc bug)"
    )
