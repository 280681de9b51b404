"""Rules on strengths and draws: a strength no product has, rounding, separate syringes,
draws outside the tolerance."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from .. import display
from ..formulary import AgentClass
from .assessment import Assessment, Finding, cited

__all__ = ["concentration_rule", "draw_tolerance_rule", "rounding_rule", "separate_syringe_rule"]

_PERCENT = frozenset({AgentClass.LOCAL_ANESTHETIC, AgentClass.DILUENT})


def concentration_rule(a: Assessment) -> Iterator[Finding]:
    for line in a.lines:
        if line.nonstandard:
            stocked = ", ".join(
                display.strength(s, percent=line.agent.agent_class in _PERCENT)
                for s in sorted(line.agent.strengths_mg_per_ml)
            )
            yield Finding(
                "nonstandard_concentration",
                "warning",
                (line.agent.id,),
                f"{line.agent.display_name} {display.amount(line.concentration, 'mg/mL')} is not a stocked "
                f"strength (stocked: {stocked}); check the vial",
            )


def rounding_rule(a: Assessment) -> Iterator[Finding]:
    """Each component whose total drawn differs from its total asked (graduation rounding)."""
    changed = [line for line in a.lines if line.requested_volume_per_site * line.sites != line.total_volume]
    if changed:
        parts = "; ".join(
            f"{line.agent.display_name}: {display.amount(line.requested_volume_per_site * line.sites, 'mL')} asked, "
            f"{display.amount(line.total_volume, 'mL')} drawn"
            for line in changed
        )
        yield Finding(
            "volume_rounded",
            "info",
            tuple(dict.fromkeys(line.agent.id for line in changed)),
            f"volumes rounded to the syringe graduation; doses are those delivered: {parts}",
            cited(a).volume_rounded,
        )


def _ml(volume: Decimal) -> str:
    return display.amount(volume, "mL")


def _syringe_name(capacity: Decimal, graduation: Decimal) -> str:
    return f"a {_ml(capacity)} syringe (graduated in {_ml(graduation)})"


def separate_syringe_rule(a: Assessment) -> Iterator[Finding]:
    """Say each draw measured in a separate, finer syringe: the step a preparer must take."""
    steps, agents = [], []
    for number, syringe in enumerate(a.filled, start=1):
        for line, draw in zip(a.lines, syringe.draws, strict=True):
            if draw.measured_in is None:
                continue
            where = _syringe_name(draw.measured_in.capacity_ml, draw.measured_in.graduation_ml)
            steps.append(f"draw {line.agent.display_name} {_ml(draw.volume)} in {where}, add it to syringe {number}")
            agents.append(line.agent.id)
    if steps:
        yield Finding(
            "draw_measured_separately",
            "info",
            tuple(dict.fromkeys(agents)),
            f"the {_ml(a.mixing.capacity_ml)} mixing syringe, graduated in {_ml(a.mixing.graduation_ml)}, "
            f"cannot measure every draw within {display.percent(a.formulary.policy.draw_tolerance)}: "
            + "; ".join(steps),
            cited(a).draw_measured_separately,
        )


def draw_tolerance_rule(a: Assessment) -> Iterator[Finding]:
    """A draw no syringe of the formulary measures within the tolerance: a warning, critical
    when it delivers more of a dose-limited agent than asked by more than the tolerance."""
    tolerance = a.formulary.policy.draw_tolerance
    parts, agents, over = [], [], False
    for number, syringe in enumerate(a.filled, start=1):
        for line, draw in zip(a.lines, syringe.draws, strict=True):
            if draw.deviation <= tolerance:
                continue
            more = draw.volume > draw.asked
            over = over or (more and line.agent.agent_class is not AgentClass.DILUENT)
            sign = "+" if more else "-"
            parts.append(
                f"{line.agent.display_name} in syringe {number}: {_ml(draw.asked)} asked, {_ml(draw.volume)} drawn "
                f"({sign}{display.percent(draw.deviation)})"
            )
            agents.append(line.agent.id)
    if parts:
        yield Finding(
            "draw_outside_tolerance",
            "critical" if over else "warning",
            tuple(dict.fromkeys(agents)),
            f"no syringe in the formulary measures these draws within {display.percent(tolerance)} of the volume "
            f"asked: {'; '.join(parts)}; doses reported are those drawn"
            + ("; more is delivered than asked" if over else ""),
            cited(a).draw_outside_tolerance,
        )
