"""The long fuzz run: seeded mutated text models and ONNX graphs through the CLI, each held
to the contract of ``tests/fuzz/contract.py``; prints and writes ``bench/results/fuzz.json``
(cases per mutator, outcomes per exit code, every failure — there must be none).

    .venv/bin/python bench/fuzz.py [--text 1600] [--onnx 600] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fuzz.contract import onnx_case, text_case  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--text", type=int, default=1600)
    parser.add_argument("--onnx", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fuzz.json")
    args = parser.parse_args()
    report: dict[str, object] = {"seed": args.seed}
    failures: list[dict[str, object]] = []
    started = time.perf_counter()
    for kind, count, case in (("text", args.text, text_case), ("onnx", args.onnx, onnx_case)):
        per_mutator: collections.Counter[str] = collections.Counter()
        per_code: collections.Counter[int] = collections.Counter()
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            for k in range(count):
                seed = args.seed * 1_000_003 + k
                outcome = case(seed, Path(tmp))
                for name in outcome.mutator.split("+"):
                    per_mutator[name] += 1
                per_code[outcome.exit_code] += 1
                if outcome.problem is not None:
                    failures.append({"kind": kind, "seed": seed, **outcome.__dict__})
        seconds = time.perf_counter() - t0
        report[kind] = {
            "cases": count,
            "seconds": round(seconds, 1),
            "per_mutator": dict(sorted(per_mutator.items())),
            "per_exit_code": {str(c): n for c, n in sorted(per_code.items())},
        }
        print(
            f"{kind}: {count} cases in {seconds:.1f} s; exit codes {dict(sorted(per_code.items()))}"
        )
        print(f"  mutators: {dict(sorted(per_mutator.items()))}")
    report["failures"] = failures
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(f"failures: {len(failures)}")
    for failure in failures:
        print(f"  {failure}")
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
