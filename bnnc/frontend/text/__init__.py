"""bnnc's text language (docs/language.md): read a model into the trained or the lowered IR.

The language has two forms.  The *trained* form (``block`` … ``output``) becomes a
:class:`~bnnc.ir.bnn.BnnModel`; the *lowered* form that :func:`bnnc.backend.text.print_ilp` writes
(``threshold`` … ``argmax``) becomes an :class:`~bnnc.ir.ilp.IlpModel`.

Reading happens in two steps, one module each:

1. ``syntax``: lark (LALR, contextual lexer, grammar ``grammars/bnn.lark``) turns the source into
   a tree.  A syntax error becomes a :class:`ParseError` that says what could have come next.
2. ``build``: :class:`~bnnc.frontend.text.build.Builder` walks the tree and checks everything
   the grammar does not (row lengths, value counts, unique names, …) while it still knows where
   each item was written, so the error points at the offending row, keyword or character.  The
   model's own ``verify()`` then runs as a safety net.

lark is imported, and the parser built, on first use only, so that ``import bnnc`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

from bnnc.errors import ModelError, ParseError, Span
from bnnc.frontend.text.build import ROW_BLANKS, Builder
from bnnc.frontend.text.syntax import KEYWORDS, parse_tree
from bnnc.ir.bnn import BnnModel
from bnnc.ir.ilp import IlpModel

__all__ = ["KEYWORDS", "load_text", "parse_text"]


def parse_text(source: str, filename: str = "<string>") -> BnnModel | IlpModel:
    """Parse a model written in bnnc's text language; raise :class:`ParseError` on any problem.

    The trained form gives a :class:`BnnModel`, the lowered form an :class:`IlpModel`.  The
    result has passed ``verify()``.
    """
    lines = source.split("\n")  # lark counts lines by '\n' only; so must the error messages
    if all(not line.strip(ROW_BLANKS) or line.lstrip(ROW_BLANKS).startswith("#") for line in lines):
        raise ParseError(
            Span(filename, 1, 1),
            "the model is empty: it should start with 'network <name>'",
            lines[0],
        )
    builder = Builder(filename, lines)
    tree = parse_tree(source, builder.error)
    model = builder.build(tree)
    try:
        model.verify()
    except ModelError as error:
        # The builder checks everything verify() does, where it was written; should verify()
        # find something else anyway, report it at the `network` line rather than not at all.
        raise builder.error(builder.start, error.message) from None
    return model


def load_text(path: str | Path) -> BnnModel | IlpModel:
    """Read and parse a model file; raise :class:`ModelError` naming the file on any problem."""
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8-sig")  # utf-8-sig: tolerate a byte-order mark
    except UnicodeDecodeError as error:
        raise ModelError(
            f"cannot read the model: not UTF-8 text (byte offset {error.start})", where=str(path)
        ) from None
    except OSError as error:
        raise ModelError(
            f"cannot read the model: {error.strerror or error}", where=str(path)
        ) from None
    return parse_text(source, str(path))
