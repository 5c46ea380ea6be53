"""A query (region and label condition) as CNF on top of a compiled formula.

A fixed bit is a unit clause; a Hamming ball is ``¬g`` with ``g ⇔ Σ flip_i ≥ K + 1`` over the
flip literals, encoded with the network's own cardinality encoding.  The auxiliary variables are
functions of the inputs, so the formula with the query stays parsimonious: its models are the
query's inputs, one each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bnnc.encodings import Clauses, VarPool, encode_at_least
from bnnc.errors import ModelError, UsageError
from bnnc.ir.cnf import CnfFormula
from bnnc.ir.query import Query
from bnnc.ir.region import FREE, Region


def region_clauses(region: Region, encoding: str, pool: VarPool) -> Clauses:
    """CNF for "the input lies in ``region``"; new variables come from ``pool``.

    Input bit i is variable i + 1 (bnnc's layout).
    """
    clauses: Clauses = []
    for bit in np.flatnonzero(region.fixed != FREE).tolist():
        var = bit + 1
        clauses.append([var if region.fixed[bit] == 1 else -var])
    for ball in region.balls:
        if ball.max_flips >= region.n_inputs:
            continue  # the whole space
        flips = [-(i + 1) if on else i + 1 for i, on in enumerate(ball.center.tolist())]
        too_far = pool.new()
        clauses.extend(encode_at_least(encoding, too_far, flips, ball.max_flips + 1, pool))
        clauses.append([-too_far])
    return clauses


@dataclass(frozen=True)
class QueryCnf:
    """The clauses a query adds to a formula, and the formula's new variable count."""

    clauses: Clauses
    num_vars: int


def query_clauses(query: Query, formula: CnfFormula) -> QueryCnf:
    """CNF for the query over the formula's variables (new ones numbered after them)."""
    layout = formula.layout
    query.check(layout.n_classes)
    if query.region.n_inputs != layout.n_inputs:
        raise ModelError(
            f"the region is over {query.region.n_inputs} input bits, "
            f"the model has {layout.n_inputs}"
        )
    if formula.region is not None and query.region is not formula.region:
        # A specialised formula is exact on its own region only: a query over another region
        # would count or decide inputs the formula gets wrong.
        raise UsageError(
            "the formula was specialised to another region than the query's; compile it with "
            "the query's region, or without one",
            parameter="region",
        )
    pool = VarPool(formula.num_vars)
    # A ball's cardinality constraint may use any encoding; 'direct' has a size limit that a
    # large ball would hit, so it uses the adder, which is linear.
    encoding = "adder" if formula.encoding == "direct" else formula.encoding
    clauses = region_clauses(query.region, encoding, pool)
    if query.label is not None:
        clauses.append([layout.output_var(query.label)])
    if query.not_label is not None:
        clauses.append([-layout.output_var(query.not_label)])
    return QueryCnf(clauses, pool.top)
