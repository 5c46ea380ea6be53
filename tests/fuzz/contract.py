"""The contract every fuzz case is held to, for the CI corpus and ``bench/fuzz.py``.

A command on a (damaged) model either exits 0 with a formula that agrees with the model's own
inference on sampled inputs (the text reference, or onnxruntime for ONNX), or prints one line
``bnnc: error: …`` (a parse error adds its source excerpt and caret) with a documented exit
code, with no traceback and no output file left behind.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import onnx
from pysat.formula import CNF
from pysat.solvers import Solver
from typer.testing import CliRunner

import bnnc
from bnnc.backend.onnx_export import to_onnx
from bnnc.cli import app
from bnnc.errors import ExitCode
from bnnc.ir.bnn import BnnModel
from bnnc.ir.reference import predict
from tests.fuzz.mutators import mutate_onnx, mutate_text
from tests.paths import EXAMPLES

DOCUMENTED = {int(code) for code in ExitCode} - {int(ExitCode.INTERNAL)}
_CARET = re.compile(r"  \s*\^")


@cache
def text_sources() -> tuple[str, ...]:
    tiny = (EXAMPLES / "tiny.bnn").read_text()
    lowered = bnnc.emit(bnnc.load(EXAMPLES / "tiny.bnn"), "ilp")
    return tiny, lowered, tiny + "\nfix { +.. ... ..- }\n"


@cache
def onnx_source() -> onnx.ModelProto:
    model = bnnc.load(EXAMPLES / "tiny.bnn")
    assert isinstance(model, BnnModel)
    return to_onnx(model)


@dataclass(frozen=True)
class Outcome:
    mutator: str
    exit_code: int
    problem: str | None  # why the contract was broken, or None


def text_case(seed: int, tmp: Path) -> Outcome:
    rng = random.Random(seed)
    source = rng.choice(text_sources())
    mutator, text = mutate_text(seed, source)
    path = tmp / f"case{seed}.bnn"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return _check(mutator, path, tmp, rng)


def onnx_case(seed: int, tmp: Path) -> Outcome:
    mutator, data = mutate_onnx(seed, onnx_source())
    path = tmp / f"case{seed}.onnx"
    path.write_bytes(data)
    return _check(mutator, path, tmp, random.Random(seed))


def _check(mutator: str, path: Path, tmp: Path, rng: random.Random) -> Outcome:
    out, map_file = tmp / f"{path.stem}.cnf", tmp / f"{path.stem}.json"
    before = set(tmp.iterdir())
    result = CliRunner().invoke(app, [str(path), "-o", str(out), "--map", str(map_file)])
    code = result.exit_code

    def outcome(problem: str | None) -> Outcome:
        return Outcome(mutator, code, problem)

    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return outcome(f"traceback: {type(result.exception).__name__}: {result.exception}")
    lines = [ln for ln in result.stderr.split("\n") if ln and not ln.startswith("bnnc: warning:")]
    if code == 0:
        return outcome(_agrees(path, out, map_file, rng))
    left = {p for p in set(tmp.iterdir()) - before if p != path}
    if left:
        return outcome(f"exit {code} left files behind: {sorted(p.name for p in left)}")
    if code not in DOCUMENTED:
        return outcome(f"undocumented exit code {code}: {result.stderr[:300]!r}")
    if not lines or not lines[0].startswith(("bnnc: error: ", "bnnc: usage error: ")):
        return outcome(f"exit {code} without a 'bnnc: error:' line: {result.stderr[:300]!r}")
    if len(lines) != 1 and not (len(lines) == 3 and _CARET.fullmatch(lines[2])):
        return outcome(f"exit {code} with {len(lines)} lines on stderr: {result.stderr[:300]!r}")
    if len(lines[0]) > 2500 or any(len(ln) > 200 for ln in lines[1:]):
        return outcome("an error line is too long")
    return outcome(None)


def _agrees(path: Path, out: Path, map_file: Path, rng: random.Random) -> str | None:
    """None if the formula gives the model's own label on a few sampled inputs."""
    if not out.is_file() or not map_file.is_file():
        return "exit 0 without the formula and its map"
    try:
        cnf = CNF(from_file=str(out))
    except Exception as err:
        return f"pysat cannot read the formula: {err}"
    layout = json.loads(map_file.read_text())
    inputs = [entry["var"] for entry in layout["inputs"]]
    outputs = {entry["var"]: entry["label"] for entry in layout["outputs"]}
    model = bnnc.load(path)
    oracle = model.framework_predict if isinstance(model, BnnModel) else None
    region = model.region
    points = [np.array([rng.random() < 0.5 for _ in inputs]) for _ in range(3)]
    if region is not None:
        points += [np.asarray(ball.center, dtype=bool) for ball in region.balls]
    with Solver(name="cadical153", bootstrap_with=cnf.clauses) as solver:
        for bits in points:
            inside = region is None or bool(region.contains(bits))
            assumptions = [v if b else -v for v, b in zip(inputs, bits, strict=True)]
            sat = solver.solve(assumptions=assumptions)
            if not inside:
                continue  # the formula is exact on the model's declared region only
            if not sat:
                return f"UNSAT on input {bits.astype(int).tolist()} inside the region"
            true = {lit for lit in solver.get_model() or [] if lit > 0}
            labels = [label for var, label in outputs.items() if var in true]
            want = int(predict(model, bits))
            if oracle is not None:
                want = int(oracle(bits))
            if labels != [want]:
                return f"input {bits.astype(int).tolist()}: formula says {labels}, model {want}"
    return None
