"""The pieces RESULTS.md is made of (examples/paper/render.py): number formats, Markdown
tables, and the findings of the retraining run, worded from its numbers (no fixed claims).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bnnc.training.retrain import RetrainResult

__all__ = [
    "fmt_int",
    "fmt_share",
    "formula_size_rows",
    "md_table",
    "plural",
    "retrain_findings",
    "sweep_table",
]


def fmt_int(value: int) -> str:
    return f"{value:,}"


def fmt_share(share: float) -> str:
    if share == 0:
        return "0"
    if share >= 0.001:
        return f"{100 * share:.2f}%"
    return f"{100 * share:.2e}%"


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def formula_size_rows(sizes: Sequence[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            f"`{s['encoding']}`",
            fmt_int(s["variables"]),
            fmt_int(s["clauses"]),
            f"{s['seconds']:.2f}",
        ]
        for s in sizes
    ]


def retrain_findings(three: RetrainResult, approx_seconds: float | None) -> list[str]:
    """What the retraining run shows, worded from its numbers (no fixed claims)."""
    return [*_findings_on_shares(three), *_findings_on_samples(three, approx_seconds)]


def _findings_on_shares(three: RetrainResult) -> list[str]:
    """How far the digits' share of the input space fell, and what garbage is left."""
    rounds = three.rounds
    first, second, last = rounds[0], rounds[1], rounds[-1]
    n = three.n_digits
    items = []
    drop = first.test_accuracy - last.test_accuracy
    cost = (
        "about the same accuracy on real digits"
        if abs(drop) < 0.02
        else (
            f"a loss of {100 * drop:.1f} points of accuracy"
            if drop > 0
            else f"a gain of {-100 * drop:.1f} points of accuracy (each round also trains "
            "further on the real digits)"
        )
    )
    items.append(
        f"**The digit labels' share of the input space fell from "
        f"{fmt_share(first.digit_share(n) or 0)} to {fmt_share(last.digit_share(n) or 0)}** in "
        f"{plural(last.round, 'round')} ({last.garbage_train} garbage samples in all), with "
        f"{cost}: "
        f"test accuracy {first.test_accuracy:.1%} → {last.test_accuracy:.1%}; "
        f"{last.test_called_garbage:.1%} of the real test digits are called garbage."
    )
    counts = [s.count for s in last.shares[:n] if s.count is not None]
    remaining = (
        f"; the digit preimages still hold {min(counts):,} to {max(counts):,} inputs each, "
        f"against {last.round * three.config.samples} samples per label trained on"
        if counts
        else ""
    )
    frac1 = second.probe_still_digit / max(1, second.probe_drawn)
    frac = last.probe_still_digit / max(1, last.probe_drawn)
    if last.round > 1:
        trend = (
            f"{'rose' if frac > frac1 else 'went'} from {frac1:.0%} (round 1) to {frac:.0%} "
            f"(round {last.round})"
        )
    else:
        trend = f"is {frac:.0%}"
    why = (
        ": the less of each digit's preimage is left, the harder what is left is to separate "
        "from the real digits"
        if last.round > 1 and frac > frac1
        else ""
    )
    items.append(
        "**It does not remove all garbage.**  The share of fresh inversion samples (of the "
        f"previous network, not trained on) that the new network still calls a digit {trend}"
        f"{why}{remaining}."
    )
    return items


def _findings_on_samples(three: RetrainResult, approx_seconds: float | None) -> list[str]:
    """How far the inverted inputs are from real images; what sampling and counting cost."""
    rounds = three.rounds
    second, last = rounds[1], rounds[-1]
    items = []
    if last.probe_nearest is not None and three.real_nearest is not None:
        closer = (
            last.round > 1
            and second.probe_nearest is not None
            and last.probe_nearest < second.probe_nearest
        )
        change = f" (round 1: {second.probe_nearest:.2f})" if last.round > 1 else ""
        head = (
            "**Inverted inputs come closer to real images, but stay apart from them.**"
            if closer
            else "**Inverted inputs stay apart from real images.**"
        )
        items.append(
            f"{head}  The last round's fresh samples are {last.probe_nearest:.2f} pixels on "
            f"average from the closest real training image{change}; a real test image is "
            f"{three.real_nearest:.2f} pixels from the closest training image (see the "
            "fresh-sample grids)."
        )
    sample_s = [r.seconds.get("sample", 0.0) for r in rounds[1:]]
    items.append(
        "CMSGen time per round (inverting every digit label): "
        + ", ".join(f"{t:.0f} s" for t in sample_s)
        + (
            "; it grows as the digit preimages shrink."
            if len(sample_s) > 1 and sample_s[-1] > 1.5 * sample_s[0]
            else "."
        )
    )
    method = "enumerated" if rounds[0].shares and rounds[0].shares[0].method == "enumerate" else ""
    approx = (
        f"about {approx_seconds:.0f} s per label for the 100-input network of part 1"
        if approx_seconds is not None
        else "about a minute per label for a 100-input network"
    )
    items.append(
        (f"The shares are exact (all 2^{three.n_inputs} inputs enumerated).  " if method else "")
        + "For 100-input networks `bnnc retrain --count montecarlo` estimates them from "
        "random inputs, which cannot resolve shares below about 1e-6; ApproxMC "
        f"(`--count approx`) can, at {approx}."
    )
    return items


def sweep_table(sweep: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """One row per training setting (batch-norm statistics, epochs) over the seeds."""
    header = [
        "batch-norm statistics",
        "epochs",
        "seeds",
        "test accuracy (min–max)",
        "networks with an unreachable label",
        "unreachable labels (seed: labels)",
        "labels decided by CaDiCaL",
    ]
    rows = []
    keys = list(dict.fromkeys((s["recalibrate"], s["epochs"]) for s in sweep))
    for recalibrate, epochs in keys:
        group = [s for s in sweep if (s["recalibrate"], s["epochs"]) == (recalibrate, epochs)]
        accs = [s["test_accuracy"] for s in group]
        seeds = [s["seed"] for s in group]
        bad = [s for s in group if s["unsat"]]
        rows.append(
            [
                "recalibrated" if recalibrate else "running averages",
                str(epochs),
                f"{min(seeds)}–{max(seeds)}" if len(seeds) > 1 else str(seeds[0]),
                f"{min(accs):.1%}–{max(accs):.1%}",
                f"{len(bad)} of {len(group)}",
                "; ".join(f"{s['seed']}: {', '.join(map(str, s['unsat']))}" for s in bad) or "–",
                str(sum(s["by_solver"] for s in group)),
            ]
        )
    return header, rows
