"""The ONNX model cache (``bnnc.frontend.onnx.cache``): a cached load is the same model as a
fresh read (the formula byte for byte, the reference and the model's own inference, the
warnings), a changed file or external data file misses, a damaged entry is ignored and
rewritten, the cache is bounded and can be switched off, and a hit imports no onnx."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import bnnc
from bnnc.errors import BnncWarning, ModelError
from bnnc.frontend.onnx import cache as model_cache
from bnnc.ir.bnn import BnnModel
from tests.paths import EXAMPLES, FIXTURES


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("BNNC_NO_CACHE", raising=False)
    return home / "bnnc"


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.npz")) if directory.is_dir() else []


def load_recording(path: Path, **kwargs: bool) -> tuple[bnnc.Model, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = bnnc.load(path, **kwargs)
    return model, [str(w.message) for w in caught if issubclass(w.category, BnncWarning)]


def same_model(fresh: bnnc.Model, cached: bnnc.Model, seed: int = 0) -> None:
    assert isinstance(fresh, BnnModel) and isinstance(cached, BnnModel)
    assert bnnc.to_dimacs(bnnc.compile(cached)) == bnnc.to_dimacs(bnnc.compile(fresh))
    assert cached.name == fresh.name and cached.input_conditions == fresh.input_conditions
    x = np.random.default_rng(seed).random((64, fresh.n_inputs)) < 0.5
    assert (bnnc.predict(cached, x) == bnnc.predict(fresh, x)).all()
    assert fresh.framework_predict is not None and cached.framework_predict is not None
    assert (cached.framework_predict(x[:8]) == fresh.framework_predict(x[:8])).all()


@pytest.mark.parametrize(
    "name",
    [
        "finn_multithreshold_argmax.onnx",  # custom operators (onnx's reference evaluator)
        "torch_dynamo_sign_nobias_external.onnx",  # weights in an external data file
        "torch_legacy_hardtanh.onnx",  # warns (a reachable Sign(0))
        "qonnx_real_bias.onnx",  # rounding bands
    ],
)
def test_cached_load_is_the_same_model(name: str, cache_home: Path) -> None:
    fresh, fresh_warnings = load_recording(FIXTURES / name, cache=False)
    assert entries(cache_home) == []
    _first, first_warnings = load_recording(FIXTURES / name)  # a miss: read and stored
    assert len(entries(cache_home)) == 1
    cached, cached_warnings = load_recording(FIXTURES / name)  # a hit
    assert fresh_warnings == first_warnings == cached_warnings
    assert bnnc.emit(cached, "bnn") == bnnc.emit(fresh, "bnn")
    same_model(fresh, cached)


def test_changed_file_misses(tmp_path: Path, cache_home: Path) -> None:
    model = tmp_path / "model.onnx"
    tiny = bnnc.load(EXAMPLES / "tiny.bnn")
    assert isinstance(tiny, BnnModel)
    bnnc.save_onnx(tiny, model)
    before = bnnc.load(model)
    bnnc.save_onnx(tiny, model, threshold=0.25)  # another file: the input conditions differ
    after = bnnc.load(model)
    assert len(entries(cache_home)) == 2
    assert after.input_conditions != before.input_conditions
    same_model(bnnc.load(model, cache=False), after)


def test_changed_external_data_misses(tmp_path: Path, cache_home: Path) -> None:
    name = "torch_dynamo_sign_nobias_external.onnx"
    for file in (name, name + ".data"):
        shutil.copy(FIXTURES / file, tmp_path / file)
    model = tmp_path / name
    bnnc.load(model)
    data = tmp_path / (name + ".data")
    raw = bytearray(data.read_bytes())
    raw[-4:] = np.float32(1.0).tobytes()  # the last weight: a new value, and a new model
    data.write_bytes(bytes(raw))
    try:
        fresh = bnnc.load(model, cache=False)
    except ModelError:  # the new weight may not fit a BNN: the cache must not hide that
        with pytest.raises(ModelError):
            bnnc.load(model)
        return
    same_model(fresh, bnnc.load(model))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign"])
def test_damaged_entry_is_ignored_and_rewritten(damage: str, cache_home: Path) -> None:
    path = FIXTURES / "torch_legacy_argmax.onnx"
    fresh = bnnc.load(path, cache=False)
    bnnc.load(path)
    [entry] = entries(cache_home)
    good = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(good[: len(good) // 2])
    elif damage == "garbage":
        entry.write_bytes(b"not a cache entry")
    else:  # a valid npz that is not an entry of this file
        with entry.open("wb") as out:
            np.savez(out, meta=np.frombuffer(json.dumps({"format": 1}).encode(), np.uint8))
    same_model(fresh, bnnc.load(path))
    assert entry.read_bytes() == good  # rewritten


def test_cache_can_be_switched_off(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = FIXTURES / "torch_legacy_argmax.onnx"
    bnnc.load(path, cache=False)
    monkeypatch.setenv("BNNC_NO_CACHE", "1")
    bnnc.load(path)
    out = tmp_path / "out.cnf"
    cli = [sys.executable, "-m", "bnnc", str(path), "-o", str(out)]
    subprocess.run(cli, check=True, capture_output=True)  # the environment variable
    monkeypatch.delenv("BNNC_NO_CACHE")
    subprocess.run([*cli, "--no-cache"], check=True, capture_output=True)  # the flag
    assert out.is_file() and entries(cache_home) == []
    bnnc.load(path)
    assert len(entries(cache_home)) == 1


def test_cache_keeps_the_newest_entries(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_cache, "KEEP", 2)
    names = ["torch_legacy_argmax.onnx", "torch_legacy_negscale.onnx", "torch_legacy_hardtanh.onnx"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BnncWarning)
        for name in names:
            bnnc.load(FIXTURES / name)
    assert len(entries(cache_home)) == 2


def test_model_changed_after_a_cached_load_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    tiny = bnnc.load(EXAMPLES / "tiny.bnn")
    assert isinstance(tiny, BnnModel)
    bnnc.save_onnx(tiny, model)
    bnnc.load(model)
    cached = bnnc.load(model)
    assert isinstance(cached, BnnModel) and cached.framework_predict is not None
    bnnc.save_onnx(tiny, model, threshold=0.25)
    with pytest.raises(ModelError, match="changed"):
        cached.framework_predict(np.zeros(9, dtype=bool))


def test_a_cached_load_imports_no_onnx(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    tiny = bnnc.load(EXAMPLES / "tiny.bnn")
    assert isinstance(tiny, BnnModel)
    bnnc.save_onnx(tiny, model)
    script = (
        "import sys, bnnc; m = bnnc.load(sys.argv[1]); bnnc.compile(m); "
        "print(sorted(k for k in ('onnx', 'onnxruntime') if k in sys.modules))"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", script, str(model)], check=True, capture_output=True, text=True
        ).stdout.strip()
        for _ in range(2)
    ]
    assert runs == ["['onnx', 'onnxruntime']", "[]"]
