"""The EHR code tables (``formulary/ehr.toml``): which codes and words name a formulary
agent, which chart entries mean which request condition, and the chart policy (how old
a weight may be, how far back administered doses count).

Data, not code: frozen models that reject unknown keys, every entry citing a source in
the file's own ``[sources]``; an institution extends or replaces the file
(``$MIXCALC_EHR_TABLES``).  A broken file raises
:class:`~mixcalc.errors.FormularyError` naming the key, so it stops start-up.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import FormularyError, QuantityError
from ..fields import AgeField, ConcentrationField
from ..formulary import Basis, Condition, Formulary
from ..units import DAY, MG_PER_ML

__all__ = [
    "EHR_TABLES_ENV",
    "SYSTEMS",
    "CodeTables",
    "default_tables",
    "load_tables",
    "normal_words",
]

EHR_TABLES_ENV = "MIXCALC_EHR_TABLES"
#: Short system names used in the file -> FHIR system URIs (several URIs for ICD-10).
SYSTEMS: Mapping[str, tuple[str, ...]] = {
    "rxnorm": ("http://www.nlm.nih.gov/research/umls/rxnorm",),
    "snomed": ("http://snomed.info/sct",),
    "icd10": ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10"),
}
_SYSTEM_OF = {uri: short for short, uris in SYSTEMS.items() for uri in uris}
_CODE = re.compile(r"^(rxnorm|snomed|icd10):[A-Za-z0-9.]+\*?$")
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")

Code = Annotated[str, Field(pattern=_CODE.pattern)]


def normal_words(text: str) -> str:
    """Text folded for whole-word matching: lower case, every run of other characters one
    space, padded with spaces (``" lidocaine hcl 1 injection "``)."""
    return " " + " ".join(w for w in _WORD_SPLIT.split(text.lower()) if w) + " "


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class _Cited(_Frozen):
    source: Annotated[tuple[str, ...], Field(min_length=1)]

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value


class _Matcher(_Cited):
    codes: tuple[Code, ...] = ()
    words: tuple[str, ...] = ()

    def matches_code(self, system: object, code: object) -> bool:
        if not isinstance(system, str) or not isinstance(code, str) or not code:
            return False
        short = _SYSTEM_OF.get(system)
        if short is None:
            return False
        for entry in self.codes:
            wanted_system, wanted = entry.split(":", 1)
            if wanted_system != short:
                continue
            if wanted.endswith("*"):
                if code.upper().startswith(wanted[:-1].upper()):
                    return True
            elif code.upper() == wanted.upper():
                return True
        return False

    @cached_property
    def _phrases(self) -> tuple[str, ...]:
        return tuple(normal_words(w) for w in self.words)

    def matches_text(self, text: str) -> str | None:
        """The word of this entry found in ``text`` (already :func:`normal_words`), if any."""
        for word, phrase in zip(self.words, self._phrases, strict=True):
            if phrase in text:
                return word
        return None


class AgentNames(_Matcher):
    agent: str


class EpinephrineNames(_Matcher):
    pass


class Product(_Cited):
    """A product code an institution lists: the agent, its strength, its epinephrine."""

    code: Code
    agent: str
    strength: ConcentrationField
    epinephrine: ConcentrationField | None = None

    def matches(self, system: object, code: object) -> bool:
        short, wanted = self.code.split(":", 1)
        return isinstance(code, str) and system in SYSTEMS.get(short, ()) and code == wanted

    @property
    def strength_mg_per_ml(self) -> Decimal:
        return self.strength.in_(MG_PER_ML)

    @property
    def epinephrine_mg_per_ml(self) -> Decimal | None:
        return None if self.epinephrine is None else self.epinephrine.in_(MG_PER_ML)


class ChartRule(_Matcher):
    condition: Condition
    note: str | None = None


class Timed(_Cited):
    value: AgeField
    basis: Basis

    @property
    def days(self) -> Decimal:
        return self.value.in_(DAY)


class ChartPolicy(_Frozen):
    weight_max_age_adult: Timed
    weight_max_age_child: Timed
    prior_dose_window: Timed


class Source(_Frozen):
    citation: Annotated[str, Field(min_length=1)]


class CodeTables(_Frozen):
    name: str
    version: str
    sources: Mapping[str, Source]
    policy: ChartPolicy
    agents: tuple[AgentNames, ...]
    epinephrine: EpinephrineNames
    products: tuple[Product, ...] = ()
    allergies: tuple[ChartRule, ...] = ()
    conditions: tuple[ChartRule, ...] = ()
    medications: tuple[ChartRule, ...] = ()

    @model_validator(mode="after")
    def _sources_resolve(self) -> CodeTables:
        cited: list[tuple[str, Iterable[str]]] = [("epinephrine", self.epinephrine.source)]
        for kind in ("agents", "products", "allergies", "conditions", "medications"):
            cited += [(f"{kind}[{i}]", e.source) for i, e in enumerate(getattr(self, kind))]
        for kind in ("weight_max_age_adult", "weight_max_age_child", "prior_dose_window"):
            cited.append((f"policy.{kind}", getattr(self.policy, kind).source))
        for where, ids in cited:
            for source in ids:
                if source not in self.sources:
                    raise ValueError(f"{where}: unknown source {source!r}")
        return self

    def check_against(self, formulary: Formulary, path: str) -> None:
        """Every agent named here exists in ``formulary`` (else :class:`FormularyError`)."""
        for kind in ("agents", "products"):
            for i, entry in enumerate(getattr(self, kind)):
                if entry.agent not in formulary.agents_by_id:
                    raise FormularyError(path, f"{kind}[{i}].agent", f"unknown agent {entry.agent!r}")


def parse_tables(text: str, path: str) -> CodeTables:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FormularyError(path, "", f"not valid TOML: {exc}") from None
    try:
        return CodeTables.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        key = ".".join(str(p) for p in first["loc"])
        problem = "unknown key" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, QuantityError):  # its message leaves the value out; the tables' may be shown
            problem = cause.with_value()
        raise FormularyError(path, key, problem) from None


def load_tables(path: str | os.PathLike[str] | None = None) -> CodeTables:
    """The code tables: ``path``, ``$MIXCALC_EHR_TABLES`` or the bundled ``ehr.toml``."""
    chosen = path if path is not None else os.environ.get(EHR_TABLES_ENV) or None
    if chosen is None:
        resource = resources.files("mixcalc") / "_data" / "ehr.toml"
        return parse_tables(resource.read_text(encoding="utf-8"), "mixcalc/_data/ehr.toml")
    file = Path(chosen)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormularyError(str(file), "", f"cannot be read: {exc.__class__.__name__}: {exc}") from None
    return parse_tables(text, str(file))


_DEFAULT: CodeTables | None = None


def default_tables() -> CodeTables:
    """The bundled (or ``$MIXCALC_EHR_TABLES``) tables, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_tables()
    return _DEFAULT
