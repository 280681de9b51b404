"""Contract fuzzing: schemathesis drives the in-process app from the committed OpenAPI
file, with all its checks (no 5xx, response schema conformance, negative data rejected,
...).  A bounded run here; a long one with ``HYPOTHESIS_PROFILE=nightly``."""

from __future__ import annotations

from pathlib import Path

import schemathesis

from mixcalc.api import create_app

SPEC = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"

schema = schemathesis.openapi.from_path(str(SPEC))
schema.app = create_app()  # type: ignore[attr-defined]


@schema.parametrize()
def test_api_honours_its_contract(case: schemathesis.Case) -> None:
    case.call_and_validate(app=schema.app)  # type: ignore[attr-defined]
