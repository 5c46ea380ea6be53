"""The one domain exception family of bnnc, and the exit codes it maps to.

Library code raises a :class:`BnncError` subclass; only the CLI turns it into a message and an
exit code (see ``bnnc.cli``).  Every error's ``str()`` starts with one line that names the file,
the place and the problem; a :class:`ParseError` adds the offending source line and a caret.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Documented process exit codes (README, "Exit codes")."""

    OK = 0
    INTERNAL = 1  # a bug in bnnc: e.g. the formula disagreed with the reference
    USAGE = 2  # bad command line (typer/click's own code)
    INVALID_MODEL = 3  # the model file cannot be read, parsed or verified
    LIMIT = 4  # a requested encoding exceeds its size limit
    IO = 5  # an output file could not be written
    SAT = 10  # SAT-competition convention: satisfiable
    UNSAT = 20  # SAT-competition convention: unsatisfiable
    UNKNOWN = 30  # --timeout ran out before an answer (partial results are kept)
    INTERRUPTED = 130  # Ctrl-C (SIGINT): 128 + 2, as the shell reports a killed program
    BROKEN_PIPE = 141  # stdout's reader went away (``| head``): 128 + SIGPIPE
    TERMINATED = 143  # SIGTERM: 128 + 15


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be (bnnc.cli.signals), so that every clean-up that
    Ctrl-C runs (stopping solvers, removing temporary files) runs for it too."""

    received = False  # set by the handler: a verb that caught the interrupt still exits 143


class BnncError(Exception):
    """Base of every error bnnc reports to a user."""

    exit_code: ExitCode = ExitCode.INVALID_MODEL

    def __init__(self, message: str, *, where: str | None = None) -> None:
        # One line, whatever a library underneath said (onnxruntime's messages span lines).
        message = one_line(message)
        super().__init__(message)
        self.message = message
        self.where = None if where is None else one_line(where)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class BnncWarning(UserWarning):
    """Something a user should know about a model bnnc still reads, e.g. where the formula
    follows sign(0) = +1 and the model's graph does not; the CLI prints it as
    ``bnnc: warning: …``."""


class ModelError(BnncError):
    """The model is malformed, or is not a BNN that bnnc can encode exactly."""

    exit_code = ExitCode.INVALID_MODEL


class UsageError(BnncError):
    """A bad argument (exit code 2).  The library words it without CLI flags (``epsilon must be
    positive``); the CLI names the flag that carried the value."""

    exit_code = ExitCode.USAGE

    def __init__(
        self, message: str, *, parameter: str | None = None, mentions: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.parameter = parameter  # the API parameter's name, which the CLI maps to a flag
        self.mentions = mentions  # other parameters the message names (also mapped to flags)


class EncodingLimitError(BnncError):
    """An encoding would exceed its documented size limit."""

    exit_code = ExitCode.LIMIT


class TimeLimitError(BnncError):
    """An engine reached its time limit before it had an answer worth returning (a count).

    Deciding and sampling report a time-out in their results instead (UNKNOWN, ``timed_out``),
    since what they have is still meaningful; a count cut short is not.  Exit code 30, as
    for every UNKNOWN answer.
    """

    exit_code = ExitCode.UNKNOWN


class OutputError(BnncError):
    """An output file could not be written."""

    exit_code = ExitCode.IO


class InternalError(BnncError):
    """bnnc contradicted itself (e.g. a witness disagrees with the reference): a bug."""

    exit_code = ExitCode.INTERNAL


def one_line(text: str, limit: int = 2000) -> str:
    """``text`` as one line of at most ``limit`` characters: line breaks (and the other
    characters that end a line) become blanks, and the middle of a long text is cut out.

    >>> one_line("bad\\n  model")
    'bad model'
    """
    text = " ".join(text.split()) if any(c in text for c in _LINE_ENDS) else text
    if len(text) > limit:
        text = text[: limit // 2] + " … " + text[-limit // 2 :]
    return text


_LINE_ENDS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
# The source line of a parse error is shown at most this wide, cut around the caret.
SOURCE_EXCERPT = 100


def excerpt(line: str, column: int, width: int = SOURCE_EXCERPT) -> tuple[str, int]:
    """The part of ``line`` shown under an error, at most ``width`` characters around the
    1-based ``column`` (with ``…`` where it was cut), and the caret's 0-based offset in it.
    Characters that are not printable are shown as ``?`` so the excerpt stays one line.

    >>> shown, caret = excerpt("x" * 1000, 500)
    >>> len(shown), shown[0], shown[-1], caret
    (102, '…', '…', 51)
    """
    line = line.rstrip("\n").expandtabs(1)
    col = max(column - 1, 0)
    start = 0
    if len(line) > width:
        start = min(max(col - width // 2, 0), len(line) - width)
    shown = line[start : start + width]
    shown = "".join(c if c.isprintable() else "?" for c in shown)
    caret = col - start
    if start > 0:
        shown, caret = "…" + shown, caret + 1
    if start + width < len(line):
        shown += "…"
    return shown, caret


@dataclass(frozen=True)
class Span:
    """A place in a source file: 1-based line and column."""

    file: str
    line: int
    column: int


class ParseError(ModelError):
    """A syntax or semantic error in a text model, with the source line and a caret."""

    def __init__(self, span: Span, message: str, source_line: str | None = None) -> None:
        super().__init__(message, where=f"{span.file}:{span.line}:{span.column}")
        self.span = span
        self.source_line = source_line

    def __str__(self) -> str:
        head = f"{self.where}: {self.message}"
        if self.source_line is None:
            return head
        line, offset = excerpt(self.source_line, self.span.column)
        return f"{head}\n  {line}\n  {' ' * offset}^"
