"""The NPAQ-style baseline of bench/npaq_baseline.py: right labels, and the encoders it claims."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

pytest.importorskip("pypblib", reason="the NPAQ baseline needs pypblib (pip install bnnc[bench])")

import bnnc
from bnnc.training.generate import random_bnn
from tests.helpers import all_inputs
from tests.paths import ROOT

BENCH = ROOT / "bench"


@pytest.fixture(scope="module")
def baseline() -> ModuleType:
    """bench/npaq_baseline.py, imported by path (bench/ is not a package)."""
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("npaq_baseline", BENCH / "npaq_baseline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("widths", [[6, 4, 3], [8, 6, 5, 4]])
@pytest.mark.parametrize("encoder", ["card", "bdd", "adder"])
def test_formula_forces_the_reference_label_on_every_input(
    baseline: ModuleType, widths: list[int], encoder: str
) -> None:
    model = random_bnn(widths, seed=0)
    card = bnnc.compile(model, until="card").card
    num_vars, clauses = baseline.npaq_formula(card, encoder)
    assert num_vars >= card.layout.n_layout_vars
    assert max(abs(lit) for clause in clauses for lit in clause) <= num_vars
    inputs = all_inputs(model.n_inputs)
    assert baseline.check_labels(model, card.layout, clauses, inputs) is None


def test_check_catches_a_formula_that_does_not_force_the_label(baseline: ModuleType) -> None:
    model = random_bnn([6, 4, 3], seed=0)
    card = bnnc.compile(model, until="card").card
    _, clauses = baseline.npaq_formula(card, "card")
    hidden_only = clauses[: len(clauses) // 2]  # the output block is gone: any label goes
    failure = baseline.check_labels(model, card.layout, hidden_only, all_inputs(6))
    assert failure is not None


def test_constraints_reach_the_encoder_the_baseline_says(
    baseline: ModuleType, capfd: pytest.CaptureFixture[str]
) -> None:
    """PBLib reports the encoder it uses: the at-most-k encoder (card, or the forced adder)
    exactly for the constraints ``reaches_amk_encoder`` names, and nothing else changes."""
    plain = [(list(range(1, n + 1)), k) for n in range(2, 8) for k in range(-1, n + 3)]
    repeated = [([1, 1, 2, 3, 4], k) for k in range(0, 7)]  # a literal of weight 2
    cases = plain + repeated
    reached = 0
    for encoder, name in (("card", "encode with card"), ("adder", "encode with adder")):
        reifier = baseline.PBLibReifier(encoder)
        reifier.config.print_used_encoding(True)
        reifier.adder_config.print_used_encoding(True)
        for lits, bound in cases:
            capfd.readouterr()
            reifier.reify(20, lits, bound, 21)
            printed = capfd.readouterr().out.splitlines()
            expected = [
                baseline.reaches_amk_encoder(lits, True, bound),
                baseline.reaches_amk_encoder(lits, False, bound - 1),
            ]
            assert sum(name in line for line in printed) == sum(expected), (encoder, lits, bound)
            reached += sum(expected)
            if encoder == "adder":  # the forced config never leaks to other constraints
                others = [line for line in printed if name not in line]
                assert not any("adder" in line for line in others)
    assert reached > 0  # the check is not vacuous
