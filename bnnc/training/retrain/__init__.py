"""Garbage-class retraining: the paper's future work (Suhail et al., section 4), measured.

The loop, for R rounds after an initial training on the real data (round 0)::

    invert the network: for every digit label c, draw K + P inputs it labels c (CMSGen,
        uniform over the preimage; every sample is checked by the reference inference)
    label the first K of each as an extra class, "garbage" (index C = the number of digit
        classes), add them to the training set (garbage accumulates over the rounds)
    retrain, warm-started from the previous network (latent weights, batch-norm statistics,
        Adam moments; round 1 widens the output block by one class)
    measure the new network

After every round, :class:`RoundReport` records

* the test accuracy on the real digits (a real digit called garbage counts as an error), and
  the share of real test digits called garbage;
* for every label (the digits, and garbage from round 1 on), the share of the **whole input
  space** (all 2^n inputs) that the network assigns to it: exact by enumeration for small
  inputs, or estimated (see :data:`CountMethod`);
* the P held-out ("fresh") inversion samples per digit label of the *previous* network, which
  the new network was not trained on: how many it still calls a digit, and how many keep the
  label the previous network gave them.

What it does not do: the garbage samples are uniform over each digit's preimage, i.e. almost
all of them are noise, so the loop teaches the network to call noise garbage; it does not make
the remaining digit regions look like digits, and K samples per round cannot cover preimages of
millions of inputs (see ``examples/paper/RESULTS.md`` for a measured run).

Split by concern: :mod:`.shares` (shares of the input space per label), :mod:`.results` (the
parameters and the measurements), :mod:`.loop` (the rounds), :mod:`.report` (text and Markdown
tables), :mod:`.plot` (PNG pictures) and :mod:`.outputs` (the files of a run).
"""

from __future__ import annotations

from bnnc.training.retrain.loop import nearest_distance, retrain
from bnnc.training.retrain.outputs import write_outputs
from bnnc.training.retrain.plot import plot_rounds, write_sample_grid
from bnnc.training.retrain.report import format_markdown, format_table
from bnnc.training.retrain.results import GARBAGE, RetrainConfig, RetrainResult, RoundReport
from bnnc.training.retrain.shares import (
    COUNT_METHODS,
    CountMethod,
    LabelShare,
    RetrainError,
    label_shares,
)

__all__ = [
    "COUNT_METHODS",
    "GARBAGE",
    "CountMethod",
    "LabelShare",
    "RetrainConfig",
    "RetrainError",
    "RetrainResult",
    "RoundReport",
    "format_markdown",
    "format_table",
    "label_shares",
    "nearest_distance",
    "plot_rounds",
    "retrain",
    "write_outputs",
    "write_sample_grid",
]
