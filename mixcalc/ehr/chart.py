"""Reading the chart: the patient, weight and height, allergies, conditions, current
medications and local anesthetic given in the last 24 hours, from the hook call's
prefetch (which the shell completes from the EHR's FHIR server when it can).

Everything read is listed for the card (``used``); every prefetch that is absent is named
(``not_checked``); anything odd (an old weight, an administration without a readable dose)
is a ``caution`` that makes the card at least a warning.  Codes are matched through the
code tables (:mod:`mixcalc.ehr.codes`), then text as a fallback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from .. import display
from ..formulary import AgentClass, Condition, Formulary
from ..schema import PatientRequest
from ..units import Amount
from .codes import ChartRule, CodeTables, normal_words
from .jsonsafe import MASS, bounded_decimal, json_array, json_object, json_str, quantity_code
from .names import name_concept
from .orders import medication_references

__all__ = ["CHART_PREFETCH", "ChartReading", "read_chart"]

LOINC = "http://loinc.org"
WEIGHT_LOINC = "29463-7"
HEIGHT_LOINC = "8302-2"
#: Prefetch key -> what it tells, for "not checked" lines.
CHART_PREFETCH: Mapping[str, str] = {
    "allergies": "allergies (AllergyIntolerance: amide, ester, paraben, sulfite, NSAID)",
    "conditions": "conditions (infection at the site, pregnancy, heart failure, renal impairment, ...)",
    "medications": "current medication orders (anticoagulants, NSAIDs, MAO inhibitors, tricyclics)",
    "statements": "medication statements (anticoagulants, NSAIDs, MAO inhibitors, tricyclics)",
    "administrations": "local anesthetic already given in the last 24 hours",
}
_USABLE_STATUS = frozenset({"final", "amended", "corrected", "preliminary"})
_WEIGHT_UNITS = {"kg": "kg", "g": "g", "[lb_av]": "[lb_av]", "lb": "[lb_av]", "lbs": "[lb_av]"}
_HEIGHT_UNITS = {"cm": "cm", "m": "m", "[in_i]": "[in_i]", "in": "[in_i]"}
_INACTIVE = frozenset({"inactive", "resolved", "remission"})
_REFUTED = frozenset({"refuted", "entered-in-error"})
_GIVEN = frozenset({"completed", "in-progress"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_ENTRIES = 500


@dataclass(frozen=True)
class ChartReading:
    """What the chart told: ``facts`` for the request's ``patient``; ``prior_doses`` for
    the request; ``used``, ``not_checked`` and ``cautions`` for the card."""

    facts: Mapping[str, Any] = field(default_factory=dict)
    prior_doses: tuple[Mapping[str, Any], ...] = ()
    used: tuple[str, ...] = ()
    not_checked: tuple[str, ...] = ()
    cautions: tuple[str, ...] = ()
    weight_missing: bool = True
    site_notes: tuple[str, ...] = ()


# --- patient, weight, height ------------------------------------------------------------------


def _codes(concept: object) -> list[tuple[str | None, str | None]]:
    return [
        (json_str(json_object(c).get("system"), 200), json_str(json_object(c).get("code"), 64))
        for c in json_array(json_object(concept).get("coding"))[:16]
    ]


def _resources(value: object, kind: str) -> list[Mapping[str, Any]] | None:
    """The resources of ``kind`` in a prefetched Bundle or resource; None when absent or
    an OperationOutcome (a fetch that failed)."""
    item = json_object(value)
    if item.get("resourceType") == "Bundle":
        found = [json_object(json_object(e).get("resource")) for e in json_array(item.get("entry"))[:_MAX_ENTRIES]]
        return [r for r in found if r.get("resourceType") == kind]
    if item.get("resourceType") == kind:
        return [item]
    return None


def _observation(value: object, loinc: str, patient_id: str | None) -> tuple[Mapping[str, Any] | None, str]:
    candidates = _resources(value, "Observation")
    if candidates is None:
        return None, "not prefetched"
    usable = []
    for obs in candidates:
        status = obs.get("status")
        if not isinstance(status, str) or status not in _USABLE_STATUS:
            continue
        if not any(s == LOINC and c == loinc for s, c in _codes(obs.get("code"))):
            continue
        subject = json_object(obs.get("subject")).get("reference")
        if patient_id is not None and isinstance(subject, str) and subject.rsplit("/", 1)[-1] != patient_id:
            continue
        usable.append(obs)
    if not usable:
        return None, "none recorded" if not candidates else "no usable observation (LOINC code, status, patient)"
    usable.sort(key=lambda o: str(o.get("effectiveDateTime") or ""))
    return usable[-1], ""


#: The latest moment a date alone can mean anywhere: its last second at UTC+14.
_LATEST_ON_A_DATE = timedelta(days=1, hours=14) - timedelta(seconds=1)


def _when(value: object, *, latest: bool = False) -> datetime | None:
    """A FHIR dateTime with a time zone; a date alone is its start (UTC), or with
    ``latest`` the last moment it can mean in any time zone (so a dose given "yesterday"
    is never taken for older than it may be); None otherwise."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        if _DATE.match(value):
            start = datetime.fromisoformat(value + "T00:00:00+00:00")
            return start + _LATEST_ON_A_DATE if latest else start
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _accepted(name: str, value: object) -> str | None:
    try:
        PatientRequest.model_validate({name: value})
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    return None


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


class _Reader:
    def __init__(self, prefetch: Mapping[str, Any], patient_id: str | None, now: datetime, tables: CodeTables) -> None:
        self.prefetch, self.patient_id, self.now, self.tables = prefetch, patient_id, now, tables
        self.facts: dict[str, Any] = {}
        self.used: list[str] = []
        self.not_checked: list[str] = []
        self.cautions: list[str] = []
        self.site_notes: list[str] = []
        self.conditions: dict[Condition, str] = {}

    def patient(self) -> None:
        patient = json_object(self.prefetch.get("patient"))
        if patient.get("resourceType") != "Patient":
            self.not_checked.append("no Patient resource: sex and age unknown (age-based limits not assessed)")
            return
        if self.patient_id is not None and patient.get("id") not in (None, self.patient_id):
            self.not_checked.append("the prefetched Patient is not the patient of this hook call: not used")
            return
        gender = patient.get("gender")
        if gender in ("female", "male"):
            self.facts["sex"] = gender
            self.used.append(f"sex {gender}")
        else:
            self.not_checked.append("sex not recorded as female or male: lean or ideal body weight not used")
        age = _age(patient.get("birthDate"), self.now.date())
        if age is None:
            self.not_checked.append("no full birth date: age unknown (age-based limits not assessed)")
        elif (problem := _accepted("age", age)) is not None:
            self.not_checked.append(f"age not used: {problem}")
        else:
            self.facts["age"] = age
            self.used.append(f"age {display.amount(age.magnitude, 'years' if age.unit.code == 'a' else 'days')}")

    def measures(self) -> None:
        for name, loinc, units, what in (
            ("weight", WEIGHT_LOINC, _WEIGHT_UNITS, "body weight"),
            ("height", HEIGHT_LOINC, _HEIGHT_UNITS, "body height"),
        ):
            obs, why = _observation(self.prefetch.get(name), loinc, self.patient_id)
            if obs is None:
                self.not_checked.append(
                    f"no {what} ({why})" + (": maximum doses use the caps only" if name == "weight" else "")
                )
                continue
            quantity = json_object(obs.get("valueQuantity"))
            number = bounded_decimal(quantity.get("value"))
            code = quantity_code(quantity)
            unit = (units.get(code) or units.get(code.lower())) if code else None
            if number is None or unit is None:
                self.not_checked.append(f"the {what} has no value in {', '.join(sorted(set(units.values())))}")
                continue
            amount = Amount.of(number, unit)
            if (problem := _accepted(name, amount)) is not None:
                self.not_checked.append(f"{what} not used: {problem}" + (": caps only" if name == "weight" else ""))
                continue
            self.facts[name] = amount
            when = _when(obs.get("effectiveDateTime"))
            recorded = f" (recorded {when.date().isoformat()})" if when else " (date not recorded)"
            self.used.append(f"{name} {display.amount(amount.magnitude, amount.unit.code)}{recorded}")
            if name == "weight":
                self._weight_age(when)

    def _weight_age(self, when: datetime | None) -> None:
        policy = self.tables.policy
        age = self.facts.get("age")
        child = age is None or (age.unit.code == "d") or age.magnitude < 18
        limit = policy.weight_max_age_child if child else policy.weight_max_age_adult
        if when is None:
            self.cautions.append("the body weight has no date: confirm it is current")
            return
        days = (self.now - when).total_seconds() / 86400
        if days > float(limit.days):
            self.cautions.append(
                f"the body weight is {int(days)} days old (older than {display.number(limit.days)} days, "
                f"{limit.basis.value} for {'children or unknown age' if child else 'adults'}): weigh the patient"
            )

    def _absent(self, key: str) -> list[Mapping[str, Any]] | None:
        kind = {
            "allergies": "AllergyIntolerance",
            "conditions": "Condition",
            "medications": "MedicationRequest",
            "statements": "MedicationStatement",
            "administrations": "MedicationAdministration",
        }[key]
        value = self.prefetch.get(key)
        found = _resources(value, kind)
        if found is None:
            outcome = json_object(value)
            why = "could not be fetched" if outcome.get("resourceType") == "OperationOutcome" else "not prefetched"
            self.not_checked.append(f"{CHART_PREFETCH[key]}: {why}")
        return found

    def _mark(self, rule: ChartRule, what: str) -> None:
        if rule.condition not in self.conditions:
            self.conditions[rule.condition] = what
            self.used.append(f"{what} → {rule.condition.value}")
        if rule.note:
            self.site_notes.append(f"{what}: {rule.note}")

    def _match(self, rules: Sequence[ChartRule], concept: object, label: str) -> None:
        codes = _codes(concept)
        words = normal_words(
            " ".join(
                [str(json_object(concept).get("text") or "")]
                + [
                    str(json_object(c).get("display") or "")
                    for c in json_array(json_object(concept).get("coding"))[:16]
                ]
            )
        )
        for rule in rules:
            code = next((c for s, c in codes if rule.matches_code(s, c)), None)
            if code is not None:
                self._mark(rule, f"{label} (code {code})")
            elif (word := rule.matches_text(words)) is not None:
                self._mark(rule, f"{label} (“{word}” in its text)")

    def allergies(self) -> None:
        found = self._absent("allergies")
        for allergy in found or ():
            status = {c for _, c in _codes(allergy.get("clinicalStatus"))} | {str(allergy.get("clinicalStatus"))}
            verified = {c for _, c in _codes(allergy.get("verificationStatus"))} | {
                str(allergy.get("verificationStatus"))
            }
            if status & _INACTIVE or verified & _REFUTED:
                continue
            concept = json_object(allergy.get("code") or allergy.get("substance"))
            label = f"allergy: {_label(concept)}"
            self._match(self.tables.allergies, concept, label)
            for reaction in json_array(allergy.get("reaction"))[:8]:
                substance = json_object(json_object(reaction).get("substance"))
                if substance:
                    self._match(self.tables.allergies, substance, f"allergy: {_label(substance)}")

    def problems(self) -> None:
        found = self._absent("conditions")
        for condition in found or ():
            status = {c for _, c in _codes(condition.get("clinicalStatus"))} | {str(condition.get("clinicalStatus"))}
            verified = {c for _, c in _codes(condition.get("verificationStatus"))} | {
                str(condition.get("verificationStatus"))
            }
            if status & _INACTIVE or verified & _REFUTED or condition.get("abatementDateTime"):
                continue
            concept = json_object(condition.get("code"))
            self._match(self.tables.conditions, concept, f"condition: {_label(concept)}")

    def medications(self, formulary: Formulary) -> None:
        for key, wanted in (("medications", {"active", "on-hold"}), ("statements", {"active", "intended"})):
            found = self._absent(key)
            references = medication_references(self.prefetch.get(key))
            for item in found or ():
                if str(item.get("status")) not in wanted:
                    continue
                concept = _medication_concept(item, references)
                kind = "medication order" if key == "medications" else "medication statement"
                self._match(self.tables.medications, concept, f"{kind}: {_label(concept)}")

    def administrations(self, formulary: Formulary) -> list[Mapping[str, Any]]:
        found = self._absent("administrations")
        references = medication_references(self.prefetch.get("administrations"))
        window = timedelta(days=float(self.tables.policy.prior_dose_window.days))
        doses: dict[str, Decimal] = {}
        for item in found or ():
            if str(item.get("status")) not in _GIVEN:
                continue
            concept = _medication_concept(item, references)
            named = name_concept(concept, formulary, self.tables)
            agent = named.agent
            if agent is None or agent.agent_class is not AgentClass.LOCAL_ANESTHETIC:
                continue
            period = json_object(item.get("effectivePeriod"))
            moments = [
                m
                for m in (
                    _when(item.get("effectiveDateTime"), latest=True),
                    _when(period.get("end"), latest=True),
                    _when(period.get("start"), latest=True),
                )
                if m is not None
            ]
            label = f"{agent.name} given"
            if not moments:
                self.cautions.append(
                    f"{label} at a time without date, time and offset: not counted; check whether it was today"
                )
                continue
            moment = max(moments)
            if moment < self.now - window:
                continue
            dose = _administered_dose(item, named.strength)
            dates = [
                v
                for v in (item.get("effectiveDateTime"), period.get("end"), period.get("start"))
                if isinstance(v, str) and _DATE.match(v)
            ]
            shown = (
                f"{max(dates)} (a date without a time: counted, as it may be within the window)"
                if dates and moment == _when(max(dates), latest=True)
                else moment.isoformat(timespec="minutes")
            )
            if dose is None:
                self.cautions.append(
                    f"{label} at {shown} without a readable dose in mg (or mL with a strength): not counted"
                )
                continue
            doses[agent.id] = doses.get(agent.id, Decimal(0)) + dose
            self.used.append(f"{label} at {shown}: {display.amount(dose, 'mg')} (counted as given today)")
        return [{"agent": agent_id, "dose": Amount.of(dose, "mg")} for agent_id, dose in doses.items()]


def _label(concept: Mapping[str, Any]) -> str:
    text = json_str(concept.get("text"), 60)
    if text:
        return text
    for coding in json_array(concept.get("coding"))[:8]:
        shown = json_str(json_object(coding).get("display"), 60) or json_str(json_object(coding).get("code"), 30)
        if shown:
            return shown
    return "(not named)"


def _medication_concept(item: Mapping[str, Any], references: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    concept = json_object(item.get("medicationCodeableConcept"))
    if concept:
        return concept
    reference = json_object(item.get("medicationReference"))
    target = json_str(reference.get("reference"), 300) or ""
    medication: Mapping[str, Any] | None = None
    if target.startswith("#"):
        medication = next(
            (json_object(c) for c in json_array(item.get("contained")) if json_object(c).get("id") == target[1:]), None
        )
    else:
        medication = references.get(target)
    if medication is not None:
        return json_object(medication.get("code")) or {"text": reference.get("display")}
    return {"text": reference.get("display")} if isinstance(reference.get("display"), str) else {}


def _administered_dose(item: Mapping[str, Any], strength: Decimal | None) -> Decimal | None:
    dose = json_object(json_object(item.get("dosage")).get("dose"))
    value = bounded_decimal(dose.get("value"))
    code = quantity_code(dose)
    if value is None or code is None or value < 0:
        return None
    if code in MASS:
        return value * MASS[code]
    if code in ("mL", "L") and strength is not None:
        return value * (1000 if code == "L" else 1) * strength
    return None


def read_chart(
    prefetch: Mapping[str, Any], patient_id: str | None, now: datetime, formulary: Formulary, tables: CodeTables
) -> ChartReading:
    """The chart in the prefetch (see the module docstring); ``now`` is timezone-aware."""
    reader = _Reader(prefetch, patient_id, now, tables)
    reader.patient()
    reader.measures()
    reader.allergies()
    reader.problems()
    reader.medications(formulary)
    prior = reader.administrations(formulary)
    facts = dict(reader.facts)
    if reader.conditions:
        facts["conditions"] = tuple(reader.conditions)
    return ChartReading(
        facts=facts,
        prior_doses=tuple(prior),
        used=tuple(reader.used),
        not_checked=tuple(reader.not_checked),
        cautions=tuple(reader.cautions),
        weight_missing="weight" not in facts,
        site_notes=tuple(dict.fromkeys(reader.site_notes)),
    )
