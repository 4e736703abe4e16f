"""What `decide` allows, found by sending the command registry's examples, history after history."""

from __future__ import annotations

import uuid

from order_service.model.commands import COMMANDS, parse_command
from order_service.model.decide import CommandRejected, decide
from order_service.model.fold import fold

ORDER, NOW = "1001", "2026-11-02T10:00:00Z"  # the order the examples are sent to, and when


def lifecycle_edges() -> set[tuple[str, str, str]]:
    """(status, status after, event type) for each command's example accepted after a history.

    From no events (status `[*]`), each accepted command leads to a longer history, walked in
    turn unless it left the status as it was; a history that takes no command ends the order's
    life: (status, `[*]`, "").
    """
    edges, histories = set(), [[]]
    while histories:
        history = histories.pop()
        state = fold(history) if history else None
        status = state.status if state else "[*]"
        allowed = False
        for command in COMMANDS:
            sent = parse_command({"type": command.__name__, "order_id": ORDER, **command.example})
            try:
                [event] = decide(state, sent, new_id=lambda: str(uuid.uuid4()), now=NOW)
            except CommandRejected:
                continue
            allowed = True
            after = fold([*history, event]).status
            edges.add((status, after, event["event_type"]))
            if after != status:
                histories.append([*history, event])
        if not allowed:
            edges.add((status, "[*]", ""))
    return edges
