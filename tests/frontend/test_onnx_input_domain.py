"""Declared input domains (issue 15, item 5): exports whose first linear layer reads the raw
graph input (PyTorch BinaryNet-style modules whose ``forward`` starts with the linear layer, a
Larq model without an input quantizer) are refused with a message naming ``--input-domain``,
and compile under ``pm1`` (or ``01``) to formulas that agree with onnxruntime fed those values
on every input.  Also: QONNX ``Quant`` nodes written in the empty domain."""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from typer.testing import CliRunner

import bnnc
from bnnc.cli import app
from bnnc.errors import BnncWarning, ModelError, UsageError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.domain import InputDomain, parse_input_domain
from tests.helpers import all_inputs, solved_labels
from tests.paths import FIXTURES, TESTS

DOMAINS = TESTS / "fixtures" / "domains"
RAW = sorted(p.name for p in DOMAINS.glob("raw_*.onnx"))
EXPECTED_RAW = [
    f"raw_{exporter}_{variant}.onnx"
    for exporter in ("dynamo", "legacy")
    for variant in ("hardtanh", "sign_argmax", "sign_bias", "where_nobias")
] + ["raw_dynamo_where_nobias_external.onnx"]
runner = CliRunner()


def test_every_raw_fixture_is_accounted_for() -> None:
    assert sorted(RAW) == sorted(EXPECTED_RAW)


def onnx_labels(path: Path, inputs: np.ndarray, values: tuple[float, float]) -> list[int]:
    """onnxruntime on the file itself, fed ``values[1]`` for a true bit, ``values[0]`` else."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    labels = []
    for row in inputs:
        x = np.where(row, np.float32(values[1]), np.float32(values[0])).astype(np.float32)
        out = np.asarray(session.run(None, {"x": x[None, :]})[0]).reshape(-1)
        labels.append(int(out[0]) if out.size == 1 else int(np.argmax(out)))
    return labels


@functools.cache
def load(name: str, domain: str) -> BnnModel:
    model = bnnc.load(DOMAINS / name, cache=False, input_domain=domain)
    assert isinstance(model, BnnModel)
    return model


@pytest.mark.parametrize("name", [*EXPECTED_RAW, "larq_noquantizer.onnx"])
def test_raw_input_is_refused_naming_the_option(name: str) -> None:
    with pytest.raises(ModelError) as info:
        bnnc.load(DOMAINS / name, cache=False)
    message = str(info.value)
    assert "\n" not in message and "--input-domain pm1|01" in message and "not ±a" in message


@pytest.mark.parametrize(
    ("name", "domain"),
    [(name, "pm1") for name in EXPECTED_RAW]
    + [("larq_noquantizer.onnx", "pm1"), ("larq_noquantizer.onnx", "01")],
)
def test_declared_domain_agrees_with_onnxruntime_on_every_input(name: str, domain: str) -> None:
    model = load(name, domain)
    assert model.input_domain == parse_input_domain(domain)
    inputs = all_inputs(model.n_inputs)
    assert len(inputs) >= 1000
    values = InputDomain(domain).values  # type: ignore[arg-type]
    expected = onnx_labels(DOMAINS / name, inputs, values)
    assert len(set(expected)) >= 2
    assert bnnc.predict(model, inputs).tolist() == expected
    assert model.framework_predict is not None
    assert model.framework_predict(inputs[::97]).tolist() == expected[::97]
    formula = bnnc.compile(model).formula
    assert solved_labels(formula, inputs) == [[label] for label in expected]


def test_a_binarising_graph_makes_the_domain_redundant_and_says_so() -> None:
    path = FIXTURES / "torch_legacy_hardtanh.onnx"  # Sign on the input
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = bnnc.load(path, cache=False, input_domain="pm1")
    messages = [str(w.message) for w in caught if issubclass(w.category, BnncWarning)]
    assert any("--input-domain pm1 is redundant" in m for m in messages)
    assert isinstance(model, BnnModel)
    inputs = all_inputs(model.n_inputs)
    assert bnnc.predict(model, inputs).tolist() == onnx_labels(path, inputs, (-1.0, 1.0))


def test_01_on_a_sign_input_follows_the_graph_sign_of_zero_is_zero() -> None:
    """Sign(0) = 0 in ONNX: under ``01`` the layer reads 0 or 1, an affine image of the bit."""
    path = FIXTURES / "torch_legacy_hardtanh.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = bnnc.load(path, cache=False, input_domain="01")
    assert isinstance(model, BnnModel)
    inputs = all_inputs(model.n_inputs)
    expected = onnx_labels(path, inputs, (0.0, 1.0))
    assert bnnc.predict(model, inputs).tolist() == expected
    assert solved_labels(bnnc.compile(model).formula, inputs) == [[c] for c in expected]


def test_a_raw_first_layer_under_a_non_binary_domain_is_refused() -> None:
    with pytest.raises(ModelError, match="for binary inputs"):
        bnnc.load(DOMAINS / "raw_legacy_sign_bias.onnx", cache=False, input_domain="real")
    with pytest.raises(ModelError, match="in bnnc compile and bnnc vnnlib"):
        bnnc.load(DOMAINS / "int_pixels.onnx", cache=False, input_domain="int:0..3")


def test_the_variable_map_records_the_domain(tmp_path: Path) -> None:
    out, mapping = tmp_path / "f.cnf", tmp_path / "map.json"
    result = runner.invoke(
        app,
        [str(DOMAINS / "larq_noquantizer.onnx"), "--input-domain", "01", "-o", str(out),
         "--map", str(mapping), "--no-cache"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(mapping.read_text())
    assert data["input_domain"] == "01"
    assert data["inputs"][0]["condition"] == "x[0,0] == 1.0"


def test_the_cli_error_is_one_line_naming_the_option(tmp_path: Path) -> None:
    out = tmp_path / "f.cnf"
    result = runner.invoke(app, [str(DOMAINS / "raw_dynamo_sign_bias.onnx"), "-o", str(out)])
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bnnc: error: ")
    assert "--input-domain" in lines[0] and not out.exists()
    bad = runner.invoke(app, [str(DOMAINS / "larq_noquantizer.onnx"), "--input-domain", "x"])
    assert bad.exit_code == 2 and "--input-domain: 'x' is not pm1, 01" in bad.stderr


def test_parse_input_domain() -> None:
    assert parse_input_domain("int:-3..200") == InputDomain("int", -3, 200)
    assert str(parse_input_domain("REAL")) == "real"
    for bad in ("int:5..1", "int:0..", "pm2", "int:0..99999999"):
        with pytest.raises(UsageError):
            parse_input_domain(bad)


def test_the_cache_keeps_one_entry_per_domain(tmp_path: Path) -> None:
    path = DOMAINS / "larq_noquantizer.onnx"
    first = bnnc.load(path, input_domain="pm1")
    second = bnnc.load(path, input_domain="01")
    again = bnnc.load(path, input_domain="01")
    assert isinstance(first, BnnModel) and isinstance(again, BnnModel)
    assert isinstance(second, BnnModel)
    assert str(first.input_domain) == "pm1" and str(again.input_domain) == "01"
    assert again.input_conditions == second.input_conditions
    inputs = all_inputs(12)[::7]
    assert bnnc.predict(again, inputs).tolist() == bnnc.predict(second, inputs).tolist()


def test_qonnx_quant_in_the_empty_domain_is_read_as_qonnx() -> None:
    model = bnnc.load(DOMAINS / "qonnx_empty_domain.onnx", cache=False)
    assert isinstance(model, BnnModel) and model.framework_predict is not None
    inputs = all_inputs(model.n_inputs)
    expected = model.framework_predict(inputs).tolist()
    assert len(set(expected)) >= 2
    assert bnnc.predict(model, inputs).tolist() == expected
    # Independently: Quant(1 bit, signed) is x ≥ 0 → +1 (scale 1), then ±1 matrices.
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(DOMAINS / "qonnx_empty_domain.onnx")).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    x = np.where(inputs, 1.0, -1.0)
    h = np.where(x @ inits["w1"] + inits["b1"] >= 0, 1.0, -1.0)
    assert np.argmax(h @ inits["w2"], axis=1).tolist() == expected
