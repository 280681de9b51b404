"""Pydantic field types for quantities, shared by the formulary models and the request.

Each type accepts ``"0.5 mL"`` or ``{"value": 0.5, "unit": "mL"}`` (see ``units``), turns
it into an :class:`~mixcalc.units.Amount` of one dimension, and documents the accepted
forms in the JSON Schema so that the OpenAPI contract shows them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from .units import Amount, Dimension, QuantityError, quantity_parser, vocabulary

__all__ = [
    "AgeField",
    "ConcentrationField",
    "DosePerWeightField",
    "LengthField",
    "MassField",
    "VolumeField",
    "quantity_schema",
]

_UNITS_BY_DIMENSION: dict[Dimension, list[str]] = {}
for _unit in vocabulary().values():
    _UNITS_BY_DIMENSION.setdefault(_unit.dimension, []).append(_unit.code)
_ALIASES_BY_DIMENSION = {
    Dimension.MASS: ["mcg", "lb"],
    Dimension.LENGTH: ["in"],
    Dimension.CONCENTRATION: ["%", "mcg/mL"],
}


def quantity_schema(dimension: Dimension, example: str) -> dict[str, Any]:
    """The JSON Schema of a quantity of ``dimension``: a string or a value/unit object."""
    codes = _UNITS_BY_DIMENSION[dimension] + _ALIASES_BY_DIMENSION.get(dimension, [])
    text = (
        f'A {dimension.value}: a string such as "{example}" (number, optional space, unit'
        + (', or "1:N" meaning 1 g in N mL' if dimension is Dimension.CONCENTRATION else "")
        + ') or an object {"value": number, "unit": code}. Units: '
        + ", ".join(codes)
        + (" (% is w/v: 1 % = 10 mg/mL)" if dimension is Dimension.CONCENTRATION else "")
        + "."
    )
    return {
        "description": text,
        "oneOf": [
            {"type": "string", "maxLength": 64, "examples": [example]},
            {
                "type": "object",
                "properties": {
                    "value": {"type": "number"},
                    "unit": {"type": "string", "enum": codes},
                },
                "required": ["value", "unit"],
                "additionalProperties": False,
            },
        ],
    }


def _validator(dimension: Dimension, *, allow_zero: bool = False) -> BeforeValidator:
    parse = quantity_parser(dimension, allow_zero=allow_zero)

    def validate(raw: object) -> Amount:
        if isinstance(raw, Amount):
            if raw.dimension is not dimension:
                raise QuantityError(str(raw), f"expected a {dimension.value}")
            return raw
        return parse(raw)

    return BeforeValidator(validate)


_AS_JSON = PlainSerializer(lambda a: {"value": float(a.magnitude), "unit": a.unit.code})

MassField = Annotated[
    Amount, _validator(Dimension.MASS), _AS_JSON, WithJsonSchema(quantity_schema(Dimension.MASS, "10 mg"))
]
VolumeField = Annotated[
    Amount, _validator(Dimension.VOLUME), _AS_JSON, WithJsonSchema(quantity_schema(Dimension.VOLUME, "0.5 mL"))
]
ConcentrationField = Annotated[
    Amount,
    _validator(Dimension.CONCENTRATION),
    _AS_JSON,
    WithJsonSchema(quantity_schema(Dimension.CONCENTRATION, "1 %")),
]
LengthField = Annotated[
    Amount, _validator(Dimension.LENGTH), _AS_JSON, WithJsonSchema(quantity_schema(Dimension.LENGTH, "175 cm"))
]
AgeField = Annotated[
    Amount,
    _validator(Dimension.TIME, allow_zero=True),
    _AS_JSON,
    WithJsonSchema(quantity_schema(Dimension.TIME, "45 a")),
]
DosePerWeightField = Annotated[
    Amount,
    _validator(Dimension.DOSE_PER_WEIGHT),
    _AS_JSON,
    WithJsonSchema(quantity_schema(Dimension.DOSE_PER_WEIGHT, "4.5 mg/kg")),
]
