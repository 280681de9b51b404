"""Laws of the body guard (mixcalc.api.body.check_json): within its limits it reads JSON
exactly as json.loads does; past them it refuses, whatever the document around."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import json_documents

from mixcalc.api.body import MAX_DEPTH, MAX_NUMBER_CHARS, BodyRefused, check_json


def _refused(body: bytes) -> BodyRefused:
    with pytest.raises(BodyRefused) as caught:
        check_json(body)
    return caught.value


@given(json_documents())
@example({"sites": 6, "components": [{"agent": "lidocaine", "concentration": {"value": 1, "unit": "%"}}]})
@example("[[[[" * 100)  # brackets inside a string do not nest
@example({"id": "\U0001f489"})  # written as the escape pair \ud83d\udc89: one character
@example("\\ud800")  # an escaped backslash before "ud800" is text, not a surrogate
@example(1.7976931348623157e308)
def test_a_document_within_the_limits_reads_as_json_loads_reads_it(document: Any) -> None:
    for ensure_ascii in (True, False):
        body = json.dumps(document, ensure_ascii=ensure_ascii).encode()
        assert check_json(body) == json.loads(body)


def _nest(document: Any, kinds: list[bool]) -> Any:
    for as_object in kinds:
        document = {"k": document} if as_object else [document]
    return document


@given(json_documents(max_leaves=4), st.lists(st.booleans(), min_size=MAX_DEPTH + 1, max_size=600))
@example(6, [False] * 486)
def test_nesting_past_the_limit_is_refused_before_parsing(inner: Any, kinds: list[bool]) -> None:
    refused = _refused(json.dumps(_nest(inner, kinds)).encode())
    assert refused.slug == "json-too-deep"


def test_nesting_at_the_limit_is_read() -> None:
    document = _nest(1, [True, False] * (MAX_DEPTH // 2))
    assert check_json(json.dumps(document).encode()) == document


@given(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=5), st.sampled_from(["\ud800", "\udfff"]))
@example(["patient", "sex"], "\ud800")
@example(["a/b", "c~d"], "\udc00")
def test_a_lone_surrogate_is_refused_with_the_pointer_of_its_string(keys: list[str], surrogate: str) -> None:
    document: Any = "x" + surrogate
    for key in reversed(keys):
        document = {key: document}
    refused = _refused(json.dumps(document).encode())  # ensure_ascii: written as a \\u escape
    assert refused.slug == "invalid-unicode"
    assert refused.pointer == "".join("/" + k.replace("~", "~0").replace("/", "~1") for k in keys)


@given(
    st.lists(st.text(min_size=1, max_size=6), min_size=0, max_size=4),
    st.text(min_size=1, max_size=6),
    json_documents(max_leaves=3),
    json_documents(max_leaves=3),
)
@example([], "sites", 2, 20)  # which of the two a dose was computed from would be the reader's guess
@example(["patient"], "weight", "70 kg", "70 kg")  # refused even when the two values agree
@example(["a/b"], "c~d", 1, 2)
def test_a_key_named_twice_in_an_object_is_refused_with_its_pointer(
    path: list[str], key: str, first: Any, second: Any
) -> None:
    name = json.dumps(key)
    text = f"{{{name}: {json.dumps(first)}, {name}: {json.dumps(second)}}}"
    for outer in reversed(path):
        text = "{" + json.dumps(outer) + ": " + text + "}"
    refused = _refused(text.encode())
    assert refused.slug == "duplicate-key"
    assert refused.pointer == "".join("/" + k.replace("~", "~0").replace("/", "~1") for k in [*path, key])


def test_the_same_key_in_two_objects_is_no_duplicate() -> None:
    body = b'{"components": [{"agent": "lidocaine"}, {"agent": "bupivacaine"}], "patient": {"agent": 1}}'
    assert check_json(body) == json.loads(body)


@given(st.integers(min_value=MAX_NUMBER_CHARS + 1, max_value=5000))
@example(4000)
def test_a_number_longer_than_the_limit_is_refused(digits: int) -> None:
    assert _refused(b'{"sites": ' + b"7" * digits + b"}").slug == "number-out-of-range"


@pytest.mark.parametrize(
    ("body", "slug"),
    [
        (b"[1e400]", "number-out-of-range"),
        (b"[-1e400]", "number-out-of-range"),
        (b"[NaN]", "malformed-json"),
        (b"[Infinity]", "malformed-json"),
        (b"\xef\xbb\xbf{}", "malformed-json"),  # a UTF-8 byte order mark is not JSON text
        (b"\xff", "invalid-encoding"),
    ],
)
def test_what_json_loads_would_accept_but_json_is_not_is_refused(body: bytes, slug: str) -> None:
    assert _refused(body).slug == slug


@pytest.mark.parametrize("body", [b"", b"  \r\n"])
def test_an_empty_body_is_left_to_the_route(body: bytes) -> None:
    assert check_json(body) is None
