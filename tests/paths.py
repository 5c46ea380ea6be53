"""Where the tests find the repository's files, wherever a test module sits."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
EXAMPLES = ROOT / "examples"
FIXTURES = TESTS / "fixtures" / "onnx"
GOLDEN = TESTS / "golden"
SHARED = ROOT.parent / "shared"  # ../shared beside the checkout (models, data); may be missing
