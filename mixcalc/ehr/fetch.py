"""Completing a hook call from the EHR's FHIR server (``fhirServer`` with
``fhirAuthorization``), bounded in time, size and count.

``MIXCALC_CDS_FHIR_SERVERS`` (comma-separated URL prefixes, read by the shell) limits which
servers may be called at all.  Only what the call lacks is fetched: prefetch keys that are absent (the discovery
templates with the patient id filled in) and Medications that draft orders refer to
but the call does not contain.  A fetch that fails leaves an ``OperationOutcome`` in its
prefetch key, so the card says it "could not be fetched"; nothing here raises.  Plain
``http`` is accepted only for a loopback server (tests, a local EHR sandbox).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

from .hook import PREFETCH
from .jsonsafe import json_array, json_object, json_str
from .orders import ORDER_TYPES, medication_references, unresolved_reference

if TYPE_CHECKING:
    import httpx2

__all__ = ["MAX_FETCHES", "MAX_RESPONSE_BYTES", "complete_call"]

MAX_RESPONSE_BYTES = 1024 * 1024
MAX_FETCHES = 24
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _server(value: object, allowed: tuple[str, ...] = ()) -> str | None:
    """The FHIR server URL when it may be called: https (http only on loopback), and,
    when ``allowed`` prefixes are configured, under one of them."""
    url = json_str(value, 500)
    if url is None:
        return None
    parts = urlsplit(url)
    if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)):
        return None
    if allowed and not any(url.startswith(prefix) for prefix in allowed):
        return None
    return url.rstrip("/")


async def _get(client: httpx2.AsyncClient, url: str) -> Mapping[str, Any] | None:
    import httpx2  # here, at the first fetch: ~15 ms of the service's start

    try:
        async with client.stream("GET", url, headers={"accept": "application/fhir+json"}) as response:
            if response.status_code != 200:
                return None
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    return None
    except httpx2.HTTPError:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _failed(key: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "exception", "diagnostics": f"{key}: could not be fetched"}],
    }


async def complete_call(
    call: Mapping[str, Any], *, timeout: float, allowed: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Mapping[str, Any]]]:
    """(prefetch completed, Medications fetched by reference) for a hook call; within
    ``timeout`` seconds in all; only from a server under one of ``allowed`` when given."""
    prefetch = dict(json_object(call.get("prefetch")))
    server = _server(call.get("fhirServer"), allowed)
    if server is None:
        return prefetch, {}
    context = json_object(call.get("context"))
    patient = json_str(context.get("patientId"), 64)
    token = json_str(json_object(call.get("fhirAuthorization")).get("access_token"), 8000)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    wanted: dict[str, str] = {}
    if patient is not None and patient.replace("-", "").replace(".", "").isalnum():
        for key, template in PREFETCH.items():
            if prefetch.get(key) is None:
                wanted[key] = template.replace("{{context.patientId}}", patient)
    bundle = json_object(context.get("draftOrders"))
    known = medication_references(bundle, *prefetch.values())
    references = []
    for entry in json_array(bundle.get("entry"))[:200]:
        resource = json_object(json_object(entry).get("resource"))
        target = unresolved_reference(resource) if str(resource.get("resourceType")) in ORDER_TYPES else None
        if target is not None and target not in known and target not in references:
            references.append(target)
    fetched: dict[str, Mapping[str, Any]] = {}
    jobs = (
        list(wanted.items())[:MAX_FETCHES] + [(f"ref:{r}", r) for r in references][: max(0, MAX_FETCHES - len(wanted))]
    )
    for key in list(wanted)[MAX_FETCHES:]:
        prefetch[key] = _failed(key)
    results: dict[str, Mapping[str, Any] | None] = {}

    async def one(key: str, path: str) -> None:
        url = path if path.startswith(("https://", "http://")) else f"{server}/{path}"
        if _server(url, allowed) is None or not url.startswith(server):
            results[key] = None
            return
        results[key] = await _get(client, url)

    import httpx2  # here, at the first fetch: ~15 ms of the service's start

    async with httpx2.AsyncClient(headers=headers, timeout=timeout, follow_redirects=False) as client:
        with anyio.move_on_after(timeout):
            async with anyio.create_task_group() as group:
                for key, path in jobs:
                    group.start_soon(one, key, path)
    for key, path in jobs:
        data = results.get(key)
        if key.startswith("ref:"):
            if data is not None and data.get("resourceType") == "Medication":
                fetched[path] = data
        else:
            prefetch[key] = data if data is not None else _failed(key)
    return prefetch, fetched
