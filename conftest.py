"""Every test run gets its own empty model cache (``bnnc.frontend.onnx.cache``): the suite never
reads or fills the user's ``~/.cache/bnnc``.  Set at import, so that the CLI's subprocesses
and pytest-xdist's workers inherit it; the cache stays on, as for users, so that the suite loads
most ONNX fixtures both ways."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

_CACHE_HOME = tempfile.mkdtemp(prefix="bnnc-test-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE_HOME
os.environ.pop("BNNC_NO_CACHE", None)
atexit.register(shutil.rmtree, _CACHE_HOME, ignore_errors=True)
