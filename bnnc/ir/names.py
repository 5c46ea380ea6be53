"""Names that reach output files: the one check every stage's model runs on its names.

Model, layer and class names (and, for ONNX, the input conditions built from the graph's input
name) are copied into every output format: DIMACS comment lines (``c model …``, ``c classes …``),
OPB and LP comments, the text language, JSON maps.  A name with a line break could inject a
header or a clause into a DIMACS file (``"a\\np cnf 1 1\\n-1 0"``), and a lone surrogate
(``"\\ud800"``) cannot be written as UTF-8 at all.  Rather than escape each format on its own,
such names are refused here, when a model is verified, so no backend ever sees one; names bnnc
derives itself (an ONNX file's stem) are made safe with :func:`safe_name` instead.

>>> name_problem("T-shirt/top") is None
True
>>> name_problem("a\\np cnf 1 1")
"contains the control character '\\\\n'"
>>> safe_name("my\\nmodel")
'my_model'
>>> shown("a\\nb")
"'a\\\\nb'"
>>> shown("dense/MatMul")
'dense/MatMul'
"""

from __future__ import annotations

import unicodedata

from bnnc.errors import ModelError

# Control (Cc), format (Cf: e.g. bidirectional overrides), surrogate (Cs), private-use (Co),
# unassigned (Cn) characters and the Unicode line/paragraph separators (Zl, Zp).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
MAX_NAME_LENGTH = 1000


def _bad(char: str) -> bool:
    return unicodedata.category(char) in _REFUSED_CATEGORIES


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be written to an output file, or None if it can."""
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long (at most {MAX_NAME_LENGTH})"
    for char in name:
        if _bad(char):
            kind = "a surrogate" if unicodedata.category(char) == "Cs" else "the control character"
            return f"contains {kind} {char!a}"
    return None


def check_name(what: str, name: str) -> None:
    """Raise :class:`ModelError` if ``name`` (described as ``what``, e.g. ``class name``) cannot
    be written safely to every output format."""
    problem = name_problem(name)
    if problem is not None:
        raise ModelError(f"{what} {shown(name)} {problem}; names must be printable text")


def safe_name(text: str) -> str:
    """``text`` with every refused character replaced by ``_`` (for names bnnc derives)."""
    return "".join("_" if _bad(char) else char for char in text[:MAX_NAME_LENGTH])


def shown(name: str) -> str:
    """``name`` for a one-line message: as it is if printable, else quoted and escaped."""
    if any(_bad(char) for char in name):
        return ascii(name[:200])
    return name[:200] + ("…" if len(name) > 200 else "")
