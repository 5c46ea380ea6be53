"""ApproxMC (``pyapproxmc``): the approximate :class:`~bnnc.engines.base.Counter` (``approxmc``).

An (ε, δ) estimate: with probability at least 1 − δ the true count lies within a factor
(1 + ε) of it, i.e. in [estimate / (1 + ε), estimate · (1 + ε)].  It hashes the projection
variables with random XORs, so the estimate depends on ``seed``.  ApproxMC leaves a projection
variable that is in no clause out of its count (e.g. an input no neuron reads, which halved
the estimate), so this backend counts those itself: each doubles the count.

Time limit: ignored (pyapproxmc takes none, and its one call cannot be stopped).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bnnc.engines.base import Clauses, Counter, Guarantee, ModelCount, mentioned
from bnnc.errors import UsageError


@dataclass(frozen=True)
class ApproxMC:
    name: ClassVar[str] = "approxmc"

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
        if not 0 < epsilon < math.inf:  # also refuses NaN
            raise UsageError(
                f"epsilon must be a positive finite number, got {epsilon}", parameter="epsilon"
            )
        if not 0 < delta < 1:
            raise UsageError(
                f"delta must lie strictly between 0 and 1, got {delta}", parameter="delta"
            )
        import pyapproxmc  # imported here: compiling alone never pays for it

        counter = pyapproxmc.Counter(seed=seed, epsilon=epsilon, delta=delta)
        counter.add_clauses(clauses)
        every = range(1, num_vars + 1) if projection is None else projection
        # ApproxMC leaves a variable in no clause out of the count (an input no neuron reads:
        # each would halve the estimate), so those are counted here: each doubles the count.
        seen = mentioned(clauses, num_vars)
        free = sum(1 for v in every if not seen[v])
        cells, hashes = counter.count([v for v in every if seen[v]])
        value = int(cells) * (1 << (int(hashes) + free))
        return ModelCount(value, Guarantee.approximate(epsilon, delta))


if TYPE_CHECKING:  # mypy checks that the class implements the protocol
    _conforms: Counter = ApproxMC()
