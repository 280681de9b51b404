"""Worked clinical examples: each golden file holds a request, the source of the
example, the figures the answer must carry and the exact set of warning codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mixcalc import plan_mixture

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.json"))


def _at(answer: dict[str, Any], path: str) -> Any:
    node: Any = answer
    for part in path.split("."):
        if part.isdigit():
            node = node[int(part)]
        elif isinstance(node, list):  # components are addressed by agent id
            node = next(item for item in node if item.get("agent") == part)
        else:
            node = node[part]
    return node


def test_there_are_golden_cases() -> None:
    assert len(GOLDEN) >= 8


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_case(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert case["source"], "every golden case cites its source"
    answer = plan_mixture(case["request"]).model_dump(mode="json")
    for where, expected in case["expect"].items():
        assert _at(answer, where) == expected, f"{case['title']}: {where}"
    codes = sorted({w["code"] for w in answer["warnings"]})
    assert codes == sorted(case["warning_codes"]), case["title"]
