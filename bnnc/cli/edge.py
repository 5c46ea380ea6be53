"""The CLI's edge: a verb is a function that returns an exit code; :func:`verb` makes it a
typer command that expands option groups and turns bnnc's errors into one line and an exit code.

This is the only place where a :class:`~bnnc.errors.BnncError` becomes an exit code and where
warnings (:class:`~bnnc.errors.BnncWarning`) reach stderr.  A :class:`~bnnc.errors.UsageError`
from the library names an API parameter (``epsilon``); here it is given the verb's flag for
that parameter (``--epsilon``), so the library never has to speak CLI.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import inspect
import os
import re
import sys
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from typer._click.globals import get_current_context

import bnnc.api as bnnc
from bnnc.errors import BnncError, BnncWarning, ExitCode, Terminated, UsageError

F = TypeVar("F", bound=Callable[..., int])


def option_group(cls: type[Any]) -> type[Any]:
    """Mark a frozen dataclass whose fields are ``Annotated`` typer options as a group: a verb
    parameter annotated with it receives one instance built from those options."""
    cls.__bnnc_option_group__ = True
    return cls


def _is_group(hint: Any) -> bool:
    return isinstance(hint, type) and getattr(hint, "__bnnc_option_group__", False)


def verb(*, flags: Mapping[str, str] | None = None) -> Callable[[F], Callable[..., None]]:
    """Turn ``function(...) -> exit code`` into a typer command.

    Parameters annotated with an :func:`option_group` dataclass are replaced by the group's
    options and rebuilt into one instance per call, so shared options are declared once.  The
    body runs inside :func:`run_verb`.  ``flags`` maps API parameter names to this verb's flag
    where they differ (``{"label": "--target-label"}``).
    """

    def decorate(function: F) -> Callable[..., None]:
        hints = typing.get_type_hints(function, include_extras=True)
        groups: dict[str, type[Any]] = {}
        params: list[inspect.Parameter] = []
        for param in inspect.signature(function).parameters.values():
            hint = hints[param.name]
            if _is_group(hint):
                groups[param.name] = hint
                field_hints = typing.get_type_hints(hint, include_extras=True)
                params += [
                    inspect.Parameter(
                        f.name,
                        inspect.Parameter.KEYWORD_ONLY,
                        default=f.default,
                        annotation=field_hints[f.name],
                    )
                    for f in dataclasses.fields(hint)
                ]
            else:
                params.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hint))

        @functools.wraps(function)
        def command(**kwargs: Any) -> None:
            for name, group in groups.items():
                values = {f.name: kwargs.pop(f.name) for f in dataclasses.fields(group)}
                kwargs[name] = group(**values)
            model = kwargs.get("model_path")
            run_verb(model if isinstance(model, Path) else None, lambda: function(**kwargs), flags)

        # typer reads the signature and the annotations: show it the expanded ones.
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate


def run_verb(
    model_path: Path | None, body: Callable[[], int], flags: Mapping[str, str] | None = None
) -> NoReturn:
    """Run a verb; turn bnnc's errors into one line on stderr and an exit code.

    The verb's output files are one transaction (:func:`bnnc.api.output_transaction`): they
    appear only if the verb returns, so an error, Ctrl-C or SIGTERM leaves none of them.
    """
    try:
        with _warnings_to_stderr(), bnnc.output_transaction():
            code = body()
            sys.stdout.flush()  # a full or closed stdout fails here, not at exit
    except UsageError as err:
        fail(f"usage error: {_with_flag(err, flags or {})}", err.exit_code)
    except BnncError as err:
        message = str(err)
        if model_path is not None and not message.startswith(str(model_path)):
            message = f"{model_path}: {message}"
        fail(f"error: {message}", err.exit_code)
    except KeyboardInterrupt as err:
        interrupted(err)
    except OSError as err:
        stdout_failed(err)
    if code == ExitCode.INTERRUPTED and Terminated.received:  # sample kept its draws
        code = int(ExitCode.TERMINATED)
    raise typer.Exit(code)


def fail(message: str, code: int) -> NoReturn:
    """``bnnc: MESSAGE`` on stderr, then exit with ``code``."""
    typer.echo(f"bnnc: {message}", err=True)
    raise typer.Exit(int(code)) from None


def interrupted(err: KeyboardInterrupt) -> NoReturn:
    """Ctrl-C (exit 130) or SIGTERM (exit 143, see bnnc.cli.signals)."""
    if isinstance(err, Terminated):
        fail("terminated", ExitCode.TERMINATED)
    fail("interrupted", ExitCode.INTERRUPTED)


def stdout_failed(err: OSError) -> NoReturn:
    """A write to stdout failed: a closed pipe (``| head``) ends quietly with exit 141, as a
    program killed by SIGPIPE would; a full disk or a closed stdout is one line, exit 5.
    Any other OSError escaped a library function: a bug."""
    if err.errno == errno.EPIPE:
        _silence_stdout()
        raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF):
        _silence_stdout()
        fail(f"error: stdout: cannot write: {err.strerror or err}", ExitCode.IO)
    raise err


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush cannot fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (open until exit)


def _with_flag(err: UsageError, flags: Mapping[str, str]) -> str:
    """The message with flags for the parameters it names: ``epsilon must be positive`` →
    ``--epsilon must be positive``; a message that does not start with its parameter is
    prefixed with the flag (``--fix: '9=1': bits must lie in 0..8``).  Other parameters the
    error ``mentions`` become flags wherever they appear."""
    message = str(err)
    if err.parameter is None:
        return message
    for parameter in err.mentions:
        flag = flags.get(parameter) or _flag_of(parameter)
        if flag is not None:
            message = re.sub(rf"(?<![\w-]){re.escape(parameter)}(?![\w-])", flag, message)
    flag = flags.get(err.parameter) or _flag_of(err.parameter)
    if flag is None:
        return message
    if re.match(rf"{re.escape(err.parameter)}(?![\w-])", message):
        return flag + message[len(err.parameter) :]
    return message if flag in message else f"{flag}: {message}"


def _flag_of(parameter: str) -> str | None:
    """The current command's longest flag for the API parameter ``parameter``."""
    context = get_current_context(silent=True)
    if context is None:
        return None
    dashed = "--" + parameter.replace("_", "-")
    for param in context.command.params:
        opts = list(getattr(param, "opts", ()))
        if param.name == parameter or dashed in opts:
            longest = max(opts, key=len) if opts else None
            return longest if longest and longest.startswith("-") else None
    return None


@contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    """bnnc's warnings as ``bnnc: warning: …`` lines, as they happen."""

    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        if issubclass(category, BnncWarning):
            print(f"bnnc: warning: {message}", file=sys.stderr)
        else:
            original(message, category, *_, **__)

    with warnings.catch_warnings():
        original = warnings.showwarning
        warnings.simplefilter("always", BnncWarning)
        warnings.showwarning = show
        yield


def usage(message: str) -> UsageError:
    """A usage error worded for the command line (the verb's own checks of its options)."""
    return UsageError(message)
