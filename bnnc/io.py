"""Writing output files: all of a command's outputs commit together, or none does.

Every writer in bnnc goes through :func:`write_atomic`.  A regular file is written to a
temporary file beside it; outside a transaction it is renamed into place at once, inside
:func:`output_transaction` (the CLI opens one around every verb) only when the whole command
has succeeded — so a command that fails, is interrupted or is terminated leaves none of its
outputs behind, and no temporary file either.

Targets that are not regular files are never replaced (docs/errors.md):

* a character device or a FIFO (``/dev/stdout``, ``/dev/null``, a named pipe) is written as a
  stream, as the command runs (a stream cannot be taken back);
* a symbolic link is followed: the file it points to is replaced atomically, the link is kept;
* a directory, a block device or a socket is refused, and so is an existing file without
  write permission (even for root, who could write it: the permission is the owner's intent).

A refused or unwritable target is an :class:`~bnnc.errors.OutputError` (exit code 5).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from bnnc.errors import OutputError

__all__ = ["Transaction", "check_target", "output_transaction", "write_atomic"]


@dataclass
class Transaction:
    """Temporary files waiting to be renamed onto their targets."""

    pending: list[tuple[str, str]] = field(default_factory=list)  # (temporary, target)

    def commit(self) -> None:
        """Rename every temporary file onto its target, in the order they were written."""
        while self.pending:
            tmp, target = self.pending.pop(0)
            try:
                os.replace(tmp, target)
            except OSError as err:
                self.rollback()
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise OutputError(f"{target}: cannot write: {err.strerror or err}") from err

    def rollback(self) -> None:
        """Remove every temporary file: the targets stay as they were."""
        while self.pending:
            tmp, _ = self.pending.pop()
            with contextlib.suppress(OSError):
                os.unlink(tmp)


_current: ContextVar[Transaction | None] = ContextVar("bnnc_output_transaction", default=None)


@contextlib.contextmanager
def output_transaction() -> Iterator[Transaction]:
    """Hold back every :func:`write_atomic` inside the block; commit them all when the block
    ends normally, remove them all when it raises (an error, Ctrl-C, SIGTERM).  A nested
    transaction joins the outer one."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    transaction = Transaction()
    token = _current.set(transaction)
    try:
        yield transaction
    except BaseException:
        transaction.rollback()
        raise
    finally:
        _current.reset(token)
    transaction.commit()


@dataclass(frozen=True)
class Target:
    """Where an output goes: the path to write (a symlink resolved) and whether it is a
    stream (a character device or a FIFO), which is written in place."""

    path: str
    stream: bool
    mode: int | None  # an existing regular file's permission bits, kept when replacing it


def check_target(path: str | Path) -> Target:
    """Decide how ``path`` is written, or refuse it (:class:`OutputError`)."""
    name = str(path)
    if not name:
        raise OutputError("an empty output path")
    resolved = os.path.realpath(name)  # a symlink is followed deliberately
    try:
        info = os.stat(name)
    except FileNotFoundError:
        return Target(resolved, stream=False, mode=None)
    except OSError as err:
        raise OutputError(f"{name}: cannot write: {err.strerror or err}") from err
    # /dev/stdout, /dev/fd/N, /proc/self/fd/N name an open file descriptor (its "link" may
    # be a pipe:[…] that no path reaches): always a stream, whatever it points to, so that
    # `-o /dev/stdout >> log` appends rather than replaces.
    if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode) or _names_a_descriptor(name):
        return Target(name, stream=True, mode=None)
    if stat.S_ISDIR(info.st_mode):
        raise OutputError(f"{name}: is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise OutputError(f"{name}: not a regular file, a character device or a FIFO; not replaced")
    if not info.st_mode & 0o222 or not os.access(resolved, os.W_OK):
        raise OutputError(f"{name}: the file is read-only; not replaced")
    return Target(resolved, stream=False, mode=stat.S_IMODE(info.st_mode))


def _names_a_descriptor(name: str) -> bool:
    """Whether ``name`` or a link on its way is /proc/…/fd/N or /dev/fd/N."""
    hop = os.path.abspath(name)
    for _ in range(40):  # the kernel's own limit on links followed
        if hop.startswith(("/proc/", "/dev/fd/")):
            return True
        if not os.path.islink(hop):
            return False
        hop = os.path.normpath(os.path.join(os.path.dirname(hop), os.readlink(hop)))
    return False


def write_atomic(path: str | Path, text: str | bytes | Iterable[bytes]) -> None:
    """Write ``text`` (UTF-8), bytes or an iterable of byte chunks to ``path``: a regular file
    via a temporary file and a rename (committed with the current :func:`output_transaction`,
    if any), a device or FIFO as a stream.  Never a partial file, even if producing a chunk
    fails."""
    chunks: Iterable[bytes]
    if isinstance(text, str):
        chunks = (text.encode("utf-8"),)
    elif isinstance(text, bytes):
        chunks = (text,)
    else:
        chunks = text
    target = check_target(path)
    if target.stream:
        _write_stream(str(path), target.path, chunks)
        return
    folder = os.path.dirname(target.path) or "."
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{os.path.basename(target.path)}.", suffix=".tmp", dir=folder
        )
    except OSError as err:
        raise OutputError(f"{path}: cannot write: {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        # mkstemp creates the file owner-only (0600): give it the replaced file's mode, or
        # the one a plain open() would.
        os.chmod(tmp, target.mode if target.mode is not None else _default_mode())
        transaction = _current.get()
        if transaction is None:
            os.replace(tmp, target.path)
        else:
            transaction.pending.append((tmp, target.path))
    except BaseException as err:  # includes KeyboardInterrupt: remove the temporary file
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise OutputError(f"{path}: cannot write: {err.strerror or err}") from err
        raise


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _write_stream(name: str, resolved: str, chunks: Iterable[bytes]) -> None:
    """Write to a device or FIFO in place: no O_CREAT, no O_TRUNC; O_APPEND, so that
    /dev/stdout onto a file adds to what is already there (``>>``, or bnnc's own lines)."""
    try:
        fd = os.open(resolved, os.O_WRONLY | os.O_APPEND)
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
    except OSError as err:
        raise OutputError(f"{name}: cannot write: {err.strerror or err}") from err
