"""Checks: the warnings a pharmacist checking the syringe would raise.

Each rule is a small function over the computed :class:`Assessment` that yields
:class:`Finding` values; :func:`findings` runs them all and orders the result by
severity.  A breach of a limit is a critical finding, never an exception.

The rules live by what they judge: :mod:`.doses` (maxima, groups, epinephrine),
:mod:`.patient` (weight, dosing weight, age), :mod:`.draws` (strengths, rounding,
syringes), :mod:`.products` (mixtures, conditions, populations, routes, notices); what
they judge is :mod:`.assessment`.  :data:`RULES` keeps their order, which orders the
findings within a severity.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..loads import GroupLoad
from .assessment import RANK, Assessment, Finding, Line, Rule
from .doses import epinephrine_rule, group_rule, max_dose_rule
from .draws import concentration_rule, draw_tolerance_rule, rounding_rule, separate_syringe_rule
from .patient import dosing_weight_rule, implausible_patient_rule, infant_presumed_rule, restriction_rule, weight_rule
from .products import (
    condition_rule,
    flocculation_rule,
    incompatibility_rule,
    notice_rule,
    off_label_mixture_rule,
    population_rule,
    route_rule,
)

__all__ = ["RULES", "Assessment", "Finding", "GroupLoad", "Line", "Rule", "findings"]

RULES: tuple[Rule, ...] = (
    max_dose_rule,
    group_rule,
    epinephrine_rule,
    weight_rule,
    dosing_weight_rule,
    infant_presumed_rule,
    implausible_patient_rule,
    restriction_rule,
    concentration_rule,
    rounding_rule,
    separate_syringe_rule,
    draw_tolerance_rule,
    off_label_mixture_rule,
    condition_rule,
    population_rule,
    incompatibility_rule,
    flocculation_rule,
    route_rule,
    notice_rule,
)


def findings(assessment: Assessment, rules: Sequence[Rule] = RULES) -> list[Finding]:
    """Every finding of every rule, most severe first (stable within a severity)."""
    found = [f for rule in rules for f in rule(assessment)]
    found.sort(key=lambda f: RANK[f.severity])
    return found
