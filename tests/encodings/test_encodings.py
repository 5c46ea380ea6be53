"""Tests of the cardinality encodings ``out ⇔ Σ lits ≥ bound`` (bnnc.encodings).

Every encoding is checked through the dispatcher :func:`encode_at_least` (all bounds, including
constant and flipped ones) and by calling its ``encode`` directly (normalised bounds only):
exhaustively against the truth for small n, by exact model counts (parsimony and the binomial
sum), by size, and by a hypothesis property test.

The adder encoding hands small cases to the totalizer, so two test-only variants force its own
construction at every size: "adder-net" (literals straight into the adders) and "adder-blocks"
(blocks of 3 literals, each a totalizer turned into binary, then the adders).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from functools import partial
from itertools import product
from math import comb

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyganak import Counter
from pysat.solvers import Solver

from bnnc.encodings import (
    DEFAULT_ENCODING,
    ENCODING_NAMES,
    ENCODINGS,
    Clauses,
    Encoder,
    VarPool,
    adder,
    direct,
    encode_at_least,
    encoder,
)
from bnnc.errors import EncodingLimitError, UsageError

# Test-only variants of "adder" without the totalizer fallback: name → block size.
ADDER_VARIANTS = {"adder-net": 1, "adder-blocks": 3}
ALL_NAMES = (*ENCODING_NAMES, *ADDER_VARIANTS)


def forced_adder(block_size: int) -> Encoder:
    """``adder.encode`` that never delegates to the totalizer and uses the given block size."""
    settings = adder.Settings(block_size=block_size, totalizer_max_n=0, totalizer_max_bound=0)
    return partial(adder.encode, settings=settings)


ENCODERS: dict[str, Encoder] = {
    **{name: encoder(name) for name in ENCODING_NAMES},
    **{name: forced_adder(size) for name, size in ADDER_VARIANTS.items()},
}


def dispatch(name: str, out: int, lits: Sequence[int], bound: int, pool: VarPool) -> Clauses:
    """:func:`encode_at_least`, also for the test-only adder variants."""
    return encode_at_least(ENCODERS[name], out, lits, bound, pool)


def test_registry_names() -> None:
    assert set(ENCODERS) == set(ALL_NAMES)
    assert len(set(ENCODING_NAMES)) == len(ENCODING_NAMES) == len(ENCODINGS)
    assert DEFAULT_ENCODING in ENCODING_NAMES
    with pytest.raises(UsageError, match="unknown encoding 'bogus'"):
        encoder("bogus")


# ---------------------------------------------------------------------------------------------
# helpers


def is_normalised(n: int, bound: int) -> bool:
    """The case an encoder's ``encode`` may assume."""
    return 1 <= bound <= n - bound + 1


def truth(lits: Sequence[int], bound: int, values: dict[int, bool]) -> bool:
    """Σ lits ≥ bound under ``values`` (variable → value), counting repeats."""
    return sum(values[abs(lit)] == (lit > 0) for lit in lits) >= bound


def check_clauses_wellformed(clauses: Clauses, top_before: int, pool: VarPool) -> None:
    """Clean clauses; variables lie in 1..pool.top; the fresh ones are top_before+1..pool.top."""
    for clause in clauses:
        assert clause, "empty clause"
        assert len(set(clause)) == len(clause), f"repeated literal in {clause}"
        assert not any(-lit in clause for lit in clause), f"tautology {clause}"
    used = {abs(lit) for clause in clauses for lit in clause}
    assert 0 not in used
    assert max(used) <= pool.top
    # Every fresh variable is used (no free aux variable that would double the model count).
    assert set(range(top_before + 1, pool.top + 1)) <= used


def check_truth_table(clauses: Clauses, out: int, lits: Sequence[int], bound: int) -> None:
    """For every assignment of the literal variables, the formula forces out = [Σ ≥ bound]."""
    nvars = max(abs(lit) for lit in lits)
    with Solver(name="cadical195", bootstrap_with=clauses) as solver:
        for bits in product((False, True), repeat=nvars):
            values = dict(enumerate(bits, start=1))
            assumptions = [v if b else -v for v, b in values.items()]
            want = truth(lits, bound, values)
            assert solver.solve(assumptions=assumptions), (lits, bound, values)
            model = set(solver.get_model() or [])
            assert (out in model) == want, (lits, bound, values)
            wrong = -out if want else out
            assert not solver.solve(assumptions=[*assumptions, wrong]), (lits, bound, values)


def lit_cases(n: int) -> Iterator[tuple[list[int], bool]]:
    """Literal lists of length n over at most n variables, and whether out is negative."""
    yield list(range(1, n + 1)), False  # distinct positive
    yield [i if i % 2 else -i for i in range(1, n + 1)], True  # distinct, mixed signs
    m = max(1, (n + 1) // 2)
    yield [(i % m) + 1 for i in range(n)], False  # repeated literals
    if n >= 2:
        yield [1, -1, *range(2, n)], True  # a literal with its negation
    rng = random.Random(n)  # a fixed jumble of repeats and negations
    yield [rng.choice((1, -1)) * rng.randint(1, m) for _ in range(n)], n % 2 == 0


EXHAUSTIVE = [
    pytest.param(n, lits, neg, id=f"n{n}-{idx}")
    for n in range(1, 9)
    for idx, (lits, neg) in enumerate(lit_cases(n))
]


# ---------------------------------------------------------------------------------------------
# exhaustive truth tables


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize(("n", "lits", "neg_out"), EXHAUSTIVE)
def test_exhaustive_truth(name: str, n: int, lits: list[int], neg_out: bool) -> None:
    nvars = max(abs(lit) for lit in lits)
    out = -(nvars + 1) if neg_out else nvars + 1
    for bound in range(-1, n + 3):
        pool = VarPool(nvars + 1)
        clauses = dispatch(name, out, lits, bound, pool)
        check_clauses_wellformed(clauses, nvars + 1, pool)
        check_truth_table(clauses, out, lits, bound)
        if is_normalised(n, bound):
            pool = VarPool(nvars + 1)
            clauses = ENCODERS[name](out, lits, bound, pool)
            check_clauses_wellformed(clauses, nvars + 1, pool)
            check_truth_table(clauses, out, lits, bound)


# ---------------------------------------------------------------------------------------------
# exact model counts (pyganak): parsimony and the binomial sum


def count_models(clauses: Clauses, top: int, units: Sequence[int] = ()) -> int:
    """The unprojected model count over variables 1..top."""
    counter = Counter()
    counter.new_vars(top)
    counter.add_clauses(clauses)
    for unit in units:
        counter.add_clause([unit])
    return int(counter.count())


COUNT_CASES = [
    (name, n, k)
    for name, sizes in (
        ("totalizer", (1, 2, 3, 6, 9, 14)),
        ("seqcounter", (1, 2, 3, 6, 9, 14)),
        ("direct", (1, 2, 3, 5, 8)),
        ("adder", (1, 2, 3, 6, 11, 14)),
        ("adder-net", (1, 2, 3, 4, 6, 7, 9, 14)),
        ("adder-blocks", (1, 2, 3, 6, 7, 9, 14)),
        ("cardnet", (1, 2, 3, 4, 5, 6, 7, 9, 11, 14)),
        ("auto", (1, 2, 3, 6, 9, 14)),
    )
    for n in sizes
    for k in sorted({1, 2, n // 2, n // 2 + 1, n - 1, n} & set(range(1, n + 1)))
]


# A direct call to encode() is only defined for normalised bounds, so only those are generated.
COUNT_RUNS = [
    pytest.param(name, n, k, via, id=f"{name}-{n}-{k}-{'dispatch' if via else 'direct-call'}")
    for name, n, k in COUNT_CASES
    for via in (True, False)
    if via or is_normalised(n, k)
]


@pytest.mark.parametrize(("name", "n", "k", "via_dispatcher"), COUNT_RUNS)
def test_model_counts(name: str, n: int, k: int, via_dispatcher: bool) -> None:
    lits = [v if v % 3 else -v for v in range(1, n + 1)]  # distinct variables, some negated
    out = n + 1
    pool = VarPool(out)
    if via_dispatcher:
        clauses = dispatch(name, out, lits, k, pool)
    else:
        clauses = ENCODERS[name](out, lits, k, pool)
    # Parsimony: each of the 2^n inputs extends to exactly one model (out and aux included).
    assert count_models(clauses, pool.top) == 2**n
    # Exactly the inputs with at least k true literals satisfy out, each once.
    at_least = sum(comb(n, i) for i in range(k, n + 1))
    assert count_models(clauses, pool.top, [out]) == at_least
    assert count_models(clauses, pool.top, [-out]) == 2**n - at_least


# ---------------------------------------------------------------------------------------------
# sizes


def size(name: str, lits: Sequence[int], bound: int) -> tuple[int, int]:
    """(auxiliary variables, clauses) of the dispatched encoding."""
    out = max(abs(lit) for lit in lits) + 1
    pool = VarPool(out)
    clauses = encode_at_least(name, out, lits, bound, pool)
    return pool.top - out, len(clauses)


def test_totalizer_size_goal() -> None:
    aux, nclauses = size("totalizer", range(1, 101), 50)
    assert aux <= 620
    assert nclauses <= 6_200


def test_adder_size_goal() -> None:
    # Linear at mid-range bounds, where the totalizer needs 572 variables and 6,145 clauses.
    aux, nclauses = size("adder", range(1, 101), 50)
    assert aux <= 200
    assert nclauses <= 1_400
    aux, nclauses = size("adder", range(1, 785), 392)
    assert aux <= 1_600
    assert nclauses <= 11_000


def test_adder_delegates_where_the_totalizer_is_smaller() -> None:
    for n, bound in [(10, 5), (100, 3), (100, 98)]:
        lits = range(1, n + 1)
        assert encode_at_least("adder", n + 1, lits, bound, VarPool(n + 1)) == encode_at_least(
            "totalizer", n + 1, lits, bound, VarPool(n + 1)
        )
    assert size("adder", range(1, 12), 4) != size("totalizer", range(1, 12), 4)


def test_adder_blocks_larger_exhaustive() -> None:
    # Several blocks (sizes 2, 2, 3, 3) and a deeper adder network, on every input.
    lits = [v if v % 4 else -v for v in range(1, 11)]
    for name in ("adder-net", "adder-blocks"):
        for bound in range(-1, 13):
            pool = VarPool(11)
            clauses = dispatch(name, 11, lits, bound, pool)
            check_clauses_wellformed(clauses, 11, pool)
            check_truth_table(clauses, 11, lits, bound)


@pytest.mark.parametrize("name", ["totalizer", "seqcounter"])
def test_small_bounds_stay_small(name: str) -> None:
    # Counting stops at the bound: a small bound over many literals stays near-linear.
    aux, nclauses = size(name, range(1, 101), 3)
    assert aux <= 3 * 100
    assert nclauses <= 4 * 3 * 100


@pytest.mark.parametrize("name", ["totalizer", "seqcounter", "cardnet"])
def test_dispatcher_counts_the_shorter_side(name: str) -> None:
    lits = list(range(1, 31))
    negated = [-lit for lit in lits]
    # Σ ℓ ≥ 28 is ¬(Σ ¬ℓ ≥ 3): the dispatcher must not count up to 28.
    assert size(name, lits, 28) == size(name, negated, 3)
    # And it is literally the encoder called on the flipped constraint.
    assert encode_at_least(name, 31, lits, 28, VarPool(31)) == ENCODERS[name](
        -31, negated, 3, VarPool(31)
    )


def test_seqcounter_register_count() -> None:
    # Pruned registers: bound·(n − bound + 1), minus the one register that is out itself.
    for n, k in [(10, 1), (10, 3), (11, 6), (100, 50)]:
        aux, nclauses = size("seqcounter", range(1, n + 1), k)
        assert aux == k * (n - k + 1) - 1
        assert nclauses <= 4 * (aux + 1)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_deterministic(name: str) -> None:
    lits = [3, -1, 4, 1, -5, 9, 2, -6, 5, 3]
    first = dispatch(name, 10, lits, 4, VarPool(10))
    second = dispatch(name, 10, lits, 4, VarPool(10))
    assert first == second


# ---------------------------------------------------------------------------------------------
# direct: clean-up and the size limit


def test_direct_cleans_clauses() -> None:
    # [1, 1, -1] ≥ 2: subsets give repeated literals and tautologies; it is just x1.
    assert direct.encode(4, [1, 1, -1], 2, VarPool(4)) == [[-4, 1], [4, -1]]
    # [1, 1, 2] ≥ 2: positions {0, 2} and {1, 2} give the same clause, kept once, in order.
    assert direct.encode(4, [1, 1, 2], 2, VarPool(4)) == [[-4, 1], [-4, 1, 2], [4, -1], [4, -1, -2]]


def test_direct_refuses_above_limit() -> None:
    lits = list(range(1, 41))
    for bound in (20, 21):  # 21 is flipped to 20 by the dispatcher
        pool = VarPool(41)
        with pytest.raises(EncodingLimitError) as info:
            encode_at_least("direct", 41, lits, bound, pool)
        assert pool.top == 41
        message = str(info.value)
        assert "\n" not in message
        assert "C(40,20) + C(40,21) = 2.7e11 clauses" in message
        assert "limit 100,000" in message
        assert "the adder encoding" in message
    with pytest.raises(EncodingLimitError):
        direct.encode(41, lits, 20, VarPool(41))


def test_direct_at_the_limit() -> None:
    # C(18,9) + C(18,10) = 92,378 ≤ 100,000: allowed, one clause per subset.
    needed = comb(18, 9) + comb(18, 10)
    assert needed <= direct.DIRECT_CLAUSE_LIMIT
    assert len(direct.encode(19, range(1, 19), 9, VarPool(19))) == needed
    # C(19,10) + C(19,10) = 184,756: refused.
    with pytest.raises(EncodingLimitError, match=r"C\(19,10\) \+ C\(19,10\) = 184,756"):
        direct.encode(20, range(1, 20), 10, VarPool(20))


# ---------------------------------------------------------------------------------------------
# property test


@settings(max_examples=150, deadline=None)
@given(
    signed=st.lists(st.tuples(st.integers(1, 6), st.booleans()), min_size=1, max_size=12),
    bound=st.integers(-2, 14),
    bits=st.lists(st.booleans(), min_size=6, max_size=6),
    neg_out=st.booleans(),
)
def test_property_out_is_right(
    signed: list[tuple[int, bool]], bound: int, bits: list[bool], neg_out: bool
) -> None:
    lits = [-v if neg else v for v, neg in signed]
    values = dict(enumerate(bits, start=1))
    assumptions = [v if b else -v for v, b in values.items()]
    want = truth(lits, bound, values)
    out = -7 if neg_out else 7
    for name in ALL_NAMES:
        pool = VarPool(7)
        clauses = dispatch(name, out, lits, bound, pool)
        with Solver(name="cadical195", bootstrap_with=clauses) as solver:
            assert solver.solve(assumptions=assumptions), name
            assert (out in (solver.get_model() or [])) == want, name
            assert not solver.solve(assumptions=[*assumptions, -out if want else out]), name
