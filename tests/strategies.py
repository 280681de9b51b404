"""Hypothesis strategies named for clinical meaning, and the test profiles.

Every strategy builds request data in the public JSON shape that
:func:`mixcalc.plan_mixture` and ``POST /v1/mixtures`` take: quantities are the short
strings of the quantity grammar (``"0.5 mL"``, ``"1 %"``, ``"1:200000"``), written in one
canonical form so that a law can re-express them in other units.  Agents, strengths,
epinephrine products and syringes come from the default formulary, so every generated
request names only what the formulary stocks.

Generated mixtures are kept computable: volumes per site are multiples of 0.1 mL from
0.1 to 3 mL (doses are chosen so that the volume they need lies in that range), four
components at most unless a law asks for more, and a requested syringe is one that
holds a site and whose graduation is not larger than any component's volume per site.
The planner may still find a component too small to measure on the syringe it chose, or
once sites are split over syringes; a law then calls :func:`computable_plan`, which
rejects the example (``assume(False)``) for exactly that reason and no other.

Profiles (selected by ``$HYPOTHESIS_PROFILE``; ``tests/conftest.py`` calls
:func:`register_profiles`): ``dev`` (default, quick), ``ci`` (more examples,
reproducible, no deadline) and ``nightly`` (long).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, get_args

from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

from mixcalc import MixtureResponse, plan_mixture
from mixcalc.errors import ComponentNotComputable, SiteDoesNotFit
from mixcalc.formulary import AgentClass, Condition, DosingWeightRule, Formulary, default_formulary
from mixcalc.units import MG_PER_ML, ML

__all__ = [
    "AGENT_IDS",
    "LOCAL_ANESTHETIC_IDS",
    "STOCK",
    "SYRINGES",
    "AgentStock",
    "agent_components",
    "ages",
    "component_strength",
    "component_volume_per_site",
    "components",
    "computable_plan",
    "conditions",
    "decimal_text",
    "doses_per_site",
    "dosing_weight_rules",
    "epinephrine_ratio_text",
    "heights_cm",
    "implausible_patients",
    "json_documents",
    "json_values",
    "less_tidy_mixtures",
    "lidocaine_component",
    "local_anesthetic_components",
    "magnitude",
    "missing_facts",
    "mixtures",
    "patient_weights",
    "patients",
    "prior_doses",
    "register_profiles",
    "sites",
    "small_doses_per_site",
    "stocked_strength_text",
    "syringe_capacities",
    "volumes_per_site",
]

# --- profiles ---------------------------------------------------------------------------


def register_profiles() -> None:
    """Register the ``dev``, ``ci`` and ``nightly`` profiles and load the one named by
    ``$HYPOTHESIS_PROFILE`` (``dev`` when unset)."""
    settings.register_profile("dev", max_examples=50, deadline=timedelta(seconds=1))
    settings.register_profile(
        "ci",
        max_examples=100,
        deadline=None,
        derandomize=True,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "nightly",
        max_examples=2000,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


# --- what the default formulary stocks ----------------------------------------------------

_FORMULARY = default_formulary()
_PERCENT_CLASSES = frozenset({AgentClass.LOCAL_ANESTHETIC, AgentClass.DILUENT})
_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class AgentStock:
    """What the formulary stocks of one agent, in mg/mL."""

    id: str
    agent_class: AgentClass
    strengths: tuple[Decimal, ...]
    #: (strength, epinephrine) pairs of the epinephrine-containing products, in mg/mL.
    epinephrine_products: tuple[tuple[Decimal, Decimal], ...]

    @property
    def by_percent(self) -> bool:
        """Local anesthetics and saline are written as w/v percent."""
        return self.agent_class in _PERCENT_CLASSES

    @property
    def doses_limited(self) -> bool:
        return self.agent_class is not AgentClass.DILUENT


STOCK: Mapping[str, AgentStock] = {
    agent.id: AgentStock(
        id=agent.id,
        agent_class=agent.agent_class,
        strengths=tuple(sorted(s.in_(MG_PER_ML) for s in agent.strengths)),
        epinephrine_products=tuple(
            (strength.in_(MG_PER_ML), product.epinephrine.in_(MG_PER_ML))
            for product in agent.epinephrine_products
            for strength in product.strengths
        ),
    )
    for agent in _FORMULARY.agents
}
AGENT_IDS: tuple[str, ...] = tuple(STOCK)
LOCAL_ANESTHETIC_IDS: tuple[str, ...] = tuple(
    a for a, s in STOCK.items() if s.agent_class is AgentClass.LOCAL_ANESTHETIC
)
#: Syringe capacity -> graduation, mL.
SYRINGES: Mapping[Decimal, Decimal] = {
    s.capacity.in_(ML): s.graduation.in_(ML) for s in sorted(_FORMULARY.syringes, key=lambda s: s.capacity.in_(ML))
}


# --- text in the canonical grammar --------------------------------------------------------


def decimal_text(value: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros: ``Decimal("2.50")`` is ``"2.5"``."""
    return format(value.normalize(), "f")


def magnitude(quantity: str) -> Decimal:
    """The number of a canonical ``"<number> <unit>"`` string."""
    return Decimal(quantity.split()[0])


def stocked_strength_text(agent_id: str, mg_per_ml: Decimal) -> str:
    """How a pharmacist writes the stock strength: ``"1 %"`` for an LA, ``"40 mg/mL"`` otherwise."""
    if STOCK[agent_id].by_percent:
        return f"{decimal_text(mg_per_ml / 10)} %"
    return f"{decimal_text(mg_per_ml)} mg/mL"


def epinephrine_ratio_text(mg_per_ml: Decimal) -> str:
    """Epinephrine as on the label: 0.005 mg/mL is ``"1:200000"`` (1 g in 200,000 mL)."""
    return f"1:{decimal_text(Decimal(1000) / mg_per_ml)}"


def component_volume_per_site(component: Mapping[str, Any]) -> Decimal:
    """The volume per site, mL, that a generated component asks for (before rounding)."""
    if "volume_per_site" in component:
        return magnitude(component["volume_per_site"])
    return magnitude(component["dose_per_site"]) / component_strength(component)


def component_strength(component: Mapping[str, Any]) -> Decimal:
    """The stock strength, mg/mL, of a generated component."""
    text = component.get("concentration")
    if text is None:
        (only,) = STOCK[component["agent"]].strengths
        return only
    if text.endswith("%"):
        return magnitude(text) * 10
    return magnitude(text)


# --- strategies ---------------------------------------------------------------------------


def sites() -> st.SearchStrategy[int]:
    """Number of trigger points injected in the session: usually a handful, up to 50."""
    return st.one_of(st.integers(1, 12), st.integers(1, 50))


def volumes_per_site() -> st.SearchStrategy[str]:
    """Volume of one agent injected at each site: 0.1 to 3 mL in 0.1 mL steps."""
    return st.integers(1, 30).map(lambda tenths: f"{decimal_text(tenths * _TENTH)} mL")


def doses_per_site(agent_id: str, mg_per_ml: Decimal) -> st.SearchStrategy[str]:
    """Dose of one agent per site whose volume at ``mg_per_ml`` is 0.1 to 3 mL: either a
    whole number of 0.1 mL steps (exact) or a whole number of mg (often not exact)."""
    exact = st.integers(1, 30).map(lambda tenths: mg_per_ml * tenths * _TENTH)
    low = max(1, int((mg_per_ml * _TENTH).to_integral_value(rounding="ROUND_CEILING")))
    high = int(mg_per_ml * 3)
    whole = st.integers(low, high).map(Decimal) if low <= high else exact
    return st.one_of(exact, whole).map(lambda mg: f"{decimal_text(mg)} mg")


def small_doses_per_site(mg_per_ml: Decimal) -> st.SearchStrategy[str]:
    """A whole number of mg per site whose volume at ``mg_per_ml`` is at most about 0.2 mL:
    hard to measure (1 mg of 40 mg/mL triamcinolone is 0.025 mL)."""
    return st.integers(1, max(1, int(mg_per_ml / 5))).map(lambda mg: f"{mg} mg")


@st.composite
def agent_components(
    draw: st.DrawFn, agent_id: str, *, by_dose: bool = True, small_doses: bool = False
) -> dict[str, Any]:
    """One component of ``agent_id`` at a stocked strength, possibly an epinephrine
    product, given by volume or (not for a diluent) by dose per site; with
    ``small_doses``, perhaps a dose too small to measure closely (:func:`small_doses_per_site`)."""
    stock = STOCK[agent_id]
    strength = draw(st.sampled_from(stock.strengths))
    component: dict[str, Any] = {"agent": agent_id}
    if len(stock.strengths) > 1 or draw(st.booleans()):
        component["concentration"] = stocked_strength_text(agent_id, strength)
    products = [epi for s, epi in stock.epinephrine_products if s == strength]
    if products and draw(st.booleans()):
        component["epinephrine"] = epinephrine_ratio_text(draw(st.sampled_from(products)))
    if by_dose and stock.doses_limited and draw(st.booleans()):
        small = small_doses and draw(st.booleans())
        component["dose_per_site"] = draw(
            small_doses_per_site(strength) if small else doses_per_site(agent_id, strength)
        )
    else:
        component["volume_per_site"] = draw(volumes_per_site())
    return component


def lidocaine_component(*, by_dose: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Lidocaine 0.5 to 2 %, plain or with epinephrine."""
    return agent_components("lidocaine", by_dose=by_dose)


def local_anesthetic_components(*, by_dose: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Any local anesthetic of the formulary."""
    return st.sampled_from(LOCAL_ANESTHETIC_IDS).flatmap(lambda a: agent_components(a, by_dose=by_dose))


def components(*, by_dose: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Any agent of the formulary (local anesthetic, steroid, ketorolac, saline)."""
    return st.sampled_from(AGENT_IDS).flatmap(lambda a: agent_components(a, by_dose=by_dose))


def patient_weights() -> st.SearchStrategy[Decimal]:
    """Total body weight, kg, to 0.1 kg: a 2 kg infant to a 200 kg adult."""
    return st.integers(20, 2000).map(lambda tenths: tenths * _TENTH)


def heights_cm() -> st.SearchStrategy[Decimal]:
    """Height, cm, to 0.1 cm: 45 to 210 cm."""
    return st.integers(450, 2100).map(lambda tenths: tenths * _TENTH)


def ages() -> st.SearchStrategy[str]:
    """Age: months for infants ("3 mo"), years otherwise ("45 a")."""
    return st.one_of(
        st.integers(0, 23).map(lambda months: f"{months} mo"),
        st.integers(0, 100).map(lambda years: f"{years} a"),
    )


@st.composite
def patients(draw: st.DrawFn) -> dict[str, Any]:
    """What may be known of the patient; weight and height, when both are given, make a
    BMI of 11 to 99 (the planner refuses one outside 10 to 100 as implausible)."""
    patient: dict[str, Any] = {}
    height = draw(st.none() | heights_cm())
    if height is not None:
        patient["height"] = f"{decimal_text(height)} cm"
    if draw(st.booleans()):
        if height is None:
            weight = draw(patient_weights())
        else:
            square = (height / 100) ** 2
            low = max(5, int((11 * square / _TENTH).to_integral_value(rounding="ROUND_CEILING")))
            high = min(4000, int((99 * square / _TENTH).to_integral_value(rounding="ROUND_FLOOR")))
            weight = draw(st.integers(low, high)) * _TENTH
        patient["weight"] = f"{decimal_text(weight)} kg"
    if draw(st.booleans()):
        patient["sex"] = draw(st.sampled_from(["female", "male"]))
    if draw(st.booleans()):
        patient["age"] = draw(ages())
    if draw(st.booleans()):
        patient["conditions"] = draw(st.lists(st.sampled_from([c.value for c in Condition]), unique=True, max_size=3))
    return patient


@st.composite
def implausible_patients(draw: st.DrawFn) -> dict[str, str]:
    """Weight and height each within the request's bounds that together make a BMI under
    10 or over 100, which the planner refuses as implausible."""
    height = draw(heights_cm())
    square = (height / 100) ** 2
    light = int((Decimal("9.9") * square / _TENTH).to_integral_value(rounding="ROUND_FLOOR"))
    heavy = int((Decimal("100.1") * square / _TENTH).to_integral_value(rounding="ROUND_CEILING"))
    choices = [range(5, light + 1), range(heavy, 4001)]
    tenths = draw(st.sampled_from([r for r in choices if r]).flatmap(lambda r: st.integers(r.start, r.stop - 1)))
    return {"weight": f"{decimal_text(tenths * _TENTH)} kg", "height": f"{decimal_text(height)} cm"}


def missing_facts() -> st.SearchStrategy[str]:
    """A fact about the patient a request may leave out."""
    return st.sampled_from(["age", "height", "sex", "weight"])


def conditions() -> st.SearchStrategy[str]:
    """A condition of the request vocabulary (CLINICAL.md section 10)."""
    return st.sampled_from([c.value for c in Condition])


def prior_doses() -> st.SearchStrategy[list[dict[str, str]]]:
    """Local anesthetic already given today: none to three doses of 1 to 300 mg, of agents
    in or out of the mixture (they count toward the fractions, CLINICAL.md section 3)."""
    return st.lists(
        st.fixed_dictionaries(
            {"agent": st.sampled_from(LOCAL_ANESTHETIC_IDS), "dose": st.integers(1, 300).map(lambda mg: f"{mg} mg")}
        ),
        max_size=3,
    )


def syringe_capacities(*, volume_per_site: Decimal, smallest_component: Decimal) -> st.SearchStrategy[str]:
    """A formulary syringe that holds one site and can measure the smallest component."""
    fitting = [
        capacity
        for capacity, graduation in SYRINGES.items()
        if capacity >= volume_per_site and graduation <= smallest_component
    ]
    if not fitting:
        return st.nothing()
    return st.sampled_from(fitting).map(lambda capacity: f"{decimal_text(capacity)} mL")


@st.composite
def mixtures(
    draw: st.DrawFn,
    *,
    min_components: int = 1,
    max_components: int = 4,
    by_dose: bool = True,
    agents: st.SearchStrategy[str] | None = None,
    with_patient: bool | None = None,
    with_syringe: bool | None = None,
    with_prior_doses: bool = False,
    small_doses: bool = False,
) -> dict[str, Any]:
    """A mixture request for the default formulary: distinct agents, each at a stocked
    strength, 1 to 50 sites, perhaps a patient and perhaps a syringe size.

    ``with_patient`` / ``with_syringe``: ``True`` always, ``False`` never, ``None`` maybe.
    ``with_prior_doses``: perhaps local anesthetic given earlier today (:func:`prior_doses`).
    ``small_doses``: perhaps doses too small to measure closely (:func:`small_doses_per_site`).
    """
    ids = draw(
        st.lists(
            agents if agents is not None else st.sampled_from(AGENT_IDS),
            min_size=min_components,
            max_size=max_components,
            unique=True,
        )
    )
    parts = [draw(agent_components(agent_id, by_dose=by_dose, small_doses=small_doses)) for agent_id in ids]
    request: dict[str, Any] = {"sites": draw(sites()), "components": parts}
    if with_patient or (with_patient is None and draw(st.booleans())):
        request["patient"] = draw(patients())
    per_site = [component_volume_per_site(c) for c in parts]
    capacities = syringe_capacities(volume_per_site=sum(per_site, Decimal(0)), smallest_component=min(per_site))
    if with_syringe or (with_syringe is None and not capacities.is_empty and draw(st.booleans())):
        request["syringe"] = draw(capacities)
    if with_prior_doses:
        request["prior_doses"] = draw(prior_doses())
    return request


def dosing_weight_rules() -> st.SearchStrategy[str]:
    """A dosing-weight rule a request may ask for instead of the formulary's."""
    return st.sampled_from(get_args(DosingWeightRule))


@st.composite
def less_tidy_mixtures(draw: st.DrawFn) -> dict[str, Any]:
    """Any mixture request of :func:`mixtures`, perhaps with prior doses, small doses, a
    dosing-weight rule, and now and then a part the planner refuses (an unknown agent, a
    strength above the stock, a form the agent lacks, a syringe not listed): for comparing
    two planners on answers and on errors alike."""
    request = draw(mixtures(with_prior_doses=draw(st.booleans()), small_doses=draw(st.booleans())))
    if draw(st.booleans()):
        request["dosing_weight"] = draw(dosing_weight_rules())
    spoil = draw(st.sampled_from([*(["none"] * 12), "agent", "concentration", "form", "syringe"]))
    if spoil != "none":
        component = draw(st.sampled_from(request["components"]))
        if spoil == "agent":
            component["agent"] = "lidocane"
        elif spoil == "concentration":
            component["concentration"] = "90 %"
        elif spoil == "form":
            component["form"] = "no-such-form"
        else:
            request["syringe"] = "7 mL"
    return request


def computable_plan(request: Mapping[str, Any], formulary: Formulary | None = None) -> MixtureResponse:
    """``plan_mixture(request)``, rejecting the example when a component cannot be measured
    on the chosen syringe or a site does not fit it (the generator keeps this rare)."""
    try:
        return plan_mixture(request, formulary)
    except (ComponentNotComputable, SiteDoesNotFit):
        assume(False)
        raise AssertionError("unreachable") from None


# --- untrusted JSON ---------------------------------------------------------------------


def json_values() -> st.SearchStrategy[object]:
    """Any JSON value a client could send in a field: scalars of every type (huge and
    non-finite numbers included, as Python's JSON reads them; numbers sent as text) nested
    in lists and objects."""
    numeric_text = st.integers(min_value=0, max_value=2**40).map(str)
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | numeric_text
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )


# --- untrusted EHR JSON (issue 12) ------------------------------------------------------------

#: Numbers an EHR (or anyone holding its key) may put where FHIR expects a quantity or count.
hostile_json_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**300, max_value=10**1000),
    st.floats(allow_nan=False),
    st.sampled_from([1e308, 1e-300, -0.0, 5e-324, 1_000_000, 10**4000 - 1]),
)

#: Any JSON value, nested a little: what a damaged FHIR field may hold.
damaged_fhir_values = st.recursive(
    st.none() | st.booleans() | hostile_json_numbers | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


# --- JSON bodies (the body guard, tests/hostile) -------------------------------------------


def json_documents(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """JSON documents as ``json.loads`` returns them, within the body guard's limits: nested
    at most ``max_leaves`` deep (< 32), finite numbers of under 40 characters, text without
    lone surrogates (Hypothesis's default alphabet excludes them)."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(10**30), max_value=10**30)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20)
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=max_leaves,
    )
