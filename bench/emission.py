"""Wall time and peak memory of ``bnnc MODEL -o OUT``, the way a user runs it.

    python bench/emission.py                         # 100-20-10 and TFC-w1a1, every encoding
    python bench/emission.py --encodings adder auto --repeat 5

Each run is a fresh ``bnnc`` process (interpreter start, imports, loading, compiling, writing
the DIMACS file); the figures are the median wall time of ``--repeat`` runs and the largest
resident set size.  Issue 5's goals: 100-20-10 in ≤ 0.5 s and 784-64-64-64-10 (TFC-w1a1, from
``../shared/models``; skipped with a message if absent) in ≤ 10 s, memory bounded.

Run it with the bytecode cache enabled (``PYTHONDONTWRITEBYTECODE`` unset): a normal install
has its ``.pyc`` files, and recompiling bnnc's sources on every start costs about 0.15 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "models"
MODELS = {
    "100-20-10": ROOT / "examples" / "paper-100-20-10.bnn",
    "TFC-w1a1": SHARED / "qonnx-tfc-w1a1.onnx",
}


# Runs one command and prints its wall time and peak RSS: ru_maxrss of RUSAGE_CHILDREN is the
# largest over *all* children so far, so each measured process gets a parent of its own.
_WRAPPER = """
import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def run_once(bnnc: str, model: Path, encoding: str, out: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS in MB) of one ``bnnc`` process."""
    command = [bnnc, str(model), "--encoding", encoding, "-o", str(out)]
    result = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command], check=True, capture_output=True, text=True
    )
    seconds, peak_kb = result.stdout.split()
    return float(seconds), int(peak_kb) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--encodings", nargs="*", default=["adder", "auto", "cardnet", "totalizer"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set; start-up includes compiling bnnc's sources")
    bnnc = shutil.which("bnnc") or str(Path(sys.executable).parent / "bnnc")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.cnf"
        print(f"{'model':<12}{'encoding':<11}{'wall s (median)':>16}{'peak MB':>9}{'file MB':>9}")
        for name in args.models:
            model = MODELS[name]
            if not model.exists():
                print(f"{name:<12}skipped: {model} not found")
                continue
            for encoding in args.encodings:
                runs = [run_once(bnnc, model, encoding, out) for _ in range(args.repeat)]
                wall = statistics.median(seconds for seconds, _ in runs)
                peak = max(mb for _, mb in runs)
                size = out.stat().st_size / 1e6
                print(f"{name:<12}{encoding:<11}{wall:>16.2f}{peak:>9}{size:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
