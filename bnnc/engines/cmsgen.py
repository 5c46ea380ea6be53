"""CMSGen (``pycmsgen``): the default :class:`~bnnc.engines.base.Sampler` (``cmsgen``).

Fast and "uniform-like": a heuristic without a guarantee (see :mod:`bnnc.engines.sample` for
how far from uniform it is on a small preimage).  It draws one model per ``solve()``, so it
reports progress after each draw, keeps what it drew on Ctrl-C, and supports ``unique``: each
draw is blocked by a clause over the projection before the next, which then comes from the
assignments not seen yet (sampling without replacement); an UNSAT draw means they ran out.

Time limit: honoured, through CMSGen's own per-call limit: each draw gets the time left, and a
draw that runs out ends the sampling with what was drawn before it (``timed_out``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray

from bnnc.engines.base import Clauses, Draws, OnSample, Sampler


@dataclass(frozen=True)
class CMSGen:
    name: ClassVar[str] = "cmsgen"
    supports_unique: ClassVar[bool] = True

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
        import pycmsgen  # imported here: compiling alone never pays for it

        deadline = None if time_limit is None else time.perf_counter() + time_limit
        solver = pycmsgen.Solver(seed=seed)
        solver.add_clauses(clauses)
        width = len(projection)
        rows: list[NDArray[np.bool_]] = []
        exhausted = interrupted = timed_out = False
        try:
            while len(rows) < n:
                if deadline is None:
                    satisfiable, values = solver.solve()
                else:
                    left = max(0.0, deadline - time.perf_counter())
                    satisfiable, values = solver.solve(time_limit=left)
                    if satisfiable is None:  # CMSGen gave up at the limit
                        timed_out = True
                        break
                if not satisfiable:
                    exhausted = True
                    break
                # values[v] is the value of variable v (values[0] is None); a variable no clause
                # mentions is unconstrained and reported as None: either value is a model.
                row = np.fromiter((bool(values[v]) for v in projection), dtype=bool, count=width)
                rows.append(row)
                if unique:
                    solver.add_clause(
                        [-v if b else v for v, b in zip(projection, row.tolist(), strict=True)]
                    )
                if on_sample is not None:
                    on_sample(len(rows))
        except KeyboardInterrupt:
            interrupted = True
        samples = np.array(rows, dtype=bool).reshape(len(rows), width)
        return Draws(samples, exhausted, interrupted, timed_out)


if TYPE_CHECKING:  # mypy checks that the class implements the protocol
    _conforms: Sampler = CMSGen()
