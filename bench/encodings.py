"""Size, compile time and (optionally) solve time of every encoding on random networks.

    python bench/encodings.py                      # all shapes and encodings: sizes
    python bench/encodings.py --quick              # skip the 784-64-64-64-10 network
    python bench/encodings.py --solve --cap 20     # also decide every label, 20 s cap each
    python bench/encodings.py --solve --shapes 100-20-10 --encodings adder auto --seeds 0 1 2
    python bench/encodings.py --solve --shapes 784-20-10 --cap 40   # extra: one wide layer

Prints one row per (network, encoding): variables, clauses, compile time in-process, and for
the default encoding the wall time of the whole ``bnnc MODEL -o FILE`` command, interpreter
start included.  The networks come from ``bnnc.training.generate.random_bnn`` (batch norm calibrated
so that thresholds sit mid-range, the hard case).  Goal for the default encoding on 100-20-10:
≤ 15,000 variables, ≤ 115,000 clauses, ≤ 0.5 s including interpreter start.  (NPAQ, the
encoder the paper used, needs 62,726 variables and 114,740 clauses and 10 s on a trained
100-20-10 network, and its formula is not parsimonious.)

With ``--solve``, each label is decided by ``bnnc.check_sat(..., search=False)``: CaDiCaL alone
on the formula, a fresh solver per label, the witness checked (``--search`` runs check_sat's
witness search by simulation first, which finds witnesses on random networks without the
encoding's help).  Each label runs in a forked child, killed after ``--cap`` seconds of wall
time.  The row gives the labels decided within the cap, the total and, per label, the child's
CPU seconds (CPU rather than wall time because the machine may be shared; a label that hits
the cap counts as the cap and shows as ``>cap``; ``s``/``u`` mark SAT/UNSAT).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import bnnc
from bnnc.backend.text import print_bnn
from bnnc.encodings import DEFAULT_ENCODING, ENCODING_NAMES
from bnnc.errors import EncodingLimitError
from bnnc.ir.bnn import BnnModel
from bnnc.passes.pipeline import Compilation
from bnnc.training.generate import random_bnn

SHAPES = {
    "25-20-10": ([25, 20, 10], (5, 5)),
    "100-20-10": ([100, 20, 10], (10, 10)),
    "784-64-64-64-10": ([784, 64, 64, 64, 10], (28, 28)),
}
EXTRA_SHAPES = {  # only with --shapes: one wide layer, where the encodings differ most
    "256-20-10": ([256, 20, 10], (16, 16)),
    "784-20-10": ([784, 20, 10], (28, 28)),
}


def cli_seconds(model_text: str, repeats: int = 5) -> float:
    """Median wall time of ``bnnc MODEL -o OUT`` as a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.bnn"
        model.write_text(model_text)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "bnnc", str(model), "-o", str(Path(tmp) / "m.cnf")],
                check=True,
            )
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _decide(
    model: BnnModel, compiled: Compilation, label: int, search: bool, conn: Connection
) -> None:
    """Child process: decide one label, send (CPU seconds, satisfiable)."""
    start = time.process_time()
    result = bnnc.check_sat(model, compiled, label=label, search=search)
    conn.send((time.process_time() - start, result.satisfiable))
    conn.close()


def solve_seconds(
    model: BnnModel, compiled: Compilation, label: int, cap: float, search: bool = False
) -> tuple[float, bool] | None:
    """(CPU seconds, satisfiable) of ``check_sat`` for one label, or None if it hit the cap
    (``cap`` wall-clock seconds).

    Without ``search`` the solver alone decides (check_sat's witness search by simulation would
    otherwise answer most labels without the encoding's help).  The child is forked, so it
    shares the compiled formula instead of compiling again.
    """
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_decide, args=(model, compiled, label, search, send))
    child.start()
    send.close()
    try:
        if not receive.poll(cap):
            return None
        seconds, satisfiable = receive.recv()
        return float(seconds), bool(satisfiable)
    except EOFError as err:
        raise RuntimeError(
            f"check_sat failed for label {label} (see the child's traceback)"
        ) from err
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()


def solve_row(model: BnnModel, compiled: Compilation, cap: float, search: bool = False) -> str:
    """Decided labels, total seconds and the per-label times, for one compiled network."""
    cells, total, decided = [], 0.0, 0
    for label in range(compiled.formula.layout.n_classes):
        got = solve_seconds(model, compiled, label, cap, search)
        if got is None:
            cells.append(f">{cap:g}")
            total += cap
            continue
        seconds, satisfiable = got
        decided += 1
        total += seconds
        cells.append(f"{seconds:.2f}{'s' if satisfiable else 'u'}")
    n_labels = len(cells)
    return f"{decided:>4}/{n_labels:<3}{total:>9.1f}  {' '.join(cells)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the largest network")
    parser.add_argument("--seed", type=int, default=0, help="network seed (default 0)")
    parser.add_argument("--seeds", type=int, nargs="+", help="several network seeds")
    parser.add_argument(
        "--shapes", nargs="+", choices=[*SHAPES, *EXTRA_SHAPES], help="only these networks"
    )
    parser.add_argument("--encodings", nargs="+", choices=ENCODING_NAMES, help="only these")
    parser.add_argument("--solve", action="store_true", help="decide every label (check_sat)")
    parser.add_argument("--cap", type=float, default=20.0, help="seconds per label (--solve)")
    parser.add_argument(
        "--search", action="store_true", help="--solve with check_sat's witness search first"
    )
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI timing")
    args = parser.parse_args()
    header = (
        f"{'network':<18}{'seed':>4} {'encoding':<12}{'variables':>11}{'clauses':>12}"
        f"{'compile s':>10}{'CLI s':>8}"
    )
    if args.solve:
        header += f"{'decided':>9}{'total s':>9}  per label (s = SAT, u = UNSAT)"
    print(header, flush=True)
    for label, (widths, shape) in {**SHAPES, **EXTRA_SHAPES}.items():
        if args.shapes:
            if label not in args.shapes:
                continue
        elif label in EXTRA_SHAPES or (args.quick and len(widths) > 3):
            continue
        for seed in args.seeds or [args.seed]:
            model = random_bnn(widths, seed=seed, input_shape=shape)
            for encoding in args.encodings or ENCODING_NAMES:
                prefix = f"{label:<18}{seed:>4} {encoding:<12}"
                start = time.perf_counter()
                try:
                    compiled = bnnc.compile(model, encoding)
                except EncodingLimitError:
                    print(f"{prefix}{'refused: above the direct size limit':>41}", flush=True)
                    continue
                seconds = time.perf_counter() - start
                formula = compiled.formula
                cli = ""
                if encoding == DEFAULT_ENCODING and not args.no_cli:
                    cli = f"{cli_seconds(print_bnn(model)):.3f}"
                row = (
                    f"{prefix}{formula.num_vars:>11,}{len(formula.clauses):>12,}"
                    f"{seconds:>10.3f}{cli:>8}"
                )
                if args.solve:
                    row += " " + solve_row(model, compiled, args.cap, args.search)
                print(row, flush=True)


if __name__ == "__main__":
    main()
