"""The Event Bus box on Apache Kafka: the topic, and the outbox relay's idempotent producer.

One topic, `order-events`, in `PARTITIONS` partitions. Each record's key is the event's
`order_id` (so an order's events share a partition and keep their version order), its value
the event's JSON as `schemas/` describe it, and its `position` header the event's global
position in the store. The relay produces a claimed batch, waits for every acknowledgement
(`acks=all`), and marks sent only the rows the broker acknowledged, in order. The producer is
idempotent: the broker drops a retried record it already has (within one producer session),
and a record published again after a crash is absorbed by each subscriber
(`bus.kafka_consumer`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

TOPIC = "order-events"
"""The topic every event is published to (`kafka://HOST:PORT/OTHER` names another)."""
PARTITIONS = 3
"""How many partitions a topic the relay creates has: an order always lands in one."""
POSITION = "position"
"""The header that carries the event's global position (decimal digits)."""
PRODUCER: dict[str, Any] = {"enable_idempotence": True, "acks": "all", "linger_ms": 5}
"""The relay producer's settings (librdkafka's names, dots as underscores); more may be given."""
FLUSH_TIMEOUT = 60.0
"""How long the relay waits for a batch's acknowledgements before it gives up on the rest."""

log = logging.getLogger(__name__)
client_log = logging.getLogger(f"{__name__}.librdkafka")
"""The client library's own log: errors only (its warnings retry on their own; `error_cb`
reports what lasts)."""
client_log.setLevel(logging.ERROR)

_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


@dataclass(frozen=True)
class KafkaBus:
    """Where the bus is: `kafka://HOST:PORT` (topic `order-events`) or `kafka://HOST:PORT/TOPIC`.

    Examples:
        >>> KafkaBus.parse("kafka://127.0.0.1:9092")
        KafkaBus(bootstrap='127.0.0.1:9092', topic='order-events')
        >>> KafkaBus.parse("kafka://localhost:9092/test-1").url
        'kafka://localhost:9092/test-1'
    """

    bootstrap: str
    """`HOST:PORT` of a broker."""
    topic: str = TOPIC

    @classmethod
    def parse(cls, url: str) -> KafkaBus:
        """Read a `kafka://` URL; a ValueError says what is wrong with it."""
        parts = urlsplit(url)
        if parts.scheme != "kafka":
            raise ValueError(f"{url!r} is not a kafka://HOST:PORT URL")
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise ValueError(f"{url!r}: give the broker as kafka://HOST:PORT")
        topic = parts.path.removeprefix("/") or TOPIC
        if not _TOPIC_NAME.fullmatch(topic) or topic in (".", ".."):
            raise ValueError(f"{url!r}: {topic!r} is not a Kafka topic name")
        return cls(f"{parts.hostname}:{port}", topic)

    @property
    def url(self) -> str:
        """The bus as `--bus` takes it."""
        return f"kafka://{self.bootstrap}" + ("" if self.topic == TOPIC else f"/{self.topic}")

    def config(self, **settings: Any) -> dict[str, Any]:
        """A client configuration for this broker, with `settings` (dots as underscores; a
        callback such as `error_cb` keeps its name)."""
        given = {
            name if name.endswith("_cb") else name.replace("_", "."): value
            for name, value in settings.items()
        }
        return {"bootstrap.servers": self.bootstrap, **given}

    def create_topic(self, *, partitions: int = PARTITIONS, timeout: float = 30.0) -> None:
        """Create the topic if it is missing; an existing one is kept as it is."""
        admin = AdminClient(self.config(socket_timeout_ms=int(timeout * 1000)))
        wanted = NewTopic(self.topic, num_partitions=partitions, replication_factor=1)
        future = admin.create_topics([wanted], operation_timeout=timeout)[self.topic]
        try:
            future.result(timeout)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def record_value(event: Mapping[str, Any]) -> bytes:
    """The event as a record's value: its JSON, UTF-8."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def decode(message: Message) -> tuple[Mapping[str, Any], int]:
    """A record's event and global position; ValueError if it is not one the relay wrote."""
    headers = dict(message.headers() or [])
    raw = headers.get(POSITION)
    if not isinstance(raw, bytes) or not raw.isdigit():
        raise ValueError(f"no {POSITION} header")
    value = message.value()
    try:
        event = json.loads(value) if isinstance(value, bytes) else None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"the value is not JSON ({error})") from None
    if not isinstance(event, dict) or not isinstance(event.get("order_id"), str):
        raise ValueError("the value is not an event with an order_id")
    return event, int(raw)


class Undelivered(Exception):
    """The broker did not acknowledge a record; the message says which and why."""


class KafkaPublisher:
    """The relay's publisher on Kafka: an idempotent producer (`acks=all`), keyed by order.

    `publish_batch` produces every event, flushes once, and returns how many of the first
    events were acknowledged: the relay marks those sent and leaves the rest unsent.
    """

    def __init__(self, bus: KafkaBus, *, create_topic: bool = True, **settings: Any) -> None:
        """`settings`: more producer configuration (e.g. `linger_ms=5`)."""
        self.bus = bus
        self._settings = settings
        if create_topic:
            bus.create_topic()
        self._producer: Producer | None = None
        self._aborted = threading.Event()

    def _open(self) -> Producer:
        if self._producer is None:
            defaults: dict[str, Any] = {
                **PRODUCER,
                "message_timeout_ms": int(FLUSH_TIMEOUT * 1000),
                "error_cb": _log_client_error,
                "log.connection.close": False,  # a broker closing an idle connection is no error
                "reconnect.backoff.max.ms": 1000,  # a broker back is found within a second
                "logger": client_log,
            }
            self._producer = Producer(self.bus.config(**(defaults | self._settings)))
        return self._producer

    def publish(self, event: Mapping[str, Any], position: int) -> None:
        """Publish one event and wait for its acknowledgement."""
        _delivered, failure = self.publish_batch([(position, event)])
        if failure is not None:
            raise failure

    def publish_batch(
        self, events: Sequence[tuple[int, Mapping[str, Any]]]
    ) -> tuple[int, Exception | None]:
        """Produce `events` in order, then wait for the broker.

        Returns how many of the first events were acknowledged, and the failure that stopped
        the rest (None when all were). After a failure the producer is replaced.
        """
        producer = self._open()
        reports: list[KafkaError | bool | None] = [False] * len(events)  # False: no report yet

        def on_delivery(index: int) -> Any:
            def delivered(error: KafkaError | None, _message: Message) -> None:
                reports[index] = error

            return delivered

        try:
            for index, (position, event) in enumerate(events):
                record = {
                    "key": str(event["order_id"]).encode(),
                    "value": record_value(event),
                    "headers": [(POSITION, str(position).encode())],
                    "on_delivery": on_delivery(index),
                }
                while True:
                    try:
                        producer.produce(self.bus.topic, **record)
                        break
                    except BufferError:  # the producer's queue is full: let deliveries drain it
                        if self._aborted.is_set():
                            raise
                        producer.poll(0.1)
                producer.poll(0)  # serve reports, so a full queue drains
            deadline = time.monotonic() + FLUSH_TIMEOUT
            while producer.flush(0.2) and not self._aborted.is_set():
                if time.monotonic() > deadline:
                    break
        except (KafkaException, BufferError) as error:
            self._reset()
            return _acknowledged(reports), Undelivered(f"producing to {self.bus.url}: {error}")
        count = _acknowledged(reports)
        if count == len(events):
            return count, None
        position = events[count][0]
        report = reports[count]  # read before the reset purges the rest
        reason = (
            "no acknowledgement (in time, or before the relay stopped)"
            if report is False
            else str(report)
        )
        self._reset()
        return count, Undelivered(f"event at position {position} not delivered: {reason}")

    def _reset(self) -> None:
        """Drop the producer and whatever it still holds; the next batch opens a new one."""
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.purge()
            producer.flush(0)

    def abort(self) -> None:
        """Stop waiting for acknowledgements (the relay is stopping): what has none stays unsent."""
        self._aborted.set()

    def close(self) -> None:
        """Wait a little for what is in flight, then let the producer go."""
        if self._producer is not None:
            self._producer.flush(0 if self._aborted.is_set() else 5.0)
            self._producer = None


def _acknowledged(reports: Sequence[KafkaError | bool | None]) -> int:
    """How many of the first records have a report without error."""
    count = 0
    for report in reports:
        if report is not None:
            break
        count += 1
    return count


def _log_client_error(error: KafkaError) -> None:
    """The client's own errors (a broker away): one line each, at once."""
    log.error("kafka client: %s", error)
