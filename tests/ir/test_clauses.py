"""The compact clause store and streamed DIMACS output: same clauses, same bytes, less memory."""

from __future__ import annotations

import io
import tracemalloc
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bnnc
import bnnc.ir.clauses
from bnnc.backend.dimacs import format_dimacs, write_dimacs
from bnnc.ir.clauses import ClauseStore
from bnnc.training.generate import random_bnn

literal = st.integers(min_value=1, max_value=5000).flatmap(lambda v: st.sampled_from([v, -v]))
clause = st.lists(literal, min_size=1, max_size=6)
# How to add each group of clauses: as one block, as an array, or one clause at a time.
groups = st.lists(
    st.tuples(st.sampled_from(["extend", "array", "append"]), st.lists(clause, max_size=20)),
    max_size=8,
)


def _naive_dimacs(clauses: list[list[int]]) -> str:
    return "".join(" ".join(map(str, c)) + " 0\n" for c in clauses)


@settings(max_examples=200, deadline=None)
@given(groups)
def test_store_keeps_every_clause_in_order(groups: list[tuple[str, list[list[int]]]]) -> None:
    store = ClauseStore()
    expected: list[list[int]] = []
    for how, clauses in groups:
        if how == "extend":
            store.extend(clauses)
        elif how == "array":
            store.extend_array(np.array([lit for c in clauses for lit in [*c, 0]], dtype=np.int64))
        else:
            for c in clauses:
                store.append(c)
        expected.extend(clauses)
    assert list(store) == expected
    assert len(store) == len(expected)
    assert store.num_literals == sum(map(len, expected))
    assert store.max_var() == max((abs(lit) for c in expected for lit in c), default=0)
    assert "".join(store.dimacs_chunks()) == _naive_dimacs(expected)
    assert not store.has_empty_clause()


def test_store_flags_an_empty_clause_and_an_unterminated_block() -> None:
    store = ClauseStore([[1, 2], [], [3]])
    assert store.has_empty_clause()
    with pytest.raises(ValueError, match="end with a 0"):
        ClauseStore().extend_array(np.array([1, 2]))


def test_blocks_are_read_only() -> None:
    store = ClauseStore([[1, -2]])
    block = next(store.blocks())
    with pytest.raises(ValueError):
        block[0] = 5


def _formula(encoding: str = "totalizer") -> bnnc.Compilation:
    return bnnc.compile(random_bnn([100, 20, 10], seed=3), encoding)


def test_streamed_file_and_stdout_equal_the_formatted_text(tmp_path: Path) -> None:
    formula = _formula().formula
    text = format_dimacs(formula, target_label=4)
    path = tmp_path / "f.cnf"
    write_dimacs(path, formula, target_label=4)
    assert path.read_text() == text
    captured = io.StringIO()
    with redirect_stdout(captured):
        write_dimacs("-", formula, target_label=4)
    assert captured.getvalue() == text
    header = next(line for line in text.splitlines() if line.startswith("p cnf"))
    assert header == f"p cnf {formula.num_vars} {len(formula.clauses) + 1}"


def test_writing_a_formula_never_holds_its_whole_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streaming: the peak memory while writing is a small fraction of the file, because each
    piece of a block is formatted and written before the next one is.  (Pieces are made small
    here so that a small formula shows it; they are 32k literals, a few MB, by default.)"""
    monkeypatch.setattr(bnnc.ir.clauses, "_CHUNK", 1 << 11)
    formula = _formula().formula
    path = tmp_path / "f.cnf"
    write_dimacs(path, formula)  # once untraced: the modules numpy imports lazily are loaded
    tracemalloc.start()
    try:
        write_dimacs(path, formula)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = path.stat().st_size
    assert size > 2_000_000  # big enough for the comparison to mean something
    assert peak < size / 10, f"peak {peak:,} bytes while writing a {size:,}-byte file"


def test_store_is_several_times_smaller_than_lists() -> None:
    """The reason the store exists: 4 bytes per literal (plus one 0 per clause)."""
    formula = _formula().formula
    held = sum(block.nbytes for block in formula.clauses.blocks())
    assert held == 4 * (formula.clauses.num_literals + len(formula.clauses))
