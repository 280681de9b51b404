"""Errors: every exception mixcalc raises on purpose, in one hierarchy.

A breach of a dose limit is *not* an error: it is a result with critical warnings.  These
exceptions are for what cannot be computed at all, what cannot be configured, and what
the service refuses to read.  Each says when it is raised, keeps its facts as attributes
and builds its message from them (``str(error)``).  A fact that may be patient data (a
value sent under ``/patient``, a quantity that may be a weight) stays an attribute and
never enters the message: a message may reach a log.  The HTTP layer maps each class to
an RFC 9457 problem in one table (:data:`mixcalc.api.problems.PROBLEM_TYPES`); the core
never sees a status code.

    MixcalcError
    +-- FormularyError          start-up: a formulary or code-table file is malformed or inconsistent
    +-- Misplaced               (mixcalc.formulary, inside validation) a fault found across entries
    +-- SettingsError           start-up: an environment setting is malformed
    +-- UsageError              (mixcalc.cli) the command line does not describe a request
    +-- QuantityError           a quantity outside the grammar, vocabulary, dimension or range
    +-- PlanError               a request names something the formulary cannot supply,
    |   |                       or asks for something that cannot be prepared
    |   +-- UnknownAgent
    |   +-- UnknownSyringe
    |   +-- ConcentrationNotStocked
    |   +-- EpinephrineNotStocked
    |   +-- ComponentNotComputable
    |   +-- DuplicateAgent
    |   +-- SiteDoesNotFit
    |   +-- ImplausiblePatient
    +-- BodyRefused             a request body refused before any parser reads it
    +-- UnknownService          a CDS Hooks call to a service id that does not exist
    +-- CdsAuthError            a CDS Hooks call's token is refused
    +-- CdsAuthUnavailable      a token cannot be checked for replay (the store does not answer)
    +-- KeyRefused              a JWK is not an acceptable public signing key
    +-- KeysUnavailable         an issuer's JWK Set cannot be fetched or read
    +-- Replayed                a token's jti was already accepted
    +-- StoreUnavailable        the replay store cannot tell whether a jti is new

``QuantityError`` and ``Misplaced`` are also ``ValueError``\\ s, so that pydantic reports
them as validation errors of the field they were raised for.  The classes defined in
other modules are drawn with their module; the others are also importable from the
modules that raise them (``mixcalc.units``, ``mixcalc.api.settings``, ...).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import ClassVar

__all__ = [
    "PATIENT_POINTER",
    "BodyRefused",
    "CdsAuthError",
    "CdsAuthUnavailable",
    "ComponentNotComputable",
    "ConcentrationNotStocked",
    "DuplicateAgent",
    "EpinephrineNotStocked",
    "FormularyError",
    "ImplausiblePatient",
    "KeyRefused",
    "KeysUnavailable",
    "MixcalcError",
    "PlanError",
    "QuantityError",
    "Replayed",
    "SettingsError",
    "SiteDoesNotFit",
    "StoreUnavailable",
    "UnknownAgent",
    "UnknownService",
    "UnknownSyringe",
    "about_patient",
]

#: The JSON pointer under which a request carries patient data (never echoed, never logged).
PATIENT_POINTER = "/patient"


def about_patient(pointer: str) -> bool:
    """Whether a JSON pointer (RFC 6901) names patient data: ``/patient`` or below it."""
    return pointer == PATIENT_POINTER or pointer.startswith(PATIENT_POINTER + "/")


class MixcalcError(Exception):
    """Base class of every error mixcalc raises on purpose.

    Subclasses keep their facts as attributes and build their message in ``__str__``;
    ``args`` stays empty, so that no fact reaches a log through ``repr`` either."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


# --- start-up ------------------------------------------------------------------------------------


class FormularyError(MixcalcError):
    """Raised at start-up when a formulary file (or the EHR code tables) is malformed or
    inconsistent.

    ``path`` names the file, ``key`` the dotted location inside it (``agents[2].strengths``,
    empty for the whole file) and ``problem`` what is wrong.
    """

    def __init__(self, path: str, key: str, problem: str) -> None:
        super().__init__()
        self.path = path
        self.key = key
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.path}: {self.key or '(top level)'}: {self.problem}"


class SettingsError(MixcalcError):
    """Raised at start-up when an environment setting is malformed.  ``setting`` is its
    name, ``problem`` what is wrong (never the value of a secret, such as an API key)."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__()
        self.setting = setting
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.setting}: {self.problem}"


# --- quantities and plans ------------------------------------------------------------------------


class QuantityError(MixcalcError, ValueError):
    """Raised when a quantity is not in the grammar, not in the vocabulary, of the wrong
    dimension or out of its allowed range.  ``value`` is what was sent; ``reason`` says
    what is wrong with it, and is the whole message: the value may be a patient's weight.
    """

    def __init__(self, value: object, reason: str) -> None:
        super().__init__()
        self.value = value
        self.reason = reason

    def __str__(self) -> str:
        return self.reason

    def with_value(self) -> str:
        """The reason after the value sent (shortened): for a value known not to be a
        patient's, such as one in the formulary file."""
        shown = repr(self.value)
        return f"{shown if len(shown) <= 60 else shown[:57] + '...'}: {self.reason}"


class PlanError(MixcalcError):
    """Raised when a mixture request cannot be computed.

    ``pointer`` is the JSON pointer (RFC 6901) of the request field at fault, ``value``
    what was sent there and ``detail`` what is wrong, for the person who sent it.  The
    message is ``pointer: detail``, or ``pointer: title`` when the field is the patient's
    (:attr:`about_patient`): the detail then speaks of the patient's measurements.
    """

    title: ClassVar[str] = "The mixture cannot be computed"

    def __init__(self, pointer: str, value: object, detail: str) -> None:
        super().__init__()
        self.pointer = pointer
        self.value = value
        self.detail = detail

    @property
    def about_patient(self) -> bool:
        return about_patient(self.pointer)

    def __str__(self) -> str:
        return f"{self.pointer}: {self.title if self.about_patient else self.detail}"


class UnknownAgent(PlanError):
    """Raised when a component names an agent the formulary does not hold; ``suggestion``
    is the closest known agent, if one is close."""

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


# --- what the service refuses to read ------------------------------------------------------------


class BodyRefused(MixcalcError):
    """Raised by :func:`mixcalc.api.body.check_json` when a request body is refused before
    any parser that recurses reads it (not UTF-8, nested too deep, not JSON, a number out
    of range, a lone surrogate).

    ``slug`` names the kind of refusal (``json-too-deep``), ``title`` says it in words,
    ``detail`` what was found, and ``pointer`` where, when a place is known.  Built from
    our own text only: never a value from the body.
    """

    def __init__(self, slug: str, title: str, detail: str, pointer: str | None = None) -> None:
        super().__init__()
        self.slug = slug
        self.title = title
        self.detail = detail
        self.pointer = pointer

    def __str__(self) -> str:
        return f"{self.slug}: {self.detail}"


# --- CDS Hooks: who may call ---------------------------------------------------------------------


class UnknownService(MixcalcError):
    """Raised when a CDS Hooks call or feedback names a service id that does not exist
    (before its caller is checked); ``service_id`` is the id called, ``known`` the ids."""

    def __init__(self, service_id: str, known: Iterable[str]) -> None:
        super().__init__()
        self.service_id = service_id
        self.known = tuple(known)

    def __str__(self) -> str:
        return f"no CDS service {self.service_id!r}; services: {', '.join(self.known)}"


class CdsAuthError(MixcalcError):
    """Raised when a CDS Hooks call's token is refused (or no trusted EHR is configured);
    ``reason`` says why, and never quotes the token."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class CdsAuthUnavailable(MixcalcError):
    """Raised when a token cannot be checked for replay because the replay store does not
    answer: the call is refused, never let through unchecked.  ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class KeyRefused(MixcalcError):
    """Raised by :func:`mixcalc.api.jwks.parse_jwk` for a JWK that is not an acceptable
    public signing key (private, symmetric, too short, no ``kid``); ``problem`` says why."""

    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem

    def __str__(self) -> str:
        return self.problem


class KeysUnavailable(MixcalcError):
    """Raised when an issuer's JWK Set cannot be fetched or read; ``reason`` says why
    (never the content of the answer)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class Replayed(MixcalcError):
    """Raised by a replay store's ``admit`` when the token's ``jti`` was already accepted."""

    def __str__(self) -> str:
        return "the token's jti was already accepted"


class StoreUnavailable(MixcalcError):
    """Raised by a replay store's ``admit`` when it cannot tell whether a ``jti`` is new;
    ``reason`` says why (never the store's address or password)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    def __str__(self) -> str:
        return self.reason
