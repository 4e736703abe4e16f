"""Derive an order's state event by event: the rows of a step table, or the refusal that stops it.

`derive(events, snapshot=None)` upcasts and folds the events as `orders derive` does, and keeps
the state after each event too, for a table like the one on the R5 page. `read_input` and
`report` are the JSON in and out around it, for the page: they return data, never raise.
Standard library only: the playground page runs this module in the browser, unchanged, under
Pyodide, together with the reducer and the upcaster.

Examples:
    >>> from order_service.reducer import EXAMPLE_STREAM
    >>> [(step.event_type, step.state.status) for step in derive(EXAMPLE_STREAM).steps]
    [('OrderPlaced', 'placed'), ('OrderPaid', 'paid'), ('OrderShipped', 'shipped')]
    >>> short = [EXAMPLE_STREAM[0], {**EXAMPLE_STREAM[2], "version": 2}]
    >>> print(derive(short).refusal)
    order 7, event 00000000-0000-4000-8000-000000000003 (version 2): illegal transition: \
OrderShipped needs status paid, the order is placed
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from order_service.reducer import (
    REDUCER_VERSION,
    OrderState,
    ReducerError,
    Snapshot,
    evolve,
    fold,
)
from order_service.upcasting import upcast

__all__ = [
    "Derivation",
    "InputError",
    "Step",
    "derive",
    "read_events",
    "read_input",
    "read_json",
    "report",
]


class Step(NamedTuple):
    """One row of a step table: the event folded and the state after it."""

    event_type: str
    state: OrderState


@dataclass(frozen=True, slots=True)
class Derivation:
    """What folding a stream gave: the state after each event, and the end.

    Attributes:
        steps: The state after each event folded, oldest first; with a snapshot, only the
            events after its version. On a refusal, the steps before the refused event.
        state: The final state, exactly what `fold` returns; None if refused or empty.
        refusal: The first `ReducerError` (upcasting included), or None.
    """

    steps: tuple[Step, ...]
    state: OrderState | None
    refusal: ReducerError | None


def derive(events: Sequence[Mapping[str, Any]], snapshot: Snapshot | None = None) -> Derivation:
    """Upcast and fold `events` (from `snapshot` if given) as `orders derive` does, step by step.

    The final state or refusal comes from one `fold` call, the one `orders derive` makes; the
    steps replay the same events through `evolve`, which folds identically, one at a time.
    """
    state: OrderState | None = None
    refusal: ReducerError | None = None
    try:
        state = fold((upcast(event) for event in events), snapshot)
    except ReducerError as error:
        refusal = error
    return Derivation(_steps(events, snapshot), state, refusal)


def _steps(events: Sequence[Mapping[str, Any]], snapshot: Snapshot | None) -> tuple[Step, ...]:
    steps: list[Step] = []
    state: OrderState | None = None
    try:
        if snapshot is not None and snapshot.reducer_version == REDUCER_VERSION:
            state = OrderState.from_dict(snapshot.state)
        after = state.version if state is not None else 0
        for event in events:
            version = event.get("version") if isinstance(event, Mapping) else None
            if type(version) is int and version <= after and not steps:
                continue  # already inside the snapshot: fold skips it too
            current = upcast(event)
            state = evolve(state, current)
            steps.append(Step(current["event_type"], state))
    except ReducerError:
        pass  # the steps stop before the refused event; `derive` reports the refusal
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
    """The events and the snapshot (if any text) read from the page's editors, or why not."""
    try:
        events = read_events(events_text)
        snapshot = read_json(snapshot_text, "snapshot") if snapshot_text else None
    except InputError as error:
        return {"events": None, "snapshot": None, "error": str(error)}
    return {"events": events, "snapshot": snapshot, "error": None}


def report(events: Sequence[Mapping[str, Any]], snapshot: Any = None) -> dict[str, Any]:
    """`derive` as JSON-ready data: each step's state, the state as `orders derive` prints it,
    or the refusal in its words. `snapshot` is the JSON `orders derive --as-snapshot` prints.
    """
    try:
        start = None if snapshot is None else Snapshot.from_dict(snapshot)
    except ReducerError as error:
        return {"steps": [], "state": None, "printed": None, "refusal": f"snapshot: {error.rule}"}
    derivation = derive(events, start)
    state = None if derivation.state is None else derivation.state.to_dict()
    if derivation.refusal is not None:
        refusal: str | None = str(derivation.refusal)
    elif state is None:
        refusal = "no events to derive a state from"
    else:
        refusal = None
    return {
        "steps": [
            {"event_type": step.event_type, "state": step.state.to_dict()}
            for step in derivation.steps
        ],
        "state": state,
        "printed": None if state is None else json.dumps(state, indent=2, ensure_ascii=False),
        "refusal": refusal,
    }
