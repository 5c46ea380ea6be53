"""A query: which inputs a verb ranges over — a region, and optionally a label to hit or avoid.

``Query(region, label=L)`` is "inputs in the region that the network labels L";
``Query(region, not_label=L)`` is "inputs in the region that it does not label L" (with a
Hamming ball around an input labelled L, the counterexamples to local robustness).

``bnnc.passes.lower_query.query_clauses`` turns the query into CNF on top of a compiled formula.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnnc.errors import ModelError
from bnnc.ir.bnn import BnnModel
from bnnc.ir.cnf import CnfFormula
from bnnc.ir.ilp import IlpModel
from bnnc.ir.reference import predict
from bnnc.ir.region import Region


class Labels:
    """Class names for messages, without a formula: ``describe_label`` as CnfFormula has it."""

    def __init__(self, class_names: tuple[str, ...] | None) -> None:
        self.class_names = class_names

    def describe_label(self, label: int) -> str:
        """``3`` or, with class names, ``3 (cat)``."""
        return f"{label} ({self.class_names[label]})" if self.class_names else str(label)


@dataclass(frozen=True, eq=False)
class Query:
    region: Region
    label: int | None = None  # the network must give this label
    not_label: int | None = None  # the network must not give this label
    description: str = field(default="", compare=False)

    def check(self, n_classes: int) -> None:
        for name, value in (("label", self.label), ("not-label", self.not_label)):
            if value is not None and not 0 <= value < n_classes:
                raise ModelError(f"{name} {value} is out of range 0..{n_classes - 1}")
        if self.label is not None and self.label == self.not_label:
            raise ModelError(f"label {self.label} is both required and excluded")

    def accepts(self, model: BnnModel | IlpModel, bits: ArrayLike) -> NDArray[np.bool_]:
        """For each row of input bits, whether it answers the query (reference inference)."""
        array = np.asarray(bits, dtype=bool)
        return np.asarray(self.region.contains(array) & self.wants(predict(model, array)))

    def wants(self, labels: ArrayLike) -> NDArray[np.bool_]:
        """For each label, whether the query's label condition accepts it (the region aside)."""
        array = np.asarray(labels)
        ok = np.ones(array.shape, dtype=bool)
        if self.label is not None:
            ok &= array == self.label
        if self.not_label is not None:
            ok &= array != self.not_label
        return ok

    def describe_plain(self) -> str:
        """The query without class names, for error messages."""
        parts = []
        if self.label is not None:
            parts.append(f"label {self.label}")
        if self.not_label is not None:
            parts.append(f"not label {self.not_label}")
        if not self.region.is_everything:
            parts.append(self.region.describe())
        return ", ".join(parts) if parts else "all inputs"

    def describe(self, formula: CnfFormula | Labels) -> str:
        """e.g. ``label 2, inputs within 3 flips of a given input``."""
        parts = []
        if self.label is not None:
            parts.append(f"label {formula.describe_label(self.label)}")
        if self.not_label is not None:
            parts.append(f"not label {formula.describe_label(self.not_label)}")
        if not self.region.is_everything:
            parts.append(self.region.describe())
        return ", ".join(parts) if parts else "all inputs"


def everything(model: BnnModel | IlpModel) -> Query:
    return Query(Region.everything(model.n_inputs))
