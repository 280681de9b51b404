"""The answer's fast path: ``answer_json`` builds the answer as plain data and serialises
it once (orjson); ``MixtureResponse`` stays the documented contract.  Its bytes validate
against the model, are exactly the model's own ``model_dump_json()`` (key order, nulls,
float repr), and are the old core's bytes."""

from __future__ import annotations

from typing import Any

import orjson
import pydantic_core
import pytest
from hypothesis import given
from oracle_plan import plan_mixture as old_plan_mixture
from strategies import less_tidy_mixtures, mixtures

from mixcalc.answer import answer, answer_json
from mixcalc.errors import MixcalcError
from mixcalc.formulary import Formulary, default_formulary
from mixcalc.plan import compute, plan_mixture_json
from mixcalc.resolve import resolve
from mixcalc.schema import MixtureRequest, MixtureResponse

FORMULARY: Formulary = default_formulary()


def _check(request: dict[str, Any]) -> None:
    validated = MixtureRequest.model_validate(request)
    try:
        plan = compute(resolve(validated, FORMULARY), FORMULARY)
    except MixcalcError:
        return  # refusals are compared with the old core's in test_same_answers
    fast = answer_json(plan)
    model = MixtureResponse.model_validate_json(fast)
    assert model.model_dump_json().encode() == fast
    assert answer(plan) == model
    assert answer(plan).model_dump_json().encode() == fast
    assert plan_mixture_json(validated, FORMULARY) == fast
    assert old_plan_mixture(request, FORMULARY).model_dump_json().encode() == fast


@given(mixtures(with_prior_doses=True))
def test_the_fast_bytes_are_the_contract_models_bytes(request: dict[str, Any]) -> None:
    _check(request)


@given(less_tidy_mixtures())
def test_the_fast_bytes_are_the_old_cores_bytes_for_less_tidy_requests(request: dict[str, Any]) -> None:
    _check(request)


@pytest.mark.parametrize(
    "value",
    [0.1, 1e-05, 2.5e-05, 1e-07, 1e16, 1e15, 1e22, 5.0, 0.0, -0.0, 70.0, 0.30000000000000004, 123456789012.3456],
)
def test_orjson_writes_a_float_as_pydantic_does(value: float) -> None:
    assert orjson.dumps(value) == pydantic_core.to_json(value)
