"""UniGen3 (``pyunigen``): the almost-uniform :class:`~bnnc.engines.base.Sampler` (``unigen``).

UniGen3 (Soos, Gocht, Meel, CAV 2020) draws every assignment of the projection with probability
within a factor (1 + ε) of uniform: it hashes the projection variables with random XORs, which
makes it slower than CMSGen.  pyunigen draws everything in one call (``sample()`` may be called
once per sampler), so there is no progress to report until it returns, Ctrl-C keeps nothing,
and ``unique`` is not supported (there is no draw to block before the next).

Time limit: ignored (pyunigen takes none, and its one call cannot be stopped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray

from bnnc.engines.base import Clauses, Draws, OnSample, Sampler
from bnnc.engines.cadical import CaDiCaL


@dataclass(frozen=True)
class UniGen:
    name: ClassVar[str] = "unigen"
    supports_unique: ClassVar[bool] = False

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
        import pyunigen  # imported here: compiling alone never pays for it

        width = len(projection)
        # UniGen does not return on an unsatisfiable formula (pyunigen 2.5.8), so ask a solver
        # first.
        if not CaDiCaL().decide(clauses, num_vars).satisfiable:
            return Draws(np.zeros((0, width), dtype=bool), exhausted=True)
        sampler = pyunigen.Sampler(seed=seed)
        for clause in clauses:
            sampler.add_clause(clause)
        cells, _hashes, drawn = (
            sampler.sample(num=n, sampling_set=list(projection)) if n else (0, 0, [])
        )
        column = {v: k for k, v in enumerate(projection)}
        rows: list[NDArray[np.bool_]] = []
        for model_lits in drawn:
            row = np.zeros(width, dtype=bool)
            for lit in model_lits:
                k = column.get(abs(lit))
                if k is not None:
                    row[k] = lit > 0
            rows.append(row)
        if on_sample is not None and rows:
            on_sample(len(rows))
        exhausted = n > 0 and cells == 0  # no model at all
        samples = np.array(rows[:n], dtype=bool).reshape(-1, width)
        return Draws(samples, exhausted=exhausted)


if TYPE_CHECKING:  # mypy checks that the class implements the protocol
    _conforms: Sampler = UniGen()
