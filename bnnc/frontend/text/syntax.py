"""Step 1 of reading the text language: lark turns the source into a tree.

lark (LALR, contextual lexer, grammar ``grammars/bnn.lark``) is imported, and the parser built,
on first use only, so that ``import bnnc`` stays fast.  A syntax error becomes a
:class:`ParseError` that says what was found and what could have come next, in words.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from bnnc.errors import InternalError, ParseError

if TYPE_CHECKING:
    from lark import Lark, Token, Tree
    from lark.exceptions import UnexpectedInput

    Node: TypeAlias = Tree[Token]

# Makes the ParseError for a (line, column) of the source: the builder's, which shows the
# source line with a caret.
ErrorAt: TypeAlias = Callable[[tuple[int, int], str], ParseError]

# Every keyword of the grammar.  A name spelled like one of them is printed quoted
# (bnnc.backend.text), because in some places the lexer would read it as the keyword.
KEYWORDS = frozenset(
    {
        "network",
        "input",
        "arithmetic",
        "classes",
        "block",
        "output",
        "weights",
        "bias",
        "batchnorm",
        "threshold",
        "argmax",
        "beats",
        "gamma",
        "beta",
        "mean",
        "var",
        "eps",
        "float64",
        "float32",
        "fix",
        "near",
        "within",
        "conv",
        "maxpool",
        "minpool",
        "kernel",
        "stride",
        "padding",
        "pad",
        "dilation",
        "groups",
        "ceil",
        "nchw",
        "nhwc",
    }
)

_GRAMMAR_FILE = "bnn.lark"

# How syntax errors name the terminals they expected.  Keywords and punctuation are shown
# quoted, from the grammar itself (see _describe_expected).
_TERMINAL_DESCRIPTIONS = {
    "ROW": "a weight row like +-0+",
    "NUMBER": "a number",
    "NUMBERS": "a number",
    "NAME": "a name",
    "STRING": "a name",
    "SHAPE": "an input shape like 28x28 or 784",
    "PRECISION": "'float64' or 'float32'",
    "BN_PARAM": "a batch norm parameter (gamma, beta, mean, var or eps)",
    "POOL": "'maxpool' or 'minpool'",
    "GEOMETRY_KEY": "kernel, stride, padding, dilation or groups",
    "LAYOUT": "'nchw' or 'nhwc'",
}
# Tokens that open a new part of a model: meeting one where '}' was possible usually means
# that the '}' closing the previous part is missing.
_SECTION_STARTS = frozenset(
    {
        "BLOCK",
        "OUTPUT",
        "THRESHOLD",
        "ARGMAX",
        "BIAS",
        "BATCHNORM",
        "BEATS",
        "BN_PARAM",
        "CONV",
        "POOL",
    }
)


def _grammar_path() -> Path:
    """bnn.lark inside the package (wheel install) or in the repository (source checkout).

    The package directory is taken from this module's own location, which is the same as
    ``Path(bnnc.__file__).parent`` but also works while ``bnnc`` is a namespace package.
    """
    package_dir = Path(__file__).resolve().parents[2]
    candidates = (
        package_dir / "grammars" / _GRAMMAR_FILE,
        package_dir.parent / "grammars" / _GRAMMAR_FILE,
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise InternalError(
        f"bnnc's grammar {_GRAMMAR_FILE} is missing (looked in "
        f"{', '.join(str(c.parent) for c in candidates)}); the installation is incomplete"
    )


@functools.cache
def _parser() -> Lark:
    """The lark parser, built once on first use (building it takes tens of milliseconds)."""
    import lark

    return lark.Lark(
        _grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",  # lets rows, numbers and names share characters (see bnn.lark)
        propagate_positions=True,  # rules carry the position of their first token: keywords
        # Reuse the LALR tables across processes (lark keys the cache file on the grammar and
        # options, in the temporary directory): saves most of a CLI run's parser set-up.
        cache=True,
    )


def parse_tree(source: str, error_at: ErrorAt) -> Node:
    """The parse tree of ``source``; a syntax error becomes the :class:`ParseError` that
    ``error_at`` makes for its position."""
    from lark.exceptions import LarkError, UnexpectedInput

    parser = _parser()
    try:
        return parser.parse(source)
    except UnexpectedInput as error:
        raise _syntax_error(error, parser, error_at) from None
    except LarkError as error:  # not expected from a valid grammar, but never leak lark's errors
        raise error_at((1, 1), f"cannot parse the model: {error}") from None


def _syntax_error(error: UnexpectedInput, parser: Lark, error_at: ErrorAt) -> ParseError:
    """A ParseError that says what was found and what could have come instead."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    expected: set[str] = set()
    hint = ""
    if isinstance(error, UnexpectedToken):
        token = error.token
        expected = set(error.expected)
        history = error.token_history or []
        if history and getattr(history[-1], "type", None) == "NUMBERS":
            # A run of numbers is one token (see bnn.lark), so the parser no longer expects a
            # number after it; the writer could still have put one there.
            expected.add("NUMBERS")
        if token.type == "$END":
            # lark places the end marker on the last token; point just after that token.
            where: tuple[int, int] = (token.end_line or 1, token.end_column or 1)
            found = "the end of the file"
        else:
            where = position(token)
            found = _show_token(token)
        if "RBRACE" in expected and (token.type == "$END" or token.type in _SECTION_STARTS):
            hint = "; is a '}' missing?"
    elif isinstance(error, UnexpectedCharacters):
        where = (error.line, error.column)
        found = f"the character {error.char!r}"
        expected = set(error.allowed or ())
    else:
        where = (error.line, error.column)
        found = "something unexpected"
    described = _describe_expected(expected, parser)
    message = f"expected {described}, got {found}" if described else f"unexpected {found}"
    return error_at(where, message + hint)


def _describe_expected(names: Iterable[str], parser: Lark) -> str:
    """Terminal names as words, in a fixed and readable order: ``a number, 'batchnorm' or '}'``."""
    ranked: set[tuple[int, str]] = set()
    for name in names:
        if name in _TERMINAL_DESCRIPTIONS:
            ranked.add((0, _TERMINAL_DESCRIPTIONS[name]))
        elif name == "$END":
            ranked.add((3, "the end of the file"))
        else:
            try:
                pattern = parser.get_terminal(name).pattern
            except KeyError:  # e.g. lark's own '<END-OF-FILE>' placeholder
                continue
            if pattern.type == "str":  # a keyword or punctuation, shown as written
                ranked.add((1 if pattern.value.isalpha() else 2, f"'{pattern.value}'"))
    items = [text for _, text in sorted(ranked)]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


def _show_token(token: Token) -> str:
    if token.type == "ROW":
        return "a weight row"
    text = str(token)
    return repr(text if len(text) <= 30 else text[:27] + "...")


def position(token: Token) -> tuple[int, int]:
    return (token.line or 1, token.column or 1)
