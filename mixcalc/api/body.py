"""The one safe reader of JSON request bodies.

Every JSON route's body passes :func:`check_json` (through the ``BodyGuard`` middleware)
before any parser that recurses or any model sees it.  Each refusal is a
:class:`BodyRefused` with the facts of an RFC 9457 problem; the checks, in order:

* the bytes are UTF-8 (``invalid-encoding``);
* brackets nest at most :data:`MAX_DEPTH` deep, counted by a linear scan *before*
  ``json.loads`` recurses (``json-too-deep``);
* the text is JSON: no ``NaN``/``Infinity`` literals, no number longer than
  :data:`MAX_NUMBER_CHARS` characters or beyond a double (``malformed-json``,
  ``number-out-of-range``);
* no string or key holds a lone UTF-16 surrogate such as ``"\\ud800"``, which no UTF-8
  text can carry (``invalid-unicode``, with the JSON pointer of the string);
* no object names a key twice (``duplicate-key``, with the JSON pointer of the second):
  JSON leaves the meaning of ``{"sites": 2, "sites": 20}`` to the reader (RFC 8259
  section 4), and a dose computed from the last of two values when the sender, a proxy
  or a log read the first is a number nobody can stand behind.

The body's size is bounded before it is read (see ``BodyGuard``); nothing here echoes
the body, and no refusal carries a value sent.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

from ..errors import BodyRefused

__all__ = ["JSON_DOCUMENT", "MAX_DEPTH", "MAX_NUMBER_CHARS", "BodyRefused", "check_json"]

#: The scope key under which ``BodyGuard`` leaves the document :func:`check_json` returned,
#: so that a route reads it rather than parsing the body again.
JSON_DOCUMENT: Final = "mixcalc.json_document"

#: Deepest nesting of arrays and objects accepted (a mixture is 4 deep, a CDS Hooks call ~12).
MAX_DEPTH: Final = 32
#: Longest number accepted, in characters (a double has 17 significant digits).
MAX_NUMBER_CHARS: Final = 40

_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string, escapes included
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _depth_exceeds(outside_strings: bytes, limit: int) -> bool:
    """Whether arrays and objects nest deeper than ``limit`` (in a body without its strings)."""
    depth = 0
    for byte in outside_strings.translate(None, _NOT_BRACKETS):
        if byte in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _too_deep(body: bytes) -> bool:
    """Whether arrays and objects nest deeper than :data:`MAX_DEPTH`, counted without parsing."""
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return False  # the usual body ends here
    return _depth_exceeds(_STRING.sub(b"", body), MAX_DEPTH)


def _number(text: str) -> float | int:
    """A JSON number's value, its length bounded before conversion (int() of 4,000 digits is slow)."""
    if len(text) > MAX_NUMBER_CHARS:
        raise BodyRefused(
            "number-out-of-range", "Number out of range", f"a number has more than {MAX_NUMBER_CHARS} characters"
        )
    if "." in text or "e" in text or "E" in text:
        value = float(text)
        if not math.isfinite(value):
            raise BodyRefused("number-out-of-range", "Number out of range", "a number is beyond the range of a double")
        return value
    return int(text)


def _not_json(name: str) -> Any:
    raise BodyRefused("malformed-json", "Malformed JSON", f"{name} is not JSON (send numbers as numbers)")


_DUPLICATE_KEY: Final = "duplicate-key"


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):  # where: worked out by check_json (see _duplicate_at)
        raise BodyRefused(_DUPLICATE_KEY, "Duplicate key", "an object names a key twice")
    return document


_DECODER: Final = json.JSONDecoder(
    parse_float=_number, parse_int=_number, parse_constant=_not_json, object_pairs_hook=_object
)


class _Pairs(list[tuple[str, Any]]):
    """An object as its key-value pairs, in order, duplicates kept (for :func:`_duplicate_at`)."""


def _duplicate_at(text: str) -> str:
    """The JSON pointer of a key that an object of ``text`` names a second time (the
    shallowest such key)."""
    document = json.loads(text, object_pairs_hook=_Pairs)  # decoded once already, so valid
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        value, pointer = stack.pop(0)
        if isinstance(value, _Pairs):
            seen: set[str] = set()
            for key, item in value:
                if key in seen:
                    return f"{pointer}/{_escape(key)}"
                seen.add(key)
                stack.append((item, f"{pointer}/{_escape(key)}"))
        elif isinstance(value, list):
            stack.extend((item, f"{pointer}/{n}") for n, item in enumerate(value))
    raise AssertionError("no duplicate key found")  # pragma: no cover - only called when the decoder found one


def _escape(key: str) -> str:
    """A key as a JSON pointer token; a lone surrogate in it shown as its escape (printable, loggable)."""
    shown = _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", key)
    return shown.replace("~", "~0").replace("/", "~1")


def _lone_surrogate_at(document: Any) -> str | None:
    """The JSON pointer of the first string or key with a lone surrogate, or ``None``."""
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        value, pointer = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return pointer
        elif isinstance(value, dict):
            for key, item in value.items():
                if _SURROGATE.search(key):
                    return f"{pointer}/{_escape(key)}"
                stack.append((item, f"{pointer}/{_escape(key)}"))
        elif isinstance(value, list):
            stack.extend((item, f"{pointer}/{n}") for n, item in enumerate(value))
    return None


def check_json(body: bytes) -> Any:
    """The JSON document in ``body``, or :class:`BodyRefused` saying why not.

    An empty body is returned as ``None`` (the route says what it expected)."""
    if not body.strip():
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyRefused("invalid-encoding", "Invalid encoding", "the request body is not valid UTF-8") from None
    if _too_deep(body):
        raise BodyRefused(
            "json-too-deep", "JSON nested too deeply", f"arrays and objects nest more than {MAX_DEPTH} levels deep"
        )
    try:
        document = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        detail = f"the request body is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        raise BodyRefused("malformed-json", "Malformed JSON", detail) from None
    except BodyRefused as refused:
        if refused.slug != _DUPLICATE_KEY:
            raise
        twice = _duplicate_at(text)
        raise BodyRefused(
            _DUPLICATE_KEY,
            refused.title,
            f"{twice}: an object names this key twice; send each key once",
            pointer=twice,
        ) from None
    except RecursionError:  # pragma: no cover - the depth scan refuses these first
        raise BodyRefused("json-too-deep", "JSON nested too deeply", "the request body nests too deeply") from None
    if _SURROGATE_ESCAPE.search(body):
        pointer = _lone_surrogate_at(document)
        if pointer is not None:
            raise BodyRefused(
                "invalid-unicode",
                "Invalid Unicode",
                f"{pointer or '/'}: a string holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), "
                "which is not a character",
                pointer=pointer,
            )
    return document
