"""What bnnc asks of the outside world: one small protocol per kind of engine.

In the style of dd's ``_abc.py``: every backend of a kind implements the same interface, and
the orchestration modules (:mod:`~bnnc.engines.decide`, :mod:`~bnnc.engines.sample`,
:mod:`~bnnc.engines.count`) talk to that interface only, finding the backend by name in
:mod:`bnnc.engines.registry`.

* :class:`Decider`: is a CNF satisfiable?  SAT with a full assignment, UNSAT, or UNKNOWN when
  the time limit ran out first (:class:`Decision`).
* :class:`NativeDecider`: the same question on the ILP stage, posed as pseudo-Boolean
  constraints (:class:`~bnnc.engines.pb.PbProblem`) to a solver that reasons on linear
  constraints natively (Exact, CP-SAT); the same :class:`Decision`.
* :class:`Sampler`: draw models of a CNF, projected on some variables (:class:`Draws`).
* :class:`Counter`: the number of models projected on some variables, with the guarantee that
  number comes with (:class:`ModelCount`, :class:`Guarantee`).

Conventions shared by all of them.  Clauses are a collection of integer sequences in DIMACS
convention (a :class:`~bnnc.ir.clauses.ClauseStore` is one), over the variables
``1..num_vars``; a backend may read them more than once, so not a one-shot generator.  Every
call takes ``time_limit`` (seconds; None: no limit), also where the backend cannot honour it,
so that callers never need to know which one they got; each backend's docstring says whether
and how it honours it.  Backends are stateless and cheap to make: a solver library is imported
inside the call, never at module import (``import bnnc`` and compiling must not pay for them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import TimeLimitError as TimeLimitError  # re-exported: engines raise it
from bnnc.ir.clauses import ClauseStore

if TYPE_CHECKING:
    from bnnc.engines.pb import PbProblem

Clauses = Iterable[Sequence[int]]
OnSample = Callable[[int], None]  # called with the number drawn so far, after each draw


def mentioned(clauses: Clauses, num_vars: int) -> NDArray[np.bool_]:
    """``seen[v]``: whether variable v (1..num_vars) occurs in some clause (``seen[0]`` False).

    For backends whose library only knows the variables it was given clauses over: an input no
    neuron reads is in no clause, yet it is a variable of the formula, free to take either value.
    """
    seen = np.zeros(num_vars + 1, dtype=bool)
    if isinstance(clauses, ClauseStore):
        for block in clauses.blocks():  # numpy, not a Python loop over millions of literals
            seen[np.abs(block)] = True
    else:
        for clause in clauses:
            seen[[abs(lit) for lit in clause]] = True
    seen[0] = False  # the clause terminators of the blocks
    return seen


# --------------------------------------------------------------------------- deciding


class Answer(StrEnum):
    SAT = "SAT"
    UNSAT = "UNSAT"
    UNKNOWN = "UNKNOWN"  # the time limit ran out first


@dataclass(frozen=True)
class Decision:
    """A decider's answer; for SAT, ``values[v]`` is the value of variable v (``values[0]`` is
    unused; a variable the solver left out of its model, e.g. one in no clause, is False)."""

    answer: Answer
    values: NDArray[np.bool_] | None = None

    @property
    def satisfiable(self) -> bool | None:
        """True, False, or None when the time limit ran out."""
        return None if self.answer is Answer.UNKNOWN else self.answer is Answer.SAT


@runtime_checkable
class Decider(Protocol):
    """A SAT solver: decides a CNF, optionally under assumptions."""

    @property
    def name(self) -> str:
        """The name it is registered under."""
        ...

    def decide(
        self,
        clauses: Clauses,
        num_vars: int,
        *,
        assumptions: Sequence[int] = (),
        phases: Sequence[int] = (),
        time_limit: float | None = None,
    ) -> Decision:
        """SAT (with a full assignment), UNSAT, or UNKNOWN if ``time_limit`` ran out.

        ``assumptions`` are literals assumed true for this call only.  ``phases`` are literals
        the solver should try first when it branches: a hint that may change which model is
        found, never the answer.
        """
        ...


@runtime_checkable
class NativeDecider(Protocol):
    """A pseudo-Boolean / constraint solver: decides a :class:`~bnnc.engines.pb.PbProblem`
    (the ILP stage and the query, one to one).  Its :class:`Decision` values are over the
    problem's variables, whose first ``n_inputs`` are the input bits, as in the CNF."""

    @property
    def name(self) -> str:
        """The name it is registered under."""
        ...

    def decide(self, problem: PbProblem, *, time_limit: float | None = None) -> Decision:
        """SAT (with a full assignment), UNSAT, or UNKNOWN if ``time_limit`` ran out; no
        solver keeps running after it returns."""
        ...


# --------------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class Draws:
    """What a sampler drew: one row of projection values per draw (True = the variable is
    true), and why it stopped short of the ``n`` asked for, if it did."""

    rows: NDArray[np.bool_]  # (drawn, len(projection))
    exhausted: bool = False  # no (further) model: the formula is UNSAT, or `unique` ran out
    interrupted: bool = False  # Ctrl-C stopped the draws; the rows drawn so far are kept
    timed_out: bool = False  # the time limit stopped the draws; the rows drawn are kept


@runtime_checkable
class Sampler(Protocol):
    """Draws models of a CNF, projected on the ``projection`` variables."""

    @property
    def name(self) -> str: ...

    @property
    def supports_unique(self) -> bool:
        """Whether ``unique=True`` (sampling without replacement) is available."""
        ...

    def sample(
        self,
        clauses: Clauses,
        num_vars: int,
        projection: Sequence[int],
        n: int,
        *,
        seed: int = 0,
        unique: bool = False,
        on_sample: OnSample | None = None,
        time_limit: float | None = None,
    ) -> Draws:
        """Draw ``n`` models, each as the values of ``projection`` (fewer if the models run out,
        on Ctrl-C, or at the time limit: see the flags of :class:`Draws`).

        The same ``seed`` gives the same draws.  With ``unique``, each draw is blocked before
        the next (only if :attr:`supports_unique`; the caller checks).  ``on_sample(drawn)``
        runs after each draw where the backend draws one at a time.  KeyboardInterrupt stops
        the draws and returns what was drawn, marked ``interrupted``, where the backend can.
        """
        ...


# --------------------------------------------------------------------------- counting


class GuaranteeKind(StrEnum):
    EXACT = "exact"  # the count is the count
    PROBABLY_EXACT = "probably exact"  # the exact count with probability ≥ 1 − δ
    APPROXIMATE = "approximate"  # within a factor 1 + ε of the count with probability ≥ 1 − δ


@dataclass(frozen=True)
class Guarantee:
    """What a count promises.  ``delta`` None for a probably-exact count: the counter does not
    say (Ganak computes its δ per run, typically below 10⁻⁹, but pyganak does not return it)."""

    kind: GuaranteeKind
    epsilon: float | None = None
    delta: float | None = None

    @classmethod
    def exact(cls) -> Guarantee:
        return cls(GuaranteeKind.EXACT)

    @classmethod
    def probably_exact(cls, delta: float | None = None) -> Guarantee:
        return cls(GuaranteeKind.PROBABLY_EXACT, None, delta)

    @classmethod
    def approximate(cls, epsilon: float, delta: float) -> Guarantee:
        return cls(GuaranteeKind.APPROXIMATE, epsilon, delta)

    def bounds(self, count: int) -> tuple[float, float]:
        """The interval the true count lies in (with probability 1 − δ if not exact)."""
        if self.kind is GuaranteeKind.APPROXIMATE and self.epsilon is not None:
            return (count / (1 + self.epsilon), count * (1 + self.epsilon))
        return (float(count), float(count))

    def describe(self) -> str:
        """In words: ``exact``, ``exact with probability ≥ 0.99`` (or ``≥ 1 − δ`` when the counter
        does not report δ), ``within a factor 1.8 with probability ≥ 0.8``."""
        confidence = "" if self.delta is None else f" with probability ≥ {1 - self.delta:g}"
        if self.kind is GuaranteeKind.EXACT:
            return "exact"
        if self.kind is GuaranteeKind.PROBABLY_EXACT:
            unreported = " with probability ≥ 1 − δ (δ not reported by the counter)"
            return f"exact{confidence or unreported}"
        return f"within a factor {1 + (self.epsilon or 0):g}{confidence}"


EXACT: Final = Guarantee.exact()


@dataclass(frozen=True)
class ModelCount:
    """A counter's answer: the count (None if the time limit ran out first) and its guarantee."""

    value: int | None
    guarantee: Guarantee


@runtime_checkable
class Counter(Protocol):
    """Counts the models of a CNF projected on some variables."""

    @property
    def name(self) -> str: ...

    def count(
        self,
        clauses: Clauses,
        num_vars: int,
        projection: Sequence[int] | None,
        *,
        seed: int = 1,
        epsilon: float = 0.8,
        delta: float = 0.2,
        time_limit: float | None = None,
    ) -> ModelCount:
        """The number of assignments of ``projection`` (None: of all variables ``1..num_vars``)
        that extend to a model.

        ``epsilon`` and ``delta`` are the tolerance and confidence asked of an approximate
        counter (exact ones ignore them); a bad value is a :class:`~bnnc.errors.UsageError`.
        """
        ...
