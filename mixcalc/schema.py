"""The request and the answer: the public data contract of mixcalc.

The same models serve the Python entry point (:func:`mixcalc.plan_mixture`) and the
HTTP API; FastAPI only reads them to build the OpenAPI document.  Quantities come in
as ``{"value", "unit"}`` objects or short strings (see ``mixcalc.units``) and leave as
``{"value", "unit"}`` with UCUM codes.

Limits here are what a real TPI session needs, with room to spare: 1 to 50 sites, at
most 8 components, patient weight 0.5 to 400 kg, height 30 to 250 cm, age 0 to 130 years.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .fields import AgeField, ConcentrationField, LengthField, MassField, VolumeField
from .formulary import Condition, DosingWeightRule
from .units import CM, KG, ML, YEAR, Amount, Unit

__all__ = [
    "AGE_YEARS",
    "HEIGHT_CM",
    "MAX_COMPONENTS",
    "MAX_PRIOR_DOSES",
    "MAX_SITES",
    "MAX_VOLUME_PER_SITE_ML",
    "WEIGHT_KG",
    "ComponentRequest",
    "ComponentResult",
    "DosingWeightResult",
    "Draw",
    "FormularyRef",
    "GroupResult",
    "MeasuredIn",
    "MixtureRequest",
    "MixtureResponse",
    "PatientRequest",
    "PriorDose",
    "Quantity",
    "Rescue",
    "Severity",
    "SyringeResult",
    "WarningResult",
]

# Request limits, stated in the OpenAPI document and enforced here.
MAX_SITES = 50
MAX_COMPONENTS = 8
MAX_PRIOR_DOSES = 8
WEIGHT_KG = (Decimal("0.5"), Decimal(400))
HEIGHT_CM = (Decimal(30), Decimal(250))
AGE_YEARS = (Decimal(0), Decimal(130))
MAX_VOLUME_PER_SITE_ML = Decimal(20)

AgentId = Annotated[str, Field(min_length=1, max_length=64, examples=["lidocaine"])]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ComponentRequest(_Request):
    """One agent of the mixture: give exactly one of ``volume_per_site`` and
    ``dose_per_site``."""

    agent: AgentId
    concentration: ConcentrationField | None = Field(
        None, description="Stock strength; may be left out for an agent stocked in one strength (saline)."
    )
    volume_per_site: VolumeField | None = None
    dose_per_site: MassField | None = None
    epinephrine: ConcentrationField | None = Field(
        None, description='Choose the epinephrine-containing product, e.g. "1:200000".'
    )
    form: Annotated[str, Field(max_length=64, pattern=r"^[a-z][a-z0-9-]*$")] | None = Field(
        None, description='The product form used, e.g. "preservative-free" (MPF) or "multi-dose" (see the formulary).'
    )

    @model_validator(mode="after")
    def _volume_or_dose(self) -> ComponentRequest:
        if (self.volume_per_site is None) == (self.dose_per_site is None):
            raise ValueError("give exactly one of volume_per_site and dose_per_site")
        if self.volume_per_site is not None and self.volume_per_site.in_(ML) > MAX_VOLUME_PER_SITE_ML:
            raise ValueError(f"volume_per_site {self.volume_per_site} is over {MAX_VOLUME_PER_SITE_ML} mL")
        return self


class PriorDose(_Request):
    """Local anesthetic already given today; it counts toward the fractions."""

    agent: AgentId
    dose: MassField


def _within(amount: Amount | None, unit: Unit, bounds: tuple[Decimal, Decimal], what: str) -> None:
    if amount is None:
        return
    value = amount.in_(unit)
    low, high = bounds
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low:f} and {high:f} {unit.code}")


class PatientRequest(_Request):
    """What is known about the patient; every field is optional."""

    weight: MassField | None = Field(None, description="Total body weight, 0.5 to 400 kg.")
    height: LengthField | None = Field(None, description="30 to 250 cm.")
    sex: Literal["female", "male"] | None = None
    age: AgeField | None = Field(None, description="0 to 130 years.")
    conditions: Annotated[tuple[Condition, ...], Field(max_length=len(Condition))] = ()

    @field_validator("weight")
    @classmethod
    def _weight(cls, weight: Amount | None) -> Amount | None:
        _within(weight, KG, WEIGHT_KG, "weight")
        return weight

    @field_validator("height")
    @classmethod
    def _height(cls, height: Amount | None) -> Amount | None:
        _within(height, CM, HEIGHT_CM, "height")
        return height

    @field_validator("age")
    @classmethod
    def _age(cls, age: Amount | None) -> Amount | None:
        _within(age, YEAR, AGE_YEARS, "age")
        return age

    @field_validator("conditions")
    @classmethod
    def _unique(cls, conditions: tuple[Condition, ...]) -> tuple[Condition, ...]:
        if len(set(conditions)) != len(conditions):
            raise ValueError("a condition is listed twice")
        return conditions


class MixtureRequest(_Request):
    """A trigger point injection mixture to compute and check."""

    sites: Annotated[int, Field(strict=True, ge=1, le=MAX_SITES, description="Number of trigger point sites.")]
    components: Annotated[list[ComponentRequest], Field(min_length=1, max_length=MAX_COMPONENTS)]
    patient: PatientRequest | None = None
    syringe: VolumeField | None = Field(
        None, description="Syringe capacity; default: the smallest that holds the whole mixture."
    )
    dosing_weight: DosingWeightRule | None = Field(
        None, description="Override the formulary's dosing-weight rule for this request."
    )
    prior_doses: Annotated[list[PriorDose], Field(max_length=MAX_PRIOR_DOSES)] = Field(
        default_factory=list, description="Local anesthetic already given today (counts toward the fractions)."
    )


# --- the answer -------------------------------------------------------------------------
#
# The parts of the answer are frozen, slotted dataclasses built by the planner from values
# it has already checked (pydantic serialises them and writes their JSON Schema; building
# one costs a fraction of a validated model).  ``MixtureResponse`` itself stays a pydantic
# model for ``model_dump_json`` and friends.


@dataclass(frozen=True, slots=True, kw_only=True)
class Quantity:
    value: float
    unit: Annotated[str, Field(description="UCUM code")]


Severity = Literal["info", "warning", "critical"]


# A finding of the checks.  Named WarningResult so as not to shadow the built-in Warning;
# the contract keeps the name Warning (the OpenAPI $defs key follows __qualname__, set
# below; the schema's title follows the config).  No docstring: it would become the
# schema's description.
@dataclass(frozen=True, slots=True, kw_only=True)
class WarningResult:
    __pydantic_config__ = ConfigDict(title="Warning")

    code: str
    severity: Severity
    agents: tuple[str, ...]
    message: str
    source: Annotated[tuple[str, ...], Field(description="Citations behind the rule.")] = ()


WarningResult.__qualname__ = "Warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class DosingWeightResult:
    value: float
    basis: Literal["total", "ideal", "adjusted", "lean"]
    reason: str
    unit: Literal["kg"] = "kg"


@dataclass(frozen=True, slots=True, kw_only=True)
class ComponentResult:
    agent: str
    name: str
    agent_class: str
    concentration: Quantity
    epinephrine: Quantity | None
    final_concentration: Quantity
    volume_per_site: Quantity
    dose_per_site: Quantity
    total_volume: Quantity
    total_dose: Quantity
    prior_dose: Annotated[Quantity | None, Field(description="Already given today, counted in the fraction.")]
    max_dose: Quantity | None
    max_dose_basis: str | None
    max_dose_source: tuple[str, ...]
    fraction_of_max: Annotated[
        float | None, Field(description="(total + prior dose) / max dose, rounded up to 4 places.")
    ]
    group: str | None
    max_volume: Annotated[
        Quantity | None,
        Field(
            description="Total volume of this agent at its strength that reaches its own maximum alone, "
            "less any dose given earlier today (rounded down; null without a maximum)."
        ),
    ] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupResult:
    id: str
    name: str
    rule: Literal["additive", "most_toxic"]
    fraction: Annotated[
        float | None,
        Field(
            description="The group's load: the larger of its load as asked and as drawn, each taken whole, "
            "rounded up to 4 places (what the combined warnings judge); null when a member's maximum "
            "cannot be stated."
        ),
    ]
    agents: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasuredIn:
    """The separate, finer syringe a draw is measured in before it is added to the mixing syringe."""

    capacity: Quantity
    graduation: Quantity


@dataclass(frozen=True, slots=True, kw_only=True)
class Draw:
    agent: str
    volume: Annotated[
        Quantity,
        Field(description="What goes into the mixing syringe: a multiple of the graduation it is measured in."),
    ]
    dose: Quantity
    measured_in: Annotated[
        MeasuredIn | None,
        Field(
            description="Measured in this separate, finer syringe and added to the mixing syringe; "
            "null: measured in the mixing syringe itself."
        ),
    ] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SyringeResult:
    capacity: Quantity
    graduation: Quantity
    dead_space: Quantity
    sites: int
    fill_volume: Quantity
    volume_per_site: Quantity
    draws: tuple[Draw, ...]
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Rescue:
    """20 % lipid emulsion for local anesthetic systemic toxicity, worked out for the
    dosing weight (CLINICAL.md section 15).  Without a weight every amount is null and
    ``summary`` says why."""

    product: str
    weight: Annotated[Quantity | None, Field(description="The dosing weight these amounts are for.")]
    regimen: Annotated[
        Literal["fixed", "per_kg"] | None,
        Field(description="fixed: above the weight threshold (70 kg); per_kg: at or below it."),
    ]
    bolus: Quantity | None
    bolus_minutes: Annotated[tuple[float, float], Field(description="Give the bolus over this many minutes.")]
    infusion_rate: Annotated[
        tuple[Quantity, Quantity] | None, Field(description="mL/min, lowest and highest (equal for per_kg).")
    ]
    infusion_volume: Annotated[tuple[Quantity, Quantity] | None, Field(description="fixed regimen only.")]
    infusion_minutes: Annotated[tuple[float, float] | None, Field(description="fixed regimen only.")]
    upper_limit: Annotated[Quantity | None, Field(description="At most this much in the first upper_limit_minutes.")]
    upper_limit_minutes: float
    summary: Annotated[str, Field(description="The plan in words, for people.")]
    steps: tuple[str, ...]
    source: Annotated[tuple[str, ...], Field(description="Citations.")]


@dataclass(frozen=True, slots=True, kw_only=True)
class FormularyRef:
    name: str
    version: str


class MixtureResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    sites: int
    volume_per_site: Quantity
    total_volume: Quantity
    dosing_weight: DosingWeightResult | None
    components: tuple[ComponentResult, ...]
    local_anesthetic_fraction: float | None
    steroid_fraction: float | None
    epinephrine_total: Quantity | None
    groups: tuple[GroupResult, ...]
    syringes: tuple[SyringeResult, ...]
    warnings: tuple[WarningResult, ...]
    aftercare: tuple[str, ...]
    formulary: FormularyRef
    max_volume_per_site: Annotated[
        Quantity | None,
        Field(
            description="The largest volume per site as asked (before rounding to a graduation), a multiple of "
            "0.1 mL, with every component scaled by the same factor (one given as a dose scaled as a dose), whose "
            "own plan breaks no limit; computed and verified by the planner. Null when no maximum can be stated "
            "(no dose-limited agent, or a maximum unknown for this patient) or when not even 0.1 mL fits."
        ),
    ] = None
    rescue: Annotated[
        Rescue | None, Field(description="Lipid emulsion rescue plan (null when the formulary has none).")
    ] = None
