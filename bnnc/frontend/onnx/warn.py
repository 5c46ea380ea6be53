"""Warnings about a model, attributed to the user's line that loaded it (no onnx import here:
a model loaded from the cache repeats its warnings without the ONNX reader)."""

from __future__ import annotations

import inspect
import os
import warnings
from pathlib import Path

from bnnc.errors import BnncWarning

# bnnc's own directory: a warning is attributed to the first caller outside it (see warn).
_BNNC_DIR = str(Path(__file__).parents[2]) + os.sep


def warn(message: str) -> None:
    """Issue a :class:`BnncWarning` attributed to the first frame outside bnnc (the caller's line
    that loaded the model), where a library user looks for it; Python 3.12's
    ``skip_file_prefixes`` does the same, but bnnc supports 3.11."""
    level = 1
    frame = inspect.currentframe()
    while frame is not None and frame.f_code.co_filename.startswith(_BNNC_DIR):
        level += 1
        frame = frame.f_back
    del frame  # a frame in a local keeps the whole stack alive
    warnings.warn(message, BnncWarning, stacklevel=level)
