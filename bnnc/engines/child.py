"""Run an engine call in a child process that is stopped at its time limit.

Some backends have no time-limit knob (Ganak, ApproxMC, UniGen through their Python bindings):
a call into them cannot be interrupted from Python.  Here the call runs in a forked child; if it
has not answered when the time is up, the child is stopped, so that no solver keeps running
after bnnc has answered UNKNOWN.  The result travels back through a pipe (it must pickle).

Stopping: SIGTERM first (a solver may clean up), then SIGKILL after :data:`GRACE` seconds if
the child is still there (a native library can ignore or block SIGTERM: a forked Ganak child
that did left a pytest worker waiting ~10 min), and the child is always reaped: nothing is left
for ``multiprocessing``'s exit handler to wait on.  A parent that is killed itself takes its
child with it (:func:`_die_with`).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Final, TypeVar

from bnnc.errors import BnncError, InternalError

T = TypeVar("T")

GRACE = 0.2
"""Seconds a child gets to exit after SIGTERM before it is killed."""


class ChildTimeout(Exception):
    """The child had no answer within the time limit (it has been stopped)."""


def call_with_deadline(function: Callable[..., T], *args: Any, time_limit: float) -> T:
    """``function(*args)`` in a forked child, stopped after ``time_limit`` seconds."""
    context = multiprocessing.get_context("fork")  # the child inherits the loaded formula
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_run, args=(send, os.getpid(), function, args), daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(max(0.0, time_limit)):
            raise ChildTimeout
        kind, value = receive.recv()
    except EOFError:
        kind, value = "crash", f"the child process died (exit code {child.exitcode})"
    except BaseException:
        _stop(child)
        raise
    finally:
        receive.close()
    _stop(child)
    if kind == "ok":
        result: T = value
        return result
    if kind == "error":
        raise value
    raise InternalError(f"an engine failed in its child process: {value}")


def _run(
    send: Connection, parent: int, function: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    _die_with(parent)
    try:
        send.send(("ok", function(*args)))
    except BnncError as err:
        send.send(("error", err))
    except BaseException:
        send.send(("crash", traceback.format_exc(limit=3)))
    finally:
        send.close()


def _die_with(parent: int) -> None:
    """Have the kernel kill this child when its parent ends (Linux's ``PR_SET_PDEATHSIG``).  A
    parent that is killed (a sweep's pool worker stopped by SIGTERM after Ctrl-C or a label out
    of time, or one that dies) cannot stop its child, which would go on counting for minutes.
    The signal comes when the thread that forked ends; that thread waits for the child here."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the parent stops its child, as it can
        return
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the kernel was told
        os._exit(1)


_PR_SET_PDEATHSIG: Final = 1  # <linux/prctl.h>


def _stop(child: multiprocessing.process.BaseProcess) -> None:
    """SIGTERM, SIGKILL after the grace period if the child is still running, then reap it."""
    if child.is_alive():
        child.terminate()
        child.join(timeout=GRACE)
    if child.is_alive():
        child.kill()  # SIGKILL cannot be caught, ignored or blocked
    child.join()  # reaps it: returns as soon as the kernel has ended the process
