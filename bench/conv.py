"""Convolutional BNNs: compile size and time, agreement with the file, robustness queries.

    python bench/conv.py                                  # every conv fixture, images 0-9
    python bench/conv.py --images 20 --ks 1 2 3 5 8 --cap 60 --out bench/results/conv

Per fixture in ``tests/fixtures/onnx/conv`` (``make_conv_fixtures.py``, and the MNIST-trained
``conv_mnist.onnx`` of ``train_conv_mnist.py``): the time to read it (no cache), the neurons per
layer with the shared structure, the time to compile the whole network to CNF (totalizer) and
the formula's size, and the labels of the file itself (onnxruntime, or onnx's reference
evaluator for QONNX) against bnnc's reference and the compiled ILP on random inputs.  On the
MNIST model also: the test accuracy of the file on real images and of bnnc on their bits (the
model's own condition pixel ≥ 0.5), and robustness queries "an input within K flips of test
image i that the network does not label as it labels i" (``--near --max-flips --not-label
--check-sat``; the method bnnc chooses, time, free neurons per layer after specialisation).
SAT witnesses are checked by the model itself (inside ``check_sat``).  Tables in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

import bnnc
from bnnc.frontend.onnx.predict import Predictor
from bnnc.ir.reference import predict
from bnnc.training.data import read_idx_images, read_idx_labels, split_indices

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import machine_info

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "onnx" / "conv"
SHARED = ROOT.parent / "shared"


def file_labels(path: Path, model: bnnc.Model, tensors: np.ndarray) -> np.ndarray:
    proto = onnx.load(str(path))
    if any(node.domain not in ("", "ai.onnx") for node in proto.graph.node):
        predictor = model.framework_predict
        assert isinstance(predictor, Predictor)
        engine = predictor.engine()
        outs = [
            engine.run({predictor.input_name: t.reshape(model.input_shape)})[0] for t in tensors
        ]
    else:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        outs = [session.run(None, {name: t.reshape(model.input_shape)})[0] for t in tensors]
    labels = []
    for out in outs:
        flat = np.asarray(out).reshape(-1)
        labels.append(int(flat[0]) if flat.dtype.kind in "iu" else int(np.argmax(flat)))
    return np.array(labels)


def bit_tensors(model: bnnc.Model, bits: np.ndarray) -> np.ndarray:
    predictor = model.framework_predict
    assert isinstance(predictor, Predictor)
    return np.where(bits, predictor.on_values, predictor.off_values).astype(np.float32)


def fixture_row(path: Path, n_random: int) -> tuple[dict[str, Any], bnnc.Model]:
    start = time.perf_counter()
    model = bnnc.load(path, cache=False)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    compiled = bnnc.compile(model, "totalizer")
    compile_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    bits = rng.random((n_random, model.n_inputs)) < rng.uniform(0.2, 0.8, (n_random, 1))
    expected = file_labels(path, model, bit_tensors(model, bits))
    assert compiled.ilp is not None
    layers = []
    for block in model.blocks:
        described = block.structure.describe() if block.structure is not None else "dense"
        layers.append(f"{block.n_out} ({described})")
    return {
        "model": path.name,
        "inputs": model.n_inputs,
        "layers": layers,
        "load_s": round(load_s, 3),
        "compile_s": round(compile_s, 3),
        "variables": compiled.formula.num_vars,
        "clauses": len(compiled.formula.clauses),
        "random_inputs": n_random,
        "reference_agrees": int((predict(model, bits) == expected).sum()),
        "ilp_agrees": int((predict(compiled.ilp, bits) == expected).sum()),
        "labels_seen": len(set(expected.tolist())),
    }, model


def mnist_rows(
    path: Path, model: bnnc.Model, n_images: int, ks: list[int], cap: float
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    images = read_idx_images(SHARED / "data" / "t10k-images-idx3-ubyte.gz")
    truth = read_idx_labels(SHARED / "data" / "t10k-labels-idx1-ubyte.gz")
    _, test = split_indices(len(truth))
    floats = images[test].astype(np.float32) / 255
    bits = floats.reshape(len(test), -1) >= 0.5
    file_out = file_labels(path, model, floats)
    mine = predict(model, bits)
    accuracy = {
        "test_images": len(test),
        "file_accuracy": round(float((file_out == truth[test]).mean()), 4),
        "bnnc_accuracy": round(float((mine == truth[test]).mean()), 4),
        "agree_on_images": int((file_out == mine).sum()),
    }
    ilp = bnnc.compile(model, until="ilp").ilp
    assert ilp is not None
    rows = []
    for i in range(n_images):
        label = int(mine[i])
        for k in ks:
            query = bnnc.query(model, not_label=label, near=bits[i], max_flips=k)
            start = time.perf_counter()
            compiled = bnnc.compile(ilp, region=query.region)
            compile_s = time.perf_counter() - start
            start = time.perf_counter()
            result = bnnc.check_sat(model, compiled, query=query, time_limit=cap)
            decide_s = time.perf_counter() - start
            spec = compiled.spec
            rows.append({
                "image": int(test[i]), "label": label, "k": k,
                "answer": result.status.value, "method": result.method,
                "compile_s": round(compile_s, 3), "decide_s": round(decide_s, 3),
                "free": [layer.free for layer in spec.layers] if spec else None,
            })  # fmt: skip
            print(f"  image {test[i]} K={k}: {rows[-1]['answer']} by {result.method} in "
                  f"{compile_s + decide_s:.2f} s, free {rows[-1]['free']}", flush=True)  # fmt: skip
    return accuracy, rows


def eps_rows(
    path: Path, images: list[int], epsilons: list[int], cap: float
) -> list[dict[str, Any]]:
    """ε-box robustness through ``bnnc vnnlib``: every pixel of test image i within ε pixel
    units (of 255), "some class j ≠ L scores at least as high as L" (L the model's label)."""
    pixels = read_idx_images(SHARED / "data" / "t10k-images-idx3-ubyte.gz").astype(np.float64)
    model = bnnc.load(path, cache=False)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in images:
            x = pixels[i].reshape(-1) / 255
            label = int(predict(model, (x >= 0.5)[None])[0])
            for eps in epsilons:
                lines = [f"(declare-const X_{k} Real)" for k in range(x.size)]
                lines += [f"(declare-const Y_{j} Real)" for j in range(model.n_classes)]
                for k, v in enumerate(x.tolist()):
                    low, high = max(0.0, v - eps / 255), min(1.0, v + eps / 255)
                    lines += [f"(assert (>= X_{k} {low!r}))", f"(assert (<= X_{k} {high!r}))"]
                others = [j for j in range(model.n_classes) if j != label]
                lines.append(
                    "(assert (or " + " ".join(f"(and (>= Y_{j} Y_{label}))" for j in others) + "))"
                )
                prop = Path(tmp) / f"img{i}_eps{eps}.vnnlib"
                prop.write_text("\n".join(lines) + "\n")
                free = int(np.count_nonzero((x - eps / 255 < 0.5) & (x + eps / 255 >= 0.5)))
                command = [sys.executable, "-m", "bnnc", "vnnlib", str(path), str(prop),
                           "--timeout", str(cap), "--json"]  # fmt: skip
                start = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                wall = time.perf_counter() - start
                answer = json.loads(done.stdout) if done.stdout.strip() else {"result": "error"}
                rows.append({"image": i, "label": label, "eps": eps, "free_bits": free,
                             "result": answer.get("result"), "reason": answer.get("reason"),
                             "wall_s": round(wall, 2)})  # fmt: skip
                print(f"  image {i} eps={eps}: {rows[-1]['result']} ({free} free bits) in "
                      f"{wall:.1f} s: {rows[-1]['reason']}", flush=True)  # fmt: skip
    return rows


def markdown(fixtures: list[dict[str, Any]], accuracy: dict[str, Any] | None,
             queries: list[dict[str, Any]], info: dict[str, Any]) -> str:  # fmt: skip
    lines = ["# Convolutional BNNs (bench/conv.py)", "", f"Machine: {info}", ""]
    lines += [
        "| model | inputs | layers (neurons) | load s | compile s | vars | clauses | "
        "agree (reference / ILP) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in fixtures:
        lines.append(
            f"| {r['model']} | {r['inputs']} | {'; '.join(r['layers'])} | {r['load_s']} | "
            f"{r['compile_s']} | {r['variables']:,} | {r['clauses']:,} | "
            f"{r['reference_agrees']} / {r['ilp_agrees']} of {r['random_inputs']} |"
        )
    if accuracy is not None:
        lines += ["", "conv_mnist.onnx on the MNIST test split: " + json.dumps(accuracy), ""]
    if queries:
        lines += ["| K | queries | SAT | UNSAT | UNKNOWN | methods | median s | max s |",
                  "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for k in sorted({q["k"] for q in queries}):
            mine = [q for q in queries if q["k"] == k]
            times = sorted(q["compile_s"] + q["decide_s"] for q in mine)
            methods = sorted({q["method"] for q in mine})
            count = {a: sum(q["answer"] == a for q in mine) for a in ("SAT", "UNSAT", "UNKNOWN")}
            lines.append(
                f"| {k} | {len(mine)} | {count['SAT']} | {count['UNSAT']} | {count['UNKNOWN']} "
                f"| {', '.join(methods)} | {times[len(times) // 2]:.2f} | {times[-1]:.2f} |"
            )
    return "\n".join(lines) + "\n"


def eps_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["", "ε-box queries (bnnc vnnlib; ε in pixel units of 255; free bits: pixels whose "
             "interval straddles the model's threshold 0.5):", "",
             "| image | label | ε | free bits | result | s | how |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['image']} | {r['label']} | {r['eps']} | {r['free_bits']} | "
                     f"{r['result']} | {r['wall_s']} | {r['reason']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3, 5, 8])
    parser.add_argument("--cap", type=float, default=60.0)
    parser.add_argument("--random", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--eps", type=int, nargs="*", default=[1, 3, 5, 10, 15])
    parser.add_argument("--eps-images", type=int, nargs="*", default=[4, 9, 14])
    parser.add_argument("--eps-only", action="store_true", help="only the ε-box queries")
    args = parser.parse_args()
    mnist = FIXTURES / "conv_mnist.onnx"
    if args.eps_only:
        rows = eps_rows(mnist, args.eps_images, args.eps, args.cap)
        text = eps_markdown(rows)
        print(text)
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "conv-eps.md").write_text("# conv_mnist.onnx: ε-box robustness\n" + text)
            (args.out / "conv-eps.json").write_text(json.dumps(rows, indent=1) + "\n")
        return
    started, load = time.time(), os.getloadavg()[0]
    fixtures, accuracy, queries = [], None, []
    for path in sorted(FIXTURES.glob("*.onnx")):
        row, model = fixture_row(path, args.random)
        fixtures.append(row)
        print(json.dumps(row), flush=True)
        if path.name == "conv_mnist.onnx" and (SHARED / "data").is_dir():
            accuracy, queries = mnist_rows(path, model, args.images, args.ks, args.cap)
            print(json.dumps(accuracy), flush=True)
    info = machine_info(started, load)
    text = markdown(fixtures, accuracy, queries, info)
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "conv.md").write_text(text)
        payload = {"machine": info, "fixtures": fixtures, "mnist": accuracy, "queries": queries}
        (args.out / "conv.json").write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()
