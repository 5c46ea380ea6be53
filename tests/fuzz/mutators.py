"""Mutators for the fuzz suite: each takes a seeded ``random.Random`` and a valid model (text
or ONNX bytes) and returns a damaged one.  Plain functions of a seed, so that the CI corpus
(hypothesis, derandomised) and ``bench/fuzz.py`` replay exactly the same cases."""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

# ---------------------------------------------------------------------------- text models

EXTREME_NUMBERS = [
    "1e308", "-1e308", "1e309", "nan", "inf", "-inf", "0", "-0", "1e-320", "5e-324",
    "123456789012345678901234567890", "-2.5E3", ".5", "3", "-1", "1e38", "0.49999999999999994",
]  # fmt: skip
EVIL_NAMES = [
    '"a\\np cnf 1 1\\n-1 0"', '"\\ud800"', '"é"', '"x\\u2028y"', '"\\u0000"', '"tab\\there"',
    '"T-shirt/top"', '"\\u202e"', "network", '""', '"' + "n" * 2000 + '"',
]  # fmt: skip
ODD_TEXT = ["\x00", "\u2028", "é", "\ufeff", "\r", "\t", "{", "}", "#", ">=", "+-0", "\\", '"']

_TOKEN = re.compile(r"\S+|\s+")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _words(tokens: list[str]) -> list[int]:
    return [k for k, t in enumerate(tokens) if not t.isspace()]


def delete_token(rng: random.Random, text: str) -> str:
    tokens = _tokens(text)
    del tokens[rng.choice(_words(tokens))]
    return "".join(tokens)


def duplicate_token(rng: random.Random, text: str) -> str:
    tokens = _tokens(text)
    k = rng.choice(_words(tokens))
    tokens.insert(k, tokens[k] + " ")
    return "".join(tokens)


def swap_tokens(rng: random.Random, text: str) -> str:
    tokens = _tokens(text)
    a, b = rng.sample(_words(tokens), 2)
    tokens[a], tokens[b] = tokens[b], tokens[a]
    return "".join(tokens)


def extreme_number(rng: random.Random, text: str) -> str:
    tokens = _tokens(text)
    numbers = [k for k in _words(tokens) if re.fullmatch(r"[+-]?[0-9.]+(e[+-]?[0-9]+)?", tokens[k])]
    if not numbers:
        return text
    tokens[rng.choice(numbers)] = rng.choice(EXTREME_NUMBERS)
    return "".join(tokens)


def evil_name(rng: random.Random, text: str) -> str:
    name = rng.choice(EVIL_NAMES)
    where = rng.choice(["network", "classes", "block", "output", "threshold", "argmax"])
    return re.sub(rf"(?m)^({where}) \S+", lambda m: f"{m.group(1)} {name}", text, count=1)


def odd_text(rng: random.Random, text: str) -> str:
    k = rng.randrange(len(text) + 1)
    return text[:k] + rng.choice(ODD_TEXT) + text[k:]


def wrong_width(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    rows = [k for k, line in enumerate(lines) if re.fullmatch(r"\s*[+\-0][+\-0 ]*(#.*)?", line)]
    if not rows:
        return text
    k = rng.choice(rows)
    lines[k] = lines[k].replace("+", "++", 1) if rng.random() < 0.5 else lines[k][:-1]
    return "\n".join(lines)


def line_edit(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    k = rng.randrange(len(lines))
    if rng.random() < 0.5:
        del lines[k]
    else:
        lines.insert(k, lines[rng.randrange(len(lines))])
    return "\n".join(lines)


def huge_shape(rng: random.Random, text: str) -> str:
    shape = rng.choice(["100000x100000", "0", "99999999999999999999999", "4294967296", "1x0"])
    return re.sub(r"(?m)^input \S+", f"input {shape}", text, count=1)


def truncate(rng: random.Random, text: str) -> str:
    return text[: rng.randrange(len(text))]


def add_region(rng: random.Random, text: str) -> str:
    width = rng.choice([9, 8, 10, 25, 1])
    mask = "".join(rng.choice("+-.01") for _ in range(width))
    if rng.random() < 0.5:
        return text + f"\nfix {{ {mask} }}\n"
    center = "".join(rng.choice("+-") for _ in range(width))
    return text + f"\nnear {{ {center} }} within {rng.choice(['0', '1', '3', '-1', '99', 'x'])}\n"


TEXT_MUTATORS: dict[str, Callable[[random.Random, str], str]] = {
    f.__name__: f
    for f in (
        delete_token, duplicate_token, swap_tokens, extreme_number, evil_name, odd_text,
        wrong_width, line_edit, huge_shape, truncate, add_region,
    )
}  # fmt: skip


def mutate_text(seed: int, text: str) -> tuple[str, str]:
    """(mutator names, mutated text): one to three mutations chosen by ``seed``."""
    rng = random.Random(seed)
    names = rng.choices(sorted(TEXT_MUTATORS), k=rng.choice([1, 1, 2, 3]))
    for name in names:
        if len(_words(_tokens(text))) >= 2:  # a text cut to nothing stays nothing
            text = TEXT_MUTATORS[name](rng, text)
    return "+".join(names), text


# ---------------------------------------------------------------------------- ONNX graphs

ATTRIBUTE_VALUES: dict[str, list[object]] = {
    "ArgMax": [("select_last_index", 1), ("axis", 0), ("axis", -1), ("keepdims", 1), ("bogus", 1)],
    "Gemm": [("transA", 1), ("transB", 0), ("alpha", 2.0), ("alpha", -1.0), ("beta", 0.5),
             ("beta", float("inf")), ("alpha", float("nan")), ("bogus", 1)],
    "BatchNormalization": [("epsilon", 1e30), ("epsilon", -1.0), ("momentum", 0.5),
                           ("training_mode", 1), ("bogus", 1.0)],
    "Flatten": [("axis", 0), ("axis", 2), ("axis", -1)],
    "GreaterOrEqual": [("bogus", 1)],
    "Where": [("bogus", 1)],
}  # fmt: skip
EXTREME_FLOATS = [np.nan, np.inf, -np.inf, 3e38, -3e38, 1e-45, -0.0, 0.0, 2.0, 0.5]


def set_attribute(rng: random.Random, model: onnx.ModelProto) -> None:
    nodes = [n for n in model.graph.node if n.op_type in ATTRIBUTE_VALUES]
    if not nodes:
        return
    node = rng.choice(nodes)
    name, value = rng.choice(ATTRIBUTE_VALUES[node.op_type])  # type: ignore[misc]
    for attribute in list(node.attribute):
        if attribute.name == name:
            node.attribute.remove(attribute)
    node.attribute.append(helper.make_attribute(name, value))


def extreme_initialiser(rng: random.Random, model: onnx.ModelProto) -> None:
    floats = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT]
    tensor = rng.choice(floats)
    array = numpy_helper.to_array(tensor).copy()
    flat = array.reshape(-1)
    if flat.size:
        flat[rng.randrange(flat.size)] = rng.choice(EXTREME_FLOATS)
    tensor.CopyFrom(numpy_helper.from_array(array, tensor.name))


def delete_node(rng: random.Random, model: onnx.ModelProto) -> None:
    del model.graph.node[rng.randrange(len(model.graph.node))]


def duplicate_node(rng: random.Random, model: onnx.ModelProto) -> None:
    k = rng.randrange(len(model.graph.node))
    model.graph.node.insert(k, copy.deepcopy(model.graph.node[k]))


def swap_nodes(rng: random.Random, model: onnx.ModelProto) -> None:
    nodes = list(model.graph.node)
    a, b = rng.sample(range(len(nodes)), 2)
    nodes[a], nodes[b] = nodes[b], nodes[a]
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def rewire(rng: random.Random, model: onnx.ModelProto) -> None:
    node = rng.choice(list(model.graph.node))
    names = [o for n in model.graph.node for o in n.output] + [
        t.name for t in model.graph.initializer
    ]
    if node.input:
        node.input[rng.randrange(len(node.input))] = rng.choice(names)


def evil_onnx_name(rng: random.Random, model: onnx.ModelProto) -> None:
    name = rng.choice(["a\np cnf 1 1\n-1 0", "\u2028", "é", "x" * 3000, ""])
    if rng.random() < 0.5:
        model.graph.name = name
    else:
        rng.choice(list(model.graph.node)).name = name


def versions(rng: random.Random, model: onnx.ModelProto) -> None:
    if rng.random() < 0.5:
        model.ir_version = rng.choice([1, 3, 99])
    else:
        model.opset_import[0].version = rng.choice([1, 7, 99])


def duplicate_names(rng: random.Random, model: onnx.ModelProto) -> None:
    for node in model.graph.node:
        node.name = "same"


def input_shape(rng: random.Random, model: onnx.ModelProto) -> None:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dim = dims[rng.randrange(len(dims))]
    dim.dim_value = rng.choice([1, 2, 4, 100000])


ONNX_MUTATORS: dict[str, Callable[[random.Random, onnx.ModelProto], None]] = {
    f.__name__: f
    for f in (
        set_attribute, extreme_initialiser, delete_node, duplicate_node, swap_nodes, rewire,
        evil_onnx_name, versions, duplicate_names, input_shape,
    )
}  # fmt: skip
BYTE_MUTATORS = ("flip_byte", "truncate_bytes")


def mutate_onnx(seed: int, model: onnx.ModelProto) -> tuple[str, bytes]:
    """(mutator name, the serialised mutated model): one mutation chosen by ``seed``."""
    rng = random.Random(seed)
    name = rng.choice(sorted(ONNX_MUTATORS) + list(BYTE_MUTATORS))
    if name in BYTE_MUTATORS:
        data = bytearray(model.SerializeToString())
        if name == "flip_byte":
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        else:
            data = data[: rng.randrange(len(data))]
        return name, bytes(data)
    mutated = copy.deepcopy(model)
    ONNX_MUTATORS[name](rng, mutated)
    return name, mutated.SerializeToString()
