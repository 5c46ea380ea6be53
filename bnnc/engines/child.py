"""Run an engine call in a child process that is stopped at its time limit.

Some backends have no time-limit knob (Ganak, ApproxMC, UniGen through their Python bindings):
a call into them cannot be interrupted from Python.  Here the call runs in a forked child; if it
has not answered when the time is up, the child is killed, so that no solver keeps running
after bnnc has answered UNKNOWN.  The result travels back through a pipe (it must pickle).
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from bnnc.errors import BnncError, InternalError

T = TypeVar("T")


class ChildTimeout(Exception):
    """The child had no answer within the time limit (it has been stopped)."""


def call_with_deadline(function: Callable[..., T], *args: Any, time_limit: float) -> T:
    """``function(*args)`` in a forked child, stopped after ``time_limit`` seconds."""
    context = multiprocessing.get_context("fork")  # the child inherits the loaded formula
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_run, args=(send, function, args), daemon=True)
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


def _run(send: Connection, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        send.send(("ok", function(*args)))
    except BnncError as err:
        send.send(("error", err))
    except BaseException:
        send.send(("crash", traceback.format_exc(limit=3)))
    finally:
        send.close()


def _stop(child: multiprocessing.process.BaseProcess) -> None:
    if child.is_alive():
        child.kill()
    child.join(timeout=5)
    deadline = time.perf_counter() + 1
    while child.is_alive() and time.perf_counter() < deadline:
        time.sleep(0.01)
