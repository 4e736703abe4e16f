"""Derive an order's state as `orders derive` does, and show it event by event.

`derive_state(events, snapshot)` is what `orders derive` prints: the stream's integrity
checked, then the events folded as the facts they are. `lint_history` is the separate
history lint (`check_history`: today's rules, one command per event), reported beside the
state, never instead of it. `derive` also keeps the state after each event, for a table like
the R5 page's; `read_input` and `report` are the JSON in and out around it for the playground
page, and return data rather than raise. Standard library only: the page runs this module in
the browser, unchanged, under Pyodide.

Examples:
    >>> from order_service.model.examples import EXAMPLE_STREAM
    >>> [(step.event_type, step.state.status) for step in derive(EXAMPLE_STREAM).steps]
    [('OrderPlaced', 'placed'), ('OrderPaid', 'paid'), ('OrderShipped', 'shipped')]
    >>> placed, paid, shipped = EXAMPLE_STREAM
    >>> shipped_unpaid = derive([placed, {**shipped, "version": 2}])
    >>> shipped_unpaid.state.status  # the facts as stored are folded all the same
    'shipped'
    >>> [problem] = shipped_unpaid.problems  # and today's rule is reported beside them
    >>> problem.pointer, problem.rule
    ('/event_type', 'only a paid order ships; the order is placed')
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from order_service.model.fold import OrderState, evolve
from order_service.model.history import HistoryProblem, check_history
from order_service.model.integrity import FoldError
from order_service.model.snapshots import REDUCER_VERSION, Snapshot, resume, state_from_dict
from order_service.model.upcasting import upcast

__all__ = [
    "Derivation",
    "InputError",
    "Step",
    "derive",
    "derive_state",
    "lint_history",
    "read_events",
    "read_input",
    "read_json",
    "report",
]


def derive_state(events: list[Any], snapshot: Snapshot | None = None) -> OrderState | None:
    """The state `orders derive` prints: the events folded (from `snapshot`), as stored.

    Raises `FoldError` if the stream is broken. No business rule is checked: a stored event
    is a fact, accepted under the rules of its day (see `lint_history`).
    """
    return resume(snapshot, events)


def lint_history(events: list[Any], snapshot: Snapshot | None = None) -> list[HistoryProblem]:
    """The rules of today's `decide` that the history breaks (`check_history`), by event index.

    A lint for hand-written or imported streams: it assumes each event is the outcome of one
    command of the same shape, which an event emitted by a policy or a timeout is not. With a
    trusted snapshot, the events after it are checked, from its state. Call it on a stream
    that folds (`derive_state` first).
    """
    if snapshot is None or snapshot.reducer_version != REDUCER_VERSION:
        return check_history(events)
    start = state_from_dict(snapshot.state)
    tail = [e for e in events if type(e.get("version")) is int and e["version"] > start.version]
    offset = len(events) - len(tail)
    return [
        dataclasses.replace(problem, index=problem.index + offset)
        for problem in check_history(tail, start)
    ]


class Step(NamedTuple):
    """One row of a step table: the event applied and the state after it."""

    event_type: str
    state: OrderState


@dataclass(frozen=True, slots=True)
class Derivation:
    """What `orders derive` makes of a stream, with the state after each event.

    Attributes:
        steps: The state after each event, oldest first (with a snapshot, the events after
            it), up to the first event that breaks the stream.
        state: What `derive_state` returns; None if the stream is broken.
        broken: The `FoldError` that breaks the stream (upcasting included), or None.
        problems: The history lint's findings (`lint_history`), each with its event; empty
            if none, or if the stream is broken.
    """

    steps: tuple[Step, ...]
    state: OrderState | None
    broken: FoldError | None = None
    problems: tuple[HistoryProblem, ...] = ()


def derive(events: Sequence[Mapping[str, Any]], snapshot: Snapshot | None = None) -> Derivation:
    """Upcast `events` and derive them as `orders derive` does, keeping each step's state."""
    try:
        current = [upcast(event) for event in events]
    except FoldError as error:
        return Derivation((), None, broken=error)
    try:
        state = derive_state(current, snapshot)
    except FoldError as error:
        return Derivation(_steps(current, snapshot), None, broken=error)
    problems = tuple(lint_history(current, snapshot))
    return Derivation(_steps(current, snapshot), state, problems=problems)


def _steps(events: Sequence[Mapping[str, Any]], snapshot: Snapshot | None) -> tuple[Step, ...]:
    """The state after each event (up to a break), via `evolve`, as `fold` does."""
    steps: list[Step] = []
    state: OrderState | None = None
    try:
        if snapshot is not None and snapshot.reducer_version == REDUCER_VERSION:
            state = state_from_dict(snapshot.state)
        held = 0 if state is None else state.version
        for event in events:
            version = event.get("version") if isinstance(event, Mapping) else None
            if not steps and type(version) is int and version <= held:
                continue  # already inside the snapshot: `resume` skips it too
            state = evolve(state, event)
            steps.append(Step(event["event_type"], state))
    except FoldError:
        pass  # the steps end before the event that breaks the stream; `derive` reports it
    return tuple(steps)


class InputError(ValueError):
    """Text that is not the JSON expected; the message says where, as `orders derive` does."""


def read_json(text: str, what: str) -> Any:
    """Parse `text`, naming `what` (e.g. "events") and the line and column if it is not JSON."""
    if not text.strip():
        raise InputError(f"{what}: empty: nothing to read")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{what}:{error.lineno}: malformed JSON: {error.msg} (column {error.colno})"
        ) from None
    except RecursionError:
        raise InputError(f"{what}: malformed JSON: nested too deeply to parse") from None


def read_events(text: str) -> list[Any]:
    """The events in `text`: a JSON array of events, or one event; an empty array is refused."""
    document = read_json(text, "events")
    if document == []:  # as orders derive: a check that read nothing must not pass
        raise InputError("events: empty: no events")
    return document if isinstance(document, list) else [document]


def read_input(events_text: str, snapshot_text: str | None = None) -> dict[str, Any]:
    """The events and the snapshot (if any text) read from the page's editors, or why not.

    `for_schema` is the events as a JavaScript validator must see them (see `_for_schema`).
    """
    try:
        events = read_events(events_text)
        snapshot = read_json(snapshot_text, "snapshot") if snapshot_text else None
    except InputError as error:
        return {"events": None, "for_schema": None, "snapshot": None, "error": str(error)}
    return {
        "events": events,
        "for_schema": _for_schema(events),
        "snapshot": snapshot,
        "error": None,
    }


def _for_schema(value: Any) -> Any:
    # JavaScript has one number type, so a validator there reads 2.0 as the integer 2, which
    # `orders validate` refuses ("2.0 is not of type 'integer'"). Shifted off the integers, such a
    # number fails the schema's "integer" at the same JSON pointer in the browser too.
    if isinstance(value, float) and value.is_integer():
        return value + 0.5
    if isinstance(value, dict):
        return {key: _for_schema(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_for_schema(item) for item in value]
    return value


def _label(event: Any, index: int) -> str:
    # As `orders derive` names an event: its event_id if it has a string one, else its index.
    event_id = event.get("event_id") if isinstance(event, Mapping) else None
    return event_id if isinstance(event_id, str) and event_id else str(index)


def report(events: Sequence[Mapping[str, Any]], snapshot: Any = None) -> dict[str, Any]:
    """`derive` as JSON-ready data for the page: each step's state, and the state as
    `orders derive` prints it, or the lines it prints on standard error instead (`refusal`: a
    broken stream), and the history lint's lines it prints beside the state (`lint`), all
    without the file name. `snapshot` is the JSON that `orders derive --as-snapshot` prints.
    """
    try:
        start = None if snapshot is None else Snapshot.from_dict(snapshot)
    except FoldError as error:
        return {
            "steps": [],
            "state": None,
            "printed": None,
            "refusal": [f"snapshot: {error.rule}"],
            "lint": None,
        }
    derivation = derive(events, start)
    state = None if derivation.state is None else derivation.state.to_dict()
    if derivation.broken is not None:
        refusal: list[str] | None = [f"orders: {derivation.broken}"]
    elif state is None:
        refusal = ["orders: no events to derive a state from"]
    else:
        refusal = None
    lint = [
        f"event {_label(events[p.index], p.index)}: " + lint_line(p) for p in derivation.problems
    ]
    return {
        "steps": [
            {"event_type": step.event_type, "state": step.state.to_dict()}
            for step in derivation.steps
        ],
        "state": state,
        "printed": None if state is None else json.dumps(state, indent=2, ensure_ascii=False),
        "refusal": refusal,
        "lint": [*lint, lint_summary(len(lint))] if lint else None,
    }


def lint_line(problem: HistoryProblem) -> str:
    """A lint finding as `orders derive` prints it after the event's name."""
    return (f"{problem.pointer}: " if problem.pointer else "") + problem.rule


def lint_summary(count: int) -> str:
    """The line `orders derive` ends its lint with."""
    return (
        f"orders: history lint: {count} event(s) today's rules would refuse as commands "
        "(the state is derived from the events as stored)"
    )
