"""Idempotent commands: a command sent again with its id returns the first result, appends nothing.

Every command type is tried with a lost response and a retry, sequentially, then with identical
retries racing in threads and in separate processes. Every wait is bounded.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading

import pytest
from child_processes import send_when_released
from command_builders import TRACKING, add, cancel, deliver, pay, place, ship
from order_service.write.store import CommandIdReused

TIMEOUT = 120  # seconds; a bound on every join and queue read, not an expectation

# Each command type, with the commands that lead to a state where it is allowed.
BEFORE = {
    "PlaceOrder": [],
    "AddOrderItem": [place("1001")],
    "PayOrder": [place("1001")],
    "ShipOrder": [place("1001"), pay("1001")],
    "DeliverOrder": [place("1001"), pay("1001"), ship("1001")],
    "CancelOrder": [place("1001")],
}
COMMAND = {
    "PlaceOrder": lambda: place("1001"),
    "AddOrderItem": lambda: add("1001"),
    "PayOrder": lambda: pay("1001"),
    "ShipOrder": lambda: ship("1001"),
    "DeliverOrder": lambda: deliver("1001", TRACKING),
    "CancelOrder": lambda: cancel("1001"),
}
# A command that changes the order after `COMMAND[name]`, so a late retry meets a newer state.
AFTER = {
    "PlaceOrder": lambda: add("1001", "GLOBE"),
    "AddOrderItem": lambda: add("1001", "GLOBE"),
    "PayOrder": lambda: ship("1001"),
    "ShipOrder": lambda: deliver("1001"),
    "DeliverOrder": None,  # final: nothing happens after a delivery
    "CancelOrder": None,  # final
}


def prepare(service, name):
    for command in BEFORE[name]:
        service.handle(command)
    return COMMAND[name]()


def stored(service):
    return [(event["version"], event["event_type"]) for event in service.store.load("1001")]


class LostResponse(Exception):
    """The connection dropped after the commit: the client never heard the answer."""


def lose_the_response(service, monkeypatch):
    append = service.store.append

    def append_then_drop(*args, **kwargs):
        append(*args, **kwargs)
        raise LostResponse

    monkeypatch.setattr(service.store, "append", append_then_drop)


@pytest.mark.parametrize("name", list(COMMAND))
def test_a_command_resent_after_a_lost_response_returns_its_version_and_appends_nothing(
    service, monkeypatch, name
):
    command = prepare(service, name)
    lose_the_response(service, monkeypatch)
    with pytest.raises(LostResponse):
        service.handle(command)
    monkeypatch.undo()
    after_first = stored(service)
    assert len(after_first) == len(BEFORE[name]) + 1  # the first attempt was stored
    assert service.handle(command) == after_first[-1][0]
    assert service.handle(command) == after_first[-1][0]
    assert stored(service) == after_first


@pytest.mark.parametrize("name", [name for name in COMMAND if AFTER[name] is not None])
def test_a_command_resent_after_the_order_moved_on_still_returns_its_first_version(service, name):
    command = prepare(service, name)
    version = service.handle(command)
    later = service.handle(AFTER[name]())
    assert later > version
    before_retry = stored(service)
    assert service.handle(command) == version  # not rejected, though the state moved on
    assert stored(service) == before_retry


@pytest.mark.parametrize("name", ["DeliverOrder", "CancelOrder"])
def test_a_command_resent_after_the_order_ended_still_returns_its_first_version(service, name):
    command = prepare(service, name)
    version = service.handle(command)
    assert service.handle(command) == version
    assert stored(service)[-1][0] == version


def test_the_same_command_id_with_another_command_is_refused_and_appends_nothing(service):
    first = place("1001")
    service.handle(first)
    other = add("1001").model_copy(update={"command_id": first.command_id})
    with pytest.raises(CommandIdReused) as refused:
        service.handle(other)
    assert refused.value.command_id == first.command_id
    assert first.command_id in str(refused.value)
    assert stored(service) == [(1, "OrderPlaced")]


def test_the_same_command_id_on_another_order_is_refused(service):
    first = place("1001")
    service.handle(first)
    other = place("1002").model_copy(update={"command_id": first.command_id})
    with pytest.raises(CommandIdReused):
        service.handle(other)
    assert service.store.load("1002") == []


def test_commands_with_their_own_ids_are_carried_out_each_time(service):
    service.handle(place("1001"))
    service.handle(add("1001"))
    service.handle(add("1001"))  # same content, new id: the client means a second line
    assert stored(service)[-1] == (3, "OrderItemAdded")


def test_a_rejected_command_is_not_recorded_and_can_be_sent_again(service):
    command = pay("1001")
    with pytest.raises(ValueError, match="no such order"):
        service.handle(command)
    service.handle(place("1001"))
    assert service.handle(command) == 2


def check_identical_retries(service, results, senders, name):
    """Every sender got the same version; the command's event is stored once."""
    assert len(results) == senders
    assert {outcome for outcome, _ in results} == {"ok"}, results
    versions = {version for _, version in results}
    events = stored(service)
    assert versions == {events[-1][0]}
    assert len(events) == len(BEFORE[name]) + 1


@pytest.mark.parametrize("name", list(COMMAND))
def test_identical_retries_racing_in_threads_all_get_one_version_and_one_event(service, name):
    senders = 6
    command = prepare(service, name)
    barrier, results = threading.Barrier(senders), queue.Queue()
    threads = [
        threading.Thread(
            target=send_when_released, args=(str(service.write_db), command, barrier, results)
        )
        for _ in range(senders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    collected = [results.get(timeout=TIMEOUT) for _ in range(senders)]
    check_identical_retries(service, collected, senders, name)


@pytest.mark.slow
@pytest.mark.fault
@pytest.mark.parametrize("name", ["PlaceOrder", "AddOrderItem", "PayOrder"])
def test_identical_retries_racing_in_processes_all_get_one_version_and_one_event(service, name):
    senders = 4
    command = prepare(service, name)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(senders), context.Queue()
    processes = [
        context.Process(
            target=send_when_released, args=(str(service.write_db), command, barrier, results)
        )
        for _ in range(senders)
    ]
    for process in processes:
        process.start()
    collected = [results.get(timeout=TIMEOUT) for _ in range(senders)]
    for process in processes:
        process.join(TIMEOUT)
    assert [process.exitcode for process in processes] == [0] * senders
    check_identical_retries(service, collected, senders, name)
