"""The EHR shell: a mixture as FHIR R4, and the CDS Hooks 2.0 service.

* ``POST /v1/mixtures/fhir``: the body of ``POST /v1/mixtures``; the answer as a draft
  ``MedicationRequest`` (``application/fhir+json``, see :mod:`mixcalc.ehr.write`), its
  warnings as contained ``DetectedIssue`` resources.  A sibling
  operation rather than content negotiation, so that each has one documented answer.
* ``GET /cds-services``: discovery (open).
* ``POST /cds-services/{id}``: a hook call, answered with cards (:mod:`mixcalc.ehr.hook`):
  the prefetch is completed from the EHR's FHIR server when it sent one
  (:mod:`mixcalc.ehr.fetch`, bounded), then the check runs in a worker thread under a
  deadline, so the event loop (and ``/healthz``) never waits on it.
* ``POST /cds-services/{id}/feedback``: acknowledged with an empty 200, as the spec says;
  nothing is stored (the service holds no state).

Hook and feedback calls are authenticated as :mod:`mixcalc.api.cds_auth` describes;
refusals are 401 problems; a replay store that does not answer, a 503.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ..ehr.codes import CodeTables, default_tables
from ..ehr.services import HOOKS, SUMMARY_LIMIT
from ..errors import UnknownService
from ..formulary import Formulary
from ..schema import MixtureRequest
from .cds_auth import CdsAuthSettings, Verifier
from .middleware import KEY_OPTIONAL, document_security
from .problems import documented

__all__ = ["FETCH_SECONDS", "FHIR_JSON", "FHIR_SERVERS_ENV", "HOOK_SECONDS", "install_cds"]

FHIR_JSON = "application/fhir+json"
#: Time budget of a hook call: fetching from the EHR's FHIR server, then the check.
FETCH_SECONDS = 3.0
HOOK_SECONDS = 5.0
#: Comma-separated URL prefixes of the FHIR servers hook calls may make us call (all https
#: servers when unset).
FHIR_SERVERS_ENV = "MIXCALC_CDS_FHIR_SERVERS"
_SECURITY_SCHEME = "cdsJwt"


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


# --- models: the OpenAPI contract of the CDS Hooks exchange ------------------------------------


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Coding(_Open):
    system: str | None = None
    code: str
    display: str | None = None


class CdsServiceDescription(_Open):
    hook: str
    id: str
    title: str
    description: str
    prefetch: dict[str, str]
    usageRequirements: str | None = None


class Discovery(_Open):
    services: list[CdsServiceDescription]


class HookRequest(_Open):
    """A CDS Hooks 2.0 request (order-select or order-sign)."""

    hook: Literal["order-select", "order-sign"] = Field(
        description="The hook that fired; the service called decides how the call is read."
    )
    hookInstance: Annotated[str, Field(max_length=128)]
    fhirServer: str | None = None
    fhirAuthorization: dict[str, Any] | None = Field(
        None, description="Bearer token for fhirServer: what the prefetch lacks is fetched with it (bounded)."
    )
    context: dict[str, Any] = Field(
        description="userId, patientId, encounterId, draftOrders (a Bundle of MedicationRequests), selections"
    )
    prefetch: dict[str, Any] | None = Field(
        None,
        description="patient, weight, height, allergies, conditions, medications, statements, administrations "
        "(see discovery)",
    )


class Source(_Open):
    label: str
    url: str | None = None
    topic: Coding | None = None


class Action(_Open):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(_Open):
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] = []


class Card(_Open):
    uuid: str | None = None
    summary: Annotated[str, Field(max_length=SUMMARY_LIMIT)]
    detail: str | None = Field(None, description="GitHub-flavoured Markdown")
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] | None = None


class HookResponse(_Open):
    cards: list[Card]


class AcceptedSuggestion(_Open):
    id: str


class OverrideReason(_Open):
    reason: Coding | None = None
    userComment: str | None = None


class FeedbackItem(_Open):
    card: str
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: str


class Feedback(_Open):
    feedback: list[FeedbackItem]


# --- the routes ---------------------------------------------------------------------------------


_REFUSED = "The EHR's token is missing or not valid, or no trusted EHR is configured (the detail says which)"
_UNKNOWN = "No CDS service with this id"
_UNAVAILABLE = "The shared replay store (MIXCALC_REPLAY_STORE) did not answer: retry after Retry-After seconds"
_SECURED: dict[str, Any] = {"security": [{_SECURITY_SCHEME: []}]}


def _caller(*, feedback: bool) -> Any:
    """A dependency: the service exists (:class:`UnknownService`, 404) and the caller is
    trusted (401, or 503 when that cannot be checked)."""

    async def check(
        request: Request,
        service_id: Annotated[str, Path(max_length=128, json_schema_extra={"enum": list(HOOKS)})],
    ) -> None:
        if service_id not in HOOKS:
            raise UnknownService(service_id, HOOKS)
        verifier: Verifier = request.app.state.cds_verifier
        path = f"/cds-services/{service_id}"
        audiences = verifier.audiences(path, f"{path}/feedback") if feedback else verifier.audiences(path)
        # Read here rather than declared: the OpenAPI document states it as the cdsJwt scheme.
        # A refused token is a CdsAuthError (401); a replay store that cannot answer, a
        # CdsAuthUnavailable (503): never a token let through unchecked (problems.PROBLEM_TYPES).
        await verifier.verify_in_thread(request.headers.get("authorization"), audiences)

    return Depends(check)


def _router() -> APIRouter:
    """The routes (built when the app is, so that they share the one problem model)."""
    router = APIRouter()

    @router.post(
        "/v1/mixtures/fhir",
        summary="Compute a TPI mixture and answer it as a FHIR R4 MedicationRequest",
        description=(
            "The same request and checks as `POST /v1/mixtures`; the answer is a draft FHIR R4 MedicationRequest "
            "(intent order) with the mixture as a contained Medication, ready to store and sign in an EHR. "
            "Critical and warning findings are contained DetectedIssue resources referenced from detectedIssue "
            "(severity high for critical, moderate for warning)."
        ),
        response_class=FhirResponse,
        responses={
            200: {
                "description": "A draft MedicationRequest",
                "content": {
                    FHIR_JSON: {
                        "schema": {
                            "type": "object",
                            "required": ["resourceType", "status", "intent", "contained", "dosageInstruction"],
                            "properties": {
                                "resourceType": {"type": "string", "enum": ["MedicationRequest"]},
                                "status": {"type": "string", "enum": ["draft"]},
                                "intent": {"type": "string", "enum": ["order"]},
                                "contained": {"type": "array", "items": {"type": "object"}},
                                "dosageInstruction": {"type": "array", "items": {"type": "object"}},
                            },
                        }
                    }
                },
            },
            **documented(400, 401, 413, 415, 422),
        },
        openapi_extra=KEY_OPTIONAL,
        tags=["mixtures"],
    )
    async def post_mixture_fhir(
        request: Request,
        mixture: MixtureRequest,
        subject: Annotated[
            str | None,
            Query(
                pattern=r"^Patient/[A-Za-z0-9.-]{1,64}$",
                description="The patient reference to put in `subject`, e.g. `Patient/123`.",
            ),
        ] = None,
    ) -> Response:
        from ..ehr.exact import computed  # the EHR adapters load at the first call (start-up time)
        from ..ehr.write import medication_request

        formulary: Formulary = request.app.state.formulary
        return FhirResponse(medication_request(computed(mixture, formulary), formulary, subject=subject))

    @router.get(
        "/cds-services",
        summary="CDS Hooks discovery",
        response_model=Discovery,
        response_model_exclude_none=True,
        tags=["cds-hooks"],
    )
    async def get_discovery() -> dict[str, Any]:
        from ..ehr.hook import discovery

        return discovery()

    @router.post(
        "/cds-services/{service_id}",
        summary="CDS Hooks call: dose check of the draft TPI mixture orders",
        response_model=HookResponse,
        response_model_exclude_none=True,
        responses={
            **documented(400, 401, 404, 413, 503, s401=_REFUSED, s404=_UNKNOWN, s503=_UNAVAILABLE),
            **documented(422, s422="Not a CDS Hooks request"),
        },
        openapi_extra=_SECURED,
        tags=["cds-hooks"],
    )
    async def post_hook(
        request: Request,
        service_id: Annotated[str, Path(max_length=128, json_schema_extra={"enum": list(HOOKS)})],
        call: HookRequest,
        _: Annotated[None, _caller(feedback=False)],
    ) -> Any:
        from ..ehr.fetch import complete_call
        from ..ehr.hook import hook_response

        hook = HOOKS[service_id]
        body = call.model_dump()
        prefetch, references = await complete_call(
            body, timeout=FETCH_SECONDS, allowed=request.app.state.cds_fhir_servers
        )
        body["prefetch"] = prefetch
        tables: CodeTables = request.app.state.ehr_tables
        deadline = time.monotonic() + HOOK_SECONDS
        work = partial(
            hook_response,
            hook,
            body,
            request.app.state.formulary,
            tables,
            datetime.now(UTC),
            references=references,
            deadline=deadline,
        )
        with anyio.move_on_after(HOOK_SECONDS + 1):
            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        return _late()

    @router.post(
        "/cds-services/{service_id}/feedback",
        summary="CDS Hooks feedback: acknowledged (empty 200), not stored",
        response_class=Response,
        responses={
            200: {"description": "Acknowledged"},
            **documented(400, 401, 404, 413, 503, s401=_REFUSED, s404=_UNKNOWN, s503=_UNAVAILABLE),
            **documented(422, s422="Not a CDS Hooks feedback document"),
        },
        openapi_extra=_SECURED,
        tags=["cds-hooks"],
    )
    async def post_feedback(feedback: Feedback, _: Annotated[None, _caller(feedback=True)]) -> Response:
        return Response(status_code=200)

    return router


#: The CDS Hooks bearer JWT, as the OpenAPI document describes it.
_JWT_SCHEME: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": (
        "CDS Hooks 2.0: the EHR's JWT signed with an asymmetric key configured in MIXCALC_CDS_ISSUERS "
        "or published at the issuer's configured jwks_url, aud = the URL of the service called "
        "(MIXCALC_CDS_BASE_URL + path), with exp and iat (numbers) and jti (a string)."
    ),
}


def _late() -> dict[str, Any]:
    """The answer when the check did not finish in time: never an empty list."""
    return {
        "cards": [
            {
                "summary": "TPI dose check did not finish in time: doses not checked",
                "indicator": "warning",
                "detail": "mixcalc could not finish checking these orders within its time budget. "
                "The doses were not checked: check them by hand or with a pharmacist.",
                "source": {"label": "mixcalc"},
            }
        ]
    }


def install_cds(app: FastAPI, settings: CdsAuthSettings | None = None) -> None:
    """Adds the FHIR and CDS Hooks routes to ``app`` (settings: from the environment)."""
    app.state.ehr_tables = default_tables()
    servers = os.environ.get(FHIR_SERVERS_ENV, "")
    app.state.cds_fhir_servers = tuple(s.strip() for s in servers.split(",") if s.strip())
    app.state.cds_verifier = Verifier(settings if settings is not None else CdsAuthSettings.from_env())
    app.include_router(_router())
    document_security(app, _SECURITY_SCHEME, _JWT_SCHEME)
