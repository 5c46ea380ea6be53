"""Writing files: atomically (never a partial file) and with the mode a plain ``open()`` gives.

Every writer in bnnc goes through :func:`write_atomic`, so that an error or Ctrl-C never leaves
a damaged output behind and every file gets the umask's mode (0644 under umask 022).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from bnnc.errors import OutputError


def write_atomic(path: str | Path, text: str | bytes | Iterable[bytes]) -> None:
    """Write ``text`` (UTF-8), bytes or an iterable of byte chunks to ``path`` via a temporary
    file and a rename: never a partial file, even if producing a chunk fails."""
    chunks: Iterable[bytes]
    if isinstance(text, str):
        chunks = (text.encode("utf-8"),)
    elif isinstance(text, bytes):
        chunks = (text,)
    else:
        chunks = text
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or "."
        )
    except OSError as err:
        raise OutputError(f"{target}: cannot write: {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        # mkstemp creates the file owner-only (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException as err:  # includes KeyboardInterrupt: remove the temporary file
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise OutputError(f"{target}: cannot write: {err.strerror or err}") from err
        raise
