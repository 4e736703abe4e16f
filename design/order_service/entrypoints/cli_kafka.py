"""The `orders relay` and `orders project` handlers: the diagram's processes, each on its own.

`orders relay --db DB --bus kafka://HOST:PORT` publishes the outbox to Kafka; `orders project
--db DB --bus kafka://...` applies the topic to the read model (`--subscriber
shipping_notifier`, or `orders notify`, runs the notifier instead). Each runs until SIGTERM or
Ctrl-C, then commits what it applied and exits 0; a problem it cannot go on from (no such
database, no broker at start, a bad URL) is one line on the error stream and exit 1.
`cli.py` imports this module only when one of them runs.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import Any, TextIO

from order_service.app import OrderService, bootstrap, read_db_for
from order_service.entrypoints.cli_database import _fail, _read_db, _refusals, _write_db
from order_service.infra.database import shown

START_TIMEOUT = 10.0
"""How long a process waits for the broker at start before it gives up (exit 1)."""


@contextmanager
def until_signalled() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT (Ctrl-C) while the block runs; handlers restored after."""
    stop = threading.Event()
    previous = {
        number: signal.signal(number, lambda *_: stop.set())
        for number in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def open_on_kafka(args: argparse.Namespace, err: TextIO) -> OrderService | None:
    """The service over `--db` (and `--read-db`) with the relay on `--bus`; None if refused.

    The topic is created if missing, so a broker that does not answer is refused here.
    """
    try:
        from order_service.bus.kafka import KafkaBus
    except ModuleNotFoundError as error:
        _fail(err, f"--bus kafka:// needs the `kafka` extra ({error.name} is not installed): "
              "pip install -e '.[kafka]' (or `make setup`)")  # fmt: skip
        return None
    try:
        bus = KafkaBus.parse(args.bus)
        write_db = _write_db(args.db)
        read_db = getattr(args, "read_db", None)
        read_db = _read_db(read_db or read_db_for(write_db), write_db)
    except ValueError as error:
        _fail(err, f"--bus {error}")
        return None
    except _refusals() as error:
        _fail(err, str(error))
        return None
    try:
        bus.create_topic(timeout=START_TIMEOUT)
    except (Exception, FutureTimeout) as error:  # no broker there: librdkafka's error, a timeout
        _fail(err, f"cannot reach the broker at {bus.url}: {type(error).__name__}: {error}")
        return None
    try:
        return bootstrap(write_db, read_db, bus=bus.url)
    except _refusals() as error:
        _fail(err, str(error))
        return None


def run_relay_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`orders relay --db DB --bus kafka://...`: publish the outbox until stopped."""
    service = open_on_kafka(args, err)
    if service is None:
        return 1
    try:
        with until_signalled() as stop:
            worker = service.worker(interval=args.interval).start()
            print(
                f"orders: relaying {shown(str(service.write_db))} to {args.bus} (Ctrl-C stops)",
                file=err,
                flush=True,
            )
            stop.wait()
            worker.stop()
        pending = service.relay.pending()
    finally:
        service.close()
    print(f"orders: relay stopped, {pending} event(s) unsent", file=err)
    return 0


def run_project_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`orders project --db DB --bus kafka://...`: apply the topic to one subscriber."""
    service = open_on_kafka(args, err)
    if service is None:
        return 1
    try:
        if args.subscriber not in service.subscriptions:
            names = ", ".join(service.subscriptions)
            return _fail(err, f"--subscriber {args.subscriber!r}: no such subscriber ({names})")
        settings: dict[str, Any] = {"session_timeout_ms": int(args.session_timeout * 1000)}
        subscription = service.kafka_subscription(
            args.subscriber, poll_timeout=args.poll_timeout, **settings
        )
        logging.getLogger("order_service.bus.kafka_consumer").setLevel(logging.INFO)  # assigned
        with until_signalled() as stop:
            print(
                f"orders: {args.subscriber} consuming {args.bus} as group "
                f"{subscription.bus.topic}.{args.subscriber} (Ctrl-C stops)",
                file=err,
                flush=True,
            )
            subscription.run(stop)
    except Exception as error:  # the consumer could not run at all: a fatal client error
        return _fail(err, f"{args.subscriber} stopped: {type(error).__name__}: {error}")
    finally:
        service.close()
    print(f"orders: {args.subscriber} stopped after {subscription.applied} event(s)", file=err)
    return 0
