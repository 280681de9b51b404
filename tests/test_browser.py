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
import re
import socket
import subprocess
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

from mixcalc import display
from mixcalc.api import create_app
from mixcalc.api.settings import API_KEYS_ENV, Settings
from mixcalc.formulary import Formulary

try:
    from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
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
    """Whole percent, rounded up: the shared rule (mixcalc.display.percent)."""
    return f"{display.percent(Decimal(repr(fraction)))} of maximum"


def read_at(quantity: dict[str, Any], graduation: dict[str, Any]) -> str:
    """A volume as read on a syringe of that graduation (mixcalc.display.volume_read)."""
    return display.volume_read(Decimal(repr(quantity["value"])), Decimal(repr(graduation["value"])))


def named(message: str, answer: dict[str, Any]) -> str:
    """A message with agent ids replaced by the names people read (as the page and the CLI do)."""
    for component in sorted(answer["components"], key=lambda c: -len(c["agent"])):
        if component["agent"] != component["name"]:
            pattern = rf"(?<![\w-]){re.escape(component['agent'])}(?![\w-])"
            message = re.sub(pattern, component["name"], message)
    return message


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


def alike_runs(syringes: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any], int]]:
    """Consecutive syringes drawn alike, as (first number, syringe, how many): the sheet shows each run once."""
    runs: list[tuple[int, dict[str, Any], int]] = []
    for n, syringe in enumerate(syringes, start=1):
        key = [syringe[k] for k in ("capacity", "graduation", "sites", "draws")]
        if runs and [runs[-1][1][k] for k in ("capacity", "graduation", "sites", "draws")] == key:
            runs[-1] = (runs[-1][0], runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((n, syringe, 1))
    return runs


def assert_sheet_shows(page: Page, answer: dict[str, Any]) -> None:
    """Every number on the sheet is the API's, shown as ISMP asks and as the syringe is read."""
    runs = alike_runs(answer["syringes"])
    syringes = page.locator("article.syringe")
    assert syringes.count() == len(runs)
    classes = {c["agent"]: c["agent_class"] for c in answer["components"]}
    for n, syringe, count in runs:
        sheet = page.locator(f'article.syringe[data-syringe="{n}"]')
        assert sheet.get_attribute("data-count") == str(count)
        rows = sheet.locator("tbody tr")
        assert rows.count() == len(syringe["draws"])
        for i, draw in enumerate(syringe["draws"]):
            row = rows.nth(i)
            assert row.get_attribute("data-agent") == draw["agent"]
            measured = draw.get("measured_in")
            volume, *step = [part for part in row.locator("td.volume").inner_text().split("\n") if part]
            # A draw measured in a separate, finer syringe is read on that syringe's graduations, with the step.
            assert volume == read_at(draw["volume"], measured["graduation"] if measured else syringe["graduation"])
            if measured:
                assert step == [
                    f"measure in a {shown(measured['capacity'])} syringe "
                    f"({shown(measured['graduation'])} steps), add it to syringe {n}"
                ]
            else:
                assert step == []
            dose = "" if classes[draw["agent"]] == "diluent" else shown(draw["dose"])
            assert row.locator("td.dose").inner_text() == dose
        assert sheet.locator(".fill").inner_text() == shown(syringe["fill_volume"])
        assert sheet.locator(".site-volume").inner_text() == read_at(syringe["volume_per_site"], syringe["graduation"])
    labels = page.locator(".label-card")
    assert labels.count() == len(answer["syringes"])
    for n in range(len(answer["syringes"])):
        text = labels.nth(n).inner_text()
        assert f"Syringe {n + 1} of {len(answer['syringes'])}" in text
        assert "for intramuscular trigger point injection" in text
        assert "Patient / ID" in text
        assert "Prepared by" in text
        assert "Printed" in text
        for component in answer["components"]:
            assert component["name"] in text
    for component in answer["components"]:
        if component["fraction_of_max"] is not None:
            row = page.locator(f'li.load-agent[data-agent="{component["agent"]}"]')
            assert row.locator(".load-percentage").inner_text() == shown_fraction(component["fraction_of_max"])
            if component["max_volume"] is not None:
                assert shown(component["max_volume"]) in row.locator(".max-volume").inner_text()
    for group in answer["groups"]:
        row = page.locator(f'li.load-group[data-agent="{group["id"]}"]')
        assert row.locator(".load-percentage").inner_text() == shown_fraction(group["fraction"])
    rank = {"critical": 0, "warning": 1, "info": 2}
    expected = sorted(answer["warnings"], key=lambda w: rank[w["severity"]])
    assert page.locator("li.warning").evaluate_all("items => items.map(i => i.dataset.code)") == [
        w["code"] for w in expected
    ]
    assert page.locator("li.warning .message").all_text_contents() == [named(w["message"], answer) for w in expected]
    notes = [w for w in expected if w["severity"] == "info"]
    assert page.locator("details.notes li.warning").count() == len(notes)
    assert page.locator("#aftercare li").all_inner_texts() == list(answer["aftercare"])
    if answer["dosing_weight"] is not None:
        assert shown(answer["dosing_weight"]) in page.locator("#dosing-weight-used").inner_text()
    if answer["max_volume_per_site"] is not None:
        assert shown(answer["max_volume_per_site"]) in page.locator("#headroom").inner_text()
    assert page.locator(".rescue-summary").inner_text() == answer["rescue"]["summary"]
    ids = [c["agent"] for c in answer["components"] if c["agent"] != c["name"]]
    visible = page.locator("#result").inner_text()
    for agent_id in ids:
        assert agent_id not in visible, f"the sheet shows the id {agent_id!r}, not the agent's name"


def save_png(page: Page, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    assert path.read_bytes()[:8] == PNG, f"{path} is not a PNG"
    return path


# --- the tests --------------------------------------------------------------------------


def test_the_default_mixture_by_keyboard_alone(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    # Focus starts in the first field (no preset saved yet, so the first agent).
    expect(page.locator("#component-1-agent")).to_be_focused()
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
    steroid = page.locator('article.syringe tr[data-agent="triamcinolone-acetonide"]')
    # 1.5 mL cannot be read within 5 % on the 10 mL syringe's 0.2 mL steps: measured in a 3 mL syringe
    measured = "measure in a 3 mL syringe (0.1 mL steps), add it to syringe 1"
    assert steroid.inner_text().split() == [
        *["3", "triamcinolone", "acetonide", "40", "mg/mL", "1.5", "mL", *measured.split(), "60", "mg"]
    ]
    label = page.locator(".label-card").first.inner_text()
    final = next(c for c in answer["components"] if c["agent"] == "triamcinolone-acetonide")
    per_site = f"{final['dose_per_site']['value']:.3g}"  # 3 significant digits, no trailing zero (ISMP)
    assert f"triamcinolone acetonide {final['final_concentration']['value']:.3g}\u00a0mg/mL" in label
    assert f"{per_site}\u00a0mg/site" in label
    save_png(page, "sheet.png")

    page.emulate_media(media="print")
    assert not page.locator("#mixture-form").is_visible()
    assert not page.locator("#print").is_visible()
    assert page.locator(".label-card").first.is_visible()
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
    assert warning.locator(".message").inner_text() == named(message, answer)
    assert warning.locator(".action").inner_text() == "Lower the dose"  # the action first
    assert page.locator("article.syringe").count() == 1  # six syringes drawn alike, shown once
    assert page.locator("article.syringe h4").inner_text().startswith("Syringes 1 to 6 of 6, each:")
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


# --- issue 14: the twentieth patient of the day --------------------------------------------

PDFTOPPM = "/usr/bin/pdftoppm"
PRINT_STUB = "window.__printed = 0; window.print = () => { window.__printed += 1; };"
TRIAMCINOLONE = {"agent": "triamcinolone-acetonide", "strength": "40 mg/mL", "amount": "10"}


@contextmanager
def tab(browser: Browser, width: int, height: int, **options: Any) -> Iterator[Page]:
    """A fresh tab of the given viewport (its own storage), failing on any script error."""
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.add_init_script(PRINT_STUB)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console: {m.text}") if _unexpected(m) else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    try:
        yield page
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def add_triamcinolone(page: Page) -> None:
    page.click("#add-component")
    n = page.locator("li.component").count()
    page.select_option(f"#component-{n}-agent", TRIAMCINOLONE["agent"])
    page.select_option(f"#component-{n}-strength", label=TRIAMCINOLONE["strength"])
    page.fill(f"#component-{n}-amount", TRIAMCINOLONE["amount"])


def overdose(page: Page) -> None:
    """Lidocaine 1 % 10 mL per site at 6 sites for 70 kg: 600 of 300 mg."""
    page.click('button[aria-label="Remove agent 2"]')
    page.fill("#component-1-amount", "10")
    page.fill("#weight", "70")


def pdf_pages(page: Page, name: str) -> list[Path]:
    """The page printed to PDF (as Chromium prints it) and each page as a PNG to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = ARTIFACTS / f"{name}.pdf"
    page.pdf(path=str(pdf), format="Letter", prefer_css_page_size=True, print_background=True)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    for old in ARTIFACTS.glob(f"{name}-*.png"):
        old.unlink()
    if Path(PDFTOPPM).is_file():  # for people to look at (poppler-utils); the PDF itself is checked above
        command = [PDFTOPPM, "-png", "-r", "60", str(pdf), str(ARTIFACTS / name)]
        subprocess.run(command, check=True)  # noqa: S603 - our own fixed command on our own file
    return sorted(ARTIFACTS.glob(f"{name}-*.png"))


def test_a_stop_plan_prints_no_label_without_a_reviewed_reason(browser: Browser, base_url: str) -> None:
    with tab(browser, 1366, 900) as page:
        open_page(page, base_url)
        overdose(page)
        calculate(page)
        assert page.locator("#result").get_attribute("data-stop") == "unreviewed"
        page.click("#print")
        assert page.evaluate("window.__printed") == 0  # Print asks first
        assert page.locator("#acknowledge").is_visible()
        assert page.evaluate("document.activeElement.id") == "ack-reason"
        save_png(page, "stop-acknowledge.png", full_page=False)

        page.click("#ack-print")  # no reason given
        assert page.evaluate("window.__printed") == 0
        assert page.locator("#ack-reason").get_attribute("aria-invalid") == "true"

        page.click("#print-sheet-only")
        assert page.evaluate("window.__printed") == 1
        page.emulate_media(media="print")
        assert not page.locator(".labels").is_visible()
        assert page.locator(".label-card").first.is_hidden()
        assert page.locator("#stop-unreviewed").is_visible()
        pdf_pages(page, "stop-unreviewed")
        page.emulate_media(media="screen")

        reason = "pharmacist verified: chronic pain clinic protocol"
        page.click("#print")
        page.fill("#ack-reason", reason)
        page.click("#ack-print")
        assert page.evaluate("window.__printed") == 2
        page.emulate_media(media="print")
        banner = f"OVER LIMIT — reviewed: {reason}"
        assert banner in page.locator("#review-banner").inner_text()
        assert "Initials" in page.locator("#review-banner").inner_text()
        assert not page.locator("#stop-unreviewed").is_visible()
        labels = page.locator(".label-card")
        assert labels.count() >= 1
        for n in range(labels.count()):
            assert labels.nth(n).is_visible()
            text = labels.nth(n).inner_text()
            assert banner in text
            assert "Initials" in text
        # Every label's content fits its 2 5/8 x 1 in block.
        overflowing = labels.evaluate_all("cards => cards.filter(c => c.scrollHeight > c.clientHeight + 1).length")
        assert overflowing == 0
        pdf_pages(page, "stop-reviewed")


def test_a_plan_without_a_critical_warning_prints_at_once(page: Page, base_url: str) -> None:
    page.add_init_script(PRINT_STUB)
    open_page(page, base_url)
    page.fill("#weight", "70")
    calculate(page)
    page.click("#print")
    assert page.evaluate("window.__printed") == 1
    assert page.locator("#acknowledge").is_hidden()
    page.emulate_media(media="print")
    assert page.locator(".label-card").first.is_visible()
    assert "OVER LIMIT" not in page.locator(".label-card").first.inner_text()


@pytest.mark.parametrize(("width", "height", "name"), [(1366, 900, "desktop"), (390, 844, "phone")])
def test_the_verdict_and_every_draw_are_on_the_first_screen(
    browser: Browser, base_url: str, width: int, height: int, name: str
) -> None:
    with tab(browser, width, height) as page:
        open_page(page, base_url)
        add_triamcinolone(page)
        page.fill("#weight", "70")
        calculate(page)
        page.wait_for_timeout(300)  # the scroll to the sheet
        save_png(page, f"first-screen-{name}.png", full_page=False)
        for selector in ("#verdict p", "article.syringe tbody tr"):
            boxes = page.locator(selector).evaluate_all(
                "nodes => nodes.map(n => { const r = n.getBoundingClientRect(); return [r.top, r.bottom]; })"
            )
            assert boxes, selector
            for top, bottom in boxes:
                assert top >= 0, f"{selector} starts at {top} px, above the screen"
                assert bottom <= height, f"{selector} ends at {bottom} px, below the {height} px screen"
        save_png(page, f"sheet-{name}.png")


@pytest.mark.parametrize("width", [360, 390])
def test_no_horizontal_scrolling_on_a_phone(browser: Browser, base_url: str, width: int) -> None:
    with tab(browser, width, 800) as page:
        open_page(page, base_url)
        add_triamcinolone(page)
        page.click("details.more summary")
        page.click("#add-prior")
        page.select_option("li.prior select >> nth=0", "lidocaine")
        page.fill("li.prior input[type=text]", "20")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        save_png(page, f"form-{width}.png")
        page.fill("#weight", "70")
        calculate(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        save_png(page, f"sheet-{width}.png")


def test_a_preset_is_saved_reloaded_used_and_deleted(browser: Browser, base_url: str) -> None:
    with tab(browser, 1100, 900) as page:
        open_page(page, base_url)
        add_triamcinolone(page)
        page.fill("#sites", "4")
        page.fill("#preset-name", "Usual with steroid")
        page.click("#save-preset")
        page.reload()
        page.locator("#mixture-form").wait_for(state="visible")
        assert page.locator("li.component").count() == 2  # nothing calculated: the default mixture
        assert page.evaluate("document.activeElement.id") == "preset"  # the first field now
        page.select_option("#preset", "Usual with steroid")
        page.click("#use-preset")
        assert page.locator("li.component").count() == 3
        assert page.input_value("#sites") == "4"
        page.fill("#weight", "70")
        request = calculate(page)
        assert request["sites"] == 4
        assert request["components"][2] == {
            "agent": "triamcinolone-acetonide",
            "concentration": {"value": 40.0, "unit": "mg/mL"},
            "dose_per_site": "10 mg",
        }
        stored = page.evaluate("JSON.stringify(Object.assign({}, localStorage))")
        assert "70" not in stored.replace("40", "")  # no weight (or any patient fact) on the device
        assert "patient" not in stored
        page.select_option("#preset", "Usual with steroid")
        page.click("#delete-preset")
        assert page.locator("#preset option").all_inner_texts() == ["No preset saved yet"]


def test_units_and_the_last_mixture_are_remembered_but_not_the_patient(browser: Browser, base_url: str) -> None:
    with tab(browser, 1100, 900) as page:
        open_page(page, base_url)
        add_triamcinolone(page)
        page.select_option("#weight-unit", "lb")
        page.fill("#weight", "154")
        page.check("#condition-anticoagulation")
        calculate(page)
        page.reload()
        page.locator("#mixture-form").wait_for(state="visible")
        assert page.input_value("#weight-unit") == "lb"
        assert page.locator("li.component").count() == 3
        assert page.input_value("#component-3-agent") == "triamcinolone-acetonide"
        assert page.input_value("#weight") == ""
        assert not page.is_checked("#condition-anticoagulation")


def test_new_patient_clears_the_patient_and_keeps_the_mixture(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    add_triamcinolone(page)
    page.fill("#weight", "70")
    page.fill("#height", "175")
    page.select_option("#sex", "female")
    page.fill("#age", "45")
    page.check("#condition-pregnancy")
    page.click("details.more summary")
    page.click("#add-prior")
    page.select_option("li.prior select >> nth=0", "lidocaine")
    page.fill("li.prior input[type=text]", "20")
    calculate(page)
    page.click("#new-patient")
    assert page.locator("#result").is_hidden()
    for field in ("#weight", "#height", "#age", "#sex"):
        assert page.input_value(field) == ""
    assert not page.is_checked("#condition-pregnancy")
    assert page.locator("li.prior").count() == 0
    assert page.locator("li.component").count() == 3
    assert page.input_value("#component-3-agent") == "triamcinolone-acetonide"
    assert page.evaluate("document.activeElement.id") == "weight"
    request = calculate(page)
    assert "patient" not in request
    assert len(request["components"]) == 3


def test_enter_in_a_select_calculates(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    page.focus("#sex")
    with page.expect_request("**/v1/mixtures"):
        page.keyboard.press("Enter")
    page.locator("#result").wait_for(state="visible")


def test_copy_for_the_note(browser: Browser, base_url: str) -> None:
    with tab(browser, 1100, 900, permissions=["clipboard-read", "clipboard-write"]) as page:
        open_page(page, base_url)
        page.fill("#weight", "70")
        request = calculate(page)
        page.click("#copy-note")
        page.locator("#copy-status").filter(has_text="Copied").wait_for()
        text = page.evaluate("navigator.clipboard.readText()")
        status, answer = post(base_url, request)
        assert status == 200, answer
        assert text.startswith("TPI mixture (mixcalc). OK: no warning")
        assert f"version {answer['formulary']['version']}" in text
        assert "lidocaine 1 % (10 mg/mL) 3 mL (30 mg)" in text
        assert shown_fraction(answer["components"][0]["fraction_of_max"]).replace(" of maximum", "") in text
        assert "70 kg" not in text  # the note's patient facts are the chart's, not ours


def test_the_rescue_and_the_largest_volume_are_the_apis(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    page.fill("#weight", "60")
    request = calculate(page)
    status, answer = post(base_url, request)
    assert status == 200, answer
    assert page.locator(".rescue-summary").inner_text() == answer["rescue"]["summary"]
    assert "bolus 90 mL" in answer["rescue"]["summary"]
    assert page.locator(".rescue-steps li").all_inner_texts() == answer["rescue"]["steps"]
    assert shown(answer["max_volume_per_site"]) in page.locator("#headroom").inner_text()
    lidocaine = page.locator('li.load-agent[data-agent="lidocaine"] .max-volume')
    assert shown(answer["components"][0]["max_volume"]) in lidocaine.inner_text()


def test_a_child_without_a_weight_shows_weight_needed_never_a_green_bar(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    page.fill("#age", "6")
    request = calculate(page)
    status, answer = post(base_url, request)
    assert status == 200, answer
    assert [w["code"] for w in answer["warnings"] if w["severity"] == "critical"] == ["weight_required"]
    assert answer["local_anesthetic_fraction"] is None
    rows = page.locator("li.load")
    assert rows.count() == 3  # lidocaine, bupivacaine, their combined load
    for n in range(rows.count()):
        row = rows.nth(n)
        assert row.get_attribute("data-status") == "unknown"
        assert row.locator(".load-word").inner_text() == "weight needed"
        assert row.locator(".bar").count() == 0
    assert page.locator("li.load .load-word", has_text="OK").count() == 0
    assert page.locator(".verdict-critical").inner_text().startswith("✖ STOP: 1 critical warning")
    assert "Weigh the patient" in page.locator("#verdict").inner_text()
    assert "No largest volume" in page.locator("#headroom").inner_text()
    save_png(page, "weight-needed.png")


def test_a_draw_measured_in_a_finer_syringe_is_a_step_without_a_label(page: Page, base_url: str) -> None:
    """Triamcinolone 40 mg/mL, 10 mg per site at 6 sites (1.5 mL) cannot be read within 5 % on the
    10 mL syringe's 0.2 mL steps: the core measures it in a 3 mL syringe (issue 11)."""
    open_page(page, base_url)
    add_triamcinolone(page)
    page.fill("#weight", "70")
    request = calculate(page)
    status, answer = post(base_url, request)
    assert status == 200, answer
    (syringe,) = answer["syringes"]
    measured = next(d for d in syringe["draws"] if d.get("measured_in"))
    step = page.locator(f'article.syringe tr[data-agent="{measured["agent"]}"]')
    assert shown(measured["volume"]) in step.locator("td.volume").inner_text()
    capacity, graduation = shown(measured["measured_in"]["capacity"]), shown(measured["measured_in"]["graduation"])
    assert f"measure in a {capacity} syringe ({graduation} steps), add it to syringe 1" in step.inner_text()
    assert page.locator(".label-card").count() == 1  # the measuring syringe has no label


def test_no_serious_or_critical_accessibility_violations(browser: Browser, base_url: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    with tab(browser, 1366, 900) as page:
        open_page(page, base_url)
        found = []
        found += axe.run(page).response["violations"]
        overdose(page)
        calculate(page)
        page.click("#print")  # the acknowledgement form open
        page.click("details.notes summary") if page.locator("details.notes").count() else None
        found += axe.run(page).response["violations"]
    with tab(browser, 390, 844) as phone:
        open_page(phone, base_url)
        found += axe.run(phone).response["violations"]
    bad = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}" for v in found]
    bad = [line for line, v in zip(bad, found, strict=True) if v["impact"] in ("serious", "critical")]
    assert bad == [], "\n".join(bad)


def test_the_page_shows_percentages_and_volumes_by_the_same_rule_as_python(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    fractions = [0.14, 1.0029, 0.1333, 0.8, 1, 0.0001, 2.5, 0.5701, 0.9999, 0.29]
    volumes = [(1.2333, 0.2), (1.2, 0.2), (0.25, 0.01), (1.25, 0.1), (3, 1), (10, 0.2), (0.35, 0.1), (7.4, 0.2)]
    shown = page.evaluate(
        """async ([fractions, volumes]) => {
             const format = await import("/static/format.js");
             return {
               percent: fractions.map((f) => format.percentage(f)),
               volume: volumes.map(([v, g]) => format.volumeRead({value: v, unit: "mL"}, {value: g, unit: "mL"})),
             };
           }""",
        [fractions, volumes],
    )
    assert shown["percent"] == [display.percent(Decimal(repr(f))) for f in fractions]
    assert shown["volume"] == [display.volume_read(Decimal(repr(v)), Decimal(repr(g))) for v, g in volumes]
