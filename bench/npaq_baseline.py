"""NPAQ-style baseline: bnnc's exact constraints encoded the way NPAQ encodes them, with PBLib.

    python bench/npaq_baseline.py                        # trained and random 100-20-10
    python bench/npaq_baseline.py --models a.bnn b.onnx --decide-cap 30 --out /tmp/npaq

What this is.  Issue 5 asks that bnnc's formulas be "sampling and deciding at least as fast as"
NPAQ's (Baluta et al., CCS 2019).  NPAQ's encoder (C++, ``teobaluta/NPAQ``,
``mlp2cnf/src/bnn.cpp``) cannot be run here, but the library it encodes with, PBLib, can (its
Python binding ``pypblib``; ``pip install bnnc[bench]``).  This script rebuilds NPAQ's
*per-neuron construction* with the same library and the same three at-most-k encoders
(NPAQ's ``--encoder card|bdd|adder``) on *bnnc's exact thresholds*.  It is not NPAQ's binary:
the thresholds, the variable numbering and the output block are bnnc's, and the weights are
whatever network it is given, so its sizes resemble the paper's figures without matching them.

The construction.  For each ``AtLeast(out, lits, k)`` of bnnc's stage 4 (``bnnc.ir.card``: out ⇔
Σ lits ≥ k, every literal with weight 1) it encodes, as NPAQ does for every hidden neuron and
every class comparison, two *reified* PBLib constraints, each with its own clause database and
auxiliary-variable manager:

* ``PBConstraint(lits, GEQ, k)`` with ``add_conditional(out)``     (out → Σ ≥ k), and
* ``PBConstraint(lits, LEQ, k − 1)`` with ``add_conditional(-out)`` (¬out → Σ ≤ k − 1).

PBLib reifies by adding the negated conditional to the clauses that state the bound (not to
the definitions of the counter), and folds trivial bounds itself (an empty encoding, units, or
the unit ``[-out]``/``[out]`` for an unsatisfiable side), exactly as in NPAQ.  A literal that
occurs twice (a ±2 weight of a class comparison over ternary weights) is passed twice; PBLib
joins it into weight 2.  The auxiliary variables are *not* functions of the inputs (each side
encodes one direction only), so the formula is not parsimonious: an input can have many
models, which biases CMSGen toward inputs with more of them.

Encoders: ``card`` and ``bdd`` set PBLib's at-most-k encoder to cardinality networks (``AMK_CARD``)
or BDDs (``AMK_BDD``), as NPAQ does.  NPAQ's ``adder`` is an ``AMK_ENCODER::ADDER`` that exists
only in the PBLib it bundles (``pblib_npaq.tar.gz``); stock PBLib (and pypblib 0.0.4: only
``AMK_BEST``, ``AMK_BDD``, ``AMK_CARD``) has no such constant.  Stock PBLib's ``AMK_BEST``
picks, among card, BDD and adder, the encoder with the smallest ``encodingValue``, and the
adder's value is ``MAX_CLAUSES_PER_CONSTRAINT − 1``; so for a constraint that reaches the
at-most-k encoder, a config with ``AMK_BEST`` and ``set_max_clause_per_constraint(1)`` makes
PBLib use its adder (Eén–Sörensson, from MiniSat+) — the same encoder class NPAQ's patch calls.
Every other constraint (at-most-one, trivial, weighted) goes through a default config, as it
would in NPAQ, so that the forced value changes nothing else.

What differs from NPAQ.  The hidden layers are NPAQ's construction on bnnc's thresholds.  The
output block is bnnc's: the class comparisons are bnnc's 45 ``g_cj`` (c < j, exact
lowest-index tie-breaking; reified as above), and each label is bnnc's ``AndGate`` (o_c ⇔
∧ g_cj ∧ ∧ ¬g_jc, clauses as in ``bnnc.ir.cnf``), where NPAQ has 90 ordered comparisons d_ij (no
tie-breaking) tied to each class variable by three more reified PB constraints over the d_ij.
The output block is small next to the hidden layer, so this changes the sizes little.
``Fact`` constraints are unit clauses, as in bnnc; a ``StaircaseGate`` (per-class output
scales, some ONNX models) is refused.  Variables are numbered after bnnc's layout: inputs stay
1..n and label c stays ``layout.output_var(c)``; PBLib's auxiliaries come after the layout.

Before measuring, every NPAQ-style formula is checked: for every input of a small network, or
``--check-inputs`` random ones, the formula with the inputs as assumptions must be satisfiable
and force exactly the label of bnnc's reference inference (``bnnc.predict``); otherwise the
script stops.  Decided witnesses and samples are checked by the reference too, and the labels'
SAT/UNSAT answers must agree across all the formulas of a network.

Measured per formula: variables, clauses, encode time (stages 1–4 plus PBLib for the baseline;
the whole ``bnnc.compile`` for bnnc's encodings), the time CaDiCaL (pysat, as
``bnnc.engines.decide``) takes to decide each label (the formula plus the unit clause on its output
variable, loaded from Python lists alike for every formula; solver start included, no local search),
and the time for 100 CMSGen samples of label 2 (seed 0; pycmsgen has no sampling set, so it samples
whole models and the inputs are read off them).
Each solver or sampler run is a forked child with a cap (``--decide-cap``, ``--sample-cap``);
capped runs show ``>cap`` (with, for sampling, how many samples were drawn within the cap).
PBLib is warmed up before anything is timed: its cardinality-network encoder fills a table on
its first use (about 3.5 s, once per process).  Writes ``npaq.md`` and ``npaq.json`` in ``--out``
(``bench/results``), rewritten after every row.

Reference points (the paper; NPAQ on its own trained 100-20-10): 62,726 variables / 114,740
clauses (cardinality networks), 104,904 / 206,626 (BDD), 10,932 / 101,971 (adder).
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inversion import fmt  # bench/ is not a package: imported by path
from suite import machine_info

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bnnc.ir.bnn import BnnModel
    from bnnc.ir.card import CardModel, Layout
    from bnnc.ir.ilp import IlpModel

    Model = BnnModel | IlpModel

Clauses = list[list[int]]

NPAQ_ENCODERS = ("card", "bdd", "adder")
BNNC_ENCODINGS = ("adder", "auto")
DEFAULT_SHAPE = "100-20-10"
SAMPLE_LABEL = 2
N_SAMPLES = 100
EXHAUSTIVE_MAX_INPUTS = 12  # check every input up to 4,096 of them
# NPAQ's own sizes on the paper's trained 100-20-10 (encoder: variables, clauses).
PAPER_SIZES: dict[str, tuple[int, int]] = {
    "card": (62_726, 114_740),
    "bdd": (104_904, 206_626),
    "adder": (10_932, 101_971),
}


# --- the NPAQ-style formula -------------------------------------------------------------------


class PBLibReifier:
    """NPAQ's two reified PBLib constraints per cardinality constraint, with one encoder."""

    def __init__(self, encoder: str) -> None:
        from pypblib import pblib

        self.pblib = pblib
        self.encoder = encoder
        # For card and bdd one config does everything; for adder, the default config serves
        # every constraint that does not reach the at-most-k encoder (see the module docstring).
        self.config = pblib.PBConfig()
        if encoder == "card":
            self.config.set_AMK_Encoder(pblib.AMK_CARD)
        elif encoder == "bdd":
            self.config.set_AMK_Encoder(pblib.AMK_BDD)
        elif encoder != "adder":
            raise ValueError(f"unknown NPAQ encoder {encoder!r}; choose card, bdd or adder")
        self.pb2cnf = pblib.Pb2cnf(self.config)
        self.adder_config = pblib.PBConfig()
        self.adder_config.set_AMK_Encoder(pblib.AMK_BEST)
        self.adder_config.set_max_clause_per_constraint(1)  # the adder's value 0 then wins
        self.adder_pb2cnf = pblib.Pb2cnf(self.adder_config)

    def reify(
        self, out: int, lits: Sequence[int], bound: int, first_aux: int
    ) -> tuple[Clauses, int]:
        """Clauses for out → Σ lits ≥ bound and ¬out → Σ lits ≤ bound − 1; the next free var."""
        clauses: Clauses = []
        for comparator, rhs, condition in (
            (self.pblib.GEQ, bound, out),
            (self.pblib.LEQ, bound - 1, -out),
        ):
            config, pb2cnf = self._encoder_for(lits, comparator == self.pblib.GEQ, rhs)
            weighted = [self.pblib.WeightedLit(lit, 1) for lit in lits]
            constraint = self.pblib.PBConstraint(weighted, comparator, rhs)
            constraint.add_conditional(condition)
            database = self.pblib.VectorClauseDatabase(config)
            aux = self.pblib.AuxVarManager(first_aux)
            pb2cnf.encode(constraint, database, aux)
            first_aux = aux.get_biggest_returned_auxvar() + 1
            clauses.extend(database.get_clauses())
        return clauses, first_aux

    def _encoder_for(self, lits: Sequence[int], geq: bool, rhs: int) -> tuple[Any, Any]:
        if self.encoder == "adder" and reaches_amk_encoder(lits, geq, rhs):
            return self.adder_config, self.adder_pb2cnf
        return self.config, self.pb2cnf


def reaches_amk_encoder(lits: Sequence[int], geq: bool, rhs: int) -> bool:
    """Whether PBLib's pre-encoder hands Σ lits ≥ rhs (or ≤ rhs) to the at-most-k encoder.

    It mirrors PBLib's ``PreEncoder`` for positive integer weights: repeated literals are
    joined; a ≥ is turned into ≤ over the complements (bound Σw − rhs); literals heavier than
    the bound are fixed false; what remains is an at-most-k constraint iff every weight is 1 and
    2 ≤ k ≤ n − 2 (k ≤ 0 gives units, k = 1 an at-most-one, k = n − 1 a clause, k ≥ n nothing).
    """
    weights = Counter(lits)
    if any(-lit in weights for lit in weights):
        return False  # x and ¬x together: PBLib folds them; never produced by bnnc
    leq = sum(weights.values()) - rhs if geq else rhs
    kept = [w for w in weights.values() if w <= leq]
    return all(w == 1 for w in kept) and 2 <= leq <= len(kept) - 2


def npaq_formula(card: CardModel, encoder: str) -> tuple[int, Clauses]:
    """(number of variables, clauses) of the NPAQ-style formula of a CardModel."""
    from bnnc.ir.card import AndGate, AtLeast, Fact

    reifier = PBLibReifier(encoder)
    next_var = card.layout.n_layout_vars + 1
    clauses: Clauses = []
    for con in card.constraints:
        if isinstance(con, AtLeast):
            encoded, next_var = reifier.reify(con.out, con.lits, con.bound, next_var)
            clauses.extend(encoded)
        elif isinstance(con, AndGate):  # as bnnc.ir.cnf: out → each member; all members → out
            clauses.extend([-con.out, lit] for lit in con.lits)
            clauses.append([con.out, *(-lit for lit in con.lits)])
        elif isinstance(con, Fact):
            clauses.append([con.lit])
        else:
            raise SystemExit(
                f"{con.origin}: {type(con).__name__} (per-class output scales) has no "
                "NPAQ-style encoding; the baseline covers networks with one output scale"
            )
    return next_var - 1, clauses


# --- correctness check ------------------------------------------------------------------------


def check_inputs(n_inputs: int, count: int, seed: int) -> np.ndarray:
    """Every input of a small network, else ``count`` random ones (True = +1)."""
    if n_inputs <= EXHAUSTIVE_MAX_INPUTS:
        rows = list(itertools.product([False, True], repeat=n_inputs))
        return np.array(rows, dtype=bool).reshape(-1, n_inputs)
    return np.random.default_rng(seed).random((count, n_inputs)) < 0.5


def check_labels(model: Model, layout: Layout, clauses: Clauses, inputs: np.ndarray) -> str | None:
    """None if, for every input row, the formula is SAT and forces the reference label; else
    a description of the first failure.

    Two solves per input: one model must have exactly the reference output true, and no model
    may have it false.  bnnc's AND gates make two labels true together impossible, so this
    proves the label is forced.
    """
    from pysat.solvers import Solver

    import bnnc

    expected = np.asarray(bnnc.predict(model, inputs)).reshape(-1)
    outputs = [layout.output_var(c) for c in range(layout.n_classes)]
    with Solver(name="minisat22", bootstrap_with=clauses) as solver:
        for row, label in zip(inputs, expected.tolist(), strict=True):
            inputs_fixed = [v if b else -v for v, b in enumerate(row.tolist(), start=1)]
            if not solver.solve(assumptions=inputs_fixed):
                return f"no model for input {_bits(row)} (reference label {label})"
            true = set(solver.get_model() or [])
            labels = [c for c, var in enumerate(outputs) if var in true]
            if labels != [label]:
                return f"input {_bits(row)}: a model gives labels {labels}, reference {label}"
            if solver.solve(assumptions=[*inputs_fixed, -outputs[label]]):
                return f"input {_bits(row)}: label {label} (the reference's) is not forced"
    return None


def _bits(row: np.ndarray) -> str:
    return "".join("1" if b else "0" for b in row.tolist())


# --- measurements in forked children (as bench/suite.py) --------------------------------------

# The formula under measurement, set in the parent before each fork: children inherit it.
_CURRENT: dict[str, Any] = {}


def _task(kind: str, label: int, cap: float, progress: Any, queue: Any) -> None:
    import pycmsgen
    from pysat.solvers import Solver

    import bnnc
    from bnnc.engines.decide import SOLVER

    model, layout, clauses = _CURRENT["model"], _CURRENT["layout"], _CURRENT["clauses"]
    unit = [[layout.output_var(label)]]
    inputs = range(1, layout.n_inputs + 1)
    start = time.perf_counter()
    if kind == "decide":
        with Solver(name=SOLVER, bootstrap_with=clauses + unit) as solver:
            satisfiable = solver.solve()
            values = set(solver.get_model() or []) if satisfiable else set()
        seconds = time.perf_counter() - start
        rows = [[v in values for v in inputs]] if satisfiable else []
        detail: Any = "SAT" if satisfiable else "UNSAT"
    else:
        sampler = pycmsgen.Solver(seed=0)
        sampler.add_clauses(clauses + unit)
        rows = []
        for _ in range(N_SAMPLES):
            satisfiable, values = sampler.solve()
            if not satisfiable:
                break
            rows.append([bool(values[v]) for v in inputs])  # None (unconstrained) → False
            if time.perf_counter() - start <= cap:
                progress.value = len(rows)  # read by the parent if this run is capped
        seconds = time.perf_counter() - start
        detail = len({tuple(r) for r in rows})  # distinct inputs among the samples
    if rows:  # every witness and sample must have the label (outside the timed part)
        got = np.asarray(bnnc.predict(model, np.array(rows, dtype=bool))).reshape(-1)
        if (got != label).any():
            detail = f"WRONG: an input the formula gives label {label} has label {got[0]}"
    queue.put((seconds, detail))


def measure_forked(kind: str, label: int, cap: float) -> tuple[float | None, Any, int]:
    """(seconds, detail, samples drawn within the cap) of one task in a forked child; seconds
    and detail are None past the cap."""
    context = mp.get_context("fork")
    queue: Any = context.Queue()
    progress: Any = context.Value("i", 0)
    process = context.Process(target=_task, args=(kind, label, cap, progress, queue))
    process.start()
    process.join(cap + 5)
    if process.is_alive():
        process.kill()
        process.join()
        return None, None, progress.value
    if queue.empty():  # the child died: a bug, not a slow run
        raise SystemExit(f"{kind} of label {label} failed (exit code {process.exitcode})")
    seconds, detail = queue.get()
    if isinstance(detail, str) and detail.startswith("WRONG"):
        raise SystemExit(f"{_CURRENT['name']}: {detail}")
    return (seconds if seconds <= cap else None), detail, progress.value


# --- the benchmark ----------------------------------------------------------------------------


def default_models(out: Path, seed: int) -> list[Path]:
    """The trained and random 100-20-10 of bench/suite.py, made its way if missing."""
    models_dir = out / "models"
    paths = [models_dir / f"{kind}-{DEFAULT_SHAPE}.bnn" for kind in ("trained", "random")]
    if all(path.exists() for path in paths):
        return paths
    from suite import networks

    print(f"(no {DEFAULT_SHAPE} networks in {models_dir}: making them as bench/suite.py does)")
    models_dir.mkdir(parents=True, exist_ok=True)
    return [path for _, path in networks(DEFAULT_SHAPE, models_dir, seed)]


def formulas(
    model: Model, encoders: Sequence[str], encodings: Sequence[str]
) -> Iterator[tuple[str, Layout, int, Clauses, float]]:
    """Yield (formula name, layout, num_vars, clauses, encode seconds), one at a time."""
    import bnnc

    for encoder in encoders:
        start = time.perf_counter()
        card = bnnc.compile(model, until="card").card
        assert card is not None
        num_vars, clauses = npaq_formula(card, encoder)
        yield f"NPAQ-style {encoder}", card.layout, num_vars, clauses, time.perf_counter() - start
    for encoding in encodings:
        start = time.perf_counter()
        formula = bnnc.compile(model, encoding).formula
        seconds = time.perf_counter() - start
        # As plain lists (bnnc may hold them in a compact store), so that every formula is
        # handed to the solvers the same way; the conversion is not timed.
        clauses = list(formula.clauses)
        yield f"bnnc {encoding}", formula.layout, formula.num_vars, clauses, seconds


def warm_up(model: Model, encoders: Sequence[str]) -> None:
    """Encode once, untimed: PBLib's cardinality-network encoder fills a table on its first
    use (about 3.5 s, once per process), which would otherwise land on the first row."""
    import bnnc

    card = bnnc.compile(model, until="card").card
    assert card is not None
    for encoder in encoders:
        npaq_formula(card, encoder)


def main() -> None:
    import bnnc

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", type=Path, help="model files (.bnn or .onnx)")
    parser.add_argument("--encoders", nargs="*", default=list(NPAQ_ENCODERS))
    parser.add_argument("--encodings", nargs="*", default=list(BNNC_ENCODINGS))
    parser.add_argument("--decide-cap", type=float, default=10.0, help="seconds per label")
    parser.add_argument("--sample-cap", type=float, default=60.0, help="seconds, 100 samples")
    parser.add_argument("--check-inputs", type=int, default=300, help="random inputs checked")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    caps = {"decide": args.decide_cap, "sample": args.sample_cap}
    args.out.mkdir(parents=True, exist_ok=True)
    paths = args.models or default_models(args.out, args.seed)

    warm_up(bnnc.load(paths[0]), args.encoders)
    rows: list[dict[str, Any]] = []
    started, load_before = time.time(), os.getloadavg()[0]
    for path in paths:
        model = bnnc.load(path)
        network = path.stem
        print(f"\n== {network} ({path})", flush=True)
        answers: dict[int, tuple[str, str]] = {}  # label → (first formula, its answer)
        for name, layout, num_vars, clauses, encode_s in formulas(
            model, args.encoders, args.encodings
        ):
            checked = None
            if name.startswith("NPAQ"):
                inputs = check_inputs(model.n_inputs, args.check_inputs, args.seed)
                failure = check_labels(model, layout, clauses, inputs)
                if failure:
                    raise SystemExit(f"{network}, {name}: WRONG FORMULA: {failure}")
                checked = len(inputs)
                print(f"  {name}: label forced correctly on {checked} inputs", flush=True)
            _CURRENT.update(model=model, layout=layout, clauses=clauses, name=name)
            decided = [
                measure_forked("decide", c, caps["decide"])[:2] for c in range(layout.n_classes)
            ]
            sample_s, distinct, drawn = measure_forked("sample", SAMPLE_LABEL, caps["sample"])
            distinct = distinct if sample_s is not None else None  # only for a run within the cap
            _CURRENT.clear()
            for label, (_, answer) in enumerate(decided):
                if answer is None:
                    continue
                first = answers.setdefault(label, (name, answer))
                if first[1] != answer:
                    raise SystemExit(
                        f"{network}: label {label} is {answer} with {name} but {first[1]} with "
                        f"{first[0]}: one of the formulas is wrong"
                    )
            row = {
                "network": network,
                "formula": name,
                "variables": num_vars,
                "clauses": len(clauses),
                "encode_s": round(encode_s, 3),
                "checked_inputs": checked,
                "decide_s": [seconds for seconds, _ in decided],
                "decide_answer": [answer for _, answer in decided],
                "samples_100_s": sample_s,
                "samples_drawn_within_cap": drawn,
                "distinct_sampled_inputs": distinct,
            }
            rows.append(row)
            print("  " + " | ".join(_cells(row, caps)), flush=True)
            # Written after every row, so an interrupted run keeps what it measured.
            write_tables(rows, args.out, caps, machine_info(started, load_before))
    print("\nNPAQ itself (the paper, its trained 100-20-10): " + _paper_line())


def _paper_line() -> str:
    return "; ".join(
        f"{enc} {v:,} variables / {c:,} clauses" for enc, (v, c) in PAPER_SIZES.items()
    )


def _cells(row: dict[str, Any], caps: dict[str, float]) -> list[str]:
    solved = [d for d in row["decide_s"] if d is not None]
    return [
        row["network"],
        row["formula"],
        f"{row['variables']:,}",
        f"{row['clauses']:,}",
        f"{row['encode_s']:.2f}",
        f"{len(solved)}/{len(row['decide_s'])}",
        fmt(max(solved) if solved else None, caps["decide"]),
        f"{sum(solved):.2f}" if solved else "-",
        _samples_cell(row, caps["sample"]),
        "-" if row["distinct_sampled_inputs"] is None else str(row["distinct_sampled_inputs"]),
    ]


def _samples_cell(row: dict[str, Any], cap: float) -> str:
    """``12.34``, or ``>60 (37 drawn)`` for a capped run."""
    if row["samples_100_s"] is not None:
        return fmt(row["samples_100_s"], cap)
    return f"{fmt(None, cap)} ({row['samples_drawn_within_cap']} drawn)"


def _per_label(row: dict[str, Any], cap: float) -> list[str]:
    return [
        fmt(seconds, cap) + (" U" if answer == "UNSAT" else "")
        for seconds, answer in zip(row["decide_s"], row["decide_answer"], strict=True)
    ]


def write_tables(
    rows: list[dict[str, Any]], out: Path, caps: dict[str, float], machine: dict[str, Any]
) -> None:
    paper = {enc: {"variables": v, "clauses": c} for enc, (v, c) in PAPER_SIZES.items()}
    (out / "npaq.json").write_text(
        json.dumps(
            {
                "caps_s": caps,
                "machine": machine,
                "paper_npaq_trained_100_20_10": paper,
                "rows": rows,
            },
            indent=1,
        )
        + "\n"
    )
    n_labels = max(len(row["decide_s"]) for row in rows)
    lines = [
        "# NPAQ-style baseline (PBLib) against bnnc",
        "",
        "NPAQ's per-neuron construction (two reified PBLib constraints per neuron and class "
        "comparison) on bnnc's exact thresholds, with PBLib's cardinality networks, BDDs and "
        "adder, next to bnnc's own encodings; see the docstring of `bench/npaq_baseline.py`.  "
        f"Caps: {caps['decide']:g} s per label decided, {caps['sample']:g} s for "
        f"{N_SAMPLES} CMSGen samples of label {SAMPLE_LABEL}; `>cap` = not finished.  Machine: "
        f"{machine['cpus']} CPUs, Python {machine['python']}, started {machine['started']}, "
        f"{machine['wall_min']} min so far, 1-minute load {machine['load_1min_at_start']} at "
        f"the start and {machine['load_1min_now']} at the last row.",
        "",
        "| network | formula | variables | clauses | encode s | labels decided "
        "| max decide s | sum decided s | 100 samples s | distinct inputs sampled |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += ["| " + " | ".join(_cells(row, caps)) + " |" for row in rows]
    lines += [
        "",
        "Seconds to decide each label (`U` = UNSAT; every SAT witness checked by the reference):",
        "",
        "| network | formula | " + " | ".join(str(c) for c in range(n_labels)) + " |",
        "|---|---|" + "---:|" * n_labels,
    ]
    lines += [
        f"| {row['network']} | {row['formula']} | "
        + " | ".join(_per_label(row, caps["decide"]))
        + " |"
        for row in rows
    ]
    lines += [
        "",
        "NPAQ itself, from the paper (its trained 100-20-10, different weights):",
        "",
        "| encoder | variables | clauses |",
        "|---|---:|---:|",
    ]
    lines += [f"| {enc} | {v:,} | {c:,} |" for enc, (v, c) in PAPER_SIZES.items()]
    (out / "npaq.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
