"""Size and compile time of every encoding on random networks of the paper's shapes.

    python bench/encodings.py            # all shapes and encodings
    python bench/encodings.py --quick    # skip the 784-64-64-64-10 network

Prints one row per (network, encoding): variables, clauses, compile time in-process, and for
the default encoding the wall time of the whole ``bnnc MODEL -o FILE`` command, interpreter
start included.  The networks come from ``bnnc.generate.random_bnn`` (batch norm calibrated so
that thresholds sit mid-range, the hard case).  Goal for the default encoding on 100-20-10:
≤ 15,000 variables, ≤ 115,000 clauses, ≤ 0.5 s including interpreter start.  (NPAQ, the
encoder the paper used, needs 62,726 variables and 114,740 clauses and 10 s on a trained
100-20-10 network, and its formula is not parsimonious.)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bnnc
from bnnc.encodings import DEFAULT_ENCODING, ENCODING_NAMES
from bnnc.errors import EncodingLimitError
from bnnc.generate import random_bnn
from bnnc.printer import print_bnn

SHAPES = {
    "25-20-10": ([25, 20, 10], (5, 5)),
    "100-20-10": ([100, 20, 10], (10, 10)),
    "784-64-64-64-10": ([784, 64, 64, 64, 10], (28, 28)),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the largest network")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"{'network':<18}{'encoding':<12}{'variables':>11}{'clauses':>11}{'compile s':>11}"
        f"{'CLI s':>8}"
    )
    for label, (widths, shape) in SHAPES.items():
        if args.quick and len(widths) > 3:
            continue
        model = random_bnn(widths, seed=args.seed, input_shape=shape)
        for encoding in ENCODING_NAMES:
            start = time.perf_counter()
            try:
                formula = bnnc.compile(model, encoding).formula
            except EncodingLimitError:
                print(f"{label:<18}{encoding:<12}{'refused: above the direct size limit':>44}")
                continue
            seconds = time.perf_counter() - start
            cli = f"{cli_seconds(print_bnn(model)):8.3f}" if encoding == DEFAULT_ENCODING else ""
            print(
                f"{label:<18}{encoding:<12}{formula.num_vars:>11,}{len(formula.clauses):>11,}"
                f"{seconds:>11.3f}{cli}"
            )


if __name__ == "__main__":
    main()
