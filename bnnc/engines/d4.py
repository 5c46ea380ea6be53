"""d4 (``d4solver``, module ``py_d4``): a deterministic exact :class:`~bnnc.engines.base.Counter`
(``d4``).

d4 (Lagniez & Marquis) counts by compiling the formula into a decision-DNNF: a top-down search
with component caching, like Ganak, but its cache stores the components themselves rather than
hashes of them, so its count carries :meth:`Guarantee.exact()
<bnnc.engines.base.Guarantee.exact>`, not Ganak's "exact with probability ≥ 1 − δ".  Measured
against Ganak on label counts of random networks (``bench/knowledge_compilation.py``): the same
order of time (0.55–1.7× Ganak's) where either finishes within a minute, and both give up from
about 30 inputs and 10 neurons; so ``auto`` keeps Ganak, and d4 is there for whoever wants a
count without a probability attached (``count(method="d4")``).

Projection: py_d4 takes a projection set only from a DIMACS file (a ``c p show … 0`` line); its
in-memory clause API counts every variable.  So a projected count goes through a temporary file
(measured: no slower than the unprojected count of the same formula).  Seed: ignored (d4 is
deterministic).  Time limit: ignored (py_d4 takes none and its call cannot be stopped);
:func:`bnnc.engines.count.count` runs it in a child process stopped at the limit.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from bnnc.engines.base import Clauses, Counter, Guarantee, ModelCount
from bnnc.engines.ganak import _native_stdout_silenced
from bnnc.errors import UsageError


def load() -> Any:
    """The ``py_d4`` module, or a one-line usage error naming the extra that installs it."""
    try:
        import py_d4
    except ImportError as error:
        raise UsageError(
            "the counter 'd4' needs the Python package 'd4solver': pip install 'bnnc[d4]'",
            parameter="method",
        ) from error
    return py_d4


@dataclass(frozen=True)
class D4:
    name: ClassVar[str] = "d4"

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
        py_d4 = load()
        listed = [[int(lit) for lit in clause] for clause in clauses]
        with _native_stdout_silenced():  # d4 prints "c ..." lines on fd 1 whatever it is told
            if projection is None:
                value = py_d4.Solver(listed, num_vars).count().getIntResult()
            else:
                value = _count_projected(py_d4, listed, num_vars, projection)
        return ModelCount(int(value), Guarantee.exact())


def _count_projected(
    py_d4: Any, clauses: list[list[int]], num_vars: int, projection: Sequence[int]
) -> str:
    handle, path = tempfile.mkstemp(prefix="bnnc-d4-", suffix=".cnf")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(f"p cnf {num_vars} {len(clauses)}\n")
            file.write(f"c p show {' '.join(map(str, projection))} 0\n")
            file.writelines(f"{' '.join(map(str, clause))} 0\n" for clause in clauses)
        result: str = py_d4.Solver(path).count().getIntResult()
        return result
    finally:
        os.unlink(path)


if TYPE_CHECKING:  # mypy checks that the class implements the protocol
    _conforms: Counter = D4()
