"""UniGen3 (``pyunigen``): the almost-uniform :class:`~bnnc.engines.base.Sampler` (``unigen``).

UniGen3 (Soos, Gocht, Meel, CAV 2020) draws every assignment of the projection with probability
within a factor (1 + ε) of uniform (ε = :data:`EPSILON`, pyunigen's default): it hashes the
projection variables with random XORs into cells of the size ApproxMC's count calls for, and
draws from a random cell.

pyunigen draws everything in one call (``sample()`` may be called once per sampler) and cannot be
interrupted, so bnnc drives it in *batches*, each in a child process
(:func:`bnnc.engines.child.call_with_deadline`): the first batch runs ApproxMC and returns its
cell and hash counts, and every later batch is given them (pyunigen's ``cell_hash_count``), so
that it skips the count and only draws, with its own seed.  The batches grow (1, 2, 4, … up to
:data:`MAX_BATCH` draws), so the progress bar moves, Ctrl-C keeps every batch that came back
(the child is stopped), and the time limit is honoured: a batch still running when it runs out
is stopped and the draws before it are kept (``timed_out``).  Each batch's draws are
almost-uniform given the count, as in one call.

``unique`` is not supported (a draw is not blocked before the next).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Final

import numpy as np
from numpy.typing import NDArray

from bnnc.engines.base import Clauses, Draws, OnSample, Sampler
from bnnc.engines.cadical import CaDiCaL
from bnnc.engines.child import ChildTimeout, call_with_deadline

EPSILON: Final = 0.8  # pyunigen's default tolerance, the one bnnc runs it with
MAX_BATCH: Final = 16
NO_LIMIT: Final = 1e6  # seconds (poll refuses more): a child without a limit still answers Ctrl-C


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
        width = len(projection)
        deadline = None if time_limit is None else time.perf_counter() + time_limit
        # UniGen does not return on an unsatisfiable formula (pyunigen 2.5.8), so ask a solver
        # first.
        if not n or not CaDiCaL().decide(clauses, num_vars).satisfiable:
            return Draws(np.zeros((0, width), dtype=bool), exhausted=n > 0)
        listed = [list(clause) for clause in clauses]  # pickled once per batch into the child
        chunks: list[NDArray[np.bool_]] = []
        drawn = 0
        counted: tuple[int, int] | None = None
        batch = 1
        interrupted = timed_out = False
        try:
            while drawn < n:
                size = min(batch, n - drawn)
                left = NO_LIMIT if deadline is None else deadline - time.perf_counter()
                if left <= 0:
                    timed_out = True
                    break
                # Seeds per batch: the first is the caller's, so that one batch is one call.
                cells, hashes, rows = call_with_deadline(
                    _draw, listed, list(projection), size, seed + 7919 * drawn, counted,
                    time_limit=left,
                )  # fmt: skip
                counted = (cells, hashes)  # pyunigen 2.5.8 wants this order, whatever its doc says
                chunks.append(rows)
                drawn += len(rows)
                if on_sample is not None:
                    on_sample(drawn)
                batch = min(2 * batch, MAX_BATCH)
        except ChildTimeout:
            timed_out = True
        except KeyboardInterrupt:
            interrupted = True
        samples = np.concatenate(chunks) if chunks else np.zeros((0, width), dtype=bool)
        return Draws(samples, interrupted=interrupted, timed_out=timed_out)


def _draw(
    clauses: list[list[int]],
    projection: list[int],
    n: int,
    seed: int,
    counted: tuple[int, int] | None,
) -> tuple[int, int, NDArray[np.bool_]]:
    """One pyunigen call: (cells, hashes, rows of projection values) for ``n`` draws."""
    import pyunigen  # imported here: compiling alone never pays for it

    sampler = pyunigen.Sampler(seed=seed, epsilon=EPSILON)
    for clause in clauses:
        sampler.add_clause(clause)
    if counted is None:
        cells, hashes, drawn = sampler.sample(num=n, sampling_set=projection)
    else:
        cells, hashes, drawn = sampler.sample(
            num=n, sampling_set=projection, cell_hash_count=counted
        )
    column = {v: k for k, v in enumerate(projection)}
    rows = np.zeros((len(drawn), len(projection)), dtype=bool)
    for r, model_lits in enumerate(drawn):
        for lit in model_lits:
            k = column.get(abs(lit))
            if k is not None:
                rows[r, k] = lit > 0
    return int(cells), int(hashes), rows[:n]


if TYPE_CHECKING:  # mypy checks that the class implements the protocol
    _conforms: Sampler = UniGen()
