"""Write the random example networks with the paper's shapes (25-20-10 and 100-20-10).

    python examples/make_examples.py

The weights are random (trained networks come with the trainer); batch norm is calibrated as
in ``bnnc.training.generate``.  The output is deterministic, so re-running it changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from bnnc.backend.text import print_bnn
from bnnc.training.generate import random_bnn

HERE = Path(__file__).parent
EXAMPLES = {
    "paper-25-20-10.bnn": ([25, 20, 10], (5, 5), 25),
    "paper-100-20-10.bnn": ([100, 20, 10], (10, 10), 100),
}

for filename, (widths, shape, seed) in EXAMPLES.items():
    model = random_bnn(
        widths, seed=seed, input_shape=shape, name=filename.removesuffix(".bnn").replace("-", "_")
    )
    shape_text = "-".join(map(str, widths))
    header = f"# {filename}: random weights, shape {shape_text} (made by make_examples.py)\n"
    (HERE / filename).write_text(header + print_bnn(model))
    print(f"wrote {filename}")
