"""The ``bnnc`` console script: set up signals and the standard streams, then load the CLI.

This module imports only the standard library (and :mod:`bnnc.errors`), so that it runs
within milliseconds of the start: a Ctrl-C while numpy, onnx and typer load (about a second)
is then one line and exit 130, not a traceback.  docs/errors.md describes the signals:

* SIGINT (Ctrl-C): ``KeyboardInterrupt``, exit 130;
* SIGTERM: :class:`~bnnc.errors.Terminated` (a ``KeyboardInterrupt``, so that every clean-up
  Ctrl-C runs — stopping solvers, removing temporary files — runs for it too), exit 143;
* SIGPIPE stays ignored (Python's default): a closed pipe is an ``EPIPE`` write error, which
  the CLI turns into a quiet exit 141.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import sys
from types import FrameType

from bnnc.errors import ExitCode, Terminated


def main() -> None:
    """Entry point of the ``bnnc`` script and of ``python -m bnnc``."""
    try:
        _install_signal_handlers()
        _guard_standard_streams()
        from bnnc.cli import main as cli_main
    except KeyboardInterrupt as err:
        terminated = isinstance(err, Terminated)
        sys.stderr.write(f"bnnc: {'terminated' if terminated else 'interrupted'}\n")
        raise SystemExit(int(ExitCode.TERMINATED if terminated else ExitCode.INTERRUPTED)) from None
    cli_main()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Raise once; a second SIGTERM during the clean-up is ignored (SIGKILL still works).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    Terminated.received = True
    raise Terminated


def _install_signal_handlers() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    # A forked engine child must die of SIGTERM at once (the parent stops it so at its time
    # limit), even inside a solver's C code, where a Python handler would never run.
    os.register_at_fork(after_in_child=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))


class _ClosedStream(io.RawIOBase):
    """What stdout is when the shell closed it (``>&-``): every write fails with EBADF."""

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        raise OSError(errno.EBADF, "stdout is closed")


def _guard_standard_streams() -> None:
    """Occupy a closed fd 1 or 2 with /dev/null, so that no output file is opened onto it
    (a file opened as fd 1 would receive what bnnc prints); a closed stdout then fails at the
    first write (one line, exit 5), a closed stderr is silent."""
    for fd in (1, 2):
        try:
            os.fstat(fd)
        except OSError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
            if fd == 1:
                sys.stdout = io.TextIOWrapper(io.BufferedWriter(_ClosedStream()), "utf-8")
            else:
                sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (open until exit)
