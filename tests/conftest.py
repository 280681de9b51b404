from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mixcalc.api import create_app
from mixcalc.formulary import Formulary, default_formulary

try:  # the strategies module is shared by the property tests
    from strategies import register_profiles
except ImportError:  # pragma: no cover - only while strategies.py is being written
    register_profiles = None

if register_profiles is not None:
    register_profiles()


@pytest.fixture(scope="session")
def formulary() -> Formulary:
    return default_formulary()


@pytest.fixture(scope="session")
def client(formulary: Formulary) -> Iterator[TestClient]:
    with TestClient(create_app(formulary), raise_server_exceptions=False) as test_client:
        yield test_client


EXAMPLE_REQUEST = {
    "sites": 6,
    "components": [
        {"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "0.5 mL"},
        {
            "agent": "bupivacaine",
            "concentration": {"value": 0.25, "unit": "%"},
            "volume_per_site": {"value": 0.5, "unit": "mL"},
        },
        {"agent": "triamcinolone-acetonide", "concentration": "40 mg/mL", "dose_per_site": "10 mg"},
    ],
    "patient": {"weight": "70 kg", "height": "175 cm", "sex": "female", "age": "45 a"},
    "syringe": "10 mL",
}
