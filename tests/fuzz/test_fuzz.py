"""The seeded fuzz corpus: mutated text models and ONNX graphs through the CLI, each held to
the contract of :mod:`tests.fuzz.contract` (``bench/fuzz.py`` runs the long version)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.contract import onnx_case, text_case

seeds = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(seed=seeds)
def test_mutated_text_models_keep_the_contract(seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        outcome = text_case(seed, Path(tmp))
    assert outcome.problem is None, (seed, outcome)


@settings(max_examples=50, derandomize=True, deadline=None, database=None)
@given(seed=seeds)
def test_mutated_onnx_graphs_keep_the_contract(seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        outcome = onnx_case(seed, Path(tmp))
    assert outcome.problem is None, (seed, outcome)
