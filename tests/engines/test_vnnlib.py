"""``bnnc vnnlib`` (issue 15, item 3): VNN-LIB properties decided exactly, checked against brute
force over the box (onnxruntime on every input of the box's free bits, the property evaluated in
exact fractions); every sat counterexample re-checked on the model; parse errors with a caret."""

from __future__ import annotations

import itertools
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from typer.testing import CliRunner

import bnnc
from bnnc.cli import app
from bnnc.errors import ModelError, ParseError
from bnnc.frontend.vnnlib import VnnProperty, parse_vnnlib, read_vnnlib
from tests.paths import FIXTURES, TESTS

DOMAINS = TESTS / "fixtures" / "domains"
runner = CliRunner()


def property_text(lower: list[float], upper: list[float], n_y: int, outputs: str) -> str:
    lines = [f"; box of {len(lower)} inputs"]
    lines += [f"(declare-const X_{i} Real)" for i in range(len(lower))]
    lines += [f"(declare-const Y_{j} Real)" for j in range(n_y)]
    for i, (lo, hi) in enumerate(zip(lower, upper, strict=True)):
        lines += [f"(assert (<= X_{i} {hi!r}))", f"(assert (>= X_{i} {lo!r}))"]
    return "\n".join([*lines, outputs]) + "\n"


def brute_force(path: Path, prop: VnnProperty, grid: list[np.ndarray]) -> bool:
    """Whether some input of ``grid`` (one list of candidate values per element) satisfies
    the property, by onnxruntime."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for combo in itertools.product(*grid):
        x = np.array(combo, dtype=np.float32)[None, :]
        y = np.asarray(session.run(None, {"x": x})[0]).reshape(-1)
        if prop.outputs_hold([Fraction(float(v)) for v in y]):
            return True
    return False


def random_outputs(rng: np.random.Generator, n_y: int, kind: int) -> str:
    a, b, c = (int(k) for k in rng.choice(n_y, 3, replace=False))
    k = round(float(rng.normal()) * 2, 2)
    return [
        f"(assert (or (and (>= Y_{a} Y_{b})) (and (<= Y_{b} {k}) (>= (- Y_{a} Y_{c}) -1.5))))",
        f"(assert (>= (+ Y_{a} (* 0.5 Y_{b})) {k + 6}))",
        f"(assert (and (>= Y_{a} Y_{b}) (> Y_{a} Y_{c})))",
    ][kind % 3]


def test_random_properties_agree_with_brute_force_on_a_thresholded_model() -> None:
    """mixed_bias.onnx binarises x ≥ 0.5: 8 elements range over [0, 1] (free bits), the others
    over boxes on one side of 0.5 (fixed bits)."""
    path = DOMAINS / "mixed_bias.onnx"
    rng = np.random.default_rng(1)
    answers = []
    for trial in range(9):
        centre = rng.random(40) >= 0.5
        free = set(rng.choice(40, size=8, replace=False).tolist())
        lower = [0.0 if i in free else (0.6 if centre[i] else 0.1) for i in range(40)]
        upper = [1.0 if i in free else (0.8 if centre[i] else 0.3) for i in range(40)]
        text = property_text(lower, upper, 10, random_outputs(rng, 10, trial))
        prop = parse_vnnlib(text)
        result = bnnc.vnnlib(path, _write(text), time_limit=60)
        grid = [np.array([0.0, 1.0]) if i in free else np.array([lower[i]]) for i in range(40)]
        expected = "sat" if brute_force(path, prop, grid) else "unsat"
        assert result.status == expected
        answers.append(expected)
        if result.status == "sat":
            _check_counterexample(path, prop, result)
    assert set(answers) == {"sat", "unsat"}


def test_random_properties_agree_with_brute_force_under_a_declared_domain() -> None:
    """raw_dynamo_sign_bias.onnx reads ±1 inputs unbinarised (--input-domain pm1): a box
    [−1, 1] leaves an element free, [1, 1] or [−1, −1] fixes it."""
    path = DOMAINS / "raw_dynamo_sign_bias.onnx"
    rng = np.random.default_rng(3)
    answers = []
    for trial in range(6):
        ends = rng.choice([-1.0, 1.0], size=12)
        free = set(rng.choice(12, size=6, replace=False).tolist())
        lower = [-1.0 if i in free else float(ends[i]) for i in range(12)]
        upper = [1.0 if i in free else float(ends[i]) for i in range(12)]
        text = property_text(lower, upper, 4, random_outputs(rng, 4, trial))
        prop = parse_vnnlib(text)
        result = bnnc.vnnlib(path, _write(text), input_domain="pm1", time_limit=60)
        grid = [np.array([-1.0, 1.0]) if i in free else np.array([lower[i]]) for i in range(12)]
        expected = "sat" if brute_force(path, prop, grid) else "unsat"
        assert result.status == expected
        answers.append(expected)
        if result.status == "sat":
            _check_counterexample(path, prop, result)
    assert "sat" in answers


def _check_counterexample(path: Path, prop: VnnProperty, result: bnnc.VnnResult) -> None:
    """The result file's X lies in the box and the model gives exactly its Y, which satisfy
    the property."""
    text = bnnc.format_vnnlib_result(result)
    assert text.startswith("sat\n((X_0 ")
    values = {name: float(v) for name, v in re.findall(r"\((\w+) (\S+?)\)", text)}
    x = np.array([values[f"X_{i}"] for i in range(prop.n_inputs)], dtype=np.float32)
    assert all(
        lo <= Fraction(float(v)) <= hi
        for v, lo, hi in zip(x.tolist(), prop.lower, prop.upper, strict=True)
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = np.asarray(session.run(None, {"x": x[None, :]})[0]).reshape(-1)
    assert y.tolist() == [values[f"Y_{j}"] for j in range(prop.n_outputs)]
    assert prop.outputs_hold([Fraction(float(v)) for v in y])


_COUNTER = itertools.count()


def _write(text: str) -> Path:
    import tempfile

    path = Path(tempfile.gettempdir()) / f"bnnc_test_vnnlib_{next(_COUNTER)}.vnnlib"
    path.write_text(text)
    return path


def test_the_cli_writes_the_result_file_and_exits_10_20(tmp_path: Path) -> None:
    model = DOMAINS / "mixed_bias.onnx"
    lower, upper = [0.0] * 40, [0.3] * 40  # every bit fixed −1: one input
    prop = tmp_path / "p.vnnlib"
    prop.write_text(property_text(lower, upper, 10, "(assert (>= Y_0 -1000))"))
    out = tmp_path / "result.txt"
    result = runner.invoke(app, ["vnnlib", str(model), str(prop), "-o", str(out)])
    assert result.exit_code == 10, result.stderr
    assert out.read_text().startswith("sat\n((X_0 0.29999998211860657)\n (X_1 ")
    prop.write_text(property_text(lower, upper, 10, "(assert (>= Y_0 1000))"))
    result = runner.invoke(app, ["vnnlib", str(model), str(prop), "-o", str(out)])
    assert result.exit_code == 20 and out.read_text() == "unsat\n"


def test_unknown_when_the_first_layer_reads_real_inputs(tmp_path: Path) -> None:
    prop = tmp_path / "p.vnnlib"
    prop.write_text(property_text([-1.0] * 12, [1.0] * 12, 4, "(assert (>= Y_0 Y_1))"))
    out = tmp_path / "result.txt"
    result = runner.invoke(
        app, ["vnnlib", str(DOMAINS / "larq_noquantizer.onnx"), str(prop), "-o", str(out)]
    )
    assert result.exit_code == 30 and out.read_text() == "unknown\n"
    assert "--input-domain" in result.stderr
    # Declared ±1 inputs: decided exactly.
    decided = bnnc.vnnlib(DOMAINS / "larq_noquantizer.onnx", prop, input_domain="pm1")
    assert decided.status in ("sat", "unsat")


def test_a_time_limit_that_has_run_out_says_timeout(tmp_path: Path) -> None:
    prop = tmp_path / "p.vnnlib"
    prop.write_text(property_text([0.0] * 40, [1.0] * 40, 10, "(assert (>= Y_0 Y_1))"))
    result = bnnc.vnnlib(DOMAINS / "mixed_bias.onnx", prop, time_limit=1e-9)
    assert result.status == "timeout"
    assert bnnc.format_vnnlib_result(result) == "timeout\n"


def test_a_label_output_model_is_refused(tmp_path: Path) -> None:
    prop = tmp_path / "p.vnnlib"
    prop.write_text(property_text([0.0] * 6, [1.0] * 6, 4, "(assert (>= Y_0 Y_1))"))
    with pytest.raises(ModelError, match="outputs its label"):
        bnnc.vnnlib(FIXTURES / "torch_legacy_argmax.onnx", prop)


@pytest.mark.parametrize(
    ("text", "where", "phrase"),
    [
        ("(declare-const X_0 Real)\n(assert (<= X_0 1)", "2:19", "unbalanced parentheses"),
        ("(declare-const X_0 Int)\n", "1:20", "variables are Real"),
        ("(declare-const X_0 Real)\n(assert (<= X_0 Y_0))\n", "2:17", "expected a number"),
        ("(check-sat)\n", "1:1", "not a command of the VNN-LIB subset"),
        ("(declare-const Y_0 Real)\n(assert (<= (* Y_0 Y_0) 1))\n", "2:13", "constant factor"),
        ("(declare-const X_0 Real)\n(assert (or (<= X_0 1) (>= X_0 0)))\n", "2:9", "box bounds"),
        ("(declare-const X_0 Real)\n(assert (<= X_0 #1))\n", "2:17", "unexpected character"),
    ],
)
def test_parse_errors_name_the_place_with_a_caret(
    tmp_path: Path, text: str, where: str, phrase: str
) -> None:
    path = tmp_path / "bad.vnnlib"
    path.write_text(text)
    with pytest.raises(ParseError) as info:
        read_vnnlib(path)
    shown = str(info.value).splitlines()
    assert shown[0].startswith(f"{path}:{where}: ") and phrase in shown[0]
    assert len(shown) == 3 and shown[2].strip() == "^"
    result = runner.invoke(app, ["vnnlib", str(DOMAINS / "mixed_bias.onnx"), str(path)])
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0].startswith(f"bnnc: error: {path}:{where}: ")


def test_missing_bounds_and_declarations_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "p.vnnlib"
    path.write_text("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= X_0 1))\n")
    with pytest.raises(ModelError, match="X_0 has no lower bound"):
        read_vnnlib(path)
    path.write_text("(declare-const X_1 Real)\n(declare-const Y_0 Real)\n")
    with pytest.raises(ModelError, match="X_0 is not declared"):
        read_vnnlib(path)


def test_numbers_are_exact_and_asserts_are_conjoined() -> None:
    prop = parse_vnnlib(
        "(declare-const X_0 Real)(declare-const Y_0 Real)(declare-const Y_1 Real)"
        "(assert (<= X_0 0.1))(assert (>= X_0 -1e-1))"
        "(assert (or (and (<= Y_0 0.3)) (and (> Y_1 Y_0))))(assert (>= Y_0 -2))"
    )
    assert prop.lower == (Fraction(-1, 10),) and prop.upper == (Fraction(1, 10),)
    assert len(prop.disjuncts) == 2 and all(len(c) == 2 for c in prop.disjuncts)
    assert prop.outputs_hold([Fraction(3, 10), Fraction(0)])
    assert not prop.outputs_hold([Fraction(1, 2), Fraction(0)])
    assert prop.outputs_hold([Fraction(1, 2), Fraction(1)])


@pytest.mark.parametrize("name", ["int_pixels.onnx", "int_pixels_scaled.onnx"])
def test_integer_first_layers_agree_with_brute_force(name: str) -> None:
    """A first layer that reads integer inputs 0..3 themselves (``--input-domain int:0..3``;
    the second graph divides them by 3, with real biases): random boxes, decided through the
    order encoding of each element, against onnxruntime on every integer input of the box."""
    path = DOMAINS / name
    rng = np.random.default_rng(5)
    answers = []
    for trial in range(8):
        lower = rng.integers(0, 4, size=6).astype(float) - rng.random(6) * 0.9
        upper = lower + rng.integers(0, 3, size=6) + rng.random(6) * 0.9
        text = property_text(
            lower.round(3).tolist(), upper.round(3).tolist(), 3, random_outputs(rng, 3, trial)
        )
        prop = parse_vnnlib(text)
        result = bnnc.vnnlib(path, _write(text), input_domain="int:0..3", time_limit=60)
        grid = [
            np.arange(max(0, int(np.ceil(float(lo)))), min(3, int(np.floor(float(hi)))) + 1)
            for lo, hi in zip(prop.lower, prop.upper, strict=True)
        ]
        expected = "sat" if brute_force(path, prop, grid) else "unsat"
        assert result.status == expected, trial
        answers.append(expected)
        if result.status == "sat":
            _check_counterexample(path, prop, result)
            assert result.x is not None and (result.x == np.round(result.x)).all()
    assert set(answers) == {"sat", "unsat"}


def test_the_integer_encoding_is_parsimonious() -> None:
    """Every integer input of the box that satisfies the property has exactly one assignment of
    the unary bits: the models projected on the inputs, enumerated by CaDiCaL, number exactly
    the brute-force count."""
    from pysat.solvers import Solver

    from bnnc.engines.vnnlib import OutputTable, box_region, property_clauses
    from bnnc.frontend.onnx.exactness import score_bands
    from bnnc.frontend.onnx.patterns import read
    from bnnc.ir.domain import parse_input_domain

    path = DOMAINS / "int_pixels.onnx"
    reading = read(path, parse_input_domain("int:0..3"), expand_int=True)
    model = reading.model
    assert model.framework_predict is not None
    lower, upper = [0.0, 0.5, 0.0, 1.0, 0.0, 2.0], [3.0, 3.0, 2.0, 2.5, 3.0, 3.0]
    text = property_text(lower, upper, 3, "(assert (or (and (>= Y_1 Y_0)) (and (>= Y_2 0))))")
    prop = parse_vnnlib(text)
    table = OutputTable(model, score_bands(reading.source, reading.blocks[-1]))
    region, _ = box_region(model, prop, model.framework_predict)  # type: ignore[arg-type]
    assert region is not None
    clauses, _ = property_clauses(model, prop, table, region, "totalizer", optimistic=False)
    n = model.n_inputs
    found = set()
    with Solver(name="cadical195", bootstrap_with=clauses) as solver:
        while solver.solve():
            bits = tuple(lit > 0 for lit in (solver.get_model() or [])[:n])
            assert bits not in found
            found.add(bits)
            solver.add_clause([-(i + 1) if b else i + 1 for i, b in enumerate(bits)])
    values = {tuple(np.asarray(b).reshape(6, 3).sum(axis=1).tolist()) for b in found}
    assert len(values) == len(found)  # one assignment per pixel vector
    grid = [
        np.arange(int(np.ceil(lo)), int(np.floor(hi)) + 1)
        for lo, hi in zip(lower, upper, strict=True)
    ]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = 0
    for combo in itertools.product(*grid):
        y = session.run(None, {"x": np.array([combo], dtype=np.float32)})[0].reshape(-1)
        expected += prop.outputs_hold([Fraction(float(v)) for v in y])
    assert 0 < len(found) == expected
