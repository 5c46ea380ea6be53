"""Robustness sweeps: the radius search of ``bnnc robustness`` at every input of a data set.

``bnnc robustness MODEL --data mnist --images 0:1000 --max-flips 8 --jsonl r.jsonl`` asks, for
each chosen image binarised as the model binarises it, the model's label, whether it is right,
and the exact L0 robustness radius up to K with a minimal counterexample validated by the model
itself (:func:`bnnc.api.robustness`).  The pieces:

* :mod:`~bnnc.sweep.inputs`: the data and the binarisation;
* :mod:`~bnnc.sweep.tasks`: one task (model bytes + input + query) → one record;
* :mod:`~bnnc.sweep.records`: the JSONL file (one complete line per record, resumable) and the
  summary (certified robustness and robust accuracy at each k, unknowns apart);
* :mod:`~bnnc.sweep.engines`: in-process, a local process pool, or a Dask cluster;
* :mod:`~bnnc.sweep.plots`: the robustness curve and the counterexamples as PNG files;
* :mod:`~bnnc.sweep.counts`: the same engines for ``bnnc count --all-labels``, one task per
  label;
* :mod:`~bnnc.sweep.run`: the sweep from start to end.

This package sits between the command line and :mod:`bnnc.api` (it runs the API's verb many
times); the CLI imports it only for sweeps.
"""

from __future__ import annotations

from bnnc.sweep.counts import count_every_label
from bnnc.sweep.engines import ENGINES
from bnnc.sweep.plots import write_curve, write_grid
from bnnc.sweep.records import csv_text, curve, read_jsonl, summary_lines
from bnnc.sweep.run import SweepResult, sweep
from bnnc.sweep.tasks import RUN_FIELDS, ModelRef, RadiusQuery, run_task

__all__ = [
    "ENGINES",
    "RUN_FIELDS",
    "ModelRef",
    "RadiusQuery",
    "SweepResult",
    "count_every_label",
    "csv_text",
    "curve",
    "read_jsonl",
    "run_task",
    "summary_lines",
    "sweep",
    "write_curve",
    "write_grid",
]
