"""The bedside page in a real browser: Debian's Chromium, driven headless by Playwright,
against a real uvicorn server on a free loopback port.

The tests fill the form (by keyboard alone in one flow, by clicks in another), submit,
and check that every number on the preparation sheet is the one a direct
``POST /v1/mixtures`` of the same request answers; that an overdose shows the critical
warning and the over-limit status; that an API error lands beside its field; that every
control has a label; and that the print view holds the syringe labels.  Screenshots and
the printed PDF go to ``tests/artifacts/`` (not committed).

Without Chromium these tests FAIL, naming the command that installs it: a browser test
that silently passes or skips would hide that the page was never tried.  ``.ci/run``
installs it; set ``MIXCALC_CHROMIUM`` to use a Chromium elsewhere.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from mixcalc.api import create_app
from mixcalc.api.settings import API_KEYS_ENV, Settings
from mixcalc.formulary import Formulary

try:
    from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
except ImportError:  # pragma: no cover - reported by the browser fixture
    sync_playwright = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("MIXCALC_CHROMIUM", "/usr/bin/chromium")
INSTALL = "scripts/system-packages (apt-get install chromium)"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
KEY = "bedside-key-for-the-ward-0001"
PNG = b"\x89PNG\r\n\x1a\n"

DEFAULT_COMPONENTS = [
    {"agent": "lidocaine", "concentration": {"value": 10.0, "unit": "mg/mL"}, "volume_per_site": "0.5 mL"},
    {"agent": "bupivacaine", "concentration": {"value": 2.5, "unit": "mg/mL"}, "volume_per_site": "0.5 mL"},
]


# --- a real server and a real browser ------------------------------------------------------


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Runs ``app`` under uvicorn in a thread on a free loopback port; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ws="none", http="h11")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def base_url(formulary: Formulary) -> Iterator[str]:
    with serving(create_app(formulary, Settings())) as url:
        yield url


@pytest.fixture(scope="session")
def keyed_url(formulary: Formulary) -> Iterator[str]:
    with serving(create_app(formulary, Settings.from_env({API_KEYS_ENV: KEY}))) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        pytest.fail("Playwright is not installed: run .venv/bin/pip install -e '.[test]'", pytrace=False)
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"NO BROWSER: Chromium is not at {CHROMIUM}, so the page was not tested.\n"
            f"Install Debian's Chromium (as root): {INSTALL}\n"
            "or set MIXCALC_CHROMIUM to a Chromium binary.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        # launch() gives each run a fresh, temporary user data directory.
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _unexpected(message: ConsoleMessage) -> bool:
    # A 401 or 422 answer is logged by Chromium as a failed resource; the page handles it.
    return message.type == "error" and not message.text.startswith("Failed to load resource")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (its own storage) that fails the test on a script error or a CSP violation."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(f"console: {m.text}") if _unexpected(m) else None)
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    yield tab
    context.close()
    assert not problems, "\n".join(problems)


# --- helpers ----------------------------------------------------------------------------


def post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """POST /v1/mixtures directly, as any client would."""
    request = urllib.request.Request(  # noqa: S310 - the URL is the test server's own loopback address
        f"{url}/v1/mixtures",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def shown(quantity: dict[str, Any]) -> str:
    """How the page must show an API quantity (ISMP): every digit sent, no trailing zero,
    thousands separators, mcg for ug."""
    number = Decimal(repr(quantity["value"])).normalize()
    unit = {"ug": "mcg", "ug/mL": "mcg/mL"}.get(quantity["unit"], quantity["unit"])
    return f"{number:,f} {unit}"


def shown_fraction(fraction: float) -> str:
    return f"{(Decimal(repr(fraction)) * 100).normalize():,f} % of maximum"


def open_page(page: Page, url: str) -> None:
    page.goto(url + "/")
    page.locator("#mixture-form").wait_for(state="visible")


def calculate(page: Page) -> dict[str, Any]:
    """Clicks Calculate and returns the request the page sent, once the sheet is shown."""
    with page.expect_request("**/v1/mixtures") as sent:
        page.click("#calculate")
    page.locator("#result").wait_for(state="visible")
    body = sent.value.post_data_json
    assert isinstance(body, dict)
    return body


def assert_sheet_shows(page: Page, answer: dict[str, Any]) -> None:
    """Every number on the sheet is the API's, shown as ISMP asks."""
    syringes = page.locator("article.syringe")
    assert syringes.count() == len(answer["syringes"])
    for n, syringe in enumerate(answer["syringes"], start=1):
        sheet = page.locator(f'article.syringe[data-syringe="{n}"]')
        rows = sheet.locator("tbody tr")
        assert rows.count() == len(syringe["draws"])
        for i, draw in enumerate(syringe["draws"]):
            row = rows.nth(i)
            assert row.get_attribute("data-agent") == draw["agent"]
            assert row.locator("td.volume").inner_text() == shown(draw["volume"])
            assert row.locator("td.dose").inner_text() == shown(draw["dose"])
        assert sheet.locator("td.fill").inner_text() == shown(syringe["fill_volume"])
        assert sheet.locator(".site-volume").inner_text() == shown(syringe["volume_per_site"])
    assert page.locator(".label-text").all_inner_texts() == [s["label"] for s in answer["syringes"]]
    for component in answer["components"]:
        if component["fraction_of_max"] is not None:
            row = page.locator(f'li.load-agent[data-agent="{component["agent"]}"]')
            assert row.locator(".load-percentage").inner_text() == shown_fraction(component["fraction_of_max"])
    for group in answer["groups"]:
        row = page.locator(f'li.load-group[data-agent="{group["id"]}"]')
        assert row.locator(".load-percentage").inner_text() == shown_fraction(group["fraction"])
    rank = {"critical": 0, "warning": 1, "info": 2}
    expected = sorted(answer["warnings"], key=lambda w: rank[w["severity"]])
    assert page.locator("li.warning").evaluate_all("items => items.map(i => i.dataset.code)") == [
        w["code"] for w in expected
    ]
    assert page.locator("li.warning .message").all_inner_texts() == [w["message"] for w in expected]
    assert page.locator("#aftercare li").all_inner_texts() == list(answer["aftercare"])
    if answer["dosing_weight"] is not None:
        assert shown(answer["dosing_weight"]) in page.locator("#dosing-weight-used").inner_text()


def save_png(page: Page, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    assert path.read_bytes()[:8] == PNG, f"{path} is not a PNG"
    return path


# --- the tests --------------------------------------------------------------------------


def test_the_default_mixture_by_keyboard_alone(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "mixture-heading"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "component-1-agent"
    page.focus("#weight")
    page.keyboard.type("154")
    page.keyboard.press("Tab")  # the weight unit
    page.keyboard.press("ArrowDown")  # kg -> lb
    page.keyboard.press("Tab")
    page.keyboard.type("175")
    page.keyboard.press("Tab")  # the height unit
    page.keyboard.press("Tab")  # sex
    page.keyboard.press("ArrowDown")  # not stated -> female
    page.keyboard.press("Tab")
    page.keyboard.type("45")
    page.focus("#condition-anticoagulation")
    page.keyboard.press("Space")
    page.focus("#age")
    with page.expect_request("**/v1/mixtures") as sent:
        page.keyboard.press("Enter")  # submits the form
    page.locator("#result").wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "result"

    request = sent.value.post_data_json
    assert request == {
        "sites": 6,
        "components": DEFAULT_COMPONENTS,
        "patient": {
            "weight": "154 lb",
            "height": "175 cm",
            "sex": "female",
            "age": "45 a",
            "conditions": ["anticoagulation"],
        },
    }
    status, answer = post(base_url, request)
    assert status == 200, answer
    assert_sheet_shows(page, answer)
    assert "bleeding_risk" in page.locator("li.warning").evaluate_all("items => items.map(i => i.dataset.code)")


def test_lidocaine_bupivacaine_triamcinolone_by_clicks_to_the_printed_label(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    page.click("#add-component")
    page.select_option("#component-3-agent", "triamcinolone-acetonide")
    page.select_option("#component-3-strength", label="40 mg/mL")
    page.fill("#component-3-amount", "10")
    assert page.input_value("#component-3-unit") == "mg"  # a corticosteroid is dosed in mg
    page.fill("#weight", "70")
    page.select_option("#syringe", label="10 mL (graduations of 0.2 mL)")
    request = calculate(page)

    assert request["components"][2] == {
        "agent": "triamcinolone-acetonide",
        "concentration": {"value": 40.0, "unit": "mg/mL"},
        "dose_per_site": "10 mg",
    }
    assert request["syringe"] == {"value": 10.0, "unit": "mL"}
    status, answer = post(base_url, request)
    assert status == 200, answer
    assert_sheet_shows(page, answer)
    assert "triamcinolone acetonide 40 mg/mL 1.5 mL (60 mg)" in page.locator(".label-text").inner_text()
    save_png(page, "sheet.png")

    page.emulate_media(media="print")
    assert not page.locator("#mixture-form").is_visible()
    assert not page.locator("#print").is_visible()
    assert page.locator(".label-text").is_visible()
    assert page.locator("th:has-text('Done')").first.is_visible()
    save_png(page, "print-view.png")
    pdf = ARTIFACTS / "preparation-sheet.pdf"
    page.pdf(path=str(pdf), format="A4")
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_an_overdose_shows_the_critical_warning_and_the_over_status(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    page.click('button[aria-label="Remove agent 2"]')
    page.fill("#component-1-amount", "10")
    page.fill("#weight", "70")
    request = calculate(page)
    status, answer = post(base_url, request)
    assert status == 200, answer
    critical = [w for w in answer["warnings"] if w["severity"] == "critical"]
    assert "max_dose_exceeded" in [w["code"] for w in critical]

    assert_sheet_shows(page, answer)
    assert page.locator(".verdict-critical").inner_text().startswith("✖ STOP:")
    warning = page.locator('li.warning[data-code="max_dose_exceeded"]')
    assert warning.locator(".badge").inner_text().strip().endswith("CRITICAL")  # text-transform: uppercase
    message = next(w["message"] for w in critical if w["code"] == "max_dose_exceeded")
    assert warning.locator(".message").inner_text() == message
    lidocaine = page.locator('li.load-agent[data-agent="lidocaine"]')
    assert lidocaine.get_attribute("data-status") == "over"
    assert lidocaine.locator(".load-word").inner_text() == "OVER LIMIT"  # a word, not only a colour
    assert lidocaine.locator(".load-percentage").inner_text() == "200 % of maximum"
    save_png(page, "overdose.png", full_page=False)


def test_a_near_limit_dose_is_amber_with_its_words(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    page.click('button[aria-label="Remove agent 2"]')
    page.fill("#component-1-amount", "4")  # 6 x 4 mL of 1 % = 240 mg of 300 mg: 80 %
    page.fill("#weight", "70")
    calculate(page)
    lidocaine = page.locator('li.load-agent[data-agent="lidocaine"]')
    assert lidocaine.get_attribute("data-status") == "near"
    assert lidocaine.locator(".load-word").inner_text() == "Near limit"
    assert page.locator('li.warning[data-code="max_dose_near"]').count() == 1


def test_an_api_error_lands_beside_its_field(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    page.fill("#weight", "500")
    page.fill("#component-2-amount", "half")
    with page.expect_response("**/v1/mixtures") as answered:
        page.click("#calculate")
    assert answered.value.status == 422
    summary = page.locator("#error-summary")
    summary.wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert not page.locator("#result").is_visible()

    status, problem = post(base_url, json.loads(answered.value.request.post_data or "{}"))
    assert status == 422, problem
    details = {e["pointer"]: e["detail"] for e in problem["errors"]}
    for field, pointer in (("weight", "/patient/weight"), ("component-2-amount", "/components/1/volume_per_site")):
        assert page.locator(f"#{field}").get_attribute("aria-invalid") == "true"
        assert f"{field}-error" in (page.locator(f"#{field}").get_attribute("aria-describedby") or "")
        beside = page.locator(f"#{field}-error")
        assert beside.is_visible()
        assert beside.inner_text() == f"✖ Error: {details[pointer]}"
        assert summary.locator(f'a[href="#{field}"]').inner_text().endswith(details[pointer])
    assert "weight must be between 0.5 and 400 kg" in page.locator("#weight-error").inner_text()

    page.fill("#weight", "70")
    page.fill("#component-2-amount", "0.5")
    calculate(page)
    assert not summary.is_visible()
    assert page.locator("[aria-invalid]").count() == 0


def test_a_field_left_empty_is_named_before_anything_is_sent(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    page.click("#add-component")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/v1/mixtures") else None)
    page.click("#calculate")
    assert page.locator("#component-3-agent-error").inner_text() == "✖ Error: choose an agent, or remove this row"
    assert page.locator("#component-3-amount").get_attribute("aria-invalid") == "true"
    assert sent == []


def test_every_control_has_a_label_and_every_id_is_unique(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    calculate(page)
    page.click("#add-component")
    page.click("details.more summary")
    page.click("#add-prior")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll("input, select, textarea, button")]
            .filter((control) => {
              const named = (text) => (text ?? "").trim() !== "";
              if (named(control.getAttribute("aria-label"))) return false;
              if (control.tagName === "BUTTON") return !named(control.textContent);
              return ![...(control.labels ?? [])].some((label) => named(label.textContent));
            })
            .map((control) => control.id || control.outerHTML)"""
    )
    assert unlabelled == []
    duplicated = page.evaluate(
        """() => {
             const ids = [...document.querySelectorAll("[id]")].map((node) => node.id);
             return ids.filter((id, i) => ids.indexOf(id) !== i);
           }"""
    )
    assert duplicated == []
    described = page.evaluate(
        """() => [...document.querySelectorAll("[aria-describedby]")]
            .flatMap((node) => node.getAttribute("aria-describedby").split(" "))
            .filter((id) => !document.getElementById(id))"""
    )
    assert described == []


def test_a_changed_form_marks_the_sheet_out_of_date(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    calculate(page)
    assert page.locator("#print").is_enabled()
    page.fill("#sites", "4")
    assert page.locator("#stale-notice").is_visible()
    assert page.locator("#print").is_disabled()
    calculate(page)
    assert page.locator("#stale-notice").count() == 0
    assert page.locator("#print").is_enabled()


def test_the_page_asks_for_an_api_key_and_keeps_it_in_the_tab(page: Page, keyed_url: str) -> None:
    page.goto(keyed_url + "/")
    key_input = page.locator("#api-key")
    key_input.wait_for(state="visible")
    assert not page.locator("#mixture-form").is_visible()
    assert page.evaluate("document.activeElement.id") == "api-key"

    page.keyboard.type("not-the-key-at-all-0000")
    page.keyboard.press("Enter")
    page.locator("#api-key-error").wait_for(state="visible")
    assert page.locator("#api-key-error").inner_text() == "✖ Error: This key was not accepted."
    assert key_input.get_attribute("aria-invalid") == "true"

    key_input.fill(KEY)
    page.click("#key-form button[type=submit]")
    page.locator("#mixture-form").wait_for(state="visible")
    assert page.evaluate("sessionStorage.getItem('mixcalc.api-key')") == KEY
    assert page.evaluate("localStorage.length") == 0
    request = calculate(page)
    status, answer = post(keyed_url, request, {"X-API-Key": KEY})
    assert status == 200, answer
    assert_sheet_shows(page, answer)
