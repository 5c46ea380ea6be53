"""A query: which inputs a verb ranges over — a region, and optionally a label to hit or avoid.

``Query(region, label=L)`` is "inputs in the region that the network labels L";
``Query(region, not_label=L)`` is "inputs in the region that it does not label L" (with a
Hamming ball around an input labelled L, the counterexamples to local robustness).

:meth:`Query.clauses` turns the query into CNF on top of a compiled formula.  The extra
auxiliary variables (from a Hamming ball) are functions of the inputs, so the formula with the
query stays parsimonious: its models are the query's inputs, one each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnnc.bnn import BnnModel
from bnnc.cnf import CnfFormula
from bnnc.encodings import Clauses, VarPool
from bnnc.errors import ModelError
from bnnc.ilp import IlpModel
from bnnc.reference import predict
from bnnc.region import Region, region_clauses


@dataclass(frozen=True)
class QueryCnf:
    """The clauses a query adds to a formula, and the formula's new variable count."""

    clauses: Clauses
    num_vars: int


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

    def clauses(self, formula: CnfFormula) -> QueryCnf:
        """CNF for the query over the formula's variables (new ones numbered after them)."""
        layout = formula.layout
        self.check(layout.n_classes)
        if self.region.n_inputs != layout.n_inputs:
            raise ModelError(
                f"the region is over {self.region.n_inputs} input bits, "
                f"the model has {layout.n_inputs}"
            )
        pool = VarPool(formula.num_vars)
        # A ball's cardinality constraint may use any encoding; 'direct' has a size limit that a
        # large ball would hit, so it uses the adder, which is linear.
        encoding = "adder" if formula.encoding == "direct" else formula.encoding
        clauses = region_clauses(self.region, encoding, pool)
        if self.label is not None:
            clauses.append([layout.output_var(self.label)])
        if self.not_label is not None:
            clauses.append([-layout.output_var(self.not_label)])
        return QueryCnf(clauses, pool.top)

    def accepts(self, model: BnnModel | IlpModel, bits: ArrayLike) -> NDArray[np.bool_]:
        """For each row of input bits, whether it answers the query (reference inference)."""
        array = np.asarray(bits, dtype=bool)
        ok = self.region.contains(array)
        labels = predict(model, array)
        if self.label is not None:
            ok &= labels == self.label
        if self.not_label is not None:
            ok &= labels != self.not_label
        return np.asarray(ok)

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

    def describe(self, formula: CnfFormula) -> str:
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
