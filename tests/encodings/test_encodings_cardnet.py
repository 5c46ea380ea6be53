"""Tests of the ``cardnet`` and ``auto`` encodings beyond the shared ones in test_encodings.py.

test_encodings.py already runs both through every shared check (exhaustive truth tables for
n ≤ 8, exact model counts, determinism, the property test).  Here: larger exhaustive checks,
arc consistency of unit propagation, constant folding, every size figure that the docstrings and
docs/encodings.md state, ``auto``'s rule and hook, and model counts of ``auto``'s cardnet branch.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from functools import cache, partial
from itertools import product
from math import comb

import pytest
from pysat.solvers import Solver

import bnnc
from bnnc.encodings import Clauses, VarPool, auto, cardnet, encode_at_least, encoder
from bnnc.training.generate import random_bnn
from tests.encodings.test_encodings import check_clauses_wellformed, count_models, is_normalised

AC_NAMES = ("cardnet", "totalizer", "auto")


def encoder_call(name: str, out: int, lits: Sequence[int], bound: int, pool: VarPool) -> Clauses:
    return encoder(name)(out, lits, bound, pool)


@cache
def size(name: str, n: int, bound: int) -> tuple[int, int]:
    """(auxiliary variables, clauses) of ``encode`` on n distinct literals (normalised bound)."""
    pool = VarPool(n + 1)
    clauses = encoder_call(name, n + 1, range(1, n + 1), bound, pool)
    return pool.top - (n + 1), len(clauses)


# ---------------------------------------------------------------------------------------------
# cardnet: correctness beyond n = 8, by unit propagation from every input


def check_by_propagation(clauses: Clauses, out: int, lits: Sequence[int], bound: int) -> None:
    """From every full assignment of the literal variables, unit propagation alone derives
    out = [Σ lits ≥ bound] (every gate is an equivalence, so it must) without conflict."""
    nvars = max(abs(lit) for lit in lits)
    with Solver(name="minisat22", bootstrap_with=clauses) as solver:
        for bits in product((False, True), repeat=nvars):
            assumptions = [v if b else -v for v, b in enumerate(bits, start=1)]
            want = sum(bits[abs(lit) - 1] == (lit > 0) for lit in lits) >= bound
            ok, implied = solver.propagate(assumptions=assumptions)
            assert ok, (lits, bound, bits)
            assert (out if want else -out) in implied, (lits, bound, bits)


def larger_lit_cases() -> Iterator[tuple[int, list[int]]]:
    for n in (9, 10, 11, 12):
        yield n, [v if v % 3 else -v for v in range(1, n + 1)]
        rng = random.Random(n)
        yield n, [rng.choice((1, -1)) * rng.randint(1, n - 2) for _ in range(n + 3)]


@pytest.mark.parametrize(("nvars", "lits"), list(larger_lit_cases()))
def test_cardnet_every_input_larger(nvars: int, lits: list[int]) -> None:
    n = len(lits)
    for bound in range(-1, n + 2):
        for out in (nvars + 1, -(nvars + 1)):
            pool = VarPool(nvars + 1)
            clauses = encode_at_least("cardnet", out, lits, bound, pool)
            check_clauses_wellformed(clauses, nvars + 1, pool)
            if 1 <= bound <= n:
                check_by_propagation(clauses, out, lits, bound)
            else:  # a constant: the dispatcher's unit clause
                assert clauses == [[out if bound <= 0 else -out]]


# ---------------------------------------------------------------------------------------------
# arc consistency: unit propagation finds every forced literal and every conflict


def forced(
    lits: Sequence[int], bound: int, out: int, partial: dict[int, bool]
) -> tuple[bool, set[int]]:
    """For ``out ⇔ Σ lits ≥ bound`` over distinct variables under a partial assignment:
    (satisfiable, the literals every extension makes true)."""
    values = {lit: partial[abs(lit)] == (lit > 0) for lit in lits if abs(lit) in partial}
    true = sum(values.values())
    free = [lit for lit in lits if lit not in values]
    out_value = partial.get(abs(out))
    out_true = None if out_value is None else out_value == (out > 0)
    can_hold, can_fail = true + len(free) >= bound, true < bound
    if (out_true is True and not can_hold) or (out_true is False and not can_fail):
        return False, set()
    implied: set[int] = set()
    if out_true is None:
        if not can_fail:
            implied.add(out)
        if not can_hold:
            implied.add(-out)
        out_true = True if not can_fail else False if not can_hold else None
    if out_true is True and true + len(free) == bound:
        implied.update(free)  # every remaining literal is needed
    if out_true is False and true == bound - 1:
        implied.update(-lit for lit in free)  # no remaining literal may be true
    return True, implied


def check_arc_consistent(clauses: Clauses, out: int, lits: Sequence[int], bound: int) -> None:
    variables = [abs(lit) for lit in lits] + [abs(out)]
    with Solver(name="minisat22", bootstrap_with=clauses) as solver:
        for values in product((None, False, True), repeat=len(variables)):
            partial = {v: b for v, b in zip(variables, values, strict=True) if b is not None}
            assumptions = [v if b else -v for v, b in partial.items()]
            satisfiable, want = forced(lits, bound, out, partial)
            ok, implied = solver.propagate(assumptions=assumptions)
            assert ok == satisfiable, (lits, bound, partial)
            if ok:
                assert want <= set(implied), (lits, bound, partial, want - set(implied))


@pytest.mark.parametrize("name", AC_NAMES)
@pytest.mark.parametrize("n", range(1, 7))
def test_arc_consistent(name: str, n: int) -> None:
    lits = [v if v % 2 else -v for v in range(1, n + 1)]
    for bound in range(1, n + 1):
        for out in (n + 1, -(n + 1)):
            clauses = encode_at_least(name, out, lits, bound, VarPool(n + 1))
            check_arc_consistent(clauses, out, lits, bound)


def test_the_adder_is_not_arc_consistent() -> None:
    # The example of auto's docstring: out false, bound 4, three of eleven literals true.
    lits, out = list(range(1, 12)), 12
    assumptions = [-out, 1, 2, 3]
    rest = {-v for v in range(4, 12)}
    for name in ("totalizer", "cardnet", "auto"):
        clauses = encode_at_least(name, out, lits, 4, VarPool(out))
        with Solver(name="minisat22", bootstrap_with=clauses) as solver:
            ok, implied = solver.propagate(assumptions=assumptions)
        assert ok and rest <= set(implied), name
    clauses = encode_at_least("adder", out, lits, 4, VarPool(out))
    with Solver(name="minisat22", bootstrap_with=clauses) as solver:
        ok, implied = solver.propagate(assumptions=assumptions)
    assert ok and not rest & set(implied)


# ---------------------------------------------------------------------------------------------
# cardnet: folding and sizes


def test_cardnet_folds_constants() -> None:
    # x ∨ ¬x: exactly one of [1, −1] is true, so Σ ≥ 1 always holds: a unit, no variable.
    pool = VarPool(3)
    assert cardnet.encode(3, [1, -1], 1, pool) == [[3]]
    assert pool.top == 3
    # Exactly two of [1, −1, 2, −2] are true: Σ ≥ 2 is constantly true, also for a negative out.
    pool = VarPool(5)
    assert cardnet.encode(-5, [1, -1, 2, -2], 2, pool) == [[-5]]
    assert pool.top == 5
    # A repeated literal merges (x ∨ x = x): Σ [1, 1] ≥ 1 is out ⇔ x1.
    assert cardnet.encode(3, [1, 1], 1, VarPool(3)) == [[-3, 1], [3, -1]]


def test_cardnet_size_figures() -> None:
    # The module docstring's figures.
    assert size("cardnet", 100, 50) == (1_678, 5_037)
    assert size("totalizer", 100, 50) == (572, 6_145)
    assert size("adder", 100, 50) == (196, 1_341)
    assert size("cardnet", 784, 392) == (28_810, 86_433)
    assert size("totalizer", 784, 392) == (6_816, 320_961)


@pytest.mark.parametrize("n", [3, 4, 5, 10, 33, 64, 100, 101, 128])
def test_cardnet_small_bound_sizes(n: int) -> None:
    assert size("cardnet", n, 1) == size("totalizer", n, 1) == (n - 2, 3 * (n - 1))
    assert size("cardnet", n, 2) == (3 * n - 6, 9 * n - 15)
    assert size("totalizer", n, 2) == (2 * n - 4, 7 * n - 11)


def test_cardnet_emits_only_what_sorted_k_needs() -> None:
    # The doctest case: v_1 = 1 ∨ (2 ∨ 3) is built as a gate but never emitted.
    pool = VarPool(4)
    clauses = cardnet.encode(4, [1, 2, 3], 2, pool)
    assert pool.top == 7 and len(clauses) == 4 * 3
    # Every emitted gate is three clauses, and the root is out itself.
    for n in (7, 16, 33):
        for bound in range(1, (n + 1) // 2 + 1):
            aux, nclauses = size("cardnet", n, bound)
            assert nclauses == 3 * (aux + 1)


# ---------------------------------------------------------------------------------------------
# auto: the rule, its figures, the hook


def test_auto_rule() -> None:
    assert auto.choose(256, 128) == "totalizer"
    assert auto.choose(257, 129) == "cardnet"
    assert auto.choose(257, 17) == "cardnet"
    assert [auto.choose(784, k) for k in (1, 3, 16, 17, 392)] == [
        *["totalizer"] * 3,
        "cardnet",
        "cardnet",
    ]
    for n in range(1, 257):
        for bound in range(1, (n + 1) // 2 + 1):
            assert auto.choose(n, bound) == "totalizer"


@pytest.mark.parametrize(
    ("n", "bound"), [(5, 3), (64, 32), (256, 128), (257, 16), (257, 17), (300, 150)]
)
def test_auto_emits_the_chosen_encoding(n: int, bound: int) -> None:
    lits = [v if v % 3 else -v for v in range(1, n + 1)]
    chosen = auto.choose(n, bound)
    assert auto.encode(n + 1, lits, bound, VarPool(n + 1)) == encoder_call(
        chosen, n + 1, lits, bound, VarPool(n + 1)
    )
    # Through the dispatcher, also for the flipped bound n − bound + 1.
    for k in (bound, n - bound + 1):
        assert encode_at_least("auto", n + 1, lits, k, VarPool(n + 1)) == encode_at_least(
            chosen, n + 1, lits, k, VarPool(n + 1)
        )


def test_auto_size_figures() -> None:
    """The figures of auto's docstring (and docs/encodings.md)."""
    table = {
        32: {
            "adder": (62, 402),
            "totalizer": (128, 769),
            "cardnet": (282, 849),
            "seqcounter": (271, 1_055),
        },
        64: {
            "adder": (126, 843),
            "totalizer": (320, 2_689),
            "cardnet": (826, 2_481),
            "seqcounter": (1_055, 4_159),
        },
        100: {
            "adder": (196, 1_341),
            "totalizer": (572, 6_145),
            "cardnet": (1_678, 5_037),
            "seqcounter": (2_549, 10_099),
        },
        256: {
            "adder": (510, 3_517),
            "totalizer": (1_792, 36_353),
            "cardnet": (6_138, 18_417),
            "seqcounter": (16_511, 65_791),
        },
        784: {
            "adder": (1_564, 10_897),
            "totalizer": (6_816, 320_961),
            "cardnet": (28_810, 86_433),
            "seqcounter": (154_055, 615_439),
        },
    }
    for n, row in table.items():
        for name, figures in row.items():
            assert size(name, n, (n + 1) // 2) == figures, (n, name)
    # The totalizer's O(n·k) against cardnet's O(n log² k).
    assert round(size("totalizer", 784, 392)[1] / size("cardnet", 784, 392)[1], 1) == 3.7


def test_auto_prefers_the_totalizer_up_to_256() -> None:
    """Up to n = 256 the totalizer has under twice cardnet's clauses and never more variables
    (on a sample of the grid; the whole grid takes minutes)."""
    for n in (8, 31, 64, 100, 128, 200, 251, 256):
        for bound in range(1, (n + 1) // 2 + 1, max(1, n // 16)):
            t_vars, t_clauses = size("totalizer", n, bound)
            c_vars, c_clauses = size("cardnet", n, bound)
            assert t_vars <= c_vars and t_clauses < 2 * c_clauses, (n, bound)
    # The grid's maximum (measured over every n ≤ 256 and bound).
    assert round(size("totalizer", 256, 115)[1] / size("cardnet", 256, 115)[1], 2) == 1.99


@pytest.mark.parametrize("n", [257, 300, 400, 555, 784, 1000])
def test_auto_small_bounds_of_wide_constraints_take_the_totalizer(n: int) -> None:
    # For bound ≤ 16 the totalizer is smaller than cardnet in variables and variables + clauses.
    for bound in range(1, auto.DEFAULT.totalizer_max_bound + 1):
        assert auto.choose(n, bound) == "totalizer"
        t_vars, t_clauses = size("totalizer", n, bound)
        c_vars, c_clauses = size("cardnet", n, bound)
        assert t_vars <= c_vars and t_vars + t_clauses <= c_vars + c_clauses, (n, bound)


def test_auto_rule_setting() -> None:
    lits = list(range(1, 21))
    calls: list[tuple[int, int]] = []

    def rule(n: int, bound: int) -> str:
        calls.append((n, bound))
        return "cardnet"

    ruled = partial(auto.encode, settings=auto.Settings(rule=rule))
    assert encode_at_least(ruled, 21, lits, 15, VarPool(21)) == encode_at_least(
        "cardnet", 21, lits, 15, VarPool(21)
    )
    assert calls == [(20, 6)]  # the flipped, normalised bound
    looping = partial(auto.encode, settings=auto.Settings(rule=lambda n, bound: "auto"))
    with pytest.raises(AssertionError, match="concrete encoding"):
        encode_at_least(looping, 21, lits, 5, VarPool(21))
    assert auto.choose(20, 5) == "totalizer"
    narrow = auto.Settings(totalizer_max_n=10, totalizer_max_bound=3)
    assert encode_at_least(
        partial(auto.encode, settings=narrow), 21, lits, 5, VarPool(21)
    ) == encode_at_least("cardnet", 21, lits, 5, VarPool(21))


# auto's cardnet branch starts at n = 5 and bound 2 here (not 257 and 17).
NARROW = auto.Settings(totalizer_max_n=4, totalizer_max_bound=1)


AUTO_NARROW_CASES = [
    pytest.param(n, k, via, id=f"{n}-{k}-{'dispatch' if via else 'direct-call'}")
    for n in (4, 5, 7, 11, 14)
    for k in sorted({1, 3, 4, n // 2, n // 2 + 1, n - 3, n} & set(range(1, n + 1)))
    for via in (True, False)
    if via or is_normalised(n, k)
]


@pytest.mark.parametrize(("n", "k", "via_dispatcher"), AUTO_NARROW_CASES)
def test_auto_cardnet_branch_model_counts(n: int, k: int, via_dispatcher: bool) -> None:
    lits = [v if v % 3 else -v for v in range(1, n + 1)]
    out = n + 1
    pool = VarPool(out)
    assert n <= 4 or k in {1, n} or auto.choose(n, min(k, n - k + 1), NARROW) == "cardnet"
    if via_dispatcher:
        clauses = encode_at_least(partial(auto.encode, settings=NARROW), out, lits, k, pool)
    else:
        clauses = auto.encode(out, lits, k, pool, NARROW)
    assert count_models(clauses, pool.top) == 2**n
    at_least = sum(comb(n, i) for i in range(k, n + 1))
    assert count_models(clauses, pool.top, [out]) == at_least


# ---------------------------------------------------------------------------------------------
# whole networks: the figures of docs/encodings.md


@pytest.mark.parametrize(
    ("widths", "figures"),
    [
        ([100, 20, 10], {"auto": (12_559, 126_711), "cardnet": (35_337, 105_781)}),
        ([300, 8, 4], {"auto": (63_829, 190_604)}),
    ],
)
def test_network_sizes(widths: list[int], figures: dict[str, tuple[int, int]]) -> None:
    model = random_bnn(widths, seed=0)
    for encoding, (nvars, nclauses) in figures.items():
        formula = bnnc.compile(model, encoding).formula
        assert (formula.num_vars, len(formula.clauses)) == (nvars, nclauses), encoding
