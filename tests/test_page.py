"""The bedside page over HTTP (no browser): served from the package, open without a key,
kept out of the OpenAPI document, and written so the security headers hold (no inline
script or style, nothing loaded from elsewhere)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mixcalc.api import create_app
from mixcalc.api.settings import API_KEYS_ENV, Settings
from mixcalc.formulary import Formulary

CSP = "default-src 'self'; frame-ancestors 'none'"
STATIC = resources.files("mixcalc.api") / "static"
ASSETS = sorted(entry.name for entry in STATIC.iterdir() if entry.is_file())
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def keyed(formulary: Formulary) -> Iterator[TestClient]:
    settings = Settings.from_env({API_KEYS_ENV: "page-test-key-000000001"})
    with TestClient(create_app(formulary, settings), raise_server_exceptions=False) as client:
        yield client


def test_the_page_is_served_at_the_root_with_the_security_headers(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "<h1>Trigger point injection mixture</h1>" in r.text


@pytest.mark.parametrize("name", ASSETS)
def test_every_asset_is_served_with_its_media_type(client: TestClient, name: str) -> None:
    r = client.get(f"/static/{name}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == MEDIA_TYPES["." + name.rpartition(".")[2]]
    assert r.headers["content-security-policy"] == CSP


@pytest.mark.parametrize("path", ["/static/nothing.js", "/static/..%2Froutes.py", "/static/"])
def test_an_unknown_asset_is_a_404_problem(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_the_page_needs_no_key_when_the_api_does(keyed: TestClient) -> None:
    assert keyed.get("/").status_code == 200
    assert keyed.get("/static/page.js").status_code == 200
    assert keyed.get("/v1/formulary").status_code == 401


def test_the_page_is_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert not any(path.startswith("/static") for path in paths)


def test_the_html_has_no_inline_script_style_or_handler() -> None:
    html = _text("index.html")
    for script in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in script, script
    assert "<style" not in html
    assert not re.search(r"\sstyle\s*=", html)
    assert not re.search(r"\son[a-z]+\s*=", html)


def test_every_referenced_asset_and_module_exists() -> None:
    referenced = set(re.findall(r'(?:src|href)="/static/([^"]+)"', _text("index.html")))
    for name in ASSETS:
        if name.endswith(".js"):
            referenced |= set(re.findall(r'from "\./([^"]+)"', _text(name)))
    assert referenced, "index.html refers to no asset"
    assert referenced <= set(ASSETS), referenced - set(ASSETS)


def test_nothing_is_loaded_from_elsewhere() -> None:
    for name in ASSETS:
        text = _text(name).replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text), name


def test_the_scripts_write_no_markup_from_strings() -> None:
    for name in ASSETS:
        if name.endswith(".js"):
            text = _text(name)
            assert "innerHTML" not in text, name
            assert "insertAdjacentHTML" not in text, name


def test_every_warning_that_asks_for_judgement_leads_with_an_action_on_the_page() -> None:
    """Issue 14: each warning's action first.  Every code the README's warning table lists
    as a warning or critical has its own action in words.js (info notes may fall back)."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Warnings", 1)[1].split("\n## ", 1)[0]
    asking = set()
    for row in table.splitlines():
        cells = row.split("|")
        if len(cells) < 4 or not cells[1].strip().startswith("`"):
            continue
        severity = cells[2]
        stems = re.findall(r"`([a-z][a-z_]*)`", cells[1])
        suffixes = re.findall(r"`(_[a-z]+)`", cells[1])  # `combined_steroid_exceeded` / `_near`
        codes = stems + [stems[0].rsplit("_", 1)[0] + suffix for suffix in suffixes]
        if "warning" in severity or "critical" in severity:
            asking.update(codes)
    actions = set(re.findall(r"^  ([a-z_]+): \"", _text("words.js"), re.MULTILINE))
    assert len(asking) > 25, asking
    assert asking - actions == set(), "words.js ACTIONS lacks an action for these codes"


def test_the_page_and_the_cli_say_each_condition_in_the_same_words() -> None:
    """The condition vocabulary is shown in words by the page (words.js) and the CLI
    (``mixcalc conditions``): every condition has words in both, and they agree."""
    from mixcalc.cli import CONDITION_WORDS
    from mixcalc.formulary import Condition

    block = _text("words.js").split("CONDITION_LABELS = {", 1)[1].split("};", 1)[0]
    page = {key.strip('"'): words for key, words in re.findall(r'^\s+("?[a-z-]+"?): "([^"]+)",$', block, re.MULTILINE)}
    vocabulary = {c.value for c in Condition}
    assert set(page) == vocabulary
    assert set(CONDITION_WORDS) == vocabulary
    assert {k: v.lower() for k, v in page.items()} == {k: v.lower() for k, v in CONDITION_WORDS.items()}
