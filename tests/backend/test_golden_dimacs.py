"""Golden DIMACS bodies: every bundled model × every encoding writes the same clauses and
projection as recorded (comments other than the projection aside).

The restructuring of the package must not change a single clause.  The digests were recorded
before the move by ``BNNC_UPDATE_GOLDEN=1 pytest tests/test_golden_dimacs.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

import bnnc
from bnnc.encodings import ENCODING_NAMES
from bnnc.errors import EncodingLimitError
from tests.paths import GOLDEN, ROOT

ROOT = ROOT
GOLDEN = GOLDEN / "dimacs.json"
MODELS = sorted(
    [*ROOT.glob("examples/*.bnn"), *ROOT.glob("examples/paper/*.bnn")]
    + [p for p in ROOT.glob("tests/fixtures/onnx/*.onnx")]
)
ENCODINGS = ENCODING_NAMES  # the one table: a new encoding is checked here too


def body_digest(text: str) -> str:
    """sha256 of the header, the clauses and the projection lines."""
    digest = hashlib.sha256()
    for line in text.splitlines():
        if line.startswith("c ") and not line.startswith(("c ind ", "c p show ")):
            continue
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def _digest(model_path: Path, encoding: str, tmp_path: Path) -> str:
    model = bnnc.load(model_path)
    try:
        compiled = bnnc.compile(model, encoding)
    except EncodingLimitError:  # e.g. 'direct' on a wide layer
        return "limit"
    out = tmp_path / "out.cnf"
    bnnc.write_dimacs(compiled, out)
    return body_digest(out.read_text())


CASES = [(m, e) for m in MODELS for e in ENCODINGS]


@pytest.mark.parametrize(("model_path", "encoding"), CASES, ids=[f"{m.name}-{e}" for m, e in CASES])
def test_dimacs_body_unchanged(model_path: Path, encoding: str, tmp_path: Path) -> None:
    key = f"{model_path.relative_to(ROOT)}:{encoding}"
    digest = _digest(model_path, encoding, tmp_path)
    if os.environ.get("BNNC_UPDATE_GOLDEN"):
        table = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        table[key] = digest
        GOLDEN.write_text(json.dumps(dict(sorted(table.items())), indent=1) + "\n")
        return
    recorded = json.loads(GOLDEN.read_text())
    if key not in recorded:  # a new model or encoding: its output has no past to agree with
        pytest.skip(f"no digest recorded for {key}: record it with BNNC_UPDATE_GOLDEN=1")
    assert digest == recorded[key]
