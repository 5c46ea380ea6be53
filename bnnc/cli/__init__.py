"""The ``bnnc`` command line: one module per verb, registered on one typer app.

``bnnc MODEL …`` (no verb) is ``bnnc compile MODEL …``: compiling is what bnnc is for, and the
short form is what build scripts call.  The other verbs are ``sample``, ``count``, ``train``
and ``retrain``.  A new verb is one module with a ``@verb()`` function plus one line in
:data:`VERBS`.  Domain errors become exit codes in :func:`bnnc.cli.edge.run_verb`, and only
there.  The CLI imports nothing of bnnc but ``bnnc.api`` and ``bnnc.errors`` (an import-linter
contract checks it).
"""

from __future__ import annotations

from importlib import import_module
from typing import Annotated, Any

import typer
from typer import _click as click
from typer.core import TyperGroup

from bnnc._version import __version__
from bnnc.cli.edge import interrupted, stdout_failed
from bnnc.errors import ExitCode


class _CompileByDefault(TyperGroup):
    """Route ``bnnc MODEL …`` to ``bnnc compile MODEL …``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "--version"):
            args = ["compile", *args]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # in registration order, compile first

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """click's own usage errors as one line (``bnnc: usage error: …``, exit 2) like bnnc's,
        instead of click's usage, hint and error lines."""
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as err:
            err.show()  # bare 'bnnc': the help text, exit 2
            raise SystemExit(err.exit_code) from None
        except click.exceptions.ClickException as err:
            message = " ".join(err.format_message().split())
            context = getattr(err, "ctx", None)
            if context is not None:
                message += f" (see '{context.command_path} --help')"
            click.echo(f"bnnc: usage error: {message}", err=True)
            raise SystemExit(ExitCode.USAGE if err.exit_code == 2 else err.exit_code) from None
        except typer.Abort:
            click.echo("bnnc: interrupted", err=True)
            raise SystemExit(int(ExitCode.INTERRUPTED)) from None
        raise SystemExit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_CompileByDefault,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help=(
        "Compile a binarised neural network to an exact CNF formula and invert it: find, "
        "sample and count the inputs it gives a label.  'bnnc MODEL ...' is short for "
        "'bnnc compile MODEL ...'."
    ),
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bnnc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = None,
) -> None:
    """Options before the verb."""


VERBS = {
    # verb: (module under bnnc.cli, its command function), in the order --help lists them.
    "compile": ("compile", "compile_command"),
    "sample": ("sample", "sample_command"),
    "count": ("count", "count_command"),
    "robustness": ("robustness", "robustness_command"),
    "train": ("train", "train_command"),
    "retrain": ("retrain", "retrain_command"),
    "vnnlib": ("vnnlib", "vnnlib_command"),
}

for _name, (_module, _function) in VERBS.items():
    app.command(_name)(getattr(import_module(f"bnnc.cli.{_module}"), _function))


def main() -> None:
    """Run the command line (the console script is :func:`bnnc._entry.main`, which sets up
    signals first)."""
    try:
        app(prog_name="bnnc")
    except typer.Exit as err:  # raised outside a verb (--help onto a full stdout)
        raise SystemExit(err.exit_code) from None
    except KeyboardInterrupt as err:  # while click parses the command line
        try:
            interrupted(err)
        except typer.Exit as exit_:
            raise SystemExit(exit_.exit_code) from None
    except OSError as err:  # --help or --version onto a closed pipe or a full disk
        try:
            stdout_failed(err)
        except typer.Exit as exit_:
            raise SystemExit(exit_.exit_code) from None


__all__ = ["VERBS", "app", "main"]
