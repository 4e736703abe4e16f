"""Errors as RFC 9457 problem details, and the guard on request bodies, for the HTTP API.

Every error the API answers is a `Problem` (`application/problem+json`) whose `type` is an
anchor of the HTTP API page, where each kind is documented. An endpoint raises
`ProblemError`; `EXCEPTION_HANDLERS` turn FastAPI's own errors (validation, unknown paths)
and any failure into problems too, so no answer carries a traceback.
"""

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from order_service.contract.validation import bounded

__all__ = [
    "EXCEPTION_HANDLERS",
    "MAX_BODY_BYTES",
    "PROBLEM_BASE",
    "PROBLEM_TYPES",
    "FieldProblem",
    "Problem",
    "ProblemError",
    "RequestGuard",
]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16_384
"""The largest request body accepted; a larger one gets 413 before it is read whole."""

PROBLEM_BASE = "https://example.invalid/order-service-design/design/http-api/#"
"""Problem `type` URIs are anchors of the HTTP API page, which documents each one."""

PROBLEM_TYPES = {
    "malformed-request": "The request is not well-formed",
    "invalid-request": "A field of the request is invalid",
    "not-found": "No such order",
    "not-yet-projected": "The read model does not hold the order yet",
    "command-rejected": "The command breaks a rule of the order",
    "concurrency-conflict": "Another command changed the order first",
    "precondition-failed": "The order has moved on from the version in If-Match",
    "idempotency-key-reused": "The Idempotency-Key was used for another request",
    "payload-too-large": "The request body is too large",
    "unsupported-media-type": "The request body must be JSON",
    "method-not-allowed": "The resource does not accept this method",
    "unplaced-stream": "The order's stored events do not start with its placing",
    "internal-error": "The server failed",
    "database-unavailable": "The database cannot be reached; retry later",
}
"""Every problem `type` the API answers with (the part after `#`), and its title."""


class FieldProblem(BaseModel):
    """One invalid part of a request."""

    location: str = Field(description='Where: "body", "query", "path" or "header".')
    field: str = Field(description='The field, e.g. "line/quantity"; "" for the whole body.')
    message: str = Field(description="What is wrong with it.")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (`application/problem+json`)."""

    type: str = Field(description="A URI naming the kind of problem; the page documents each.")
    title: str = Field(description="The kind of problem, in words.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="This occurrence, naming the rule, field or version.")
    rule: str | None = Field(default=None, description="The business rule a command broke.")
    errors: list[FieldProblem] | None = Field(
        default=None, description="Each invalid field (400 and 422)."
    )
    current_version: int | None = Field(
        default=None, description="The order's version now (409 conflict, 412)."
    )


class ProblemError(Exception):
    """Raised by an endpoint to answer with a problem."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.problem = Problem(
            type=PROBLEM_BASE + kind,
            title=PROBLEM_TYPES[kind],
            status=status,
            detail=detail,
            **extensions,
        )
        self.headers = dict(headers or {})


def problem_response(error: ProblemError) -> JSONResponse:
    """The problem as `application/problem+json`, absent members left out."""
    return JSONResponse(
        error.problem.model_dump(exclude_none=True),
        status_code=error.problem.status,
        headers=error.headers,
        media_type="application/problem+json",
    )


def _field_problems(error: RequestValidationError) -> list[FieldProblem]:
    problems = []
    for item in error.errors():
        location, *path = (str(part) for part in item.get("loc", ()))
        field = bounded("/".join(path))  # a field name the client made up: echoed in part
        problems.append(
            FieldProblem(location=location, field=field, message=bounded(item["msg"], 320))
        )
    return problems


def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    if any(item.get("type") == "json_invalid" for item in error.errors()):
        detail = "the body is not valid JSON"
        problems = [FieldProblem(location="body", field="", message=detail)]
        return problem_response(ProblemError(400, "malformed-request", detail, errors=problems))
    problems = _field_problems(error)
    summary = "; ".join(
        f"{p.location} {p.field}: {p.message}" if p.field else f"{p.location}: {p.message}"
        for p in problems
    )
    if all(p.location == "header" for p in problems):
        return problem_response(ProblemError(400, "malformed-request", summary, errors=problems))
    return problem_response(ProblemError(422, "invalid-request", summary, errors=problems))


_HTTP_KINDS = {
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    kind = _HTTP_KINDS.get(error.status_code, "malformed-request")
    status = error.status_code if error.status_code in _HTTP_KINDS else 400
    detail = f"{request.method} {request.url.path}: {error.detail}"
    return problem_response(ProblemError(status, kind, detail, headers=error.headers))


def _internal_error(request: Request, error: Exception) -> JSONResponse:
    # Called outside the `except` that caught it: the traceback is the error's own, passed in
    # (`log.exception` here would log "NoneType: None").
    log.error("%s %s failed", request.method, request.url.path, exc_info=error)
    detail = "the server failed to answer; the error is in its log (no traceback is sent)"
    return problem_response(ProblemError(500, "internal-error", detail))


class RequestGuard:
    """ASGI middleware: a body must be JSON (else 415) and at most `limit` bytes (else 413).

    The size is checked on the declared `Content-Length` and again while the body streams
    in, so a chunked body cannot slip past it; the body is then handed on whole.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            detail = f"the request body is over {self.limit} bytes, or its length is not valid"
            await self._refuse(scope, send, 413, "payload-too-large", detail)
            return
        has_body = declared != b"0" or b"transfer-encoding" in headers
        media_type, *parameters = headers.get(b"content-type", b"").lower().split(b";")
        media_type = media_type.strip()
        if has_body and not _is_json(media_type):
            detail = f"the body is sent as {_shown(media_type)!r}; send it as application/json"
            await self._refuse(scope, send, 415, "unsupported-media-type", detail)
            return
        charset = _charset(parameters)
        if has_body and charset not in (None, b"utf-8", b"utf8"):
            detail = f"the body is sent in charset {_shown(charset)!r}; JSON over HTTP is UTF-8"
            await self._refuse(scope, send, 415, "unsupported-media-type", detail)
            return
        body = b""  # read whole before the app sees it: at most `limit` bytes are kept
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > self.limit:
                detail = f"the request body is over {self.limit} bytes"
                await self._refuse(scope, send, 413, "payload-too-large", detail)
                return
            if not message.get("more_body", False):
                break
        if not _is_utf8_text(body):  # json.loads would guess UTF-16 or UTF-32 and accept it
            detail = "the body is not UTF-8 text: JSON over HTTP is UTF-8 (RFC 8259)"
            await self._refuse(scope, send, 400, "malformed-request", detail)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:  # after the body, only the disconnect is left to receive
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send, status: int, kind: str, detail: str) -> None:
        await problem_response(ProblemError(status, kind, detail))(scope, _no_body, send)


def _shown(value: bytes) -> str:
    """A header value for a message: at most 80 characters, `nothing` if empty."""
    text = value.decode("latin-1") or "nothing"
    return text if len(text) <= 80 else text[:79] + "…"


def _charset(parameters: list[bytes]) -> bytes | None:
    """The `charset` parameter of a Content-Type, lower-case and unquoted, or None."""
    for parameter in parameters:
        name, _, value = parameter.partition(b"=")
        if name.strip() == b"charset":
            return value.strip().strip(b'"')
    return None


def _is_utf8_text(body: bytes) -> bool:
    """UTF-8 without NUL (which JSON text never holds raw, and UTF-16 and UTF-32 do)."""
    if b"\x00" in body:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_json(media_type: bytes) -> bool:
    return media_type == b"application/json" or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ProblemError: lambda request, error: problem_response(error),
    RequestValidationError: _invalid_request,
    StarletteHTTPException: _http_error,
    Exception: _internal_error,
}
"""What the app answers for each exception: always a problem."""
