"""The public names are exactly what ``__all__`` says (as httpx's ``test_exported_members.py``),
and pinned here: adding or removing one is a deliberate edit of this file."""

from __future__ import annotations
import __future__

import inspect
import types
from typing import Any

import mixcalc
import mixcalc.api.body
import mixcalc.api.cds_auth
import mixcalc.api.jwks
import mixcalc.api.replay
import mixcalc.api.settings
import mixcalc.cli
import mixcalc.errors
import mixcalc.units

MIXCALC = [
    "Formulary",
    "FormularyError",
    "MixcalcError",
    "MixtureRequest",
    "MixtureResponse",
    "PlanError",
    "default_formulary",
    "load_formulary",
    "plan_mixture",
]

ERRORS = [
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


def _public(module: types.ModuleType) -> set[str]:
    """The module's public attributes, submodules and ``from __future__`` features aside."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, (types.ModuleType, __future__._Feature))  # type: ignore[attr-defined]
    }


def _defined_in(module: types.ModuleType) -> set[str]:
    """The public names a module defines itself: its classes and functions, and its constants."""
    own = set()
    for name in _public(module):
        value: Any = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            if value.__module__ == module.__name__:
                own.add(name)
        elif not (hasattr(value, "__module__") and hasattr(value, "__qualname__")):  # a constant, not an import
            own.add(name)
    return own


def test_mixcalc_exports_exactly_its_public_names() -> None:
    assert mixcalc.__all__ == MIXCALC
    assert _public(mixcalc) == set(mixcalc.__all__)
    assert mixcalc.__version__


def test_mixcalc_errors_exports_exactly_what_it_defines() -> None:
    assert mixcalc.errors.__all__ == ERRORS
    assert mixcalc.errors.__all__ == sorted(mixcalc.errors.__all__, key=lambda name: (not name.isupper(), name))
    assert _defined_in(mixcalc.errors) == set(mixcalc.errors.__all__)


def test_every_name_in_all_resolves() -> None:
    for module in (mixcalc, mixcalc.errors):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"


def test_errors_moved_to_mixcalc_errors_stay_importable_from_their_old_modules() -> None:
    old_homes = {
        mixcalc.units: ["QuantityError"],
        mixcalc.api.settings: ["SettingsError"],
        mixcalc.api.cds_auth: ["CdsAuthError", "CdsAuthUnavailable"],
        mixcalc.api.jwks: ["KeyRefused", "KeysUnavailable"],
        mixcalc.api.replay: ["Replayed", "StoreUnavailable"],
        mixcalc.api.body: ["BodyRefused"],
    }
    for module, names in old_homes.items():
        for name in names:
            assert name in module.__all__, f"{module.__name__} no longer exports {name}"
            assert getattr(module, name) is getattr(mixcalc.errors, name)


def test_the_helpers_above_tell_a_definition_from_an_import() -> None:
    """The checks above could pass vacuously if ``_defined_in`` found nothing: it finds
    the CLI's own error and leaves out what the CLI imports."""
    found = _defined_in(mixcalc.cli)
    assert "UsageError" in found
    assert "MixcalcError" not in found
    assert "ValidationError" not in found
