"""The command registry: each command declares its parts once; the tables derive from it."""

from __future__ import annotations

import inspect

import order_service.model.commands as commands_module
import pytest
from event_streams import envelope, placed
from order_service.entrypoints.http_api import ORDER_COMMANDS, REQUEST_EXAMPLES
from order_service.model.commands import COMMANDS, parse_command
from order_service.model.decide import COMMAND_BEHIND
from order_service.model.fold import CURRENT_SCHEMA_VERSIONS, fold


def test_every_command_class_of_the_module_is_in_the_registry():
    declared = {
        value
        for value in vars(commands_module).values()
        if inspect.isclass(value) and issubclass(value, commands_module._Command)
    }
    assert declared - {commands_module._Command} == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command.__name__)
def test_every_command_declares_each_part(command):
    assert command.event in CURRENT_SCHEMA_VERSIONS
    assert COMMAND_BEHIND[command.event] == command.__name__
    assert command.http_path == "/orders" or command.http_path.startswith("/orders/{order_id}/")
    assert command.summary and command.summary[0].isupper()
    assert command.accepted_when and command.accepted_when[0].islower()  # a table cell
    body = {"type": command.__name__, "order_id": "1001", **command.example}
    assert type(parse_command(body)) is command


def test_each_event_type_has_one_command_and_each_command_one_endpoint():
    assert sorted(command.event for command in COMMANDS) == sorted(CURRENT_SCHEMA_VERSIONS)
    assert len({command.http_path for command in COMMANDS}) == len(COMMANDS)
    assert len({command.summary for command in COMMANDS}) == len(COMMANDS)


def test_the_http_tables_are_the_registry():
    assert {command.__name__: command.example for command in COMMANDS} == REQUEST_EXAMPLES
    routed = {command for command, _ in ORDER_COMMANDS.values()}
    assert routed == {command for command in COMMANDS if command.http_path != "/orders"}
    for path, (command, summary) in ORDER_COMMANDS.items():
        assert (f"/orders/{{order_id}}/{path}", summary) == (command.http_path, command.summary)


def test_an_event_type_without_a_branch_in_evolve_fails_by_name(monkeypatch):
    monkeypatch.setitem(CURRENT_SCHEMA_VERSIONS, "OrderTeleported", 1)
    with pytest.raises(NotImplementedError, match="no branch for OrderTeleported"):
        fold([placed(1), envelope(2, "OrderTeleported", {})])
