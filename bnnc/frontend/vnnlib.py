"""VNN-LIB properties (the VNN-COMP subset), read with lark into a :class:`VnnProperty`.

The subset (the one VNN-COMP's classification benchmarks use):

- ``(declare-const X_i Real)`` for every input element i (flattened, row-major) and
  ``(declare-const Y_j Real)`` for every output j;
- an input box: ``(assert (<= X_i c))`` and ``(assert (>= X_i c))`` (either operand order, or
  several bounds under one ``(and …)``); every X_i needs both bounds;
- output constraints: ``(assert F)`` where F is a linear inequality over the Y's (``<=``,
  ``>=``, ``<``, ``>``; terms ``Y_j``, numbers, ``(+ …)``, ``(- …)``, ``(* c e)``), an
  ``(and …)`` of them, or an ``(or …)`` of such conjunctions.  Several asserts are conjoined.

A property asks whether some input in the box gives outputs that satisfy every assert: ``sat``
(a counterexample to the property its author meant to verify) or ``unsat``.  Numbers are read
exactly (as fractions of their decimal text).  Anything outside the subset is a
:class:`~bnnc.errors.ParseError` with the line, column and a caret.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from bnnc.errors import ModelError, ParseError, Span

if TYPE_CHECKING:
    from lark import Lark, Token, Tree

GRAMMAR = r"""
start: _sexpr*
_sexpr: list | SYMBOL | NUMBER
list: "(" _sexpr* ")"
NUMBER.2: /[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(?![A-Za-z_])/
SYMBOL: /[A-Za-z_+\-*\/<>=!?.~^&%$@][A-Za-z0-9_+\-*\/<>=!?.~^&%$@]*/
COMMENT: /;[^\n]*/
%import common.WS
%ignore WS
%ignore COMMENT
"""
_VARIABLE = re.compile(r"([XY])_(\d+)")
_COMPARE = {"<=", ">=", "<", ">"}


@dataclass(frozen=True)
class Atom:
    """Σ coefficients[j]·Y_j ≤ bound (strict: <)."""

    coefficients: tuple[tuple[int, Fraction], ...]  # (output index, coefficient), sorted
    bound: Fraction
    strict: bool

    def holds(self, y: list[Fraction]) -> bool:
        total = sum((c * y[j] for j, c in self.coefficients), Fraction(0))
        return total < self.bound if self.strict else total <= self.bound

    def __str__(self) -> str:
        terms = " + ".join(f"{c}·Y_{j}" for j, c in self.coefficients) or "0"
        return f"{terms} {'<' if self.strict else '<='} {self.bound}"


Conjunction: TypeAlias = tuple[Atom, ...]


@dataclass(frozen=True)
class VnnProperty:
    """An input box and a disjunction of conjunctions of linear constraints over the outputs."""

    path: str
    n_inputs: int
    n_outputs: int
    lower: tuple[Fraction, ...]  # per input element
    upper: tuple[Fraction, ...]
    disjuncts: tuple[Conjunction, ...]  # the outputs satisfy one of these (none: never)

    def outputs_hold(self, y: list[Fraction]) -> bool:
        return any(all(atom.holds(y) for atom in conj) for conj in self.disjuncts)


@functools.cache
def _parser() -> Lark:
    import lark

    return lark.Lark(GRAMMAR, parser="lalr", propagate_positions=True)


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path, self.lines = str(path), text.splitlines()

    def error(self, where: tuple[int, int], message: str) -> ParseError:
        line, column = where
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        return ParseError(Span(self.path, line, column), message, source)

    def at(self, node: Tree[Token] | Token) -> tuple[int, int]:
        from lark import Token

        if isinstance(node, Token):
            return (node.line or 1, node.column or 1)
        return (node.meta.line, node.meta.column) if not node.meta.empty else (1, 1)


def read_vnnlib(path: str | Path) -> VnnProperty:
    """Read a VNN-LIB file (see the module docstring for the subset)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError("no such file", where=str(file)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ModelError(f"cannot read the property: {err}", where=str(file)) from None
    return parse_vnnlib(text, file)


def parse_vnnlib(text: str, path: str | Path = "<vnnlib>") -> VnnProperty:
    from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

    reader = _Reader(Path(path), text)
    try:
        tree = _parser().parse(text)
    except UnexpectedToken as err:
        found = "end of the file" if err.token.type == "$END" else repr(str(err.token))
        where = (err.token.line or 1, err.token.column or 1)
        if err.token.type == "$END":
            where = (len(reader.lines) or 1, len(reader.lines[-1]) + 1 if reader.lines else 1)
        raise reader.error(where, f"unexpected {found} (unbalanced parentheses?)") from None
    except UnexpectedCharacters as err:
        raise reader.error((err.line, err.column), f"unexpected character {err.char!r}") from None
    except UnexpectedInput as err:
        raise reader.error((err.line, err.column), "cannot parse the property") from None
    return _interpret(reader, tree)


def _interpret(reader: _Reader, tree: Tree[Token]) -> VnnProperty:
    from lark import Token, Tree

    declared: dict[str, set[int]] = {"X": set(), "Y": set()}
    bounds: dict[int, list[Fraction | None]] = {}
    dnf: list[Conjunction] = [()]  # the conjunction of the asserts so far, as a DNF
    for command in tree.children:
        if not isinstance(command, Tree) or not command.children:
            raise reader.error(reader.at(command), "expected a command like (assert …)")
        head = command.children[0]
        name = str(head) if isinstance(head, Token) else ""
        if name == "declare-const":
            _declare(reader, command, declared)
        elif name == "assert":
            if len(command.children) != 2:
                raise reader.error(reader.at(command), "assert takes one formula")
            formula = command.children[1]
            box = _box_bounds(reader, formula)
            if box is not None:
                for index, is_upper, value in box:
                    slot = bounds.setdefault(index, [None, None])
                    old = slot[is_upper]
                    tighter = value if old is None else (min if is_upper else max)(old, value)
                    slot[is_upper] = tighter
            else:
                new = _output_dnf(reader, formula)
                dnf = [a + b for a in dnf for b in new]
        else:
            raise reader.error(
                reader.at(command), f"{name or 'this'!s} is not a command of the VNN-LIB subset"
            )
    n_x, n_y = _count(reader, declared, "X"), _count(reader, declared, "Y")
    for index in bounds:
        if index >= n_x:
            raise ModelError(f"X_{index} is bounded but not declared", where=reader.path)
    lower, upper = [], []
    for i in range(n_x):
        low, high = bounds.get(i, [None, None])
        if low is None or high is None:
            missing = "lower" if low is None else "upper"
            raise ModelError(f"X_{i} has no {missing} bound", where=reader.path)
        lower.append(low)
        upper.append(high)
    for conj in dnf:
        for atom in conj:
            for j, _ in atom.coefficients:
                if j >= n_y:
                    raise ModelError(f"Y_{j} is used but not declared", where=reader.path)
    return VnnProperty(reader.path, n_x, n_y, tuple(lower), tuple(upper), tuple(dnf))


def _declare(reader: _Reader, command: Tree[Token], declared: dict[str, set[int]]) -> None:
    from lark import Token

    parts = command.children
    if len(parts) != 3 or not all(isinstance(p, Token) for p in parts[1:]):
        raise reader.error(reader.at(command), "expected (declare-const NAME Real)")
    name, sort = parts[1], parts[2]
    match = _VARIABLE.fullmatch(str(name))
    if match is None:
        raise reader.error(reader.at(name), f"variables are X_i or Y_j, got {str(name)!r}")
    if str(sort) != "Real":
        raise reader.error(reader.at(sort), f"variables are Real, got {str(sort)!r}")
    declared[match[1]].add(int(match[2]))


def _count(reader: _Reader, declared: dict[str, set[int]], kind: str) -> int:
    indices = declared[kind]
    if indices != set(range(len(indices))):
        missing = min(set(range(max(indices, default=-1) + 1)) - indices)
        raise ModelError(f"{kind}_{missing} is not declared", where=reader.path)
    if not indices:
        raise ModelError(f"no {kind} variables are declared", where=reader.path)
    return len(indices)


def _op(node: Tree[Token] | Token) -> str:
    from lark import Token, Tree

    if isinstance(node, Tree) and node.children and isinstance(node.children[0], Token):
        return str(node.children[0])
    return ""


def _box_bounds(
    reader: _Reader, formula: Tree[Token] | Token
) -> list[tuple[int, bool, Fraction]] | None:
    """The bounds an assert puts on X's: (index, is upper bound, value); None when it
    mentions no X (an output constraint)."""
    if not _mentions(formula, "X"):
        return None
    from lark import Tree

    op = _op(formula)
    if op == "and":
        assert isinstance(formula, Tree)
        out: list[tuple[int, bool, Fraction]] = []
        for part in formula.children[1:]:
            got = _box_bounds(reader, part)
            if got is None:
                raise reader.error(reader.at(part), "input bounds and output constraints mixed")
            out += got
        return out
    if op not in ("<=", ">=") or not isinstance(formula, Tree) or len(formula.children) != 3:
        raise reader.error(
            reader.at(formula),
            "constraints on X must be box bounds (<= X_i c) or (>= X_i c)",
        )
    left, right = formula.children[1], formula.children[2]
    x_left = _variable(left, "X")
    x_right = _variable(right, "X")
    if (x_left is None) == (x_right is None):
        raise reader.error(reader.at(formula), "a box bound compares one X_i with a number")
    index = x_left if x_left is not None else x_right
    assert index is not None
    value = _number(reader, right if x_left is not None else left)
    is_upper = (op == "<=") == (x_left is not None)
    return [(index, is_upper, value)]


def _mentions(node: Tree[Token] | Token, kind: str) -> bool:
    from lark import Token

    if isinstance(node, Token):
        match = _VARIABLE.fullmatch(str(node))
        return match is not None and match[1] == kind
    return any(_mentions(child, kind) for child in node.children)


def _variable(node: Tree[Token] | Token, kind: str) -> int | None:
    from lark import Token

    if isinstance(node, Token):
        match = _VARIABLE.fullmatch(str(node))
        if match is not None and match[1] == kind:
            return int(match[2])
    return None


def _number(reader: _Reader, node: Tree[Token] | Token) -> Fraction:
    from lark import Token

    if isinstance(node, Token) and node.type == "NUMBER":
        return Fraction(str(node))
    raise reader.error(reader.at(node), "expected a number")


def _output_dnf(reader: _Reader, formula: Tree[Token] | Token) -> list[Conjunction]:
    from lark import Tree

    op = _op(formula)
    if op == "or":
        assert isinstance(formula, Tree)
        return [c for part in formula.children[1:] for c in _output_dnf(reader, part)]
    if op == "and":
        assert isinstance(formula, Tree)
        result: list[Conjunction] = [()]
        for part in formula.children[1:]:
            result = [a + b for a in result for b in _output_dnf(reader, part)]
        return result
    if op in _COMPARE:
        assert isinstance(formula, Tree)
        if len(formula.children) != 3:
            raise reader.error(reader.at(formula), f"{op} compares two terms")
        left = _linear(reader, formula.children[1])
        right = _linear(reader, formula.children[2])
        if op in ("<=", "<"):  # left − right ≤ 0
            diff = _combine(left, right, Fraction(-1))
        else:
            diff = _combine(right, left, Fraction(-1))
        constant = diff.pop(-1, Fraction(0))
        coefficients = tuple(sorted((j, c) for j, c in diff.items() if c != 0))
        return [(Atom(coefficients, -constant, op in ("<", ">")),)]
    raise reader.error(
        reader.at(formula), "expected a comparison (<=, >=, <, >), (and …) or (or …) over Y"
    )


def _combine(a: dict[int, Fraction], b: dict[int, Fraction], k: Fraction) -> dict[int, Fraction]:
    out = dict(a)
    for j, c in b.items():
        out[j] = out.get(j, Fraction(0)) + k * c
    return out


def _linear(reader: _Reader, node: Tree[Token] | Token) -> dict[int, Fraction]:
    """A linear term over the Y's as {output index: coefficient, −1: constant}."""
    from lark import Token, Tree

    if isinstance(node, Token):
        if node.type == "NUMBER":
            return {-1: Fraction(str(node))}
        index = _variable(node, "Y")
        if index is None:
            raise reader.error(reader.at(node), f"expected Y_j or a number, got {str(node)!r}")
        return {index: Fraction(1)}
    assert isinstance(node, Tree)
    op, args = _op(node), node.children[1:]
    if op == "+" and args:
        total: dict[int, Fraction] = {}
        for arg in args:
            total = _combine(total, _linear(reader, arg), Fraction(1))
        return total
    if op == "-" and args:
        first = _linear(reader, args[0])
        if len(args) == 1:
            return {j: -c for j, c in first.items()}
        for arg in args[1:]:
            first = _combine(first, _linear(reader, arg), Fraction(-1))
        return first
    if op == "*" and len(args) == 2:
        a, b = _linear(reader, args[0]), _linear(reader, args[1])
        for scalar, term in ((a, b), (b, a)):
            if set(scalar) == {-1}:
                return {j: scalar[-1] * c for j, c in term.items()}
        raise reader.error(reader.at(node), "a product needs a constant factor (linear terms)")
    raise reader.error(reader.at(node), f"expected a linear term over Y, got ({op} …)")
