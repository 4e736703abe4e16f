"""A subscriber fed by Kafka: one consumer group per subscriber, offsets after the commit.

Each subscriber (the projector, the notifier) is its own consumer group, `<topic>.<name>`, so
each reads every event at its own pace. The events of one poll are applied in one transaction
of the subscriber's database, with its tracking record and parking (as in `bus.subscription`);
their offsets are committed to Kafka only after that transaction committed. A crash in
between delivers them again, and the subscriber absorbs them: the projector ignores an
event at or below its row's `last_version`, the notifier sends once per event id.

Kafka keeps each partition in order, and an order's events share a partition (the key), so
each order is applied in version order; the tracking position is the highest position
applied (partitions move at their own pace, so `lag` is approximate here). When the group
rebalances, the offsets applied so far are committed before the partitions are handed on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from order_service.bus.kafka import KafkaBus, client_log, decode
from order_service.bus.subscription import Subscriber, Tracking, apply_in_savepoint
from order_service.infra.database import backend_of

log = logging.getLogger(__name__)

BATCH = 500
"""How many records one poll returns at most."""


def group_id(bus: KafkaBus, name: str) -> str:
    """The consumer group of subscriber `name`: `<topic>.<name>`."""
    return f"{bus.topic}.{name}"


def group_lag(bus: KafkaBus, name: str, *, timeout: float = 10.0) -> int:
    """How many records of the topic subscriber `name`'s group has not committed yet.

    It reads the group's committed offsets without joining the group.
    """
    consumer = Consumer(
        bus.config(group_id=group_id(bus, name), enable_auto_commit=False, logger=client_log)
    )
    try:
        topic = consumer.list_topics(bus.topic, timeout=timeout).topics.get(bus.topic)
        if topic is None or topic.error is not None:
            raise KafkaException(topic.error if topic is not None else f"no topic {bus.topic}")
        partitions = [TopicPartition(bus.topic, number) for number in topic.partitions]
        lag = 0
        for committed in consumer.committed(partitions, timeout=timeout):
            low, high = consumer.get_watermark_offsets(
                TopicPartition(bus.topic, committed.partition), timeout=timeout
            )
            lag += max(high - (committed.offset if committed.offset >= 0 else low), 0)
        return lag
    finally:
        consumer.close()


class KafkaSubscription:
    """Apply the topic's records to one subscriber, committing each offset after its commit.

    Args:
        bus: the broker and topic.
        subscriber: what applies the events, with its own connection.
        clock: the time written on a parked event.
        poll_timeout: how long one poll waits for records, in seconds.
        settings: more consumer configuration (e.g. `session_timeout_ms=6000`).
    """

    MAX_BACKOFF = 5.0

    def __init__(
        self,
        bus: KafkaBus,
        subscriber: Subscriber,
        *,
        clock: Callable[[], str],
        poll_timeout: float = 0.2,
        **settings: Any,
    ) -> None:
        self.bus = bus
        self.subscriber = subscriber
        self.name = subscriber.name
        self.clock = clock
        self.poll_timeout = poll_timeout
        self.tracking = Tracking(subscriber.name, subscriber.conn)
        self.error: BaseException | None = None
        """The last failure outside an event (the database, the broker); None once recovered."""
        self.applied = 0
        """How many events this process handled (applied, absorbed or parked)."""
        self._settings = settings
        self._pending: dict[int, int] = {}  # partition -> next offset to commit

    # --8<-- [start:handle]
    def handle(self, events: Sequence[tuple[int, Mapping[str, Any]]]) -> int:
        """Apply, park or absorb each event, all in one transaction; return how many parked."""
        tracking = self.tracking
        parked: list[tuple[int, Mapping[str, Any], str]] = []
        with tracking.db.transaction(tracking.conn):
            tracking.position(lock=True)  # a redrive of this subscriber waits, or we wait for it
            blocked = tracking.parked_orders()
            for position, event in events:
                order_id = event["order_id"]
                if order_id in blocked and tracking.parked_at(position):
                    continue  # delivered again: it stays parked until `orders redrive`
                error: str | None
                if order_id in blocked and tracking.is_parked(order_id, before=position):
                    error = "waits behind an earlier parked event of its order"
                else:  # a redelivered event is applied again: the subscriber absorbs it
                    error = apply_in_savepoint(self.subscriber, event, position)
                if error is not None:
                    tracking.park(event, position, error, self.clock())
                    blocked.add(order_id)
                    parked.append((position, event, error))
                tracking.advance(position)
        for position, event, error in parked:
            log.error(
                "subscriber %s parked event %s of order %s (version %s) at position %s: %s",
                self.name, event.get("event_id"), event["order_id"], event.get("version"),
                position, error,
            )  # fmt: skip
        return len(parked)

    # --8<-- [end:handle]

    def consumer(self) -> Consumer:
        """A consumer in this subscriber's group, subscribed to the topic."""
        defaults: dict[str, Any] = {
            "group_id": group_id(self.bus, self.name),
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "error_cb": self._client_error,
            "log.connection.close": False,  # a broker closing an idle connection is no error
            "reconnect.backoff.max.ms": 1000,  # a broker back is found within a second
            "logger": client_log,
        }
        consumer = Consumer(self.bus.config(**(defaults | self._settings)))
        consumer.subscribe(
            [self.bus.topic], on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._lost
        )
        return consumer

    def run(self, stop: threading.Event, *, until: Callable[[], bool] | None = None) -> None:
        """Consume until `stop` is set (or `until()` is true); commit what was applied; leave.

        A failure of the subscriber's database is logged, and the records from the failed one
        on come again after a backoff; a fatal client error (`KafkaException`) is raised.
        """
        consumer = self.consumer()
        backoff = self.poll_timeout
        try:
            while not stop.is_set() and not (until is not None and until()):
                messages = self._poll(consumer)
                try:
                    self._handle_all(consumer, messages)
                except KafkaException:  # a fatal client error: the process cannot go on
                    raise
                except Exception as error:  # the subscriber's database, not an event: retried
                    self._failed(error, backoff)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, self.MAX_BACKOFF)
                    backend_of(self.subscriber.conn).reconnect(self.subscriber.conn)
                    continue
                if messages and self.error is not None:
                    log.warning("subscriber %s recovered", self.name)
                    self.error = None
                backoff = self.poll_timeout
                self._commit(consumer)
        finally:
            self._commit(consumer)
            consumer.close()  # leaves the group: its partitions move on at once

    def _poll(self, consumer: Consumer) -> list[Message]:
        """The records ready now, up to BATCH, waiting at most `poll_timeout` for the first.

        `consume(BATCH, timeout)` alone would wait the whole timeout unless BATCH records came,
        adding up to `poll_timeout` to every record's lag.
        """
        first = consumer.poll(self.poll_timeout)
        if first is None:
            return []
        return [first, *consumer.consume(BATCH - 1, 0)]

    def _handle_all(self, consumer: Consumer, messages: Sequence[Message]) -> None:
        """Handle a poll's records in one transaction, then note their offsets to commit."""
        events: list[tuple[int, Mapping[str, Any]]] = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                log.error("subscriber %s: kafka: %s", self.name, error)
                continue
            try:
                event, position = decode(message)
            except ValueError as bad:  # not a record the relay wrote: logged and passed over
                log.error(
                    "subscriber %s skipped the record at partition %s offset %s: %s",
                    self.name, message.partition(), message.offset(), bad,
                )  # fmt: skip
                continue
            events.append((position, event))
        try:
            self.handle(events)
        except Exception:
            self._rewind(consumer, messages)  # rolled back: every record of the poll comes again
            raise
        self.applied += len(events)
        for message in messages:
            if message.error() is None:
                self._pending[_partition(message)] = _offset(message) + 1

    def _rewind(self, consumer: Consumer, unhandled: Sequence[Message]) -> None:
        """Seek each partition back to its first record not handled: they come again."""
        first: dict[int, int] = {}
        for message in unhandled:
            if message.error() is None:
                first.setdefault(_partition(message), _offset(message))
        for partition, offset in first.items():
            consumer.seek(TopicPartition(self.bus.topic, partition, offset))

    def _commit(self, consumer: Consumer, partitions: Sequence[int] | None = None) -> None:
        """Commit the offsets applied (of `partitions`, by default all); failures are logged."""
        chosen = self._pending if partitions is None else set(partitions) & set(self._pending)
        offsets = [TopicPartition(self.bus.topic, p, self._pending[p]) for p in chosen]
        if not offsets:
            return
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:  # applied already: a redelivery will be absorbed
            log.warning("subscriber %s could not commit its offsets: %s", self.name, error)
            return
        for offset in offsets:
            if self._pending.get(offset.partition) == offset.offset:
                del self._pending[offset.partition]

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        numbers = ", ".join(str(tp.partition) for tp in partitions) or "none"
        log.info("subscriber %s assigned partitions %s of %s", self.name, numbers, self.bus.topic)

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """A rebalance takes partitions away: commit what was applied from them first."""
        self._commit(consumer, [tp.partition for tp in partitions])
        for tp in partitions:
            self._pending.pop(tp.partition, None)

    def _lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Partitions lost without a rebalance (the session expired): nothing can be committed."""
        for tp in partitions:
            self._pending.pop(tp.partition, None)

    def _client_error(self, error: KafkaError) -> None:
        self._failed(KafkaException(error), None)

    def _failed(self, error: BaseException, backoff: float | None) -> None:
        self.error = error
        retry = "" if backoff is None else f", retrying in {backoff:.2f} s"
        log.error("subscriber %s failed%s: %s: %s", self.name, retry, type(error).__name__, error)

    @property
    def state(self) -> str:
        """`running`, or `failing: <error>` until a poll brings records again."""
        error = self.error
        return "running" if error is None else f"failing: {type(error).__name__}: {error}"


def _partition(message: Message) -> int:
    partition = message.partition()
    assert partition is not None  # a record always has one
    return partition


def _offset(message: Message) -> int:
    offset = message.offset()
    assert offset is not None  # a record always has one
    return offset
