"""ε-box robustness queries on a BNN whose first layer reads 8×8 digit pixels (0..16) themselves
(issue 15, item 2): ``bnnc vnnlib`` with ``--input-domain int:0..16``, pixels order-encoded.

    python bench/domains.py                      # test images 0-19, ε in 1 3 5 10 15, 20 s cap
    python bench/domains.py --images 5 --eps 1 3 --cap 5

The model (built here, deterministic, no training loop): 64 pixels → Gemm(±1 rows, 45) + bias
→ Sign → Gemm(±1, 10) → scores.  Hidden neuron (c, d), one per pair of classes, has the signs of
the difference of the two class means as its row and the midpoint between them as its bias
(a half-integer); output rows are the signs of the class means of the hidden bits (nearest
centroid in ±1 space): about 75 % test accuracy.  Per
test image x with label c (the model's own) and ε, the VNN-LIB property is the box
max(0, x − ε) ≤ X ≤ min(16, x + ε) and ∨_{j≠c} Y_j ≥ Y_c: ``sat`` is a counterexample (validated
by onnxruntime before it is reported), ``unsat`` a proof of robustness.

Binary encoding of the pixels (weights 2^k) is not built: it needs weighted pseudo-Boolean
constraints in the cardinality stage, so only the order encoding is measured.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import bnnc
from bnnc.training.data import read_digits_csv, split_indices

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from suite import machine_info  # noqa: E402

DIGITS = ROOT.parent / "shared" / "data" / "sklearn-digits.csv.gz"
RESULTS = ROOT / "bench" / "results" / "domains"


def build_model(path: Path, images: np.ndarray, labels: np.ndarray) -> float:
    """Write the ONNX model; return its accuracy on the given (training) images."""
    x = images.reshape(len(images), -1).astype(np.float64)
    means = np.stack([x[labels == c].mean(axis=0) for c in range(10)])
    rows, biases = [], []
    for c, d in itertools.combinations(range(10), 2):  # one neuron per pair of classes
        w = np.sign(means[c] - means[d])
        w[w == 0] = 1
        rows.append(w)
        biases.append(-np.floor(w @ (means[c] + means[d]) / 2) - 0.5)  # no sum is exactly 0
    w1, b1 = np.array(rows), np.array(biases)
    h = np.where(x @ w1.T + b1 >= 0, 1.0, -1.0)
    w2 = np.sign(np.stack([h[labels == c].mean(axis=0) for c in range(10)]))
    w2[w2 == 0] = 1
    inits = {
        "w1": w1.astype(np.float32),
        "b1": b1.astype(np.float32),
        "w2": w2.astype(np.float32),
    }
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["s1"], name="first", transB=1),
        helper.make_node("Sign", ["s1"], ["h1"], name="sign"),
        helper.make_node("Gemm", ["h1", "w2"], ["y"], name="scores", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "digits_int",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    scores = h @ w2.T
    return float((scores.argmax(axis=1) == labels).mean())


def property_text(pixels: np.ndarray, label: int, eps: int) -> str:
    lines = [f"(declare-const X_{i} Real)" for i in range(64)]
    lines += [f"(declare-const Y_{j} Real)" for j in range(10)]
    for i, p in enumerate(pixels.tolist()):
        lines += [
            f"(assert (>= X_{i} {max(0, p - eps)}))",
            f"(assert (<= X_{i} {min(16, p + eps)}))",
        ]
    others = " ".join(f"(and (>= Y_{j} Y_{label}))" for j in range(10) if j != label)
    lines.append(f"(assert (or {others}))")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--eps", type=int, nargs="+", default=[1, 3, 5, 10, 15])
    parser.add_argument("--cap", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started, load = time.time(), __import__("os").getloadavg()[0]
    images, labels = read_digits_csv(DIGITS)
    train, test = split_indices(len(images))
    work = Path(tempfile.mkdtemp(prefix="bnnc_domains_"))
    model_path = work / "digits_int.onnx"
    accuracy = build_model(model_path, images[train], labels[train])
    from bnnc.frontend.onnx.patterns import read
    from bnnc.ir.domain import parse_input_domain

    reading = read(model_path, parse_input_domain("int:0..16"), expand_int=True)
    predict = reading.model.framework_predict
    assert predict is not None
    rows = []
    for eps in args.eps:
        for index in test[: args.images].tolist():
            pixels = images[index].reshape(-1).astype(int)
            bits = np.zeros((64, 16), dtype=bool)
            for j, p in enumerate(pixels.tolist()):
                bits[j, :p] = True
            label = int(predict(bits.reshape(1, -1))[0])
            prop = work / f"img{index}_eps{eps}.vnnlib"
            prop.write_text(property_text(pixels, label, eps))
            t = time.perf_counter()
            result = bnnc.vnnlib(model_path, prop, input_domain="int:0..16", time_limit=args.cap)
            seconds = time.perf_counter() - t
            rows.append({"image": index, "eps": eps, "result": result.status, "seconds": seconds})
            print(f"image {index} ε={eps}: {result.status} in {seconds:.2f} s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine_info(started, load)
    (args.out / "domains.json").write_text(
        json.dumps({"accuracy": accuracy, "rows": rows, "machine": info}, indent=1) + "\n"
    )
    lines = [
        "# ε-box queries, 8×8 digits, first layer reading pixels 0..16 (order encoding)",
        "",
        f"Model 64-45-10 built by `bench/domains.py` (training accuracy {accuracy:.1%}); "
        f"test images 0–{args.images - 1} of the digits split; cap {args.cap:g} s per query, "
        "model read anew each time (included). Machine: "
        f"{info.get('cpus')} CPUs, started {info.get('started')}.",
        "",
        "| ε | sat | unsat | timeout/unknown | median s | max s |",
        "|---|---|---|---|---|---|",
    ]
    for eps in args.eps:
        mine = [r for r in rows if r["eps"] == eps]
        count = {s: sum(r["result"] == s for r in mine) for s in ("sat", "unsat")}
        other = len(mine) - count["sat"] - count["unsat"]
        times = [r["seconds"] for r in mine]
        lines.append(
            f"| {eps} | {count['sat']} | {count['unsat']} | {other} | "
            f"{statistics.median(times):.2f} | {max(times):.2f} |"
        )
    (args.out / "domains.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
