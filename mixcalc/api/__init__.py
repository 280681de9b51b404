"""HTTP API: ``mixcalc.api:app`` (served by ``mixcalc serve``, see :mod:`mixcalc.api.server`
for the connection limits it adds), ``create_app()`` for tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .routes import create_app

__all__ = ["app", "create_app"]

if TYPE_CHECKING:
    from fastapi import FastAPI

    app: FastAPI


def __getattr__(name: str) -> Any:
    # Built on first use so that importing mixcalc.api (tests, tools) loads no formulary.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
