"""A cache of ONNX models as bnnc reads them, so that a second run on the same file neither
imports onnx nor runs onnxruntime: `bnnc MODEL.onnx -o OUT` then starts as fast as the text
language (README, "Start-up").

**What is stored.**  Reading an ONNX file ends in a :class:`~bnnc.ir.bnn.BnnModel` whose blocks
carry *oracles*: functions from integer pre-activations t = ⟨row, x⟩ to what the model's own
engine computes from them.  Every use of an oracle (threshold derivation, the reference
inference, enumeration) asks it at integers with |t| ≤ the block's fan-in n, so the cache
stores each oracle as its table over t = −n … n, evaluated once by the engine when the entry is
written; a cached model looks the table up.  The formula is therefore the same, byte for byte
(``tests/frontend/test_onnx_cache.py``).  Also stored: the weights, the input conditions, the
trained form (``--emit bnn``), the warnings the reader gave (repeated on every load), and what
:class:`~bnnc.frontend.onnx.predict.Predictor` needs; its engine is built from the file only
when a witness is checked against the model itself.

**The key.**  sha256 over the file's bytes, the path as given (warnings and the model's name
mention it), bnnc's version, a hash of bnnc's own source files, and the versions of onnx,
onnxruntime and numpy: any change to the file, to bnnc or to the engine is a miss.  Weights in
an external data file are checked too: the entry records each such file's sha256.

**Where, and trust.**  ``$XDG_CACHE_HOME/bnnc`` or ``~/.cache/bnnc`` (created mode 0700; a
directory that is not the user's own is not used), one ``.npz`` file per entry: numpy arrays
plus one JSON document, read with ``allow_pickle=False``, so a crafted entry can at worst give
a wrong model, never run code, and only someone who can write the user's own cache directory
can plant one.  Entries are written atomically (a temporary file, then a rename); an entry that
cannot be read or does not fit is ignored and rewritten.  The newest :data:`KEEP` entries are
kept (a hit refreshes its entry's time).  ``bnnc.load(path, cache=False)``, ``--no-cache`` or
``BNNC_NO_CACHE=1`` bypass it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnnc._version import __version__
from bnnc.errors import BnncWarning, InternalError, ModelError
from bnnc.frontend.onnx.predict import Predictor, Runs
from bnnc.frontend.onnx.warn import warn
from bnnc.io import write_atomic
from bnnc.ir.bnn import BatchNorm, BnnModel, InnerBlock, OutputBlock, TrainedForm
from bnnc.ir.domain import parse_input_domain

__all__ = ["KEEP", "cache_dir", "cache_enabled", "load_cached"]

FORMAT = 1  # of an entry; part of the key
KEEP = 64  # entries kept, newest first
BNNC_DIR = Path(__file__).parents[2]
Reader = Callable[[Path], BnnModel]


def cache_enabled(cache: bool | None = None) -> bool:
    """``cache`` if given, else on unless ``BNNC_NO_CACHE`` is set (to anything but 0)."""
    if cache is not None:
        return cache
    return os.environ.get("BNNC_NO_CACHE", "") in ("", "0")


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/bnnc``, or ``~/.cache/bnnc``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bnnc"


def load_cached(
    path: Path, read: Reader, *, cache: bool | None = None, variant: str = ""
) -> BnnModel:
    """The model in ``path``: from the cache when it holds this file, else ``read(path)``,
    which is then stored.  ``variant`` (the declared input domain) is part of the key."""
    if not cache_enabled(cache):
        return read(path)
    try:
        data = path.read_bytes()
    except OSError:
        return read(path)  # the reader says what is wrong with the path
    digest = hashlib.sha256(data).hexdigest()
    entry = cache_dir() / f"{_key(path, digest, variant)}.npz"
    model = _read_entry(entry, path, digest)
    if model is not None:
        return model
    messages: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = read(path)
    finally:
        for w in caught:  # repeated as they came; those about the model are stored with it
            if issubclass(w.category, BnncWarning):
                messages.append(str(w.message))
                warn(str(w.message))
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    _write_entry(entry, path, model, digest, messages)
    return model


# --------------------------------------------------------------------------- the key


def _key(path: Path, digest: str, variant: str = "") -> str:
    parts = [str(FORMAT), str(path), digest, __version__, _source_hash(), *_versions()]
    if variant:
        parts.append(variant)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]


@cache
def _source_hash() -> str:
    """bnnc's own code: an edited checkout (not only a new version) misses."""
    digest = hashlib.sha256()
    for file in sorted(BNNC_DIR.rglob("*.py")):
        digest.update(str(file.relative_to(BNNC_DIR)).encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _versions() -> list[str]:
    """numpy's version, and onnx's and onnxruntime's installed files (path, size, time of
    ``__init__.py``): found without importing them, or importlib.metadata (0.05 s)."""
    out = [np.__version__]
    for name in ("onnx", "onnxruntime"):
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        try:
            info = os.stat(origin) if origin else None
        except OSError:
            info = None
        out.append(f"{origin}:{info.st_size}:{info.st_mtime_ns}" if info else "-")
    return out


def _usable(directory: Path) -> bool:
    """Only a directory of the user's own that others cannot write (see the module doc)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError:
        return False
    return not (hasattr(os, "getuid") and info.st_uid != os.getuid()) and not info.st_mode & 0o022


# --------------------------------------------------------------------------- reading


def _read_entry(entry: Path, path: Path, digest: str) -> BnnModel | None:
    if not entry.is_file() or not _usable(entry.parent):
        return None
    try:
        with np.load(entry, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
        if meta["format"] != FORMAT or meta["digest"] != digest:
            return None
        for location, want in meta["external"].items():
            if _file_digest(path.resolve().parent / location) != want:
                return None
        model = _decode(meta, arrays, path, digest)
        model.verify()
    except Exception:  # a damaged or foreign entry: read the file again and rewrite it
        return None
    for message in meta["warnings"]:
        warn(message)
    with contextlib.suppress(OSError):
        os.utime(entry)  # the newest entries are the ones kept
    return model


def _file_digest(file: Path) -> str | None:
    try:
        return hashlib.sha256(file.read_bytes()).hexdigest()
    except OSError:
        return None


def _decode(
    meta: dict[str, Any], arrays: dict[str, NDArray[Any]], path: Path, digest: str
) -> BnnModel:
    def inner(m: dict[str, Any]) -> InnerBlock:
        p = m["key"]
        bn = m["batchnorm"]
        return InnerBlock(
            name=m["name"],
            weights=_frozen(arrays[f"{p}.weights"]),
            bias=_frozen(arrays[f"{p}.bias"]),
            batchnorm=None
            if bn is None
            else BatchNorm(
                gamma=_frozen(arrays[f"{p}.bn.gamma"]),
                beta=_frozen(arrays[f"{p}.bn.beta"]),
                mean=_frozen(arrays[f"{p}.bn.mean"]),
                var=_frozen(arrays[f"{p}.bn.var"]),
                eps=float(bn["eps"]),
            ),
            oracle=_table_oracle(arrays[f"{p}.table"]) if m["oracle"] else None,
        )

    def output(m: dict[str, Any]) -> OutputBlock:
        p = m["key"]
        return OutputBlock(
            name=m["name"],
            weights=_frozen(arrays[f"{p}.weights"]),
            bias=_frozen(arrays[f"{p}.bias"]),
            oracle=_table_oracle(arrays[f"{p}.table"]) if m["oracle"] else None,
        )

    tf = meta["trained_form"]
    trained = (
        None
        if tf is None
        else TrainedForm(
            source=tf["source"],
            inner=tuple(tuple(inner(b) for b in options) for options in tf["inner"]),
            output=tuple(output(b) for b in tf["output"]),
            missing=tf["missing"],
        )
    )
    p = meta["predict"]
    predictor = Predictor(
        input_name=p["input_name"],
        input_shape=tuple(p["input_shape"]),
        input_dtype=p["input_dtype"],
        on_values=arrays["predict.on"],
        off_values=arrays["predict.off"],
        single_label=bool(p["single_label"]),
        make_engine=lambda: _engine_from_file(path, digest),
    )
    names = meta["class_names"]
    conditions = meta["input_conditions"]
    domain = meta.get("input_domain")
    return BnnModel(
        name=meta["name"],
        input_shape=tuple(meta["input_shape"]),
        blocks=tuple(inner(b) for b in meta["blocks"]),
        output=output(meta["output"]),
        class_names=None if names is None else tuple(names),
        arithmetic=meta["arithmetic"],
        input_conditions=None if conditions is None else tuple(conditions),
        framework_predict=predictor,
        trained_form=trained,
        input_domain=None if domain is None else parse_input_domain(domain),
    )


def _frozen(array: NDArray[Any]) -> NDArray[Any]:
    array = np.array(array)
    array.flags.writeable = False
    return array


def _table_oracle(table: NDArray[Any]) -> Callable[[NDArray[np.int64]], NDArray[Any]]:
    """The oracle as its table: ``table[t + n, j]`` is neuron j's value at t, |t| ≤ n."""
    table = _frozen(table)
    n = (table.shape[0] - 1) // 2
    columns = np.arange(table.shape[1])

    def oracle(preactivation: NDArray[np.int64]) -> NDArray[Any]:
        t = np.asarray(preactivation, dtype=np.int64)
        if t.size and (int(t.min()) < -n or int(t.max()) > n):
            raise InternalError(f"a pre-activation outside ±{n} reached a block's oracle")
        return np.asarray(table[t + n, columns])

    return oracle


def _engine_from_file(path: Path, digest: str) -> Runs:
    """The whole model's engine, for a cached model's first check against the model itself."""
    from bnnc.frontend.onnx.engine import Engine
    from bnnc.frontend.onnx.load import read_source

    if _file_digest(path) != digest:
        raise ModelError("the file changed after bnnc loaded it; load it again", where=str(path))
    source = read_source(path)
    return Engine(source.model, custom=source.custom)


# --------------------------------------------------------------------------- writing


def _write_entry(
    entry: Path, path: Path, model: BnnModel, digest: str, messages: list[str]
) -> None:
    """Store ``model`` (silently not, when the directory is unusable or the model is not one
    the ONNX reader made)."""
    predictor = model.framework_predict
    if not isinstance(predictor, Predictor) or model.region is not None:
        return
    if model.order_encoded:
        return  # an integer first layer's predictor is not stored: read such models anew
    if any(block.structure is not None for block in model.blocks):
        return  # convolutions: their tables would be large, and their structure is not stored
    if not _usable(entry.parent):
        return
    arrays: dict[str, NDArray[Any]] = {
        "predict.on": np.asarray(predictor.on_values),
        "predict.off": np.asarray(predictor.off_values),
    }

    def inner(block: InnerBlock, key: str) -> dict[str, Any]:
        arrays[f"{key}.weights"] = block.weights
        arrays[f"{key}.bias"] = block.bias
        bn = block.batchnorm
        if bn is not None:
            for part in ("gamma", "beta", "mean", "var"):
                arrays[f"{key}.bn.{part}"] = getattr(bn, part)
        if block.oracle is not None:
            arrays[f"{key}.table"] = _tabulate(block.oracle, block.n_in, block.n_out)
        return {
            "key": key,
            "name": block.name,
            "batchnorm": None if bn is None else {"eps": bn.eps},
            "oracle": block.oracle is not None,
        }

    def output(block: OutputBlock, key: str) -> dict[str, Any]:
        arrays[f"{key}.weights"] = block.weights
        arrays[f"{key}.bias"] = block.bias
        if block.oracle is not None:
            arrays[f"{key}.table"] = _tabulate(block.oracle, block.n_in, block.n_classes)
        return {"key": key, "name": block.name, "oracle": block.oracle is not None}

    tf = model.trained_form
    meta = {
        "format": FORMAT,
        "digest": digest,
        "external": {
            location: _file_digest(path.resolve().parent / location)
            for location in _external_files(path)
        },
        "warnings": messages,
        "name": model.name,
        "input_shape": list(model.input_shape),
        "arithmetic": model.arithmetic,
        "class_names": None if model.class_names is None else list(model.class_names),
        "input_conditions": None
        if model.input_conditions is None
        else list(model.input_conditions),
        "input_domain": None if model.input_domain is None else str(model.input_domain),
        "blocks": [inner(b, f"block{k}") for k, b in enumerate(model.blocks)],
        "output": output(model.output, "output"),
        "trained_form": None
        if tf is None
        else {
            "source": tf.source,
            "missing": tf.missing,
            "inner": [
                [inner(b, f"tf{k}.{c}") for c, b in enumerate(options)]
                for k, options in enumerate(tf.inner)
            ],
            "output": [output(b, f"tfout.{c}") for c, b in enumerate(tf.output)],
        },
        "predict": {
            "input_name": predictor.input_name,
            "input_shape": list(predictor.input_shape),
            "input_dtype": predictor.input_dtype,
            "single_label": predictor.single_label,
        },
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # (numpy's stub: allow_pickle)
    try:
        write_atomic(entry, buffer.getvalue())
        _prune(entry.parent)
    except Exception:  # a cache that cannot be written only costs time
        return


def _tabulate(
    oracle: Callable[[NDArray[np.int64]], NDArray[Any]], n_in: int, n_out: int
) -> NDArray[Any]:
    grid = np.repeat(np.arange(-n_in, n_in + 1, dtype=np.int64)[:, None], n_out, axis=1)
    return np.asarray(oracle(grid))


def _external_files(path: Path) -> list[str]:
    """The external data files the model names (onnx is imported already: this is a miss)."""
    import onnx
    from onnx.external_data_helper import ExternalDataInfo

    model = onnx.load(str(path), load_external_data=False)
    tensors = [*model.graph.initializer]
    tensors += [
        attr.t for node in model.graph.node for attr in node.attribute if attr.HasField("t")
    ]
    return sorted(
        {
            ExternalDataInfo(t).location
            for t in tensors
            if t.data_location == onnx.TensorProto.EXTERNAL
        }
    )


def _prune(directory: Path) -> None:
    entries = sorted(directory.glob("*.npz"), key=lambda f: f.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)
