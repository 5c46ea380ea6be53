"""The files of a retraining run: the report (Markdown, JSON), the plot, the final network and
the grids of fresh samples, each written atomically."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bnnc.io import write_atomic
from bnnc.training.retrain.plot import plot_rounds, write_sample_grid
from bnnc.training.retrain.report import format_markdown
from bnnc.training.retrain.results import RetrainResult

__all__ = ["write_outputs"]


def write_outputs(result: RetrainResult, folder: str | Path, stem: str = "retrain") -> list[Path]:
    """Write ``stem``.md, .json, .png and the final network as ``stem``-final.bnn (atomically)."""
    # onnx_export imports onnx, which takes a while: only when the files are written.
    from bnnc.backend.onnx_export import save_text

    out = Path(folder)
    png = out / f"{stem}.png"
    buffer = io.BytesIO()
    plot_rounds(result).save(buffer, format="PNG")
    write_atomic(png, buffer.getvalue())
    md = out / f"{stem}.md"
    write_atomic(md, format_markdown(result, plot=png.name))
    js = out / f"{stem}.json"
    write_atomic(js, json.dumps(result.to_json(), indent=1) + "\n")
    model = out / f"{stem}-final.bnn"
    save_text(result.models[-1], model)
    written = [md, js, png, model]
    shape = result.models[0].input_shape
    if len([d for d in shape if d != 1]) == 2:
        for round_no, probe in enumerate(result.probes):
            if len(probe):
                grid = out / f"{stem}-fresh-round{round_no}.png"
                write_sample_grid(grid, probe, result.probe_labels[round_no], shape)
                written.append(grid)
    return written
