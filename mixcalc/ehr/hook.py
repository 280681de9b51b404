"""CDS Hooks 2.0: discovery and the answer to an ``order-select``/``order-sign`` call.

Plain JSON-shaped values in, ``{"cards": [...]}`` out; the HTTP shell
(:mod:`mixcalc.api.cds`) verifies the caller, completes the prefetch from the EHR's FHIR
server (:mod:`mixcalc.ehr.fetch`) and runs this off the event loop with a deadline.

1. Every draft order (``MedicationRequest`` R4 or ``MedicationOrder`` DSTU2; for
   ``order-select`` the ``selections`` only) is read (:mod:`mixcalc.ehr.orders`); those
   naming a formulary agent other than the diluent are TPI orders.  None: ``cards: []``.
2. The chart is read once (:mod:`mixcalc.ehr.chart`): patient facts, conditions, and the
   local anesthetic given in the last 24 hours as prior doses.
3. Each TPI order gets a card: its plan (indicator from the findings' severities, a
   table, what the chart gave and what was not checked, a suggestion when over a limit),
   or, when it cannot be read, a warning naming what is missing (critical when what can
   be read is already over a maximum).  Each critical finding gets a card of its own.
4. The whole session: with two or more TPI orders giving local anesthetic, each is
   planned again with the others' local anesthetic as prior doses (the core's own
   combination rule), and a session card gives the combined load, critical when over,
   naming every order and agent.

Each order's own plan is computed once (:class:`~mixcalc.ehr.exact.Computed`: the cards,
the session's doses and the suggestion read it); the session's plans, which differ by
their prior doses, are plans only (their exact group load is read, no answer is built).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from .. import display
from ..formulary import Formulary
from ..units import MG as _MG
from .cards import Cards, SessionLine, clip, percent, summary
from .chart import CHART_PREFETCH, HEIGHT_LOINC, LOINC, WEIGHT_LOINC, ChartReading, read_chart
from .check import OrderCheck, check_order, local_anesthetic_doses, others, plan_with
from .codes import CodeTables
from .jsonsafe import json_array, json_object, json_str
from .orders import ORDER_TYPES, medication_references, order_label, read_order, unresolved_reference
from .services import HOOKS
from .suggestion import largest_safe_volume

__all__ = ["HOOKS", "MAX_ORDERS", "PREFETCH", "discovery", "hook_response"]

#: Draft orders read per call; more are named on a card, never silently dropped.
MAX_ORDERS = 200
_P = "{{context.patientId}}"
PREFETCH: Mapping[str, str] = {
    "patient": f"Patient/{_P}",
    "weight": f"Observation?patient={_P}&code={LOINC}|{WEIGHT_LOINC}&_sort=-date&_count=1",
    "height": f"Observation?patient={_P}&code={LOINC}|{HEIGHT_LOINC}&_sort=-date&_count=1",
    "allergies": f"AllergyIntolerance?patient={_P}&clinical-status=active",
    "conditions": f"Condition?patient={_P}&clinical-status=active",
    "medications": f"MedicationRequest?patient={_P}&status=active&_include=MedicationRequest:medication",
    "statements": f"MedicationStatement?patient={_P}&status=active&_include=MedicationStatement:medication",
    "administrations": (
        f"MedicationAdministration?patient={_P}&_sort=-effective-time&_count=100"
        "&_include=MedicationAdministration:medication"
    ),
}


def discovery() -> dict[str, Any]:
    """The discovery document (``GET /cds-services``)."""
    services = []
    for service_id, hook in HOOKS.items():
        moment = "when a TPI mixture is selected" if hook == "order-select" else "before a TPI mixture is signed"
        services.append(
            {
                "hook": hook,
                "id": service_id,
                "title": f"TPI mixture dose check ({hook})",
                "description": (
                    f"Checks trigger point injection orders {moment}: each agent's dose and the combined "
                    "local anesthetic and corticosteroid loads of all TPI orders against the patient's maximum, "
                    "with allergies, conditions, medications and local anesthetic given in the last 24 hours "
                    "read from the chart, and a suggested per-site volume when a limit is exceeded."
                ),
                "prefetch": dict(PREFETCH),
                "usageRequirements": (
                    "Send draft MedicationRequests (or DSTU2 MedicationOrders) naming the drug by RxNorm code, a "
                    "product code in mixcalc's code tables, or name with strength; dose per site in mL or mg; "
                    "sites in timing.repeat.count or as 'N sites' in the instructions."
                ),
            }
        )
    return {"services": services}


def _over_maximum(check: OrderCheck, formulary: Formulary) -> list[str]:
    """What an unreadable order already gives above any maximum the formulary allows."""
    over = []
    for agent_id, dose in check.reading.least.items():
        agent = formulary.agents_by_id[agent_id]
        if agent.max_dose is None:
            continue
        rules = [r for r in (agent.max_dose.plain, agent.max_dose.epinephrine) if r is not None]
        largest = max(r.cap.value.in_(_MG) for r in rules)
        if dose > largest:
            over.append(
                f"{agent.name}: at least {display.amount(dose, 'mg')}, above the largest maximum for anyone "
                f"({display.amount(largest, 'mg')})"
            )
    return over


def _session(checks: list[OrderCheck], chart: ChartReading, formulary: Formulary, out: Cards) -> dict[str, SessionLine]:
    """The session card; returns, per order label, a line for that order's card."""
    doses = [local_anesthetic_doses(c, formulary) for c in checks]
    giving = [i for i, d in enumerate(doses) if d]
    if len(giving) < 2:
        return {}
    combined: Decimal | None = None
    for i in giving:
        check = checks[i]
        if check.request is None:
            continue
        base = check.request.model_dump(exclude_none=True)
        base.pop("patient", None)
        base.pop("prior_doses", None)
        planned = plan_with(base, chart, formulary, others(doses, i))
        if isinstance(planned, str):
            continue
        # only the group's exact load is read: the plan, without an answer
        group = next((g for g in planned[1].assessment.groups if g.group.id == "local-anesthetics"), None)
        if group is not None and group.fraction is not None:
            combined = group.fraction if combined is None else max(combined, group.fraction)
    concerned = [
        f"{checks[i].reading.label}: "
        + ", ".join(f"{formulary.agents_by_id[a].name} {display.amount(d, 'mg')}" for a, d in doses[i].items())
        + ("" if checks[i].answer is not None else " (at least; the order could not be read whole)")
        for i in giving
    ]
    unreadable = [checks[i].reading.label for i in giving if checks[i].answer is None]
    note = (
        "\n\nOrders that could not be read are counted with the doses that can be read for certain: "
        + ", ".join(unreadable)
        if unreadable
        else ""
    )
    if combined is None:
        out.add(
            "warning",
            f"{len(giving)} TPI orders give local anesthetic: combined load not computed",
            "The combined local anesthetic load of these orders could not be computed:"
            + "".join(f"\n- {line}" for line in concerned)
            + note,
        )
        return {}
    shown = percent(combined)
    line = SessionLine(
        f"**Session:** the {len(giving)} TPI orders together give {shown} of the local anesthetic maximum.",
        over=combined > 1,
        near=combined >= formulary.policy.near_limit_threshold,
    )
    detail = (
        f"Local anesthetic from all {len(giving)} TPI orders in this session (and any given earlier today) adds up "
        f"to **{shown}** of the maximum for this patient (each agent's dose over its maximum, summed):"
        + "".join(f"\n- {c}" for c in concerned)
        + note
        + "\n\nCorticosteroid and EPINEPHrine totals are checked per order only: add them up across orders."
    )
    if combined > 1:
        out.add("critical", clip(f"TPI orders together exceed the local anesthetic maximum: {shown}"), detail)
    elif combined >= formulary.policy.near_limit_threshold:
        out.add("warning", clip(f"TPI orders together: local anesthetic {shown} of maximum, near the limit"), detail)
    else:
        out.add("info", clip(f"TPI orders together: local anesthetic {shown} of maximum"), detail)
    return {checks[i].reading.label: line for i in giving}


def hook_response(
    hook: str,
    body: Mapping[str, Any],
    formulary: Formulary,
    tables: CodeTables,
    now: datetime,
    *,
    references: Mapping[str, Mapping[str, Any]] | None = None,
    deadline: float | None = None,
    new_uuid: Callable[[], str] | None = None,
) -> dict[str, Any]:
    """The CDS Hooks response to a hook call ``body`` (see the module docstring).

    ``now`` is timezone-aware; ``references`` Medications the shell fetched (by
    reference); ``deadline`` a :func:`time.monotonic` time after which orders not yet
    checked get a "not checked in time" card."""
    context = json_object(body.get("context"))
    patient_id = json_str(context.get("patientId"), 64)
    bundle = json_object(context.get("draftOrders"))
    entries = [json_object(json_object(e).get("resource")) for e in json_array(bundle.get("entry"))]
    drafts = [r for r in entries if str(r.get("resourceType")) in ORDER_TYPES]
    selections = {s for s in json_array(context.get("selections")) if isinstance(s, str)}
    if hook == "order-select" and selections:
        drafts = [r for r in drafts if f"{r.get('resourceType')}/{r.get('id')}" in selections]
    out = Cards(formulary, new_uuid) if new_uuid is not None else Cards(formulary)
    prefetch = json_object(body.get("prefetch"))
    known = medication_references(bundle, *prefetch.values())
    known.update(references or {})
    readings = []
    unnamed = []
    for index, resource in enumerate(drafts[:MAX_ORDERS]):
        reading = read_order(resource, formulary, tables, known, order_label(resource, f"draft order {index + 1}"))
        if reading.agents:
            readings.append((resource, reading))
        elif unresolved_reference(resource) is not None and unresolved_reference(resource) not in known:
            unnamed.append(reading.label)
    if len(drafts) > MAX_ORDERS:
        out.add(
            "warning",
            f"{len(drafts) - MAX_ORDERS} draft orders were not read",
            f"mixcalc reads the first {MAX_ORDERS} draft orders of a call; the other {len(drafts) - MAX_ORDERS} were "
            "not checked for trigger point injection agents.",
        )
    if unnamed:
        out.add(
            "warning" if not readings else "info",
            f"{len(unnamed)} draft order(s) not checked: their medication was not sent",
            "These orders refer to a Medication that was neither sent nor fetchable, so mixcalc cannot tell whether "
            "they are trigger point injections: " + ", ".join(unnamed[:20]),
        )
    if not readings:
        return {"cards": out.cards}
    chart = read_chart(prefetch, patient_id, now, formulary, tables)
    checks: list[OrderCheck] = []
    late: list[str] = []
    for resource, reading in readings:
        if deadline is not None and time.monotonic() > deadline:
            late.append(reading.label)
            continue
        checks.append(check_order(resource, reading, chart, formulary))
    session = _session(checks, chart, formulary, out)
    for (resource, _), check in zip(readings, checks, strict=False):
        if check.answer is None:
            out.unreadable(check, chart, _over_maximum(check, formulary))
            continue
        suggestion = None
        if check.over_limit and (deadline is None or time.monotonic() < deadline):
            found = largest_safe_volume(resource, check, chart, formulary, tables, known)
            if found is not None:
                volume, updated, result = found
                label = f"Reduce to {display.amount(volume, 'mL')} per site"
                suggestion = {
                    "label": label,
                    "uuid": out.new_uuid(),
                    "isRecommended": True,
                    "actions": [
                        {"type": "update", "description": f"{label}: {summary(result)[1]}", "resource": updated}
                    ],
                }
        out.order(check, chart, suggestion, session.get(check.reading.label))
    if chart.not_checked or chart.cautions:
        lines = [*chart.cautions, *(f"not checked: {n}" for n in chart.not_checked)]
        out.add(
            "warning" if chart.weight_missing or chart.cautions or _chart_gaps(chart) else "info",
            "Chart: " + "; ".join(lines),
            "What the dose check could not take from the chart, or asks you to check:"
            + "".join(f"\n- {line}" for line in lines),
        )
    if late:
        out.add(
            "warning",
            f"{len(late)} TPI order(s) not checked in time",
            "mixcalc ran out of its time budget before checking: "
            + ", ".join(late)
            + ". Their doses were not checked.",
        )
    return {"cards": out.cards}


def _chart_gaps(chart: ChartReading) -> bool:
    return any(n.startswith(tuple(CHART_PREFETCH.values())) for n in chart.not_checked)
