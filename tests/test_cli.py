"""The command line: verdict first, exit status by severity, draws with strengths, ages as
people type them, the listings, and the README's sample output (checked here, so it
cannot go stale)."""

from __future__ import annotations

import os
import re
import shlex
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mixcalc import display
from mixcalc.cli import EXIT_BROKEN_PIPE, EXIT_CRITICAL, EXIT_OK, EXIT_USAGE, EXIT_WARNINGS, main

README = Path(__file__).resolve().parent.parent / "README.md"
LIDO_BUPI = ["--sites", "6", "-c", "lidocaine,1%,0.5mL", "-c", "bupivacaine,0.25%,0.5mL"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["plan", *argv] if argv and argv[0].startswith("-") else list(argv))
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_plan_within_limits_exits_0_and_says_ok_first(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *LIDO_BUPI, "--weight", "70kg", "--age", "45")
    assert code == EXIT_OK
    assert out.startswith("OK: no warning")


def test_info_notes_do_not_count_toward_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    # Two local anesthetics in one syringe: an info note (off-label mixture) and nothing else.
    code, out, _ = run(capsys, *LIDO_BUPI, "--weight", "70kg")
    assert "Notes (" in out
    assert code == EXIT_OK


def test_a_warning_exits_1_and_the_verdict_says_check(capsys: pytest.CaptureFixture[str]) -> None:
    # 4 mL of lidocaine 1 % at 6 sites for 60 kg is 240 of 270 mg: near the limit.
    code, out, _ = run(capsys, "--sites", "6", "-c", "lidocaine,1%,4mL", "--weight", "60kg")
    assert code == EXIT_WARNINGS
    assert out.startswith("CHECK: ")


def test_an_over_limit_plan_exits_3_and_stop_comes_before_the_draws(capsys: pytest.CaptureFixture[str]) -> None:
    # 6 mL of lidocaine 1 % at 6 sites for 60 kg is 360 of 270 mg: 133.3 %, shown as 134 %.
    code, out, _ = run(capsys, "--sites", "6", "-c", "lidocaine,1%,6mL", "--weight", "60kg")
    assert code == EXIT_CRITICAL
    lines = out.splitlines()
    assert lines[0].startswith("STOP: 1 critical warning")
    assert "134 %" in out
    assert "133.3" not in out
    assert out.index("STOP") < out.index("draw ")


def test_usage_errors_exit_2_and_name_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--sites", "6", "-c", "lidocaine,30%,1mL")
    assert code == EXIT_USAGE
    assert "/components/0/concentration" in err
    code, _, err = run(capsys, "plan")
    assert code == EXIT_USAGE
    assert "--sites" in err
    code, _, err = run(capsys, "--sites", "6", "-c", "nonsense")
    assert code == EXIT_USAGE


def test_draws_carry_the_stock_strength_and_the_dose(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, *LIDO_BUPI, "--weight", "70kg")
    assert "lidocaine 1 % (10 mg/mL): draw 3 mL  (30 mg)" in out
    assert "bupivacaine 0.25 % (2.5 mg/mL): draw 3 mL  (7.5 mg)" in out


def test_a_per_site_volume_is_shown_as_the_syringe_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    # 7.4 mL in a 10 mL syringe read in 0.2 mL steps over 6 sites is 1.2333 mL: about 1.2 mL.
    _, out, _ = run(
        capsys,
        *LIDO_BUPI,
        "-c",
        "triamcinolone-acetonide,40mg/mL,10mg",
        "--weight",
        "70kg",
        "--syringe",
        "10mL",
    )
    assert "inject about 1.2 mL per site" in out
    assert "1.2333" not in out


@pytest.mark.parametrize(("typed", "years"), [("45", True), ("45 y", True), ("45y", True), ("45 years", True)])
def test_ages_in_years_as_people_type_them(capsys: pytest.CaptureFixture[str], typed: str, years: bool) -> None:
    code, _, err = run(capsys, *LIDO_BUPI, "--weight", "70kg", "--age", typed, "--json")
    assert code in (EXIT_OK, EXIT_WARNINGS), err


def test_an_age_in_months(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--sites", "1", "-c", "lidocaine,1%,0.5mL", "--weight", "7kg", "--age", "6 mo")
    assert code != EXIT_USAGE, err
    assert out


def test_an_ambiguous_age_is_refused_with_the_forms_that_work(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *LIDO_BUPI, "--age", "6m")
    assert code == EXIT_USAGE
    assert "6 mo" in err


def test_plan_help_has_examples_exit_codes_agents_and_conditions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "--help")
    assert code == 0
    assert "examples:" in out
    assert "3 critical" in out
    assert "triamcinolone-acetonide" in out
    assert "anticoagulation" in out


def test_agents_and_conditions_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "agents")
    assert code == 0
    assert re.search(r"^lidocaine\s+lidocaine \(local-anesthetic\): 0.5 % \(5 mg/mL\)", out, re.MULTILINE)
    code, out, _ = run(capsys, "conditions")
    assert code == 0
    assert re.search(r"^anticoagulation\s+takes an anticoagulant", out, re.MULTILINE)


def test_the_report_names_agents_never_ids(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, *LIDO_BUPI, "-c", "triamcinolone-acetonide,40mg/mL,10mg", "--weight", "70kg")
    assert "triamcinolone-acetonide" not in out
    assert "triamcinolone acetonide" in out


def test_the_rescue_and_the_largest_volume_per_site_are_shown(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, *LIDO_BUPI, "--weight", "60kg")
    assert "bolus 90 mL" in out
    assert "Largest volume per site that breaks no limit:" in out


def test_the_readme_sample_output_is_what_the_cli_prints(capsys: pytest.CaptureFixture[str]) -> None:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"```sh\n(\.venv/bin/mixcalc plan [^`]*?)\n```\n\n```text\n(.*?)```", text, re.DOTALL)
    assert found, "README: no `.venv/bin/mixcalc plan` example followed by its ```text output"
    argv = shlex.split(found.group(1).replace("\\\n", " "))[1:]
    code, out, err = run(capsys, *argv)
    assert code != EXIT_USAGE, err
    assert found.group(2) == out, f"README's sample output is stale; replace the ```text block with:\n{out}"


# --- the display rules the CLI and the page share (mixcalc.display; the page's format.js) ----


@pytest.mark.parametrize(
    ("fraction", "shown"),
    [("1.0029", "101 %"), ("0.1333", "14 %"), ("0.14", "14 %"), ("1", "100 %"), ("0", "0 %"), ("12.5", "1,250 %")],
)
def test_percent_is_whole_and_rounded_up(fraction: str, shown: str) -> None:
    assert display.percent(Decimal(fraction)) == shown


@given(st.decimals(min_value=0, max_value=50, places=4))
@example(Decimal("0.8"))
def test_law_a_shown_percent_never_understates_a_load_and_is_under_one_point_above(fraction: Decimal) -> None:
    shown = Decimal(display.percent(fraction).removesuffix(" %").replace(",", ""))
    assert fraction * 100 <= shown < fraction * 100 + 1


@pytest.mark.parametrize(
    ("volume", "graduation", "shown"),
    [
        ("1.2333", "0.2", "about 1.2 mL"),
        ("1.2", "0.2", "1.2 mL"),
        ("0.25", "0.01", "0.25 mL"),
        ("1.25", "0.1", "about 1.2 mL"),  # an exact half goes to even
        ("3", "1", "3 mL"),
        ("10", "0.2", "10 mL"),
    ],
)
def test_a_volume_is_shown_as_its_syringe_is_read(volume: str, graduation: str, shown: str) -> None:
    assert display.volume_read(Decimal(volume), Decimal(graduation)) == shown


def test_a_reader_that_goes_away_early_is_no_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """``mixcalc plan ... | head -1``: when the reader closes the pipe, the CLI ends quietly
    with the shell's SIGPIPE status instead of a traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone: every write now fails with EPIPE
    with open(write_end, "w", encoding="utf-8") as broken:
        monkeypatch.setattr(sys, "stdout", broken)
        code = main(["plan", "--sites", "6", "-c", "lidocaine,1%,5mL", "--weight", "70kg"])
    assert code == EXIT_BROKEN_PIPE


@pytest.mark.parametrize(
    ("amount", "said"),
    [
        ("0mL", "/components/0/volume_per_site: must be greater than zero"),  # the API names the right field
        ("0mg", "/components/0/dose_per_site: must be greater than zero"),
        ("-1 mL", "'-1 mL' is neither a volume (e.g. 0.5mL) nor a dose (e.g. 10mg): must not be negative"),
        ("1e308mL", "exponent notation (1e3) is not accepted"),
        ("5 mgs", "unknown unit 'mgs'"),
    ],
)
def test_a_bad_amount_per_site_is_named_with_what_is_wrong(
    capsys: pytest.CaptureFixture[str], amount: str, said: str
) -> None:
    code, out, err = run(capsys, "--sites", "2", "-c", f"lidocaine,1%,{amount}", "--weight", "70kg")
    assert code == EXIT_USAGE
    assert out == ""
    assert said in err, err


def test_a_request_file_is_read_as_json_with_each_key_once(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(
        '{"sites": 2, "components": [{"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "0.5 mL"}],'
        ' "patient": {"weight": "70 kg"}}'
    )
    code, out, _ = run(capsys, "plan", "--request", str(good))
    assert code == EXIT_OK
    assert "2 sites" in out
    twice = tmp_path / "twice.json"
    twice.write_text(good.read_text()[:-1] + ', "sites": 20}')  # which one counts would be the reader's guess
    code, out, err = run(capsys, "plan", "--request", str(twice))
    assert code == EXIT_USAGE
    assert out == ""
    assert "'sites' twice" in err
