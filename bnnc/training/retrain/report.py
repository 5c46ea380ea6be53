"""The report of a retraining run as plain-text tables (terminal) and as Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from bnnc.training.retrain.results import GARBAGE, RetrainResult, RoundReport
from bnnc.training.retrain.shares import LabelShare, resolve_method

__all__ = ["SUMMARY_HEADER", "format_markdown", "format_table", "round_line"]


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def _share_text(share: LabelShare) -> str:
    value = 100 * share.share
    if share.share == 0:
        return "0"
    if value >= 1:
        return f"{value:.1f}%"
    if value >= 0.01:
        return f"{value:.2f}%"
    return f"{value:.1e}%"


def round_line(r: RoundReport, n_digits: int) -> str:
    """One round in one line, for the log of a run."""
    line = (
        f"round {r.round}: test accuracy {_pct(r.test_accuracy)}, digit share "
        f"{_pct(r.digit_share(n_digits), 2)}, garbage share {_pct(r.garbage_share(n_digits), 2)}"
    )
    if r.probe_drawn:
        line += f", fresh samples still digits {r.probe_still_digit}/{r.probe_drawn}"
    return line


SUMMARY_HEADER = (
    "round",
    "garbage in training",
    "test accuracy",
    "test digits → garbage",
    "input space → digits",
    "input space → garbage",
    "fresh samples still digits",
    "… same digit",
    "… pixels from nearest real image",
)


def _summary_rows(result: RetrainResult) -> list[list[str]]:
    rows = []
    n = result.n_digits
    for r in result.rounds:
        probe = f"{r.probe_still_digit}/{r.probe_drawn}" if r.probe_drawn else "–"
        if r.probe_drawn:
            probe += f" ({_pct(r.probe_still_digit / r.probe_drawn, 0)})"
        same = f"{r.probe_same_label}/{r.probe_drawn}" if r.probe_drawn else "–"
        rows.append(
            [
                str(r.round),
                str(r.garbage_train) + (f" (−{r.garbage_dropped})" if r.garbage_dropped else ""),
                _pct(r.test_accuracy),
                _pct(r.test_called_garbage) if r.round else "–",
                _pct(r.digit_share(n), 2),
                _pct(r.garbage_share(n), 2),
                probe,
                same,
                "–" if r.probe_nearest is None else f"{r.probe_nearest:.2f}",
            ]
        )
    return rows


def _share_rows(result: RetrainResult) -> tuple[list[str], list[list[str]]]:
    header = ["round", *result.digit_names, GARBAGE]
    rows = []
    for r in result.rounds:
        cells = [_share_text(s) for s in r.shares]
        cells += ["–"] * (len(header) - 1 - len(cells))
        rows.append([str(r.round), *cells])
    return header, rows


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _method_note(result: RetrainResult) -> str:
    method = resolve_method(result.config.count, result.n_inputs)
    n = result.n_inputs
    return {
        "enumerate": f"exact: all 2^{n} inputs enumerated through the reference inference",
        "montecarlo": (
            f"estimated from {result.config.mc_samples:,} uniform random inputs "
            "(95% Wilson intervals in the JSON report)"
        ),
        "approx": "ApproxMC estimates, (ε, δ) = (0.8, 0.2)",
        "exact": "exact model counts (Ganak)",
        "none": "not measured",
    }[method]


def format_table(result: RetrainResult) -> str:
    """The report as plain-text tables (for the terminal)."""
    header, rows = _share_rows(result)
    return (
        _text_table(SUMMARY_HEADER, _summary_rows(result))
        + f"\n\nshare of the input space per label ({_method_note(result)}):\n"
        + _text_table(header, rows)
    )


def format_markdown(result: RetrainResult, *, plot: str | None = None) -> str:
    """The report as Markdown: both tables, what the columns mean, the plot if given."""
    cfg = result.config
    header, rows = _share_rows(result)
    parts = [
        "# Garbage-class retraining",
        "",
        result.description,
        "",
        f"Rounds {cfg.rounds}; per round and digit label {cfg.samples} garbage samples "
        f"(for training) and {cfg.probe} fresh samples (held out), drawn with CMSGen from the "
        f"`{cfg.encoding}` formula; initial training {cfg.initial_epochs} epochs, "
        f"{cfg.epochs} epochs per round (warm start), lr {cfg.lr}, seed {cfg.seed}; "
        f"{result.seconds:.0f} s in total.",
        "",
        _md_table(SUMMARY_HEADER, _summary_rows(result)),
        "",
        f"Share of the input space per label ({_method_note(result)}):",
        "",
        _md_table(header, rows),
        "",
        "*garbage in training*: inversion samples labelled garbage so far; (−d): this "
        "round's samples that equal a real training image, left out. "
        "*test accuracy*: on the real test digits (a digit called garbage is an error). "
        "*input space → digits*: the share of all inputs that the network labels as any digit. "
        "*fresh samples*: inversion samples of the previous round's network that were not "
        "trained on; *still digits*: the new network labels them as some digit; *same digit*: "
        "as the digit the previous network gave them; *pixels from nearest real image*: the mean "
        "Hamming distance from a fresh sample to the closest real training image"
        + (
            f" (for comparison, a real test image is {result.real_nearest:.2f} pixels from its "
            "closest training image)."
            if result.real_nearest is not None
            else "."
        ),
    ]
    if plot:
        parts += ["", f"![retraining rounds]({plot})"]
    return "\n".join(parts) + "\n"
