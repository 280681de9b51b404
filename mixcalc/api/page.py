"""The bedside page: ``GET /`` and its static assets.

A thin shell over the JSON API.  The page is static HTML, CSS and plain JavaScript
modules in ``mixcalc/api/static/`` (no build step, nothing fetched from elsewhere at run
time); it reads ``GET /v1/formulary``, posts to ``POST /v1/mixtures`` and shows what the
answer says: every number on it comes from the API.

The assets are read once, with :mod:`importlib.resources`, when the router is built, so
they ship in the wheel and only the files found there are served.  The page needs no
API key (the ``/v1/`` calls it makes may) and is left out of the OpenAPI document.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.exceptions import HTTPException

__all__ = ["ASSET_PREFIX", "page_router"]

#: Where the assets are served; ``index.html`` refers to them by this path.
ASSET_PREFIX = "/static/"

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str


def _load_assets() -> dict[str, _Asset]:
    """Every servable file in the package's ``static`` folder, by file name."""
    folder = resources.files(__package__ or "mixcalc.api") / "static"
    assets: dict[str, _Asset] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _MEDIA_TYPES:
            assets[entry.name] = _Asset(entry.read_bytes(), _MEDIA_TYPES[suffix])
    if "index.html" not in assets:  # pragma: no cover - a packaging fault, caught by the tests
        raise RuntimeError("mixcalc/api/static/index.html is missing from the package")
    return assets


def page_router() -> APIRouter:
    """The routes of the page: ``GET /`` and ``GET /static/{name}``."""
    assets = _load_assets()
    index = assets["index.html"]
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def page() -> Response:
        return Response(index.body, media_type=index.media_type)

    @router.get(ASSET_PREFIX + "{name}")
    async def asset(name: str) -> Response:
        found = assets.get(name)
        if found is None:
            raise HTTPException(404, "no such page asset")
        return Response(found.body, media_type=found.media_type)

    return router
