"""Cards: what a checked order, the session and the chart say in the EHR (CDS Hooks 2.0).

Numbers reach people through :mod:`mixcalc.display`, from the plan's exact values
(:mod:`mixcalc.ehr.exact`); percentages are whole percent rounded up
(:func:`mixcalc.display.percent`).  Indicators come from the findings' severities, never
from their codes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import display
from ..display import percent
from ..formulary import Formulary
from .chart import ChartReading
from .check import OrderCheck
from .exact import ExactAnswer
from .services import SUMMARY_LIMIT

__all__ = ["OVERRIDE_REASONS", "SUMMARY_LIMIT", "Cards", "SessionLine", "percent"]

_OVERRIDE_SYSTEM = "https://mixcalc.example/fhir/CodeSystem/override-reason"
OVERRIDE_REASONS = (
    {"system": _OVERRIDE_SYSTEM, "code": "pharmacist-verified", "display": "Dose verified with a pharmacist"},
    {"system": _OVERRIDE_SYSTEM, "code": "benefit-outweighs-risk", "display": "Benefit outweighs risk (documented)"},
    {"system": _OVERRIDE_SYSTEM, "code": "patient-data-outdated", "display": "Weight or patient data is out of date"},
)


def clip(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1].rstrip() + "…"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _bullets(lines: Sequence[str]) -> str:
    return "".join(f"\n- {line}" for line in lines)


def table(exact: ExactAnswer, check: OrderCheck) -> str:
    sites = f"{exact.sites} site{'s' if exact.sites != 1 else ''}"
    volume = exact.volume_per_site
    as_ordered = ""
    if check.origin == "ehr" and check.volume_per_site is not None:
        volume, as_ordered = check.volume_per_site, " as ordered"
    head = (
        f"**{sites}, {display.amount(volume, 'mL')} per site{as_ordered}, "
        f"{display.amount(volume * exact.sites, 'mL')} in all.**"
    )
    lines = [head, "", "| agent | per site | total | max | % of max |", "|---|---|---|---|---|"]
    for c in exact.components:
        maximum = "-" if c.max_dose is None else display.limit_amount(c.max_dose, "mg")
        share = (
            "weight needed"
            if c.fraction is None and c.max_dose is None and c.agent_class != "diluent"
            else ("-" if c.fraction is None else percent(c.fraction))
        )
        total = display.amount(c.total_dose, "mg")
        if c.prior_dose:
            total += f" (+ {display.amount(c.prior_dose, 'mg')} given earlier)"
        lines.append(f"| {_cell(c.name)} | {display.amount(c.dose_per_site, 'mg')} | {total} | {maximum} | {share} |")
    lines.append("")
    for group in exact.groups:
        shown = "weight needed" if group.fraction is None else percent(group.fraction)
        lines.append(f"Combined load of {group.name.lower()}: **{shown}** of maximum.")
    if exact.epinephrine_total is not None:
        lines.append(f"Total EPINEPHrine: {display.amount(exact.epinephrine_total, 'ug')}.")
    if check.answer is not None and check.answer.dosing_weight is not None and exact.dosing_weight is not None:
        reason = check.answer.dosing_weight.reason
        lines.append(f"Dosing weight: {display.weight_amount(exact.dosing_weight)} ({reason}).")
    return "\n".join(lines)


def _loads(exact: ExactAnswer) -> str:
    loads = ", ".join(
        f"{g.name.lower()} {'weight needed' if g.fraction is None else percent(g.fraction)}" for g in exact.groups
    )
    return f"{loads} of maximum" if loads else "no dose-limited agent"


def summary(check: OrderCheck) -> tuple[str, str]:
    """(indicator, summary) of a checked order, from its findings' severities."""
    assert check.answer is not None
    exact = check.exact
    assert exact is not None
    severity = check.severity or "info"
    loads = _loads(exact)
    if check.over_limit:
        return "critical", clip(f"TPI mixture exceeds a maximum dose: {loads}")
    first = next((w for w in check.answer.warnings if w.severity == severity), None)
    if severity == "critical" and first is not None:
        return "critical", clip(f"TPI mixture has a critical warning: {first.message}")
    if severity == "warning" and first is not None:
        return "warning", clip(f"TPI mixture needs review: {first.message}")
    return "info", clip(f"TPI mixture within limits: {loads}")


def chart_section(chart: ChartReading) -> str:
    parts = [f"**From the chart**{_bullets(chart.used) if chart.used else ' nothing'}"]
    if chart.site_notes:
        parts.append("**Confirm**" + _bullets(chart.site_notes))
    if chart.cautions:
        parts.append("**Check**" + _bullets(chart.cautions))
    if chart.not_checked:
        parts.append("**Not checked** (not in the chart data sent)" + _bullets(chart.not_checked))
    return "\n\n".join(parts)


@dataclass(frozen=True)
class SessionLine:
    """What the session card says on each order's card; ``over`` when together they exceed,
    ``near`` when together they reach the near-limit threshold."""

    text: str
    over: bool
    near: bool = False


@dataclass
class Cards:
    formulary: Formulary
    new_uuid: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))
    cards: list[dict[str, Any]] = field(default_factory=list)

    def add(self, indicator: str, summary_text: str, detail: str, **extra: Any) -> dict[str, Any]:
        card = {
            "uuid": self.new_uuid(),
            "summary": clip(summary_text),
            "indicator": indicator,
            "detail": detail,
            "source": {"label": f"{self.formulary.name} {self.formulary.version}"},
            **extra,
        }
        if indicator == "critical" and "overrideReasons" not in card:
            card["overrideReasons"] = list(OVERRIDE_REASONS)
        self.cards.append(card)
        return card

    def unreadable(self, check: OrderCheck, chart: ChartReading, over: Sequence[str]) -> None:
        """An order that could not be checked: warning, critical when what can be read is
        already over a maximum (``over`` says which)."""
        reading = check.reading
        names = ", ".join(self.formulary.agents_by_id[a].name for a in reading.agents)
        detail = (
            f"**{reading.label}** ({names}): the dose was **not checked**. What is missing:"
            + _bullets(check.problems)
            + (f"\n\n**Notes**{_bullets(check.notes)}" if check.notes else "")
        )
        if over:
            detail += "\n\n**Already over a maximum with what can be read:**" + _bullets(over)
            self.add("critical", f"TPI order over a maximum dose and not fully readable: {names}", detail)
        else:
            self.add("warning", f"TPI order not checked: could not be read ({names})", detail)

    def order(
        self, check: OrderCheck, chart: ChartReading, suggestion: dict[str, Any] | None, session: SessionLine | None
    ) -> None:
        assert check.answer is not None
        exact = check.exact
        assert exact is not None
        indicator, text = summary(check)
        if session is not None and (session.over or session.near) and not check.over_limit:
            # never "within limits" on an order that is over, or near, together with the others
            together = "over the maximum" if session.over else "near the limit"
            text = clip(f"TPI mixture alone: {_loads(exact)}; with the session's other TPI orders {together}")
        warnings = _bullets([f"**{w.severity}** `{w.code}`: {w.message}" for w in check.answer.warnings])
        detail = (
            f"**{check.reading.label}**\n\n{table(exact, check)}"
            + (f"\n\n**Warnings**{warnings}" if warnings else "")
            + (f"\n\n**Notes**{_bullets(check.notes)}" if check.notes else "")
            + (f"\n\n{session.text}" if session is not None else "")
            + f"\n\n{chart_section(chart)}"
        )
        extra: dict[str, Any] = {}
        if suggestion is not None:
            extra["suggestions"] = [suggestion]
            extra["selectionBehavior"] = "at-most-one"
        elif check.over_limit:
            detail += "\n\nNo smaller volume per site of this mixture brings every dose under its limit."
        self.add(indicator, text, detail, **extra)
        for warning in check.answer.warnings:
            if warning.severity == "critical":
                sources = _bullets(list(warning.source))
                self.add("critical", warning.message, warning.message + (f"\n\nSources:{sources}" if sources else ""))
