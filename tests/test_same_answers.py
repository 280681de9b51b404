"""Same answers: the core in three steps (resolve, plan, answer) against the core it
replaced (``tests/oracle_plan.py``, mixcalc/plan.py at cf4b508), byte for byte.

Over random requests (prior doses, epinephrine, several syringes, measured draws, every
dosing-weight rule, children, conditions, refused parts) both give the same JSON answer,
or both refuse with the same error: same class, same pointer, same message.
"""

from __future__ import annotations

from typing import Any

from hypothesis import event, example, given
from oracle_plan import plan_mixture as old_plan_mixture
from strategies import less_tidy_mixtures

from mixcalc.errors import MixcalcError
from mixcalc.formulary import Formulary, default_formulary
from mixcalc.plan import plan_mixture

FORMULARY: Formulary = default_formulary()


def _outcome(plan: Any, request: dict[str, Any]) -> tuple[str, str]:
    try:
        return "answer", plan(request, FORMULARY).model_dump_json()
    except MixcalcError as error:
        return type(error).__name__, f"{getattr(error, 'pointer', '')}: {error}"


@example(
    {  # the README's typical request: lidocaine, bupivacaine and triamcinolone at 6 sites
        "sites": 6,
        "components": [
            {"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "0.5 mL"},
            {"agent": "bupivacaine", "concentration": "0.25 %", "volume_per_site": "0.5 mL"},
            {"agent": "triamcinolone-acetonide", "concentration": "40 mg/mL", "dose_per_site": "10 mg"},
        ],
        "patient": {"weight": "70 kg", "height": "175 cm", "sex": "female"},
    }
)
@example(
    {  # a prior dose of an agent outside the mixture, epinephrine, a child without weight
        "sites": 3,
        "components": [
            {"agent": "lidocaine", "concentration": "1 %", "epinephrine": "1:100000", "dose_per_site": "7 mg"}
        ],
        "patient": {"age": "3 a"},
        "prior_doses": [{"agent": "bupivacaine", "dose": "20 mg"}],
    }
)
@given(less_tidy_mixtures())
def test_the_three_steps_answer_as_the_old_core_byte_for_byte(request: dict[str, Any]) -> None:
    new = _outcome(plan_mixture, request)
    event(new[0])
    assert new == _outcome(old_plan_mixture, request)
