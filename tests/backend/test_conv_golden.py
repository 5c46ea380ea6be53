"""Every stage of the convolutional example prints, and prints as before (golden files in
tests/golden/conv-tiny.*; regenerate with BNNC_UPDATE_GOLDEN=1).  The trained form keeps the
shared kernel and the pooling windows; the MILP's comments name them."""

from __future__ import annotations

import os

import pytest

import bnnc
from bnnc.frontend.text import load_text
from tests.paths import EXAMPLES, GOLDEN


@pytest.mark.parametrize("stage", ["bnn", "milp", "ilp", "card", "cnf"])
def test_conv_example_stages(stage: str) -> None:
    model = load_text(EXAMPLES / "conv-tiny.bnn")
    text = bnnc.emit(model, stage)
    golden = GOLDEN / f"conv-tiny.{stage}"
    if os.environ.get("BNNC_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()
    if stage in ("bnn", "milp"):
        assert "conv 2x1x3x3 shared by 32 neurons" in text
        assert "max pool (OR) 2x2 over 8 windows" in text
