"""Step 2 of reading the text language: the parse tree becomes the trained or lowered IR.

:class:`Builder` walks the tree and checks everything the grammar does not (row lengths, value
counts, unique names, …) while it still knows where each item was written, so the error points
at the offending row, keyword or character.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
from numpy.typing import NDArray

from bnnc.errors import ModelError, ParseError, Span
from bnnc.frontend.text.conv import conv_block, pool_block
from bnnc.frontend.text.syntax import position
from bnnc.ir.bnn import Arithmetic, BatchNorm, BnnModel, InnerBlock, OutputBlock, check_input_size
from bnnc.ir.ilp import ArgmaxLayer, IlpModel, ThresholdLayer
from bnnc.ir.names import name_problem
from bnnc.ir.region import Region
from bnnc.ir.tensor import frozen, ternary

if TYPE_CHECKING:
    from lark import Token

    from bnnc.frontend.text.syntax import Node

    # Where an error points: a token, a rule (its first token), or an explicit (line, column).
    Where: TypeAlias = Token | Node | tuple[int, int]

_TRAINED_KINDS = ("block", "output", "conv", "pool")
_BATCHNORM_ARRAYS = ("gamma", "beta", "mean", "var")
_INT64 = np.iinfo(np.int64)

# Characters allowed in a weight row besides the weights themselves (the ROW token may carry
# trailing blanks; a tab counts as one column, as in lark's positions).
ROW_BLANKS = " \t\r"
_DROPROW_BLANKS = str.maketrans("", "", ROW_BLANKS)
_NOT_A_WEIGHT = re.compile(r"[^+\-0 \t\r]")
# Byte value of '+', '-', '0' → weight; rows are validated before this table is used.
_WEIGHT_OF_BYTE = np.zeros(256, dtype=np.int8)
_WEIGHT_OF_BYTE[ord("+")] = 1
_WEIGHT_OF_BYTE[ord("-")] = -1

_INTEGER = re.compile(r"[+-]?[0-9]+")
_SPELLED_NON_FINITE = re.compile(r"[+-]?(?:inf(?:inity)?|nan)", re.IGNORECASE)


def _count(n: int, noun: str) -> str:
    """'1 neuron', '2 neurons', '3 classes'."""
    if n == 1:
        return f"1 {noun}"
    return f"{n} {noun}{'es' if noun.endswith('s') else 's'}"


def _subtrees(node: Node) -> list[Node]:
    from lark import Tree

    return [child for child in node.children if isinstance(child, Tree)]


def _tokens(node: Node) -> list[Token]:
    from lark import Token

    return [child for child in node.children if isinstance(child, Token)]


_COMMENT = re.compile(r"#[^\n]*")
_NUMBER_OR_BREAK = re.compile(r"#[^\n]*|\n|[^\s#]+")


class _Numbers:
    """The numbers of a NUMBERS token (a run of numbers, blanks and comments): their texts,
    split at C speed, and each one's position, worked out only when an error needs it."""

    def __init__(self, run: Token | None) -> None:
        self.run = run
        self.texts: list[str] = [] if run is None else _COMMENT.sub(" ", str(run)).split()

    def __len__(self) -> int:
        return len(self.texts)

    def token(self, index: int) -> Token:
        """The ``index``-th number as a NUMBER token at its own line and column."""
        from lark import Token

        assert self.run is not None
        line, column = self.run.line or 1, self.run.column or 1
        line_start, k = 0, 0
        for match in _NUMBER_OR_BREAK.finditer(str(self.run)):
            text = match.group()
            if text == "\n":
                line, column, line_start = line + 1, 1, match.end()
            elif not text.startswith("#"):
                if k == index:
                    col = column + match.start() - line_start
                    return Token("NUMBER", text, line=line, column=col)
                k += 1
        raise IndexError(index)


def _numbers(node: Node) -> _Numbers:
    """The numbers after a ``bias`` or batch-norm keyword."""
    runs = [token for token in _tokens(node) if token.type == "NUMBERS"]
    return _Numbers(runs[0] if runs else None)


class Builder:
    """Turns a parse tree into IR, checking each rule while it knows where things were written."""

    def __init__(self, filename: str, lines: list[str]) -> None:
        self.filename = filename
        self.lines = lines
        self.start: tuple[int, int] = (1, 1)  # the `network` line, once known

    def error(self, where: Where, message: str) -> ParseError:
        if isinstance(where, tuple):
            line, column = (max(1, n) if isinstance(n, int) else 1 for n in where)
        elif isinstance(where, str):  # a Token (lark's Token is a str)
            line, column = position(where)
        else:
            line, column = where.meta.line, where.meta.column
        # rstrip: a source read without newline translation may end its lines with '\r'.
        source_line = self.lines[line - 1].rstrip("\r") if 1 <= line <= len(self.lines) else None
        return ParseError(Span(self.filename, line, column), message, source_line)

    # ---- the model

    def build(self, tree: Node) -> BnnModel | IlpModel:
        header: dict[str, Node] = {}
        layers: list[Node] = []
        regions: list[Node] = []
        for child in _subtrees(tree):
            if child.data in ("network", "input", "arithmetic", "classes"):
                header[str(child.data)] = child
            elif child.data in ("fix", "near"):
                regions.append(child)
            else:
                layers.append(child)
        self.start = (header["network"].meta.line, header["network"].meta.column)
        name = self.name(_tokens(header["network"])[0])
        input_shape = self.shape(_tokens(header["input"])[0])
        class_names = self.class_names(header["classes"]) if "classes" in header else None
        end_of_model = (tree.meta.end_line, tree.meta.end_column)
        lowered = self.check_layout(layers, end_of_model)
        region = self.region(regions, input_shape) if regions else None

        # Each layer's rows are as wide as the previous layer; `why` says so in error messages.
        width = math.prod(input_shape)
        why = f"one per input: the input is {'x'.join(map(str, input_shape))}"
        if lowered:
            if "arithmetic" in header:
                raise self.error(
                    header["arithmetic"],
                    "'arithmetic' only applies to trained models; the lowered form is exact",
                )
            thresholds: list[ThresholdLayer] = []
            for node in layers[:-1]:
                layer = self.threshold_layer(node, width, why)
                thresholds.append(layer)
                width, why = layer.n_out, f"one per neuron of threshold {layer.name!r}"
            argmax = self.argmax_layer(layers[-1], width, why)
            self.check_class_count(header.get("classes"), class_names, argmax.n_classes)
            return IlpModel(name, input_shape, tuple(thresholds), argmax, class_names, region)

        arithmetic: Arithmetic = "float64"
        if "arithmetic" in header:
            arithmetic = "float32" if _tokens(header["arithmetic"])[0] == "float32" else "float64"
        blocks: list[InnerBlock] = []
        for node in layers[:-1]:
            if node.data == "conv":
                block = conv_block(self, node, width, why)
            elif node.data == "pool":
                block = pool_block(self, node, width, why)
            else:
                block = self.inner_block(node, width, why)
            blocks.append(block)
            width, why = block.n_out, f"one per neuron of block {block.name!r}"
        output = self.output_block(layers[-1], width, why)
        self.check_class_count(header.get("classes"), class_names, output.n_classes)
        return BnnModel(
            name, input_shape, tuple(blocks), output, class_names, arithmetic, region=region
        )

    def region(self, nodes: Sequence[Node], input_shape: tuple[int, ...]) -> Region:
        """The intersection of the file's ``fix`` and ``near`` statements."""
        n = math.prod(input_shape)
        region = Region.everything(n)
        for node in nodes:
            tokens = _tokens(node)
            rows = [t for t in tokens if t.type == "MASK_ROW"]
            chars: list[tuple[str, Token, int]] = []
            for row in rows:
                for offset, ch in enumerate(str(row)):
                    if not ch.isspace():
                        chars.append((ch, row, offset))
            allowed = "+-10." if node.data == "fix" else "+-10"
            for ch, row, offset in chars:
                if ch not in allowed:
                    what = "+, -, 1, 0 or ." if node.data == "fix" else "+, -, 1 or 0"
                    raise self.error(
                        (row.line or 1, (row.column or 1) + offset),
                        f"a '{node.data}' bit is {what}, not {ch!r}",
                    )
            if len(chars) != n:
                raise self.error(
                    node,
                    f"'{node.data}' gives {_count(len(chars), 'bit')}; the input has {n} "
                    f"({'x'.join(map(str, input_shape))})",
                )
            try:
                if node.data == "fix":
                    values = {i: ch in "+1" for i, (ch, _, _) in enumerate(chars) if ch != "."}
                    region = region.intersect(Region.with_fixed(n, values))
                else:
                    flips = self.integer(tokens[-1], "the number of flips")
                    if flips < 0:
                        raise self.error(tokens[-1], "the number of flips must be at least 0")
                    center = [ch in "+1" for ch, _, _ in chars]
                    region = region.intersect(Region.ball(center, flips))
            except ModelError as err:
                if isinstance(err, ParseError):
                    raise
                raise self.error(node, err.message) from None
        return region

    def check_layout(self, layers: Sequence[Node], end_of_model: tuple[int, int]) -> bool:
        """One form only, the output block last, unique names; return True for the lowered form."""
        if not layers:
            raise self.error(
                end_of_model, "the model has no output block: it should end with 'output <name> {'"
            )
        first = layers[0]
        lowered = first.data not in _TRAINED_KINDS
        final = "argmax" if lowered else "output"
        for node in layers:
            if (node.data not in _TRAINED_KINDS) != lowered:
                raise self.error(
                    node,
                    f"'{node.data}' cannot be mixed with '{first.data}' (line {first.meta.line}): "
                    "a model is either trained (block ... output) or lowered "
                    "(threshold ... argmax)",
                )
        for node, after in itertools.pairwise(layers):
            if node.data == final:
                raise self.error(
                    after,
                    f"the {final} block on line {node.meta.line} must be the last block",
                )
        if layers[-1].data != final:
            raise self.error(
                end_of_model,
                f"the model has no output block: it should end with '{final} <name> {{'",
            )
        seen: dict[str, Token] = {}
        for node in layers:
            token = _tokens(node)[1 if node.data == "pool" else 0]
            name = self.name(token)
            if name in seen:
                raise self.error(
                    token,
                    f"there is already a block called {name!r} (line {seen[name].line}); "
                    "block names must be unique",
                )
            seen[name] = token
        return lowered

    def class_names(self, node: Node) -> tuple[str, ...]:
        names: dict[str, Token] = {}
        for token in _tokens(node):
            name = self.name(token)
            if name in names:
                raise self.error(token, f"class name {name!r} is given twice")
            names[name] = token
        return tuple(names)

    def check_class_count(
        self, node: Node | None, class_names: tuple[str, ...] | None, n_classes: int
    ) -> None:
        if node is not None and class_names is not None and len(class_names) != n_classes:
            raise self.error(
                node,
                f"{_count(len(class_names), 'class name')} for {_count(n_classes, 'class')} "
                "(one per weight row of the output block)",
            )

    # ---- trained blocks

    def inner_block(self, node: Node, width: int, why: str) -> InnerBlock:
        name = self.name(_tokens(node)[0])
        weights_node, *rest = _subtrees(node)
        weights = self.weights(weights_node, width, why)
        n_out = int(weights.shape[0])
        bias = frozen(np.zeros(n_out), np.float64)
        batchnorm = None
        for part in rest:
            if part.data == "bias":
                bias = self.reals(part, _numbers(part), n_out, "bias", "neuron")
            else:
                batchnorm = self.batchnorm(part, n_out)
        return InnerBlock(name, weights, bias, batchnorm)

    def output_block(self, node: Node, width: int, why: str) -> OutputBlock:
        name = self.name(_tokens(node)[0])
        weights_node, *rest = _subtrees(node)
        weights = self.weights(weights_node, width, why)
        n_classes = int(weights.shape[0])
        bias = frozen(np.zeros(n_classes), np.float64)
        for part in rest:
            if part.data == "batchnorm":
                raise self.error(
                    part, "an output block has no batch norm: it computes argmax(A x + b)"
                )
            bias = self.reals(part, _numbers(part), n_classes, "bias", "class")
        return OutputBlock(name, weights, bias)

    def batchnorm(self, node: Node, n_out: int) -> BatchNorm:
        params: dict[str, tuple[Token, _Numbers]] = {}
        for param in _subtrees(node):
            keyword, values = _tokens(param)[0], _numbers(param)
            if keyword in params:
                raise self.error(
                    keyword,
                    f"{keyword} is given twice (first on line {params[keyword][0].line})",
                )
            params[str(keyword)] = (keyword, values)
        missing = [p for p in (*_BATCHNORM_ARRAYS, "eps") if p not in params]
        if missing:
            raise self.error(
                node,
                f"this batch norm lacks {', '.join(missing)}: "
                "it needs gamma, beta, mean, var and eps",
            )
        arrays = {
            p: self.reals(params[p][0], params[p][1], n_out, p, "neuron") for p in _BATCHNORM_ARRAYS
        }
        eps_keyword, eps_values = params["eps"]
        if len(eps_values) != 1:
            raise self.error(eps_keyword, f"eps takes one number, got {len(eps_values)}")
        eps = self.real(eps_values.token(0))
        if eps < 0:
            raise self.error(eps_values.token(0), "eps must be ≥ 0")
        # The same test as BnnModel.verify(): the batch norm divides by sqrt(var + eps).
        bad = np.flatnonzero(~(arrays["var"] + eps > 0))
        if bad.size:
            i = int(bad[0])
            raise self.error(
                params["var"][1].token(i),
                f"var + eps = {float(arrays['var'][i] + eps)!r} for neuron {i}; it must be > 0 "
                "(the batch norm divides by its square root)",
            )
        return BatchNorm(
            gamma=arrays["gamma"],
            beta=arrays["beta"],
            mean=arrays["mean"],
            var=arrays["var"],
            eps=eps,
        )

    # ---- lowered blocks

    def threshold_layer(self, node: Node, width: int, why: str) -> ThresholdLayer:
        name = self.name(_tokens(node)[0])
        rows = _subtrees(node)
        if not rows:
            raise self.error(node, "this threshold block is empty: write one 'row >= C' per neuron")
        weights: list[NDArray[np.int8]] = []
        thresholds: list[int] = []
        for row_node in rows:
            row, bound = _tokens(row_node)
            weights.append(self.weight_row(row, width, why))
            thresholds.append(self.integer(bound, "a threshold"))
        return ThresholdLayer(name, ternary(np.stack(weights)), frozen(thresholds, np.int64))

    def argmax_layer(self, node: Node, width: int, why: str) -> ArgmaxLayer:
        name = self.name(_tokens(node)[0])
        weights_node, *beats_nodes = _subtrees(node)
        weights = self.weights(weights_node, width, why)
        n = int(weights.shape[0])
        beats = np.zeros((n, n), dtype=np.int64)  # only the strict upper triangle is meaningful
        seen: dict[tuple[int, int], Node] = {}
        for line in beats_nodes:
            first, second, bound = _tokens(line)
            c, j = self.class_index(first, n), self.class_index(second, n)
            if c >= j:
                raise self.error(
                    first,
                    f"write each pair once, lower class first: 'beats {min(c, j)} {max(c, j)}'"
                    if c != j
                    else "a class is not compared with itself",
                )
            if (c, j) in seen:
                raise self.error(
                    line,
                    f"the pair {c} {j} is already given on line {seen[c, j].meta.line}",
                )
            seen[c, j] = line
            beats[c, j] = self.integer(bound, "a threshold")
        for c in range(n):
            for j in range(c + 1, n):
                if (c, j) not in seen:
                    raise self.error(
                        node,
                        f"argmax {name!r} lacks 'beats {c} {j} >= T': "
                        "every pair of classes c < j needs one line",
                    )
        return ArgmaxLayer(name, weights, frozen(beats, np.int64))

    # ---- pieces

    def weights(self, node: Node, width: int, why: str) -> NDArray[np.int8]:
        rows = _tokens(node)
        if not rows:
            raise self.error(node, "this weights block is empty: write one row per neuron")
        return ternary(np.stack([self.weight_row(row, width, why) for row in rows]))

    def weight_row(self, row: Token, width: int, why: str) -> NDArray[np.int8]:
        """One row of '+', '-', '0' (blanks ignored) as int8, checked to be ``width`` long."""
        text = str(row)
        bad = _NOT_A_WEIGHT.search(text)
        if bad:
            line, column = position(row)
            raise self.error(
                (line, column + bad.start()),
                f"{bad.group()!r} is not a weight: write '+' for +1, '-' for -1 and '0' for 0",
            )
        digits = text.translate(_DROPROW_BLANKS)
        if len(digits) != width:
            raise self.error(
                row,
                f"this row has {_count(len(digits), 'weight')}, expected {width} ({why})",
            )
        # One vectorised lookup instead of a Python loop: rows of big models are long.
        return _WEIGHT_OF_BYTE[np.frombuffer(digits.encode("ascii"), dtype=np.uint8)]

    def reals(
        self, where: Where, numbers: _Numbers, count: int, what: str, unit: str
    ) -> NDArray[np.float64]:
        if len(numbers) != count:
            raise self.error(
                where,
                f"{_count(len(numbers), f'{what} value')} for {_count(count, unit)}: "
                f"give one per {unit}",
            )
        values = np.array(list(map(float, numbers.texts)), dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            self.real(numbers.token(int(bad[0])))  # raises, pointing at the number
        return frozen(values, np.float64)

    def real(self, token: Token) -> float:
        value = float(token)  # NUMBER's syntax is a subset of what float() reads
        if math.isfinite(value):
            return value
        if _SPELLED_NON_FINITE.fullmatch(token):
            raise self.error(token, f"{token} is not allowed: parameters must be finite numbers")
        raise self.error(token, f"{token} is too large for a 64-bit float")

    def integer(self, token: Token, what: str) -> int:
        if not _INTEGER.fullmatch(token):
            raise self.error(token, f"{what} must be an integer, got {token}")
        # Python refuses to convert integers of thousands of digits; none of those fit anyway.
        value = int(token) if len(token) <= 30 else _INT64.max + 1
        if not _INT64.min <= value <= _INT64.max:
            raise self.error(token, f"{what} must fit in a 64-bit integer, got {token}")
        return value

    def class_index(self, token: Token, n_classes: int) -> int:
        index = self.integer(token, "a class index")
        if not 0 <= index < n_classes:
            raise self.error(
                token,
                f"class {index} does not exist: the classes are numbered 0 to {n_classes - 1}",
            )
        return index

    def shape(self, token: Token) -> tuple[int, ...]:
        # Like integer(): keep int() away from absurdly long digit strings.
        dims = tuple(int(d) if len(d) <= 30 else _INT64.max + 1 for d in token.split("x"))
        if any(d <= 0 for d in dims):
            raise self.error(token, f"input sizes must be positive, got {token}")
        if any(d > _INT64.max for d in dims):
            raise self.error(token, f"input size too large in {token}")
        try:
            check_input_size(dims)
        except ModelError as err:
            raise self.error(token, err.message) from None
        return dims

    def name(self, token: Token) -> str:
        if token.type != "STRING":
            return str(token)
        try:
            # STRING only matches valid JSON string literals (see bnn.lark).
            value = json.loads(token)
        except ValueError:  # pragma: no cover - the grammar should have refused the token
            raise self.error(token, f"invalid quoted name {token}") from None
        problem = name_problem(str(value))
        if problem is not None:
            raise self.error(token, f"the name {problem}; names must be printable text")
        return str(value)
