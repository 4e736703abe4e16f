"""The HTTP API: the diagram's client arrows as HTTP, over the same service `bootstrap` wires.

One endpoint per command (`POST /orders`, `POST /orders/{id}/items`, ...) answers with the
order id and the version written, never the read model. Queries read the read model
(`GET /orders/{id}`, `GET /orders`); the order's events and its state as of a version or a
time come from the event store (`GET /orders/{id}/events`, `GET /orders/{id}/state`).
Errors are `application/problem+json` (RFC 9457, see `http_problems`). `create_app` builds the
app; `serve` runs it on uvicorn with the outbox relay (and so the projector) as a background
worker.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime,
# and the command endpoints are closures over their body model.

import asyncio
import base64
import binascii
import json
import logging
import queue
import re
import signal
import sqlite3
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TextIO, Union

import uvicorn
from fastapi import Body, Depends, FastAPI, Header, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from starlette.concurrency import run_in_threadpool

from order_service.app import OrderService, Session, Workers, bootstrap
from order_service.entrypoints.http_problems import (
    EXCEPTION_HANDLERS,
    MAX_BODY_BYTES,
    FieldProblem,
    Problem,
    ProblemError,
    RequestGuard,
)
from order_service.infra.clock import new_id as new_uuid
from order_service.infra.clock import utc_now
from order_service.infra.database import is_unavailable, is_url, open_backend, shown
from order_service.model.commands import COMMANDS, PlaceOrder
from order_service.model.decide import CommandRejected, NoSuchOrder
from order_service.model.events import (
    CUSTOMER_ID_PATTERN,
    EVENT_MODELS,
    ORDER_ID_PATTERN,
    SKU_PATTERN,
    UUID_PATTERN,
)
from order_service.model.fold import STATUSES
from order_service.read.queries import (
    MAX_LIMIT,
    OrderSummary,
    QueryError,
    WaitResult,
)
from order_service.write.store import CommandIdReused, ConcurrencyError
from order_service.write.temporal import AsOfError, order_as_of

__all__ = [
    "WAIT_TIMEOUT",
    "create_app",
    "openapi_document",
    "serve",
    "write_openapi",
]

log = logging.getLogger(__name__)

WAIT_TIMEOUT = 2.0
"""How long `GET /orders/{id}?min_version=N` waits for the read model, in seconds."""

DEFAULT_PORT = 8080

SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""The signals that stop `orders serve` cleanly: in-flight requests finish, then exit 0."""

GRACEFUL_SHUTDOWN = 10
"""Seconds a SIGTERM leaves in-flight requests (waiting reads included) to finish."""

RETRY_AFTER = 2
"""Seconds a client is told to wait (`Retry-After`) while the database is unavailable."""

WAIT_TICK = 0.01
"""How often the one watcher of every waiting read (`min_version`) reads the read model: one
query per tick for all of them, however many there are."""

MAX_BACKOFF = 5.0
"""The longest pause between two attempts to open the database at start-up, in seconds."""


# --- Response bodies: the contract the OpenAPI document publishes ---------------------------


class CommandAccepted(BaseModel):
    """A command carried out: the order and the version it wrote."""

    order_id: str = Field(description="The order.")
    version: int = Field(description="The order's version after the command; pass it as "
                         "min_version to read your own write.")  # fmt: skip


class OrderPage(BaseModel):
    """One page of a search, newest first."""

    orders: list[OrderSummary] = Field(description="The orders on this page.")
    next: str | None = Field(description="The next page's URL; null on the last page.")


class MoneyView(BaseModel):
    amount: str
    currency: str


class LineView(BaseModel):
    sku: str
    quantity: int
    unit_price: MoneyView


class OrderStateView(BaseModel):
    """An order's state folded from its events (the write side), as `OrderState.to_dict`."""

    model_config = ConfigDict(extra="forbid")

    order_id: str
    version: int
    status: Literal[STATUSES]  # type: ignore[valid-type]  # a Literal of a run-time tuple
    customer_id: str
    lines: list[LineView]
    total: MoneyView
    payment_id: str | None
    carrier: str | None
    tracking_number: str | None
    cancellation_reason: str | None


StoredEvent = Union[tuple(EVENT_MODELS.values())]  # type: ignore[valid-type]  # noqa: UP007 (a Union built at run time)
"""Any stored event, old schema versions included: events are returned as stored."""


# --- Request bodies: each command's own fields, minus what the URL and headers carry --------

_NOT_IN_BODY = {"type", "order_id", "command_id", "correlation_id"}


def _request_body(command: type[BaseModel], *, with_order_id: bool = False) -> type[BaseModel]:
    """The body model of a command's endpoint: the command's own fields, so they cannot drift."""
    fields: dict[str, Any] = {
        name: (field.annotation, field)
        for name, field in command.model_fields.items()
        if name not in _NOT_IN_BODY or (with_order_id and name == "order_id")
    }
    return create_model(
        f"{command.__name__}Request",
        __config__=ConfigDict(frozen=True, extra="forbid"),
        __doc__=command.__doc__,
        **fields,
    )


PlaceOrderRequest = _request_body(PlaceOrder, with_order_id=True)

REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {c.__name__: c.example for c in COMMANDS}
"""One example body per command, from #1001's story; shown in the document and sent by the
fuzz tests (a test checks that each one validates)."""


def _example(command: type[BaseModel]) -> Any:
    name = command.__name__
    return Body(openapi_examples={"1001": {"summary": "#1001", "value": REQUEST_EXAMPLES[name]}})


ORDER_COMMANDS: dict[str, tuple[type[BaseModel], str]] = {
    command.http_path.removeprefix("/orders/{order_id}/"): (command, command.summary)
    for command in COMMANDS
    if command is not PlaceOrder
}
"""`POST /orders/{id}/<path>`: the command it sends, and its summary."""


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problems an endpoint answers with: `statuses`, and 503 (the database away) always."""
    descriptions = {
        400: "Malformed: the body is not JSON or not UTF-8, or a header is not in its form.",
        404: "No such order (for a read: not in the read model yet).",
        409: "The command breaks a rule, or another command changed the order first; for a "
        "state, the order's stored events do not start with OrderPlaced.",
        412: "If-Match names a version the order has moved on from.",
        413: f"The body is larger than {MAX_BODY_BYTES} bytes.",
        415: "The body is not sent as application/json, or declared in a charset not UTF-8.",
        422: "A field is invalid, or the Idempotency-Key was used for another request.",
        503: "The database cannot be reached (a restart, an outage): retry after Retry-After "
        "seconds, a command with the same Idempotency-Key.",
    }
    retry_after = {"Retry-After": _header("Seconds to wait before sending it again", "^[0-9]+$")}
    answers: dict[int | str, dict[str, Any]] = {
        status: {"model": Problem, "description": descriptions[status]} for status in statuses
    }
    answers[503] = {"model": Problem, "description": descriptions[503], "headers": retry_after}
    return answers


# --- Connections: one per concurrent request, so commands race in SQLite, not in Python ------


class _Sessions:
    """A pool of sessions (store, command handler, read connection), opened on demand.

    SQLite connections are used by one thread at a time; FastAPI runs each request in a
    worker thread. Each request borrows a session of its own, so two commands on one order
    really race, and the store's optimistic concurrency decides which one wins. Each session
    is wired by the composition root (`OrderService.session`).

    A session whose connection is known to be lost is closed instead of being handed out;
    a request that finds the database away (a restart) discards its session and every idle
    one, which shared the same server, so the next requests open new connections.
    """

    def __init__(self, service: OrderService) -> None:
        self.service = service
        self._idle: queue.SimpleQueue[Session] = queue.SimpleQueue()
        self._sessions: dict[int, Session] = {}
        self._lock = threading.Lock()
        self.away = False
        """True from a request that found the database away until one that did not."""

    def _take(self) -> Session:
        while True:
            try:
                session = self._idle.get_nowait()
            except queue.Empty:
                break
            if not session.broken():
                return session
            self._discard(session)
        session = self.service.session()
        with self._lock:
            self._sessions[id(session)] = session
        return session

    def _discard(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(id(session), None)
        try:
            session.close()
        except Exception as error:  # closing a connection the server dropped: nothing to keep
            log.debug("closing a lost session: %s", error)

    @contextmanager
    def borrow(self) -> Iterator[Session]:
        session = self._take()
        try:
            yield session
        except BaseException as error:
            if is_unavailable(error):
                self._discard(session)
                self.discard_idle()
            else:
                self._idle.put(session)
            raise
        if self.away:
            self.away = False
            log.warning("the database answers again")
        self._idle.put(session)

    def discard_idle(self) -> None:
        """Close every idle session (the database restarted: their connections are lost)."""
        while True:
            try:
                session = self._idle.get_nowait()
            except queue.Empty:
                return
            self._discard(session)

    def close(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            try:
                session.close()
            except Exception as error:  # the database is away: its connections are gone
                log.debug("closing a session: %s", error)


def _unavailable(error: BaseException | None) -> ProblemError:
    """503 `database-unavailable`: the client retries after `RETRY_AFTER` seconds."""
    cause = "" if error is None else f" ({type(error).__name__})"
    return ProblemError(
        503,
        "database-unavailable",
        f"the database cannot be reached{cause}: retry after {RETRY_AFTER} s; a command sent "
        "with an Idempotency-Key is safe to send again with the same key",
        headers={"Retry-After": str(RETRY_AFTER)},
    )


class _Runtime:
    """The service behind the app: opened at start-up, or as soon as the database answers.

    If the database refuses the connection at start-up, the app starts anyway: requests
    answer 503 `database-unavailable`, readiness says why, and a thread opens the service
    (retrying with backoff up to `MAX_BACKOFF` seconds) once the database is back, then
    starts the relay and the subscription workers.
    """

    def __init__(self, open_service: Callable[[], OrderService], relay_interval: float) -> None:
        self._open_service = open_service
        self._relay_interval = relay_interval
        self.service: OrderService | None = None
        self.sessions: _Sessions | None = None
        self.workers: Workers | None = None
        self.error: BaseException | None = None
        self.waiting_reads = 0
        """Reads waiting for `min_version` now (changed on the event loop only)."""
        self.watch = _VersionWatch(self)
        self._stop = threading.Event()
        self._opener: threading.Thread | None = None

    def start(self) -> None:
        """Open the service now, or start retrying in the background if the database is away."""
        if not self._open():
            self._opener = threading.Thread(target=self._retry, name="open-database", daemon=True)
            self._opener.start()

    def _open(self) -> bool:
        try:
            service = self._open_service()
        except Exception as error:
            if not is_unavailable(error) and self._opener is None:
                raise  # not an outage (a wrong schema, a bad file): the server does not start
            self.error = error
            log.error("cannot open the database, retrying: %s: %s", type(error).__name__, error)
            return False
        self.sessions = _Sessions(service)
        self.workers = service.workers(interval=self._relay_interval).start()
        self.service, self.error = service, None
        return True

    def _retry(self) -> None:
        backoff = 0.1
        while not self._stop.wait(backoff) and not self._open():
            backoff = min(backoff * 2, MAX_BACKOFF)

    def require(self) -> _Sessions:
        """The session pool, or 503 while the service is not open."""
        if self.sessions is None:
            raise _unavailable(self.error)
        return self.sessions

    def states(self) -> dict[str, str]:
        """Each worker's state (empty before the service is open)."""
        return {} if self.workers is None else self.workers.states()

    def stop(self) -> list[str]:
        """Stop the workers and close every connection; returns the workers that had failed."""
        self._stop.set()
        if self._opener is not None:
            self._opener.join()
        failed: list[str] = []
        try:
            if self.workers is not None:
                failed = self.workers.stop()
        finally:
            if self.sessions is not None:
                self.sessions.close()
            if self.service is not None:
                try:
                    self.service.close()
                except Exception as error:  # the database is away: its connections are gone
                    log.warning("closing the service: %s", error)
        return failed


@contextmanager
def _borrowed(request: Request) -> Iterator[Session]:
    """A session of the pool, for one request or one short read; the database away is a 503."""
    sessions = request.app.state.runtime.require()
    try:
        with sessions.borrow() as session:
            yield session
    except Exception as error:
        if not is_unavailable(error):
            raise
        raise _away(sessions, error) from None


def _away(sessions: _Sessions, error: Exception) -> ProblemError:
    """The 503 for a request that found the database away, logged at once, once per outage."""
    level = logging.DEBUG if sessions.away else logging.WARNING
    sessions.away = True
    log.log(level, "database unavailable: %s: %s", type(error).__name__, error)
    return _unavailable(error)


def _session(request: Request) -> Iterator[Session]:
    with _borrowed(request) as session:
        yield session


SessionDep = Annotated[Session, Depends(_session)]

OrderId = Annotated[
    str,
    PathParam(pattern=ORDER_ID_PATTERN, description='The order, e.g. "1001".', examples=["1001"]),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=UUID_PATTERN,
        description="A UUID (lower-case hex) chosen by the client; it becomes the command id. "
        "Once its request was carried out, the same key with the same request answers as the "
        "first time and appends nothing, and with another request it is refused (422); a "
        "refused request is not remembered (resent, it is decided again). A key is "
        "remembered for 24 hours.",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        pattern=r'^"[1-9][0-9]{0,9}"$',
        description='The version the client last saw, e.g. "3" (the ETag of GET '
        "/orders/{id}). If the order has moved on, the command fails with 412.",
    ),
]


# --- Commands ---------------------------------------------------------------------------------


def _carry_out(session: Session, command: Any, if_match: str | None) -> int:
    """Hand the command to the command handler; turn its refusals into problems."""
    expected = None if if_match is None else int(if_match.strip('"'))
    order_id = command.order_id
    try:
        return session.handle(command, expected_version=expected)
    except NoSuchOrder:
        raise ProblemError(404, "not-found", f"order {order_id} does not exist") from None
    except CommandRejected as error:
        raise ProblemError(409, "command-rejected", str(error), rule=error.rule) from None
    except ValidationError as error:  # the event contract refused what decide made: never a 500
        raise _breaks_the_contract(error) from None
    except ConcurrencyError as error:
        if expected is None:
            raise ProblemError(
                409, "concurrency-conflict", str(error), current_version=error.actual
            ) from None
        if error.actual == 0:
            raise ProblemError(404, "not-found", f"order {order_id} does not exist") from None
        raise _moved_on(order_id, expected, error.actual) from None
    except CommandIdReused as error:
        raise ProblemError(
            422,
            "idempotency-key-reused",
            f"Idempotency-Key {error.command_id} was sent before with another request "
            f"(on order {error.order_id}): send a new key for a new request",
        ) from None


def _breaks_the_contract(error: ValidationError) -> ProblemError:
    # The command's limits are the event's, so this is a defence: a limit the command lacks.
    # An event's `data` path is the command's body path (decide's pointers say the same).
    problems = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        path = loc[loc.index("data") + 1 :] if "data" in loc else loc[1:]
        problems.append(FieldProblem(location="body", field="/".join(path), message=item["msg"]))
    detail = "the command would record an event the contract refuses: " + "; ".join(
        f"body {p.field}: {p.message}" if p.field else f"body: {p.message}" for p in problems
    )
    return ProblemError(422, "invalid-request", detail, errors=problems)


def _moved_on(order_id: str, expected: int, current: int) -> ProblemError:
    return ProblemError(
        412,
        "precondition-failed",
        f'order {order_id} is at version {current}, not {expected} (If-Match: "{expected}"): '
        "read it again and decide on what it is now",
        current_version=current,
    )


def _command(command_type: type[BaseModel], order_id: str, key: str | None, body: Any) -> Any:
    fields = {name: getattr(body, name) for name in type(body).model_fields}
    fields["order_id"] = order_id
    try:
        return command_type(command_id=key or new_uuid(), **fields)
    except ValidationError as error:  # the body validated already: only a combination fails
        raise ProblemError(422, "invalid-request", f"invalid command: {error}") from None


def _header(description: str, pattern: str) -> dict[str, Any]:
    """A response header for the OpenAPI document."""
    return {"description": description, "schema": {"type": "string", "pattern": pattern}}


_ETAG = _header('The order\'s version the body shows, e.g. "3": send it as If-Match', '^"[0-9]+"$')


def _add_command_routes(app: FastAPI) -> None:
    @app.post(
        PlaceOrder.http_path,
        status_code=201,
        response_model=CommandAccepted,
        summary=PlaceOrder.summary,
        tags=["commands"],
        responses={
            201: {"headers": {"Location": _header("The new order: /orders/{id}", "^/orders/")}},
            **_problems(400, 409, 413, 415, 422),
        },
    )
    def place_order(
        body: Annotated[PlaceOrderRequest, _example(PlaceOrder)],  # type: ignore[valid-type]  # a model built at run time
        response: Response,
        session: SessionDep,
        idempotency_key: IdempotencyKey = None,
    ) -> CommandAccepted:
        """PlaceOrder: 201 with the order id and version 1, and `Location: /orders/{id}`."""
        command = _command(PlaceOrder, body.order_id, idempotency_key, body)  # type: ignore[attr-defined]  # the body has PlaceOrder's fields: mypy cannot see them
        version = _carry_out(session, command, None)
        response.headers["Location"] = f"/orders/{command.order_id}"
        return CommandAccepted(order_id=command.order_id, version=version)

    for path, (command_type, summary) in ORDER_COMMANDS.items():
        _add_order_command(app, path, command_type, summary)


def _add_order_command(
    app: FastAPI, path: str, command_type: type[BaseModel], summary: str
) -> None:
    body_model = _request_body(command_type)

    def endpoint(
        order_id: OrderId,
        body: Annotated[body_model, _example(command_type)],  # type: ignore[valid-type]  # a model built at run time
        session: SessionDep,
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> CommandAccepted:
        command = _command(command_type, order_id, idempotency_key, body)
        version = _carry_out(session, command, if_match)
        return CommandAccepted(order_id=order_id, version=version)

    endpoint.__name__ = re.sub(r"(?<!^)([A-Z])", r"_\1", command_type.__name__).lower()
    endpoint.__doc__ = f"{command_type.__name__}: 200 with the order id and the version written."
    app.post(
        f"/orders/{{order_id}}/{path}",
        response_model=CommandAccepted,
        summary=summary,
        tags=["commands"],
        responses=_problems(400, 404, 409, 412, 413, 415, 422),
    )(endpoint)


# --- Queries ----------------------------------------------------------------------------------


def _position(summary: OrderSummary) -> tuple[str, str]:
    return summary.placed_at, summary.order_id


def _cursor(summary: OrderSummary) -> str:
    raw = json.dumps(_position(summary)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        placed_at, order_id = json.loads(raw)
        if not (isinstance(placed_at, str) and isinstance(order_id, str)):
            raise ValueError
    except (binascii.Error, ValueError, TypeError):
        raise ProblemError(
            422,
            "invalid-request",
            f"query after: {cursor!r} is not a cursor from a previous page's `next`",
            errors=[FieldProblem(location="query", field="after", message="not a cursor")],
        ) from None
    return placed_at, order_id


class _VersionWatch:
    """Every waiting read of the process, woken by one read of the read model per tick.

    A read that waits for `min_version` registers here and sleeps on the event loop, holding no
    worker thread; one task reads the versions of every awaited order in a single query each
    `WAIT_TICK` and wakes the reads whose version has come. Sixty waiting reads cost one query
    per tick, not sixty. A failed query (the database away) is raised in every waiting read.
    """

    def __init__(self, runtime: _Runtime) -> None:
        self._runtime = runtime
        self._waiting: dict[str, list[tuple[int, asyncio.Future[None]]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def wait(self, order_id: str, version: int, timeout: float) -> None:
        """Return once the read model holds `version` of the order, or after `timeout`."""
        entry = (version, asyncio.get_running_loop().create_future())
        self._waiting.setdefault(order_id, []).append(entry)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch())
        try:
            await asyncio.wait_for(entry[1], timeout)
        except TimeoutError:
            pass
        finally:
            entries = self._waiting.get(order_id, [])
            if entry in entries:
                entries.remove(entry)
            if not entries:
                self._waiting.pop(order_id, None)

    async def _watch(self) -> None:
        while self._waiting:
            await asyncio.sleep(WAIT_TICK)
            order_ids = list(self._waiting)
            if not order_ids:  # the last waiting read left during the tick
                return
            try:
                seen = await run_in_threadpool(self._versions, order_ids)
            except Exception as error:
                for entries in self._waiting.values():
                    for _, future in entries:
                        if not future.done():
                            future.set_exception(error)
                continue
            for order_id, holds in seen.items():
                for version, future in self._waiting.get(order_id, []):
                    if version <= holds and not future.done():
                        future.set_result(None)

    def _versions(self, order_ids: list[str]) -> dict[str, int]:
        with self._runtime.require().borrow() as session:
            return session.queries.versions_of(order_ids)


async def _read_at_least(
    runtime: _Runtime,
    read: Callable[[], OrderSummary | None],
    order_id: str,
    version: int,
    timeout: float,
) -> tuple[OrderSummary | None, WaitResult]:
    """The order's summary once the read model holds `version`, or as it is after `timeout`.

    One `read` first; if it is older, the request sleeps on the event loop, holding no worker
    thread and no session (no database connection), until the process's one watcher
    (`_VersionWatch`) sees the version or the timeout ends, then reads once more. Two short
    reads at most, however long it waits.
    """
    start = time.monotonic()
    runtime.waiting_reads += 1
    try:
        summary = await run_in_threadpool(read)
        if _version(summary) < version:
            try:
                await runtime.watch.wait(order_id, version, timeout)
            except Exception as error:  # the watcher's read found the database away
                if not is_unavailable(error):
                    raise
                raise _away(runtime.require(), error) from None
            summary = await run_in_threadpool(read)
        seen = _version(summary)
        return summary, WaitResult(
            seen >= version, order_id, version, seen, time.monotonic() - start
        )
    finally:
        runtime.waiting_reads -= 1


def _version(summary: OrderSummary | None) -> int:
    return 0 if summary is None else summary.last_version


def _add_query_routes(app: FastAPI, wait_timeout: float) -> None:
    @app.get(
        "/orders/{order_id}",
        response_model=OrderSummary,
        summary="Read an order (read model)",
        tags=["queries"],
        responses={
            200: {
                "headers": {
                    "ETag": _ETAG,
                    "Read-Model-Stale": _header(
                        "Present (true) when min_version was not reached within "
                        f"{wait_timeout:g} s: the body is older than asked.",
                        "^true$",
                    ),
                    "Retry-After": _header("With Read-Model-Stale: seconds to wait", "^[0-9]+$"),
                }
            },
            **_problems(404, 422),
        },
    )
    async def get_order(
        order_id: OrderId,
        request: Request,
        response: Response,
        min_version: Annotated[
            int | None,
            Query(
                ge=1,
                le=2**31,
                description="Wait (up to the stated timeout) until the read model holds at "
                "least this version: the version a command returned.",
            ),
        ] = None,
    ) -> OrderSummary:
        """The order's summary from the read model, which lags the commands a little."""

        def read() -> OrderSummary | None:  # a session for the read alone, not for the wait
            with _borrowed(request) as session:
                return session.queries.get(order_id)

        waited = None
        if min_version is None:
            summary = await run_in_threadpool(read)
        else:
            summary, waited = await _read_at_least(
                request.app.state.runtime, read, order_id, min_version, wait_timeout
            )
        if summary is None:
            if waited is None:
                raise ProblemError(
                    404, "not-found", f"order {order_id} is not in the read model (yet)"
                )
            raise ProblemError(
                404,
                "not-yet-projected",
                f"order {order_id}: {waited}",
                headers={"Retry-After": "1", "Read-Model-Stale": "true"},
            )
        response.headers["ETag"] = f'"{summary.last_version}"'
        if waited is not None and not waited.reached:
            response.headers["Read-Model-Stale"] = "true"
            response.headers["Retry-After"] = "1"
        return summary

    @app.get(
        "/orders",
        response_model=OrderPage,
        summary="Search orders (read model)",
        tags=["queries"],
        responses={
            200: {"headers": {"Link": _header('The next page: <url>; rel="next"', 'rel="next"$')}},
            **_problems(422),
        },
    )
    def search_orders(
        request: Request,
        response: Response,
        session: SessionDep,
        customer_id: Annotated[
            str | None, Query(pattern=CUSTOMER_ID_PATTERN, examples=["C-0042"])
        ] = None,
        status: Annotated[Literal[STATUSES] | None, Query()] = None,  # type: ignore[valid-type]  # a Literal of a run-time tuple
        placed_from: Annotated[
            str | None, Query(description="Placed at or after this date or date-time (UTC).")
        ] = None,
        placed_before: Annotated[
            str | None, Query(description="Placed before this date or date-time (exclusive).")
        ] = None,
        sku: Annotated[str | None, Query(pattern=SKU_PATTERN, examples=["RETRO-CLOCK"])] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        after: Annotated[
            str | None, Query(max_length=200, description="The cursor of the page before.")
        ] = None,
    ) -> OrderPage:
        """Orders matching every filter, newest first (`placed_at`, then `order_id`)."""
        filters = {
            "customer_id": customer_id,
            "status": status,
            "placed_from": placed_from,
            "placed_before": placed_before,
            "sku": sku,
        }
        try:
            page = session.queries.search(
                **filters, limit=limit, after=None if after is None else _after(after)
            )
            # A full page has a next page only if one more row follows it.
            more = len(page) == limit and bool(
                session.queries.search(**filters, limit=1, after=_position(page[-1]))
            )
        except QueryError as error:
            name = str(error).split(":", 1)[0]
            raise ProblemError(
                422,
                "invalid-request",
                f"query {error}",
                errors=[FieldProblem(location="query", field=name, message=str(error))],
            ) from None
        next_url = None
        if more:
            next_url = str(request.url.include_query_params(after=_cursor(page[-1])))
            next_url = next_url.removeprefix(f"{request.url.scheme}://{request.url.netloc}")
            response.headers["Link"] = f'<{next_url}>; rel="next"'
        return OrderPage(orders=page, next=next_url)

    @app.get(
        "/orders/{order_id}/events",
        response_model=list[StoredEvent],  # type: ignore[valid-type]  # a Union built at run time
        summary="The order's events (event store)",
        tags=["event store"],
        responses=_problems(404, 422),
    )
    def order_events(order_id: OrderId, session: SessionDep) -> Any:
        """Every event of the order, as stored, in version order: the write side's truth."""
        events = session.store.load(order_id)
        if not events:
            raise ProblemError(404, "not-found", f"order {order_id} has no events")
        return events

    @app.get(
        "/orders/{order_id}/state",
        response_model=OrderStateView,
        summary="The order's state, now or as of a version or time (event store)",
        tags=["event store"],
        responses={200: {"headers": {"ETag": _ETAG}}, **_problems(404, 409, 422)},
    )
    def order_state(
        order_id: OrderId,
        response: Response,
        session: SessionDep,
        as_of_version: Annotated[int | None, Query(ge=1, le=2**31)] = None,
        as_of: Annotated[
            str | None,
            Query(max_length=40, description="RFC 3339 time, e.g. 2026-11-02T10:00:00Z."),
        ] = None,
    ) -> Any:
        """Fold the order's events up to a version or a time (both: whichever comes first)."""
        try:
            state = order_as_of(session.store, order_id, version=as_of_version, at=as_of)
        except AsOfError as error:
            name = "as_of_version" if str(error).startswith("version") else "as_of"
            raise ProblemError(
                422,
                "invalid-request",
                f"query {name}: {str(error).split(': ', 1)[-1]}",
                errors=[FieldProblem(location="query", field=name, message=str(error))],
            ) from None
        if state is None:
            raise ProblemError(404, "not-found", f"order {order_id} had no event by then")
        if not state.customer_id:  # only OrderPlaced sets it: the stream was written around us
            raise ProblemError(
                409,
                "unplaced-stream",
                f"order {order_id}: its stored events do not start with OrderPlaced, so they "
                "fold to no order to show; GET /orders/{id}/events lists them",
            )
        response.headers["ETag"] = f'"{state.version}"'
        return state.to_dict()


# --- Health -------------------------------------------------------------------------------------


class ParkedView(BaseModel):
    """An event a subscriber could not apply, or one waiting behind it in its order."""

    position: int
    event_id: str
    order_id: str
    version: int
    error: str
    parked_at: str


class SubscriberView(BaseModel):
    """One subscriber: how far it has read the store, and what it parked."""

    subscriber: str
    healthy: bool = Field(description="False if it has parked events or its worker is failing.")
    position: int = Field(description="How far it has read the store: the last event it handled.")
    lag: int = Field(description="How many positions it is behind the store's last event.")
    worker: str = Field(
        description="running, failing: <error>, stopped, not started, or in another process "
        "(on Kafka: its failures are in that process's log, its parked events here)."
    )
    parked: list[ParkedView]


class Health(BaseModel):
    """The database, the publishing worker and every subscriber."""

    # GET /health answers 503 when it is not `healthy`; GET /health/ready when it is not `ready`
    # (parked events leave the service ready: commands are still taken). The model's docstring
    # is the schema's description, shown on the HTTP API page: one short line.

    healthy: bool = Field(description="Ready, and no subscriber has parked events.")
    ready: bool = Field(
        description="The service can take commands: the database answers and every worker runs."
    )
    database: str = Field(description="reachable, or unreachable: <error>.")
    relay: str = Field(
        description="The publishing worker: running, failing: <error> (it retries), stopped "
        "or not started."
    )
    subscribers: list[SubscriberView] = Field(
        description="Each subscriber's position and lag (empty while the database is away)."
    )
    waiting_reads: int = Field(
        description="Reads waiting for min_version now; they hold no worker thread."
    )


class Liveness(BaseModel):
    """The process is up and its event loop answers."""

    live: bool


def _health(runtime: _Runtime) -> dict[str, Any]:
    states = runtime.states()
    found = []
    database = "reachable"
    if runtime.service is None:
        error = runtime.error
        database = "unreachable" + ("" if error is None else f": {type(error).__name__}: {error}")
    else:
        try:
            found = runtime.service.status(states)  # through connections of its own
        except Exception as error:
            if not is_unavailable(error):
                raise
            database = f"unreachable: {type(error).__name__}: {error}"
    ready = database == "reachable" and all(state == "running" for state in states.values())
    return {
        "healthy": ready and all(status.healthy for status in found),
        "ready": ready,
        "database": database,
        "relay": states.get("outbox_relay", "not started"),
        "subscribers": [status.to_dict() for status in found],
        "waiting_reads": runtime.waiting_reads,
    }


def _add_health_routes(app: FastAPI) -> None:
    @app.get(
        "/health",
        response_model=Health,
        summary="The database, the relay and each subscriber: position, lag, parked events",
        tags=["operations"],
        responses={
            503: {
                "model": Health,
                "description": "The database is away, a worker is failing, or a subscriber has "
                "parked events: the body says which.",
            }
        },
    )
    def health(request: Request, response: Response) -> Any:
        """Each subscriber's position, lag behind the store and parked events (`orders status`)."""
        found = _health(request.app.state.runtime)
        if not found["healthy"]:
            response.status_code = 503
        return found

    @app.get(
        "/health/ready",
        response_model=Health,
        summary="Readiness: can the service take commands, and how far each worker lags",
        tags=["operations"],
        responses={
            503: {
                "model": Health,
                "description": "The database is away or a worker is failing (it retries): "
                "send no traffic until it answers 200.",
            }
        },
    )
    def ready(request: Request, response: Response) -> Any:
        """200 when the database answers and every worker runs; the body as `GET /health`."""
        found = _health(request.app.state.runtime)
        if not found["ready"]:
            response.status_code = 503
        return found

    @app.get(
        "/health/live",
        response_model=Liveness,
        summary="Liveness: the process is up",
        tags=["operations"],
    )
    async def live() -> Liveness:
        """200 while the process answers, whatever the database does: restart it only if not."""
        return Liveness(live=True)


# --- The app ----------------------------------------------------------------------------------


def create_app(
    write_db: str | Path,
    read_db: str | Path | None = None,
    *,
    wait_timeout: float = WAIT_TIMEOUT,
    relay_interval: float = 0.01,
    clock: Callable[[], str] = utc_now,
    new_id: Callable[[], str] = new_uuid,
    bus: str | None = None,
) -> FastAPI:
    """The API over the service `bootstrap(write_db, read_db, bus=bus)` opens at start-up.

    While the app runs, a background relay publishes the outbox (polling every
    `relay_interval` seconds when idle), and each subscriber (the projector, the notifier) runs
    in its own thread from its own position; all stop, and every connection closes, when the
    app shuts down. `GET /health` and `GET /health/ready` show each one. If the database is
    away at start-up, or goes away later, requests answer 503 `database-unavailable` and the
    service reconnects on its own once it is back. `app.state.failed_workers` names the
    workers that were failing when the app stopped. On a Kafka `bus` the relay publishes to
    the broker and the subscribers run in their own processes (`orders project`).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = _Runtime(
            lambda: bootstrap(write_db, read_db, clock=clock, new_id=new_id, bus=bus),
            relay_interval,
        )
        app.state.runtime = runtime
        app.state.failed_workers = []
        await run_in_threadpool(runtime.start)
        try:
            yield
        finally:
            app.state.failed_workers = await run_in_threadpool(runtime.stop)
            if app.state.failed_workers:
                log.error("workers that had failed when stopped: %s", app.state.failed_workers)

    app = FastAPI(
        title="Order Service",
        version="1.0.0",
        summary="Commands and queries of the CQRS and Event Sourcing Order Service.",
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,  # operationId: the endpoint's name
        exception_handlers=EXCEPTION_HANDLERS,
    )
    _add_command_routes(app)
    _add_query_routes(app, wait_timeout)
    _add_health_routes(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
    app.add_middleware(RequestGuard)
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with errors declared as `application/problem+json`."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        for path in document["paths"].values():
            for operation in path.values():
                for status, answer in operation["responses"].items():
                    content = answer.get("content", {})
                    problem = content.get("application/json", {}).get("schema", {})
                    if int(status) >= 400 and problem.get("$ref", "").endswith("/Problem"):
                        content["application/problem+json"] = content.pop("application/json")
        app.openapi_schema = document
    return app.openapi_schema


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document (no database is opened)."""
    return create_app("unused.db").openapi()


def serve(
    db: str | None,
    *,
    port: int = DEFAULT_PORT,
    host: str = "127.0.0.1",
    wait_timeout: float = WAIT_TIMEOUT,
    relay_interval: float = 0.01,
    err: TextIO,
    bus: str | None = None,
) -> int:
    """Run the API on uvicorn until interrupted; a temporary database when `db` is None.

    `bus`: a `kafka://` URL to publish to (the broker must answer at start), or None for the
    embedded bus.
    """
    if bus is not None and not _broker_answers(bus, err):
        return 1
    with tempfile.TemporaryDirectory(prefix="orders-serve-") as folder:
        write_db: str | Path = Path(db) if db else Path(folder) / "orders.db"
        try:
            if db and is_url(db):
                write_db = str(open_backend(db))  # checks the URL; the app connects at start
            else:
                Path(write_db).parent.mkdir(parents=True, exist_ok=True)
                _check_write_db(Path(write_db))
        except (OSError, ValueError) as error:
            print(f"orders: cannot serve {shown(db or write_db)}: {error}", file=err)
            return 1
        app = create_app(
            write_db, wait_timeout=wait_timeout, relay_interval=relay_interval, bus=bus
        )
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            server_header=False,
            date_header=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,  # in-flight requests finish first
        )
        print(
            f"orders: serving http://{host}:{port} (write db {shown(write_db)}"
            + ("" if bus is None else f", publishing to {bus}; the subscribers run apart")
            + ")",
            file=err,
            flush=True,
        )
        if isinstance(_run_until_signalled(uvicorn.Server(config)), SystemExit):
            # uvicorn exits when it cannot bind the port or start the app; it logged why
            print(f"orders: could not serve on {host}:{port}", file=err)
            return 1
        failed = getattr(app.state, "failed_workers", [])
        if failed:
            print(f"orders: stopped; failing workers: {', '.join(failed)}", file=err, flush=True)
            return 1
        print("orders: stopped", file=err, flush=True)
    return 0


def _run_until_signalled(server: uvicorn.Server) -> SystemExit | None:
    """Run `server` until SIGINT or SIGTERM has it shut down; the SystemExit it ended by, if any.

    `Server.run` installs signal handlers only in the main thread, and after its graceful
    shutdown raises the signal again, so the process would die of it. So uvicorn runs in a
    thread of its own, and these handlers, in the main thread, set its public `should_exit`
    (a second Ctrl-C, `force_exit`): a clean stop returns. Any other error is raised here.
    """
    ended: list[BaseException] = []

    def run() -> None:
        try:
            server.run()
        except BaseException as error:  # handed to the main thread: it decides the exit status
            ended.append(error)

    def stop(signum: int, frame: object) -> None:
        if server.should_exit and signum == signal.SIGINT:
            server.force_exit = True
        server.should_exit = True

    thread = threading.Thread(target=run, name="uvicorn")
    main = threading.current_thread() is threading.main_thread()  # only it may set handlers
    previous = {sig: signal.signal(sig, stop) for sig in SIGNALS} if main else {}
    try:
        thread.start()
        while thread.is_alive():
            thread.join(0.2)  # a short wait, so that a signal's handler runs at once
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not ended:
        return None
    if isinstance(ended[0], SystemExit):
        return ended[0]
    raise ended[0]


def _broker_answers(bus: str, err: TextIO) -> bool:
    """True if the Kafka bus at `bus` answers (its topic created if missing); else says why."""
    try:
        from order_service.bus.kafka import KafkaBus
    except ModuleNotFoundError as error:
        print(f"orders: --bus needs the `kafka` extra ({error.name} is not installed): "
              "pip install -e '.[kafka]'", file=err)  # fmt: skip
        return False
    try:
        KafkaBus.parse(bus).create_topic(timeout=10.0)
    except ValueError as error:
        print(f"orders: --bus {error}", file=err)
        return False
    except Exception as error:  # no broker there: librdkafka's error, or a timeout
        print(f"orders: cannot reach the broker at {bus}: {type(error).__name__}: {error}",
              file=err)  # fmt: skip
        return False
    return True


def _check_write_db(path: Path) -> None:
    """Refuse an existing file that is not a write database (it would get new tables)."""
    if not path.exists():
        return
    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'order_events'"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise ValueError(f"not a SQLite database ({error})") from None
    if found is None:
        raise ValueError("not a write database (it has no order_events table)")


def write_openapi(path: str | Path) -> None:
    """Write the OpenAPI document as the site and the drift test read it."""
    text = json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"
    Path(path).write_text(text, encoding="utf-8")


if __name__ == "__main__":  # `make openapi`
    import sys

    write_openapi(sys.argv[1])
