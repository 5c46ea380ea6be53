"""Start-up: ``import bnnc`` and the command line's start load none of the heavy libraries
(onnx, onnxruntime, the solvers, rich, PIL, scipy, lark) that a command does not need; the
times they cost are in bench/startup.py and bench/results/startup.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.paths import EXAMPLES

HEAVY = (
    "onnx", "onnxruntime", "pysat", "pycmsgen", "pyganak", "pyapproxmc", "pyunigen", "rich",
    "PIL", "scipy", "lark", "ml_dtypes", "google.protobuf",
)  # fmt: skip

# Each step runs in the same fresh interpreter; after each, the heavy modules loaded so far.
SCRIPT = """
import contextlib, io, json, sys
HEAVY = json.loads(sys.argv[1])
loaded = lambda: sorted(name for name in HEAVY if name in sys.modules)
steps = {}
import bnnc
steps["import bnnc"] = loaded()
from bnnc.cli import app
def run(*args):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        app(list(args), prog_name="bnnc")
run("--version")
steps["bnnc --version"] = loaded()
run(sys.argv[2], "-o", sys.argv[3])
steps["bnnc MODEL.bnn -o OUT"] = loaded()
print(json.dumps(steps))
"""


def test_start_loads_no_heavy_library(tmp_path: Path) -> None:
    out = f"{tmp_path}/tiny.cnf"
    args = [sys.executable, "-c", SCRIPT, json.dumps(HEAVY), str(EXAMPLES / "tiny.bnn"), out]
    steps = json.loads(subprocess.run(args, check=True, capture_output=True).stdout)
    assert steps == {
        "import bnnc": [],
        "bnnc --version": [],
        "bnnc MODEL.bnn -o OUT": ["lark"],  # the text language's parser, and nothing else
    }
