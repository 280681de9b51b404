"""Checking one order: its reading planned by the core for this patient.

An order we wrote ourselves is rebuilt from our extension while it still reproduces the
fields a clinician signs; any other order is checked from its standard fields
(:mod:`mixcalc.ehr.orders`).  The plan is the core's three steps, the same computation
as ``POST /v1/mixtures``, run once per order (:func:`mixcalc.ehr.exact.computed`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from ..errors import PlanError
from ..formulary import AgentClass, Formulary
from ..plan import Plan, compute
from ..resolve import resolve
from ..schema import MAX_PRIOR_DOSES, MixtureRequest, MixtureResponse
from ..units import MG, Amount
from .chart import ChartReading
from .exact import Computed, ExactAnswer
from .orders import OrderReading
from .roundtrip import mixcalc_request, same_order
from .write import medication_request

__all__ = ["OrderCheck", "check_order", "local_anesthetic_doses", "others", "plan_with"]


@dataclass(frozen=True)
class OrderCheck:
    """One order checked: ``computed`` is the full request (the chart's patient and prior
    doses added) computed once, None with ``problems`` when the order could not be read or
    computed."""

    reading: OrderReading
    origin: str  # "mixcalc" (our extension, verified) or "ehr" (standard fields)
    computed: Computed | None
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    volume_per_site: Decimal | None = None

    @property
    def answer(self) -> MixtureResponse | None:
        return None if self.computed is None else self.computed.answer

    @property
    def request(self) -> MixtureRequest | None:
        return None if self.computed is None else self.computed.request

    @property
    def exact(self) -> ExactAnswer | None:
        return None if self.computed is None else self.computed.exact

    @property
    def over_limit(self) -> bool:
        exact = self.exact
        return exact is not None and exact.over_limit

    @property
    def severity(self) -> str | None:
        """The most severe finding of the plan (None without a plan)."""
        if self.answer is None:
            return None
        found = {w.severity for w in self.answer.warnings}
        return next((s for s in ("critical", "warning") if s in found), "info")


def _prior(chart: ChartReading, extra: Mapping[str, Decimal]) -> list[dict[str, Any]]:
    totals: dict[str, Decimal] = {}
    for dose in chart.prior_doses:
        totals[dose["agent"]] = totals.get(dose["agent"], Decimal(0)) + dose["dose"].in_(MG)
    for agent, amount in extra.items():
        totals[agent] = totals.get(agent, Decimal(0)) + amount
    return [{"agent": agent, "dose": Amount.of(amount, "mg")} for agent, amount in totals.items() if amount > 0][
        :MAX_PRIOR_DOSES
    ]


def plan_with(
    request: Mapping[str, Any],
    chart: ChartReading,
    formulary: Formulary,
    extra_prior: Mapping[str, Decimal] | None = None,
) -> tuple[MixtureRequest, Plan] | str:
    """The request with the chart's patient and prior doses (plus ``extra_prior``), and its
    plan (exact values; :meth:`Computed.of` adds the answer); or why it cannot be computed
    (the field and the reason)."""
    try:
        full = MixtureRequest.model_validate(
            {**request, "patient": dict(chart.facts) or None, "prior_doses": _prior(chart, extra_prior or {})}
        )
        return full, compute(resolve(full, formulary), formulary)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(p) for p in first["loc"])
        return f"{where}: {str(first['msg']).removeprefix('Value error, ')}"
    except PlanError as exc:
        return exc.detail


def check_order(
    resource: Mapping[str, Any], reading: OrderReading, chart: ChartReading, formulary: Formulary
) -> OrderCheck:
    """Plan one order for this patient (see the module docstring)."""
    notes: list[str] = []
    mine = mixcalc_request(resource)
    if mine is not None:
        planned = plan_with(mine, chart, formulary)
        if not isinstance(planned, str):
            mixcalc = Computed.of(*planned)
            if same_order(resource, medication_request(mixcalc, formulary)):
                return OrderCheck(reading, "mixcalc", mixcalc, volume_per_site=mixcalc.exact.volume_per_site)
        notes.append("the order no longer matches what mixcalc wrote: it was checked as ordered")
    if reading.request is None:
        return OrderCheck(reading, "ehr", None, problems=reading.problems, notes=(*notes, *reading.notes))
    planned = plan_with(reading.request, chart, formulary)
    if isinstance(planned, str):
        return OrderCheck(reading, "ehr", None, problems=(planned,), notes=(*notes, *reading.notes))
    return OrderCheck(
        reading,
        "ehr",
        Computed.of(*planned),
        notes=(*notes, *reading.notes),
        volume_per_site=reading.volume_per_site,
    )


def local_anesthetic_doses(check: OrderCheck, formulary: Formulary) -> dict[str, Decimal]:
    """The local anesthetic this order gives (mg per agent): the plan's totals, or the
    doses that can be read for certain when it has no plan."""
    exact = check.exact
    doses = check.reading.least if exact is None else {c.agent: c.total_dose for c in exact.components}
    return {
        agent: dose
        for agent, dose in doses.items()
        if formulary.agents_by_id[agent].agent_class is AgentClass.LOCAL_ANESTHETIC and dose > 0
    }


def others(doses: Sequence[Mapping[str, Decimal]], index: int) -> dict[str, Decimal]:
    """The sum of every order's doses but the ``index``-th."""
    total: dict[str, Decimal] = {}
    for i, order in enumerate(doses):
        if i == index:
            continue
        for agent, dose in order.items():
            total[agent] = total.get(agent, Decimal(0)) + dose
    return total
