"""Errors: what mixcalc raises when it cannot compute an answer it can stand behind.

A breach of a dose limit is *not* an error: it is a result with critical warnings.
These exceptions are for what cannot be computed at all.  Each keeps its facts as
attributes and builds its message from them; the HTTP layer maps each class to an RFC
9457 problem in one table (``mixcalc.api.problems``).

    MixcalcError
    +-- FormularyError          the formulary file cannot be loaded or is inconsistent
    +-- PlanError               a request names something the formulary cannot supply,
        |                       or asks for something that cannot be prepared
        +-- UnknownAgent
        +-- UnknownSyringe
        +-- ConcentrationNotStocked
        +-- EpinephrineNotStocked
        +-- ComponentNotComputable
        +-- DuplicateAgent
        +-- SiteDoesNotFit
        +-- ImplausiblePatient
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ComponentNotComputable",
    "ConcentrationNotStocked",
    "DuplicateAgent",
    "EpinephrineNotStocked",
    "FormularyError",
    "ImplausiblePatient",
    "MixcalcError",
    "PlanError",
    "SiteDoesNotFit",
    "UnknownAgent",
    "UnknownSyringe",
]


class MixcalcError(Exception):
    """Base class of every error mixcalc raises on purpose."""


class FormularyError(MixcalcError):
    """Raised at start-up when the formulary file is malformed or inconsistent.

    ``path`` names the file, ``key`` the dotted location inside it (``agents[2].strengths``)
    and ``problem`` what is wrong.
    """

    def __init__(self, path: str, key: str, problem: str) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        super().__init__(f"{path}: {key or '(top level)'}: {problem}")


class PlanError(MixcalcError):
    """Raised when a mixture request cannot be computed.

    ``pointer`` is the JSON pointer (RFC 6901) of the request field at fault and
    ``value`` what was sent there.
    """

    title = "The mixture cannot be computed"

    def __init__(self, pointer: str, value: object, detail: str) -> None:
        self.pointer = pointer
        self.value = value
        self.detail = detail
        super().__init__(f"{pointer}: {detail}")


class UnknownAgent(PlanError):
    """Raised when a component names an agent the formulary does not hold."""

    title = "Unknown agent"

    def __init__(self, pointer: str, agent: str, known: Iterable[str]) -> None:
        self.agent = agent
        self.known = tuple(sorted(known))
        close = difflib.get_close_matches(agent.lower(), self.known, n=1, cutoff=0.5)
        self.suggestion = close[0] if close else None
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        super().__init__(
            pointer, agent, f"{agent!r} is not in the formulary{hint} Known agents: {', '.join(self.known)}"
        )


class UnknownSyringe(PlanError):
    """Raised when the requested syringe capacity is not one the formulary lists."""

    title = "Unknown syringe"

    def __init__(self, pointer: str, capacity: str, known: Iterable[str]) -> None:
        self.capacity = capacity
        self.known = tuple(known)
        super().__init__(
            pointer, capacity, f"no {capacity} syringe in the formulary; syringes: {', '.join(self.known)}"
        )


class ConcentrationNotStocked(PlanError):
    """Raised when a concentration is above the highest strength the formulary stocks for
    an agent (20 % lidocaine is a concentrate for dilution, never an injection)."""

    title = "Concentration above any stocked strength"

    def __init__(self, pointer: str, agent: str, concentration: str, highest: str) -> None:
        self.agent = agent
        self.concentration = concentration
        self.highest = highest
        super().__init__(
            pointer,
            concentration,
            f"{agent} {concentration} is above the highest stocked strength ({highest}); "
            "a concentrate is never injected",
        )


class EpinephrineNotStocked(PlanError):
    """Raised when epinephrine is asked for with an agent and strength that no formulary
    product combines with it."""

    title = "No such epinephrine-containing product"

    def __init__(self, pointer: str, agent: str, epinephrine: str, available: Iterable[str]) -> None:
        self.agent = agent
        self.epinephrine = epinephrine
        self.available = tuple(available)
        offer = f"; products: {', '.join(self.available)}" if self.available else ""
        super().__init__(
            pointer,
            epinephrine,
            f"the formulary has no {agent} product with epinephrine {epinephrine}{offer}",
        )


class ComponentNotComputable(PlanError):
    """Raised when a component cannot be turned into a volume and a dose (for example a
    dose asked of a diluent, or a volume that rounds to nothing on the syringe)."""

    title = "Component cannot be prepared"


class DuplicateAgent(PlanError):
    """Raised when the same agent appears twice among the components."""

    title = "Duplicate agent"

    def __init__(self, pointer: str, agent: str) -> None:
        self.agent = agent
        super().__init__(pointer, agent, f"{agent!r} appears more than once; give one component per agent")


class SiteDoesNotFit(PlanError):
    """Raised when the mixture for one site is larger than the syringe."""

    title = "One site does not fit in the syringe"


class ImplausiblePatient(PlanError):
    """Raised when patient measurements are individually valid but together implausible
    (a BMI under 10 or over 100)."""

    title = "Implausible patient measurements"
