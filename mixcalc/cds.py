"""CDS Hooks 2.0: the dose check of a TPI mixture order as cards in the EHR's order screen.

The core of ``POST /cds-services/{id}``: plain JSON-shaped values in, the response
(``{"cards": [...]}``) out; the HTTP shell (``mixcalc.api.cds``) validates the envelope
and verifies the caller.  Nothing here fetches anything: what the EHR did not prefetch
is named on a card, never an error.

For each MixtureRequest in ``context.draftOrders`` (only the ``selections`` for
``order-select``) whose contained Medication names a formulary agent:

* the order is read (:mod:`mixcalc.fhir`): our own extensions when they still reproduce
  the order's signed fields, else the standard fields as an EHR writes them;
* the patient comes from the prefetch: ``patient`` (gender -> sex, birthDate -> age at
  today's date), ``weight`` (LOINC 29463-7) and ``height`` (LOINC 8302-2).  Conditions
  and allergies are not read (a card says so);
* the plan is computed by :func:`~mixcalc.plan.plan_mixture`, and answered with one
  summary card (indicator from the most severe warning, a Markdown table of doses and
  fractions), one card per critical warning, and, when a dose limit is exceeded, a
  suggestion to update the order to the largest per-site volume (0.1 mL steps, every
  component scaled alike) whose own plan is under every limit: each suggestion is
  verified by computing it, never extrapolated.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from pydantic import ValidationError

from . import display, headroom
from .errors import PlanError
from .fhir import (
    UCUM,
    is_mixture_order,
    json_array,
    json_decimal,
    json_object,
    medication_request,
    mixcalc_request,
    ordered_mixture,
    same_order,
    with_volume_per_site,
)
from .formulary import Formulary
from .plan import plan_mixture
from .schema import MixtureRequest, MixtureResponse, PatientRequest
from .units import MG, ML, Amount

__all__ = [
    "HOOKS",
    "OVERRIDE_REASONS",
    "SUMMARY_LIMIT",
    "OrderCheck",
    "PatientReading",
    "check_order",
    "discovery",
    "hook_response",
    "read_patient",
]

LOINC = "http://loinc.org"
WEIGHT_LOINC = "29463-7"
HEIGHT_LOINC = "8302-2"
#: Service id -> the hook it answers.
HOOKS: Mapping[str, str] = {"mixcalc-tpi-order-select": "order-select", "mixcalc-tpi-order-sign": "order-sign"}
#: A card summary is under 140 characters (CDS Hooks 2.0).
SUMMARY_LIMIT = 139
_STEP = Decimal("0.1")  # suggested volumes per site are multiples of this (mL)
_MAX_TRIES = 60
_OVERRIDE_SYSTEM = "https://mixcalc.example/fhir/CodeSystem/override-reason"
OVERRIDE_REASONS = (
    {"system": _OVERRIDE_SYSTEM, "code": "pharmacist-verified", "display": "Dose verified with a pharmacist"},
    {"system": _OVERRIDE_SYSTEM, "code": "benefit-outweighs-risk", "display": "Benefit outweighs risk (documented)"},
    {"system": _OVERRIDE_SYSTEM, "code": "patient-data-outdated", "display": "Weight or patient data is out of date"},
)
_USABLE_STATUS = frozenset({"final", "amended", "corrected", "preliminary"})
_WEIGHT_UNITS = {"kg": "kg", "g": "g", "[lb_av]": "[lb_av]", "lb": "[lb_av]", "lbs": "[lb_av]"}
_HEIGHT_UNITS = {"cm": "cm", "m": "m", "[in_i]": "[in_i]", "in": "[in_i]"}
_NOT_READ = (
    "Not checked here: the patient's conditions and allergies (infection at the site, anticoagulation, "
    "pregnancy, drug allergies) and local anesthetic already given today: mixcalc does not read them from the EHR."
)


def discovery() -> dict[str, Any]:
    """The discovery document (``GET /cds-services``)."""
    prefetch = {
        "patient": "Patient/{{context.patientId}}",
        "weight": f"Observation?patient={{{{context.patientId}}}}&code={LOINC}|{WEIGHT_LOINC}&_sort=-date&_count=1",
        "height": f"Observation?patient={{{{context.patientId}}}}&code={LOINC}|{HEIGHT_LOINC}&_sort=-date&_count=1",
    }
    services = []
    for service_id, hook in HOOKS.items():
        moment = "when a TPI mixture is selected" if hook == "order-select" else "before a TPI mixture is signed"
        services.append(
            {
                "hook": hook,
                "id": service_id,
                "title": f"TPI mixture dose check ({hook})",
                "description": (
                    f"Checks a trigger point injection mixture {moment}: each agent's dose and the combined "
                    "local anesthetic and corticosteroid loads against the patient's maximum, with a suggested "
                    "per-site volume when a limit is exceeded."
                ),
                "prefetch": prefetch,
                "usageRequirements": (
                    "Send the mixture as a MedicationRequest with a contained Medication (ingredient strengths "
                    "in the final mixture), the volume per site in doseAndRate.doseQuantity and the number of "
                    "sites in timing.repeat.count."
                ),
            }
        )
    return {"services": services}


# --- the patient from the prefetch ------------------------------------------------------------


@dataclass(frozen=True)
class PatientReading:
    """What the prefetch told: ``facts`` for the request's ``patient``, ``shown`` for the
    card, ``missing`` what could not be checked because of it."""

    facts: Mapping[str, Any] = field(default_factory=dict)
    shown: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    weight_missing: bool = True


def _observation(value: object, loinc: str, patient_id: str | None) -> tuple[Mapping[str, Any] | None, str]:
    """The latest usable Observation with this LOINC code in a prefetched Bundle or
    resource; or None and why."""
    item = json_object(value)
    if item.get("resourceType") == "Bundle":
        candidates = [json_object(json_object(e).get("resource")) for e in json_array(item.get("entry"))]
    elif item.get("resourceType") == "Observation":
        candidates = [item]
    else:
        return None, "not prefetched"
    usable = []
    for obs in candidates:
        status = obs.get("status")
        if obs.get("resourceType") != "Observation" or not isinstance(status, str) or status not in _USABLE_STATUS:
            continue
        codings = [json_object(c) for c in json_array(json_object(obs.get("code")).get("coding"))]
        if not any(c.get("system") == LOINC and c.get("code") == loinc for c in codings):
            continue
        subject = json_object(obs.get("subject")).get("reference")
        if patient_id is not None and isinstance(subject, str) and subject.rsplit("/", 1)[-1] != patient_id:
            continue
        usable.append(obs)
    if not usable:
        return None, "none recorded" if not candidates else "no usable observation (LOINC code, status, patient)"
    usable.sort(key=lambda o: str(o.get("effectiveDateTime") or ""))
    return usable[-1], ""


def _measure(
    value: object, loinc: str, patient_id: str | None, units: Mapping[str, str], what: str
) -> tuple[Amount | None, str]:
    obs, why = _observation(value, loinc, patient_id)
    if obs is None:
        return None, f"no {what} ({why})"
    quantity = json_object(obs.get("valueQuantity"))
    number = json_decimal(quantity.get("value"))
    code = quantity.get("code") if quantity.get("system") in (UCUM, None) else None
    code = code if isinstance(code, str) else quantity.get("unit")
    unit = (units.get(code) or units.get(code.lower())) if isinstance(code, str) else None
    if number is None or unit is None:
        return None, f"the {what} has no value in {', '.join(sorted(set(units.values())))}"
    when = obs.get("effectiveDateTime")
    return Amount.of(number, unit), f" (recorded {str(when)[:10]})" if isinstance(when, str) else ""


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _age(birth_date: object, today: date) -> Amount | None:
    if not isinstance(birth_date, str) or not _DATE.match(birth_date):
        return None
    try:
        born = date.fromisoformat(birth_date)
    except ValueError:
        return None
    if born > today:
        return None
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return Amount.of(years, "a") if years >= 1 else Amount.of((today - born).days, "d")


def _accepted(name: str, value: object) -> str | None:
    """Why a patient fact is outside what a request accepts, or None."""
    try:
        PatientRequest.model_validate({name: value})
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    return None


def read_patient(prefetch: Mapping[str, Any], patient_id: str | None, today: date) -> PatientReading:
    """The patient facts in the prefetch (see the module docstring)."""
    facts: dict[str, Any] = {}
    shown: list[str] = []
    missing: list[str] = []
    patient = json_object(prefetch.get("patient"))
    if patient.get("resourceType") != "Patient":
        missing.append("no Patient resource: sex and age unknown (age-based limits not assessed)")
    elif patient_id is not None and patient.get("id") not in (None, patient_id):
        missing.append("the prefetched Patient is not the patient of this hook call: not used")
    else:
        gender = patient.get("gender")
        if gender in ("female", "male"):
            facts["sex"] = gender
            shown.append(f"sex {gender}")
        else:
            missing.append("sex not recorded as female or male: lean or ideal body weight not used")
        age = _age(patient.get("birthDate"), today)
        if age is None:
            missing.append("no full birth date: age unknown (age-based limits not assessed)")
        elif (problem := _accepted("age", age)) is not None:
            missing.append(f"age not used: {problem}")
        else:
            facts["age"] = age
            shown.append(f"age {display.amount(age.magnitude, 'years' if age.unit.code == 'a' else 'days')}")
    for name, loinc, units, what in (
        ("weight", WEIGHT_LOINC, _WEIGHT_UNITS, "body weight"),
        ("height", HEIGHT_LOINC, _HEIGHT_UNITS, "body height"),
    ):
        amount, note = _measure(prefetch.get(name), loinc, patient_id, units, what)
        if amount is None:
            missing.append(note + (": maximum doses use the caps only" if name == "weight" else ""))
        elif (problem := _accepted(name, amount)) is not None:
            missing.append(f"{what} not used: {problem}" + (": caps only" if name == "weight" else ""))
        else:
            facts[name] = amount
            shown.append(f"{name} {display.amount(amount.magnitude, amount.unit.code)}{note}")
    return PatientReading(facts, tuple(shown), tuple(missing), "weight" not in facts)


# --- checking one order -----------------------------------------------------------------------


@dataclass(frozen=True)
class OrderCheck:
    """One order checked: ``answer`` is the plan (None with ``problems`` when the order
    could not be read or computed)."""

    origin: str  # "mixcalc" (our extensions, verified) or "ehr" (standard fields)
    answer: MixtureResponse | None
    request: dict[str, Any] | None = None  # without patient
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    volume_per_site: Decimal | None = None

    @property
    def over_limit(self) -> bool:
        if self.answer is None:
            return False
        return any(w.severity == "critical" and w.code.endswith("_exceeded") for w in self.answer.warnings)


def _plan(
    request: Mapping[str, Any], patient: PatientReading, formulary: Formulary
) -> tuple[MixtureRequest, MixtureResponse] | str:
    """The request with the patient, and its plan; or why it cannot be computed."""
    try:
        full = MixtureRequest.model_validate({**request, "patient": dict(patient.facts) or None})
        return full, plan_mixture(full, formulary)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(p) for p in first["loc"])
        return f"{where}: {str(first['msg']).removeprefix('Value error, ')}"
    except PlanError as exc:
        return exc.detail


def check_order(resource: Mapping[str, Any], patient: PatientReading, formulary: Formulary) -> OrderCheck:
    """Read one MedicationRequest and compute its plan for this patient."""
    notes: list[str] = []
    mine = mixcalc_request(resource)
    if mine is not None:
        planned = _plan(mine, patient, formulary)
        if not isinstance(planned, str):
            request, answer = planned
            if same_order(resource, medication_request(answer, request, formulary)):
                return OrderCheck("mixcalc", answer, mine, volume_per_site=Decimal(repr(answer.volume_per_site.value)))
        notes.append("the order no longer matches what mixcalc wrote: it was checked as ordered")
    ordered = ordered_mixture(resource, formulary)
    if ordered.request is None:
        return OrderCheck("ehr", None, problems=ordered.problems, notes=tuple(notes))
    planned = _plan(ordered.request, patient, formulary)
    if isinstance(planned, str):
        return OrderCheck("ehr", None, problems=(planned,), notes=tuple(notes))
    answer = planned[1]
    return OrderCheck(
        "ehr",
        answer,
        ordered.request,
        notes=(*notes, *ordered.notes),
        volume_per_site=ordered.volume_per_site,
    )


def _dec(value: float) -> Decimal:
    return Decimal(repr(value))


def _percent(fraction: Decimal | float | None) -> str:
    if fraction is None:  # a group's load is null when a member's maximum cannot be stated
        return "not stated"
    value = (Decimal(repr(fraction)) if isinstance(fraction, float) else fraction) * 100
    return f"{display.number(value.quantize(Decimal('0.1'), rounding=ROUND_CEILING))} %"


# --- the suggestion ---------------------------------------------------------------------------


def _worst(check: OrderCheck) -> Decimal:
    assert check.answer is not None
    values = [c.fraction_of_max for c in check.answer.components] + [g.fraction for g in check.answer.groups]
    known = [Decimal(repr(v)) for v in values if v is not None]
    return max(known, default=Decimal(1))


def _scaled(resource: Mapping[str, Any], check: OrderCheck, volume: Decimal, formulary: Formulary) -> dict[str, Any]:
    """The order with ``volume`` per site, every component scaled alike."""
    if check.origin == "ehr":
        return with_volume_per_site(resource, volume)
    assert check.request is not None
    assert check.volume_per_site is not None
    factor = volume / check.volume_per_site
    components = []
    for component in check.request["components"]:
        scaled = dict(component)
        for key, code, unit in (("volume_per_site", "mL", ML), ("dose_per_site", "mg", MG)):
            if isinstance(component.get(key), Amount):
                amount = (component[key].in_(unit) * factor).quantize(Decimal("0.0001"), rounding=ROUND_FLOOR)
                scaled[key] = Amount.of(amount, code)
        components.append(scaled)
    request = MixtureRequest.model_validate({**check.request, "components": components})
    answer = plan_mixture(request, formulary)
    subject = json_object(resource.get("subject")).get("reference")
    fresh = medication_request(answer, request, formulary, subject=subject if isinstance(subject, str) else None)
    updated = copy.deepcopy(dict(resource))
    for key in ("extension", "medicationReference", "dosageInstruction", "dispenseRequest", "note"):
        if key in fresh:
            updated[key] = fresh[key]
        else:
            updated.pop(key, None)
    reference = str(json_object(resource.get("medicationReference")).get("reference", "#med"))[1:]
    others = [c for c in json_array(resource.get("contained")) if json_object(c).get("id") not in (reference, "med")]
    updated["contained"] = [*fresh["contained"], *copy.deepcopy(others)]
    return updated


def _suggestion(
    resource: Mapping[str, Any], check: OrderCheck, patient: PatientReading, formulary: Formulary
) -> tuple[Decimal, dict[str, Any], OrderCheck] | None:
    """The largest per-site volume (a multiple of 0.1 mL, below the order's) whose order,
    computed again, exceeds no dose limit."""
    current = check.volume_per_site
    if current is None or current <= _STEP:
        return None
    below = ((current - Decimal("0.000001")) / _STEP).to_integral_value(ROUND_FLOOR) * _STEP
    estimate = (current / _worst(check) / _STEP).to_integral_value(ROUND_FLOOR) * _STEP + _STEP

    def fits(volume: Decimal) -> tuple[dict[str, Any], OrderCheck] | None:
        try:
            candidate = _scaled(resource, check, volume, formulary)
        except (ValidationError, PlanError):
            return None
        result = check_order(candidate, patient, formulary)
        return (candidate, result) if result.answer is not None and not result.over_limit else None

    found = headroom.step_down(min(below, estimate), fits, steps=_MAX_TRIES)
    return None if found is None else (found[0], *found[1])


# --- cards ------------------------------------------------------------------------------------


def _clip(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1].rstrip() + "…"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(answer: MixtureResponse, check: OrderCheck) -> str:
    sites = f"{answer.sites} site{'s' if answer.sites != 1 else ''}"
    if check.origin == "ehr" and check.volume_per_site is not None:
        volume = check.volume_per_site
        total = volume * answer.sites
        head = f"**{sites}, {display.amount(volume, 'mL')} per site as ordered, {display.amount(total, 'mL')} in all.**"
    else:
        volume = _dec(answer.volume_per_site.value)
        total = _dec(answer.total_volume.value)
        head = f"**{sites}, {display.amount(volume, 'mL')} per site, {display.amount(total, 'mL')} in all.**"
    lines = [
        head,
        "",
        "| agent | per site | total | max | % of max |",
        "|---|---|---|---|---|",
    ]
    for c in answer.components:
        maximum = "-" if c.max_dose is None else display.amount(_dec(c.max_dose.value), "mg")
        share = "-" if c.fraction_of_max is None else _percent(c.fraction_of_max)
        lines.append(
            f"| {_cell(c.name)} | {display.amount(_dec(c.dose_per_site.value), 'mg')} | "
            f"{display.amount(_dec(c.total_dose.value), 'mg')} | {maximum} | {share} |"
        )
    lines.append("")
    for group in answer.groups:
        share = "weight needed" if group.fraction is None else _percent(group.fraction)
        lines.append(f"Combined load of {group.name.lower()}: **{share}** of maximum.")
    if answer.epinephrine_total is not None:
        lines.append(f"Total EPINEPHrine: {display.amount(_dec(answer.epinephrine_total.value), 'ug')}.")
    if answer.dosing_weight is not None:
        lines.append(
            f"Dosing weight: {display.amount(_dec(answer.dosing_weight.value), 'kg')} ({answer.dosing_weight.reason})."
        )
    return "\n".join(lines)


def _summary(answer: MixtureResponse, check: OrderCheck) -> tuple[str, str]:
    loads = ", ".join(
        f"{g.name.lower()} {'weight needed' if g.fraction is None else _percent(g.fraction)}" for g in answer.groups
    )
    loads = f"{loads} of maximum" if loads else "no dose-limited agent"
    critical = [w for w in answer.warnings if w.severity == "critical"]
    if check.over_limit:
        return "critical", _clip(f"TPI mixture exceeds a maximum dose: {loads}")
    if critical:
        return "critical", _clip(f"TPI mixture has a critical warning: {critical[0].message}")
    warnings = [w for w in answer.warnings if w.severity == "warning"]
    if warnings:
        return "warning", _clip(f"TPI mixture needs review: {warnings[0].message}")
    return "info", _clip(f"TPI mixture within limits: {loads}")


@dataclass
class _Cards:
    formulary: Formulary
    new_uuid: Callable[[], str]
    cards: list[dict[str, Any]] = field(default_factory=list)

    def add(self, indicator: str, summary: str, detail: str, **extra: Any) -> dict[str, Any]:
        card = {
            "uuid": self.new_uuid(),
            "summary": _clip(summary),
            "indicator": indicator,
            "detail": detail,
            "source": {"label": f"{self.formulary.name} {self.formulary.version}"},
            **extra,
        }
        self.cards.append(card)
        return card


def _order_cards(resource: Mapping[str, Any], patient: PatientReading, formulary: Formulary, out: _Cards) -> None:
    check = check_order(resource, patient, formulary)
    notes = "".join(f"\n- {n}" for n in check.notes)
    if check.answer is None:
        problems = "".join(f"\n- {p}" for p in check.problems)
        out.add(
            "warning",
            "TPI mixture not checked: the order could not be read",
            f"mixcalc could not check this order's doses:{problems}{notes}",
        )
        return
    answer = check.answer
    indicator, summary = _summary(answer, check)
    warnings = "".join(f"\n- **{w.severity}** `{w.code}`: {w.message}" for w in answer.warnings)
    facts = ", ".join(patient.shown) or "none"
    detail = (
        f"{_table(answer, check)}\n\nPatient data used: {facts}."
        + (f"\n\n**Warnings**{warnings}" if warnings else "")
        + (f"\n\n**Notes**{notes}" if notes else "")
        + f"\n\n{_NOT_READ}"
    )
    extra: dict[str, Any] = {}
    if indicator == "critical":
        extra["overrideReasons"] = list(OVERRIDE_REASONS)
    if check.over_limit:
        found = _suggestion(resource, check, patient, formulary)
        if found is None:
            detail += "\n\nNo smaller volume per site of this mixture brings every dose under its limit."
        else:
            volume, updated, result = found
            assert result.answer is not None
            label = f"Reduce to {display.amount(volume, 'mL')} per site"
            extra["suggestions"] = [
                {
                    "label": label,
                    "uuid": out.new_uuid(),
                    "isRecommended": True,
                    "actions": [
                        {
                            "type": "update",
                            "description": f"{label}: {_summary(result.answer, result)[1]}",
                            "resource": updated,
                        }
                    ],
                }
            ]
            extra["selectionBehavior"] = "at-most-one"
    out.add(indicator, summary, detail, **extra)
    for warning in answer.warnings:
        if warning.severity == "critical":
            sources = "".join(f"\n- {s}" for s in warning.source)
            out.add(
                "critical",
                warning.message,
                f"{warning.message}" + (f"\n\nSources:{sources}" if sources else ""),
                overrideReasons=list(OVERRIDE_REASONS),
            )


def hook_response(
    hook: str,
    body: Mapping[str, Any],
    formulary: Formulary,
    today: date,
    new_uuid: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> dict[str, Any]:
    """The CDS Hooks response to a hook call ``body`` for ``hook`` (order-select or
    order-sign): ``{"cards": [...]}``, empty when no draft order is a TPI mixture."""
    context = json_object(body.get("context"))
    patient_id = context.get("patientId") if isinstance(context.get("patientId"), str) else None
    bundle = json_object(context.get("draftOrders"))
    entries = [json_object(json_object(e).get("resource")) for e in json_array(bundle.get("entry"))]
    orders = [r for r in entries if r.get("resourceType") == "MedicationRequest" and is_mixture_order(r, formulary)]
    selections = [s for s in json_array(context.get("selections")) if isinstance(s, str)]
    if hook == "order-select" and selections:
        orders = [r for r in orders if f"MedicationRequest/{r.get('id')}" in selections]
    out = _Cards(formulary, new_uuid)
    if not orders:
        return {"cards": out.cards}
    patient = read_patient(json_object(body.get("prefetch")), patient_id, today)
    if patient.missing:
        out.add(
            "warning" if patient.weight_missing else "info",
            "Not checked: " + "; ".join(patient.missing),
            "The EHR did not send everything the dose check uses:" + "".join(f"\n- {m}" for m in patient.missing),
        )
    for order in orders:
        _order_cards(order, patient, formulary, out)
    return {"cards": out.cards}
