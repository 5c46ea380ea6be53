"""The command line, through typer's CliRunner: outputs, exit codes, errors, files."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import bnnc
from bnnc.backend.text import print_bnn
from bnnc.cli import app
from bnnc.training.generate import random_bnn
from tests.paths import EXAMPLES, GOLDEN

EXAMPLES = EXAMPLES
TINY = EXAMPLES / "tiny.bnn"
GOLDEN = GOLDEN
runner = CliRunner()


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def header_counts(text: str) -> tuple[int, int, list[str]]:
    header = next(line for line in text.splitlines() if line.startswith("p cnf"))
    _, _, n_vars, n_clauses = header.split()
    clauses = [ln for ln in text.splitlines() if ln and not ln.startswith(("c", "p"))]
    return int(n_vars), int(n_clauses), clauses


def test_compile_to_file_with_header_projection_and_exact_counts(tmp_path: Path) -> None:
    out = tmp_path / "tiny.cnf"
    code, stdout, _ = run(TINY, "-o", out)
    assert code == 0 and stdout == ""
    text = out.read_text()
    n_vars, n_clauses, clauses = header_counts(text)
    assert n_clauses == len(clauses)
    used = {abs(int(tok)) for line in clauses for tok in line.split()[:-1]}
    assert max(used) <= n_vars
    assert "c ind 1 2 3 4 5 6 7 8 9 0" in text.splitlines()
    assert "c p show" not in text
    assert all(line.endswith(" 0") for line in clauses)


def test_show_projection_replaces_ind(tmp_path: Path) -> None:
    code, stdout, _ = run(TINY, "-o", "-", "--projection", "show")
    assert code == 0
    assert "c p show 1 2 3 4 5 6 7 8 9 0" in stdout.splitlines()
    assert "c ind" not in stdout


def test_output_is_byte_identical_across_runs(tmp_path: Path) -> None:
    run(TINY, "-o", tmp_path / "a.cnf", "--target-label", "1")
    run(TINY, "-o", tmp_path / "b.cnf", "--target-label", "1")
    assert (tmp_path / "a.cnf").read_bytes() == (tmp_path / "b.cnf").read_bytes()


def test_target_label_adds_the_unit_clause() -> None:
    _, plain, _ = run(TINY, "-o", "-")
    _, fixed, _ = run(TINY, "-o", "-", "--target-label", "bar")
    n_plain, c_plain, _ = header_counts(plain)
    n_fixed, c_fixed, clauses = header_counts(fixed)
    assert (n_fixed, c_fixed) == (n_plain, c_plain + 1)
    assert clauses[-1] == "11 0"  # label 1 is variable n_in + 1 + 1 = 11


def test_check_sat_prints_a_checked_witness_and_exits_10() -> None:
    code, stdout, _ = run(TINY, "--target-label", "bar", "--check-sat")
    assert code == 10
    lines = stdout.splitlines()
    assert lines[0] == "SAT"
    bits_line = next(line for line in lines if line.startswith("bits "))
    bits = np.array([ch == "1" for ch in bits_line.split()[1]])
    model = bnnc.load(TINY)
    assert int(bnnc.predict(model, bits)) == 1
    picture = lines[-3:]
    assert picture == ["".join("#" if b else "." for b in row) for row in bits.reshape(3, 3)]


def test_check_sat_unsat_exits_20(tmp_path: Path) -> None:
    # Both classes read the same row; class 1's bias is lower, so it never wins.
    path = tmp_path / "never.bnn"
    path.write_text(
        "network never\ninput 2\noutput out {\n  weights {\n    +-\n    +-\n  }\n  bias 0 -1\n}\n"
    )
    code, stdout, _ = run(path, "--target-label", "1", "--check-sat")
    assert code == 20
    assert stdout.splitlines()[0] == "UNSAT"


def test_infer_through_the_formula_agrees_with_the_reference() -> None:
    model = bnnc.load(TINY)
    for bits in ["010010010", "111000111", "000000000", "+--+--+--"]:
        code, stdout, _ = run(TINY, "--infer", bits)
        assert code == 0
        expected = int(bnnc.predict(model, np.array([ch in "1+" for ch in bits])))
        name = ["other", "bar"][expected]
        assert stdout.strip() == f"label {expected} ({name})"


@pytest.mark.parametrize(
    ("stage", "first"),
    [("milp", "\\"), ("ilp", "#"), ("card", "* #variable="), ("bnn", "network tiny")],
)
def test_emit_stages(stage: str, first: str) -> None:
    code, stdout, _ = run(TINY, "--emit", stage)
    assert code == 0
    assert stdout.lstrip().startswith(first) or first in stdout.splitlines()[0]


def test_emitted_ilp_compiles_back_to_the_same_cnf(tmp_path: Path) -> None:
    for source in [TINY, EXAMPLES / "paper-25-20-10.bnn"]:
        lowered = tmp_path / f"{source.stem}.ilp.bnn"
        run(source, "--emit", "ilp", "-o", lowered)
        run(source, "-o", tmp_path / "a.cnf")
        run(lowered, "-o", tmp_path / "b.cnf")
        assert (tmp_path / "a.cnf").read_bytes() == (tmp_path / "b.cnf").read_bytes()


def test_stats_is_one_json_line_on_stderr(tmp_path: Path) -> None:
    code, _, stderr = run(TINY, "-o", tmp_path / "t.cnf", "--stats")
    assert code == 0
    record = json.loads(stderr.strip().splitlines()[-1])
    n_vars, n_clauses, _ = header_counts((tmp_path / "t.cnf").read_text())
    assert (record["variables"], record["clauses"]) == (n_vars, n_clauses)
    assert record["encoding"] == "adder"
    assert {"lower_bnn_to_ilp", "lower_card_to_cnf", "total"} <= set(record["seconds"])


def test_variable_map(tmp_path: Path) -> None:
    code, _, _ = run(TINY, "-o", tmp_path / "t.cnf", "--map", tmp_path / "t.json")
    assert code == 0
    data = json.loads((tmp_path / "t.json").read_text())
    assert [i["var"] for i in data["inputs"]] == list(range(1, 10))
    assert data["inputs"][5]["index"] == [1, 2]
    assert [o["name"] for o in data["outputs"]] == ["other", "bar"]
    assert [o["var"] for o in data["outputs"]] == [10, 11]
    assert [(h["layer"], h["index"]) for h in data["hidden"]] == [("features", i) for i in range(4)]


def test_parse_error_names_file_line_column_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bnn"
    bad.write_text(
        "network bad\ninput 3\nblock h {\n  weights {\n    +-x\n  }\n}\n"
        "output out {\n  weights {\n    +\n  }\n}\n"
    )
    out = tmp_path / "bad.cnf"
    code, stdout, stderr = run(bad, "-o", out)
    assert code == 3
    first = stderr.splitlines()[0]
    assert re.match(rf"bnnc: error: {re.escape(str(bad))}:5:7: ", first), first
    assert "Traceback" not in stderr and stdout == ""
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--check-sat"], 2, "--check-sat needs a query"),
        (["--target-label", "cat"], 2, "--target-label: unknown label 'cat'"),
        (["--target-label", "7"], 2, "--target-label 7 is out of range"),
        (["--infer", "0101"], 2, "--infer: the model takes 9 input bits"),
        (["--emit", "ilp", "--target-label", "1"], 2, "cannot be combined"),
    ],
)
def test_usage_and_input_errors(args: list[str], code: int, message: str) -> None:
    got, _, stderr = run(TINY, *args)
    assert got == code
    assert message in stderr and "Traceback" not in stderr


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    code, _, stderr = run(tmp_path / "nope.bnn")
    assert code == 3
    assert len(stderr.strip().splitlines()) == 1 and "nope.bnn" in stderr


def test_direct_encoding_refusal_exits_4_and_writes_nothing(tmp_path: Path) -> None:
    model = tmp_path / "wide.bnn"
    model.write_text(print_bnn(random_bnn([40, 3, 2], seed=1)))
    out = tmp_path / "wide.cnf"
    code, _, stderr = run(model, "--encoding", "direct", "-o", out)
    assert code == 4
    assert "direct encoding needs" in stderr and "limit" in stderr
    assert not out.exists() and not list(tmp_path.glob(".wide.cnf*"))


def test_unwritable_output_exits_5(tmp_path: Path) -> None:
    code, _, stderr = run(TINY, "-o", tmp_path / "no" / "such" / "dir.cnf")
    assert code == 5 and "cannot write" in stderr


@pytest.mark.parametrize("stage", ["ilp", "card", "milp", "cnf"])
def test_golden_emitted_stages(stage: str) -> None:
    """The printed stages of the tiny example; regenerate with BNNC_UPDATE_GOLDEN=1."""
    code, stdout, _ = run(TINY, "--emit", stage)
    assert code == 0
    golden = GOLDEN / f"tiny.{stage}"
    if os.environ.get("BNNC_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(stdout)
    assert stdout == golden.read_text()


def test_version() -> None:
    code, stdout, _ = run("--version")
    assert code == 0 and stdout.strip() == f"bnnc {bnnc.__version__}"


def test_cli_offers_exactly_the_registered_encodings() -> None:
    from bnnc.encodings import ENCODING_NAMES

    for verb in ("compile", "sample", "count", "retrain"):
        code, stdout, stderr = run(verb, "--help")
        assert ", ".join(ENCODING_NAMES) in " ".join(stdout.split())
    code, _, stderr = run(TINY, "--encoding", "bogus")
    assert code == 2 and stderr.count("\n") == 1
    assert stderr.startswith("bnnc: usage error: --encoding: unknown encoding 'bogus'; choose one")
