"""Counting a formula's models by brute force: the reference :class:`~bnnc.engines.base.Counter`
(``enumerate``).

Every assignment of the projection variables is tried as assumptions, on one incremental
MiniSat (:func:`bnnc.engines.cadical.propagator`): unit propagation settles most of them (in a
bnnc formula every other variable is a function of the inputs), a solve the rest.  Exact and
obviously so, and independent of the model counters, which makes it the cross-check of Ganak and
ApproxMC; but 2^k tries for k projection variables, so it is refused above
:data:`MAX_ENUMERATED_VARIABLES`.

This counts the *formula*.  :func:`bnnc.engines.count.count_by_enumeration` (``bnnc count
--enumerate``) counts the *network* instead, by running the reference inference, and is much
faster; the two agree on a parsimonious formula.

Time limit: honoured, checked after every assignment.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bnnc.engines.base import Clauses, Counter, Guarantee, ModelCount
from bnnc.engines.cadical import propagator
from bnnc.errors import EncodingLimitError

MAX_ENUMERATED_VARIABLES = 20  # 2^20 propagations: about a minute on a small formula


@dataclass(frozen=True)
class Enumeration:
    name: ClassVar[str] = "enumerate"

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
        variables = list(range(1, num_vars + 1) if projection is None else projection)
        if len(variables) > MAX_ENUMERATED_VARIABLES:
            raise EncodingLimitError(
                f"counting by enumeration would try 2^{len(variables)} assignments; it is "
                f"limited to 2^{MAX_ENUMERATED_VARIABLES} (count with ganak or approxmc)"
            )
        deadline = None if time_limit is None else time.perf_counter() + time_limit
        total = 0
        with propagator(clauses) as solver:
            for signs in itertools.product((-1, 1), repeat=len(variables)):
                assumptions = [s * v for s, v in zip(signs, variables, strict=True)]
                ok, implied = solver.propagate(assumptions)
                # No conflict with every variable assigned: a model.  Otherwise a solve decides
                # (a conflict in propagation already proves there is none).
                if ok and (
                    len({abs(lit) for lit in implied}) == num_vars or solver.solve(assumptions)
                ):
                    total += 1
                if deadline is not None and time.perf_counter() > deadline:
                    return ModelCount(None, Guarantee.exact())
        return ModelCount(total, Guarantee.exact())


if TYPE_CHECKING:  # mypy checks that the class implements the protocol
    _conforms: Counter = Enumeration()
