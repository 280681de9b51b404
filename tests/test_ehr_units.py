"""The EHR adapters' parts: bounded numbers, the code tables, names and strengths in text,
fetching from the EHR's FHIR server, the deadline, and the session with an unreadable
order."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest
from hypothesis import example, given
from strategies import damaged_fhir_values, hostile_json_numbers
from test_ehr import _q, bundle, call, lidocaine_concept, patient_prefetch, r4_order

from mixcalc.ehr.chart import read_chart
from mixcalc.ehr.codes import default_tables, load_tables
from mixcalc.ehr.fetch import complete_call
from mixcalc.ehr.hook import hook_response
from mixcalc.ehr.jsonsafe import LARGEST, SMALLEST, bounded_count, bounded_decimal
from mixcalc.ehr.names import name_concept
from mixcalc.errors import FormularyError
from mixcalc.formulary import Formulary

NOW = datetime.now(UTC)


def _complete(body: dict[str, Any], allowed: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """complete_call run on an event loop of its own thread (the browser tests may leave
    one running in this thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, lambda: complete_call(body, timeout=3, allowed=allowed)).result()


# --- bounded numbers ---------------------------------------------------------------------------


@given(hostile_json_numbers)
@example(10**4000 - 1)
@example(1e308)
@example(1e-300)
def test_law_a_number_read_from_an_ehr_is_none_or_within_bounds(value: Any) -> None:
    number = bounded_decimal(value)
    assert number is None or number == 0 or SMALLEST <= abs(number) <= LARGEST


@given(damaged_fhir_values)
def test_law_a_count_read_from_an_ehr_is_none_or_a_site_count(value: Any) -> None:
    count = bounded_count(value, largest=50)
    assert count is None or (type(count) is int and 1 <= count <= 50)


def test_booleans_and_strings_are_not_numbers() -> None:
    assert bounded_decimal(True) is None
    assert bounded_decimal("5") is None
    assert bounded_count(True, largest=50) is None
    assert bounded_decimal(2.5) == Decimal("2.5")


# --- the code tables ---------------------------------------------------------------------------


def test_every_agent_in_the_code_tables_is_in_the_formulary(formulary: Formulary) -> None:
    default_tables().check_against(formulary, "ehr.toml")


def test_a_table_entry_citing_an_unknown_source_stops_loading(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "formulary" / "ehr.toml").read_text()
    broken = tmp_path / "ehr.toml"
    broken.write_text(text.replace('source = ["C2"]', 'source = ["C99"]', 1))
    with pytest.raises(FormularyError, match="C99"):
        load_tables(broken)


def test_an_unknown_key_stops_loading(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "formulary" / "ehr.toml").read_text()
    broken = tmp_path / "ehr.toml"
    broken.write_text(text.replace("[[allergies]]", "[[allergies]]\nseverity = 'high'", 1))
    with pytest.raises(FormularyError, match="unknown key"):
        load_tables(broken)


def test_an_institution_adds_a_product_code(tmp_path: Path, formulary: Formulary) -> None:
    text = (Path(__file__).parents[1] / "formulary" / "ehr.toml").read_text()
    extended = tmp_path / "ehr.toml"
    extended.write_text(
        text
        + '\n[sources.LOCAL]\ncitation = "Our pharmacy catalogue"\n\n[[products]]\ncode = "rxnorm:999001"\n'
        + 'agent = "lidocaine"\nstrength = "20 mg/mL"\nepinephrine = "0.01 mg/mL"\nsource = ["LOCAL"]\n'
    )
    tables = load_tables(extended)
    named = name_concept(
        {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "999001"}]}, formulary, tables
    )
    assert named.agent is not None
    assert named.agent.id == "lidocaine"
    assert (named.strength, named.epinephrine) == (Decimal(20), Decimal("0.01"))


# --- names and strengths in text ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "agent", "strength", "epinephrine"),
    [
        ("lidocaine HCl 1 % injection", "lidocaine", Decimal(10), None),
        ("lidocaine-epinephrine 1 %-1:100,000 injection solution", "lidocaine", Decimal(10), Decimal("0.01")),
        ("bupivacaine 0.25 % (2.5 mg/mL) injection", "bupivacaine", Decimal("2.5"), None),
        ("Kenalog-40 40 mg/mL suspension", "triamcinolone-acetonide", Decimal(40), None),
        ("levobupivacaine 0.5 %", "levobupivacaine", Decimal(5), None),
        ("XYLOCAINE MPF", "lidocaine", None, None),
    ],
)
def test_a_product_name_gives_agent_strength_and_epinephrine(
    formulary: Formulary, text: str, agent: str, strength: Decimal | None, epinephrine: Decimal | None
) -> None:
    named = name_concept({"text": text}, formulary, default_tables())
    assert named.agent is not None
    assert named.agent.id == agent
    assert named.strength == strength
    assert named.epinephrine == epinephrine


def test_two_agents_in_one_name_are_not_guessed(formulary: Formulary) -> None:
    named = name_concept({"text": "bupivacaine and triamcinolone"}, formulary, default_tables())
    assert named.agent is None
    assert set(named.several) == {"bupivacaine", "triamcinolone-acetonide"}


def test_procaine_is_not_chloroprocaine(formulary: Formulary) -> None:
    assert name_concept({"text": "procaine 1 %"}, formulary, default_tables()).agent is None


# --- fetching from the EHR's FHIR server ---------------------------------------------------------


class _Server(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Server.seen.append(self.path)
        if self.path.startswith("/fhir/AllergyIntolerance?patient=p1"):
            allergy = {"resourceType": "AllergyIntolerance", "code": {"text": "Sulfite"}}
            body = json.dumps(bundle(allergy)).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(500)
            self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fhir_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    server.shutdown()
    server.server_close()


def test_absent_prefetch_is_fetched_and_a_failed_fetch_is_named(fhir_server: str, formulary: Formulary) -> None:
    body = call(r4_order("o", _q(1, "mL")), fhirServer=fhir_server)
    del body["prefetch"]["allergies"]
    del body["prefetch"]["conditions"]
    prefetch, _ = _complete(body)
    chart = read_chart(prefetch, "p1", NOW, formulary, default_tables())
    assert "sulfite-allergy" in chart.facts["conditions"]
    assert any("conditions" in n and "could not be fetched" in n for n in chart.not_checked)


def test_a_server_not_among_the_configured_prefixes_is_never_called(fhir_server: str) -> None:
    body = call(r4_order("o", _q(1, "mL")), fhirServer=fhir_server)
    del body["prefetch"]["allergies"]
    prefetch, _ = _complete(body, allowed=("https://ehr.example.org/fhir",))
    assert "allergies" not in prefetch


def test_a_server_outside_https_or_loopback_is_never_called() -> None:
    body = call(r4_order("o", _q(1, "mL")), fhirServer="http://fhir.example.org/r4")
    del body["prefetch"]["allergies"]
    prefetch, fetched = _complete(body)
    assert "allergies" not in prefetch
    assert fetched == {}


# --- never silent: the deadline, and a session with an unreadable order --------------------------


def test_orders_not_reached_before_the_deadline_get_a_not_checked_card(formulary: Formulary) -> None:
    cards = hook_response(
        "order-sign", call(r4_order("late", _q(1, "mL"))), formulary, default_tables(), NOW, deadline=0.0
    )["cards"]
    late = [c for c in cards if "not checked in time" in c["summary"]]
    assert len(late) == 1
    assert late[0]["indicator"] == "warning"
    assert "MedicationRequest/late" in late[0]["detail"]


def test_a_session_counts_what_an_unreadable_order_surely_gives(formulary: Formulary) -> None:
    readable = r4_order("a", _q(5, "mL"), sites=5)  # 250 mg: 84 %
    unreadable = r4_order("b", _q(10, "mL"), sites=None)  # no site count: at least 100 mg
    cards = hook_response("order-sign", call(readable, unreadable), formulary, default_tables(), NOW)["cards"]
    (session,) = [c for c in cards if c["summary"].startswith("TPI orders together")]
    assert session["indicator"] == "critical"  # 350 mg of 300 mg
    assert "MedicationRequest/b" in session["detail"]
    assert "at least" in session["detail"]


def test_a_chart_administration_without_a_readable_dose_is_a_caution(formulary: Formulary) -> None:
    prefetch = patient_prefetch()
    prefetch["administrations"] = bundle(
        {
            "resourceType": "MedicationAdministration",
            "status": "completed",
            "medicationCodeableConcept": {"text": "lidocaine injection"},
            "effectiveDateTime": NOW.isoformat(),
            "dosage": {"dose": _q(5, "mL")},  # no strength known: mg unknown
        },
        {
            "resourceType": "MedicationAdministration",
            "status": "completed",
            "medicationCodeableConcept": lidocaine_concept(),
            "effectivePeriod": {"start": "2026-01-01T08:00"},  # no offset: not a time
        },
    )
    chart = read_chart(prefetch, "p1", NOW, formulary, default_tables())
    assert chart.prior_doses == ()
    assert any("not counted" in c for c in chart.cautions)
    assert any("without date, time and offset" in c for c in chart.cautions)


@pytest.mark.parametrize(("days_ago", "counted"), [(1, True), (3, False)])
def test_a_dose_dated_without_a_time_counts_while_it_may_be_within_24_hours(
    formulary: Formulary, days_ago: int, counted: bool
) -> None:
    """A date alone may mean any time of that day in any time zone: a dose dated yesterday
    may have been given an hour ago, so it counts; one dated three days ago cannot have been."""
    prefetch = patient_prefetch()
    given = (NOW - timedelta(days=days_ago)).date().isoformat()
    prefetch["administrations"] = bundle(
        {
            "resourceType": "MedicationAdministration",
            "status": "completed",
            "medicationCodeableConcept": lidocaine_concept(),
            "effectiveDateTime": given,
            "dosage": {"dose": _q(100, "mg")},
        }
    )
    chart = read_chart(prefetch, "p1", NOW, formulary, default_tables())
    assert [(d["agent"], str(d["dose"])) for d in chart.prior_doses] == ([("lidocaine", "100 mg")] if counted else [])
    if counted:  # the card says what it counted, and why, with the date as the chart gave it
        assert any(f"given at {given} (a date without a time" in used for used in chart.used), chart.used
