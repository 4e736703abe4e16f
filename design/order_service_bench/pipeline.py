"""The pipeline section: commands through the running HTTP API, and the read side keeping up.

Each round starts the design as `orders serve` runs it (`http_api.create_app` on uvicorn, the
relay and every subscriber in their threads) in a child process on a free loopback port, over
fresh databases (SQLite files, or schemas on the benchmark's PostgreSQL server). A few client
threads then send a bounded number of orders, each four commands in turn (place, pay, ship,
deliver), over kept-alive HTTP connections, and time each command from its request to its 2xx.
A watcher polls the read database every `POLL` seconds and records when each acknowledged
version shows in `order_summary`: the lag from the 2xx to the read model. Meanwhile a reader
client reads the order last acknowledged, as soon as it sees it, twice: a plain `GET /orders/{id}`
and a waiting one (`?min_version=` the version acknowledged, which answers once the read model
holds it), each first in turn, and times both. At the end every order is read through
`GET /orders/{id}`, which must show its last version.

The variants run in interleaved rounds, side by side in the same run: `default` (the embedded
bus: the projector and the shipping notifier in the server's threads), `slow_subscriber`, which
adds a subscriber that sleeps `SLOW_SECONDS` on every event, so its own thread falls far behind:
the commands and the projector must not notice it, `waiting_reads`, in which `WAITERS` more
clients each hold a read waiting for a version that never comes (`?min_version=`, answered
after the API's wait timeout, then sent again) the whole round, their first reads spread evenly
over one timeout as independent clients arrive (started together, all sixty would time out in
the same instant, every time, and the commands would measure that burst of sixty requests, not
the waiting): the commands must not notice them either; `plain_reads`, its control: as many
clients send the same read without `min_version`, each once per wait timeout, so the requests
are the same and only the waiting differs; and
`kafka`: the server as `orders serve
--bus kafka://...` runs it (commands, queries and the relay, publishing to a fresh topic on the
benchmark's broker), with `orders project` and `orders notify` in processes of their own; the
clients start once both consumer groups hold every partition.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from order_service.app import read_db_for
from order_service.entrypoints.http_api import WAIT_TIMEOUT
from order_service.infra.database import Backend, open_backend

from order_service_bench.kafka_server import LIBS, LIBS_VARIABLE, Broker
from order_service_bench.postgres_server import Server
from order_service_bench.timing import Measurement, Progress

VARIANTS = ("default", "slow_subscriber", "waiting_reads", "plain_reads", "kafka")
KAFKA = "kafka"
"""The variant whose bus is Kafka; measured only when the benchmark has a broker."""
SLOW_SECONDS = 0.05
"""How long the slow subscriber sleeps on every event."""
SLOW_NAME = "slow_subscriber"
WAITING = "waiting_reads"
"""The variant whose round runs beside `WAITERS` reads that wait the whole time."""
WAITERS = 60
"""How many reads wait at once in the `waiting_reads` variant."""
PLAIN = "plain_reads"
"""The control for `waiting_reads`: as many clients, the same reads at the same pace (one per
`WAIT_TIMEOUT` each), not waiting: what the requests cost, without the waiting."""
NEVER = 2**31
"""A version no order reaches: the largest `min_version` the API accepts."""
UNUSED_ORDER = "999999999999"
"""An order id no round places (the rounds number theirs from 100,000 and 500,000)."""
RELAY_INTERVAL = 0.01
"""The relay's idle poll, as `orders serve` runs it (PostgreSQL wakes it by NOTIFY too)."""
POLL = 0.002
"""How often the watcher reads the read model: the lag's resolution."""
SETTLE_TIMEOUT = 30.0
"""How long the watcher waits, after the last command, for versions still unseen."""
REQUEST_TIMEOUT = 30.0
START_TIMEOUT = 60.0

PLACE = {
    "customer_id": "C-0042",
    "lines": [
        {"sku": "RETRO-CLOCK", "quantity": 1, "unit_price": {"amount": "79.99", "currency": "EUR"}},
        {"sku": "BRASS-KEY", "quantity": 2, "unit_price": {"amount": "24.99", "currency": "EUR"}},
    ],
}
STEPS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("payment", {"payment_id": "PAY-7731", "amount": {"amount": "129.97", "currency": "EUR"}}),
    ("shipment", {"carrier": "DHL", "tracking_number": "JD014600006281230704"}),
    ("delivery", {"tracking_number": "JD014600006281230704"}),
)
COMMANDS_PER_ORDER = 1 + len(STEPS)
READS = ("plain", "waiting")
"""The reader's two reads of an order just written: without and with `min_version`."""


@dataclass(frozen=True)
class Load:
    """How much each round sends: `orders` orders of four commands over `clients` clients."""

    orders: int
    clients: int
    rounds: int
    """Rounds per variant and database, interleaved."""


@dataclass
class Samples:
    """What the rounds of one variant on one database measured."""

    latency_s: list[float] = field(default_factory=list)
    """Each command's time from its request to its 2xx."""
    lag_s: list[float] = field(default_factory=list)
    """Each acknowledged version's time from its 2xx to the watcher seeing it projected."""
    wall_s: list[float] = field(default_factory=list)
    """Each round's time from its first request to its last answer."""
    commands: int = 0
    acknowledged: int = 0
    projected: int = 0
    read_back: int = 0
    """Orders that `GET /orders/{id}` showed at their last version after the round."""
    statuses: Counter[int] = field(default_factory=Counter)
    behind: Counter[str] = field(default_factory=Counter)
    """Each subscriber `GET /health` listed after the round: how many events it was behind."""
    read_s: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in READS})
    """Each read's time from its request to its answer, by kind (`plain`, `waiting`)."""
    read_statuses: Counter[str] = field(default_factory=Counter)
    """How the reads were answered: `plain 200`, `waiting 200`, `plain 404`..."""
    held: Counter[int] = field(default_factory=Counter)
    """How the reads beside the commands (`waiting_reads`, `plain_reads`) were answered."""
    held_at_start: list[int] = field(default_factory=list)
    """Each round, when the commands began: the reads `GET /health` showed waiting
    (`waiting_reads`), or the clients that had sent their first read (`plain_reads`)."""

    def extend(self, other: Samples) -> None:
        self.latency_s += other.latency_s
        self.lag_s += other.lag_s
        self.wall_s += other.wall_s
        self.commands += other.commands
        self.acknowledged += other.acknowledged
        self.projected += other.projected
        self.read_back += other.read_back
        self.statuses.update(other.statuses)
        self.behind.update(other.behind)
        for kind in READS:
            self.read_s[kind] += other.read_s[kind]
        self.read_statuses.update(other.read_statuses)
        self.held.update(other.held)
        self.held_at_start += other.held_at_start


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p99 and max, in milliseconds (p99 by the inclusive method; 0 for no values)."""
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    p99 = statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else 0.0
    return {
        "p50": statistics.median(values) * 1e3,
        "p99": (p99 or values[0]) * 1e3,
        "max": max(values) * 1e3,
    }


def summary(samples: Samples) -> dict[str, Any]:
    """One variant on one database, as the results file keeps it."""
    wall = sum(samples.wall_s)
    return {
        "rounds": len(samples.wall_s),
        "commands": samples.commands,
        "acknowledged": samples.acknowledged,
        "projected": samples.projected,
        "read_back": samples.read_back,
        "statuses": {str(code): n for code, n in sorted(samples.statuses.items())},
        "subscribers_behind_at_end": dict(sorted(samples.behind.items())),
        "commands_per_s": samples.acknowledged / wall if wall else 0.0,
        "latency_ms": percentiles(samples.latency_s),
        "lag_ms": percentiles(samples.lag_s),
        "reads": {
            kind: {
                "count": len(samples.read_s[kind]),
                "latency_ms": percentiles(samples.read_s[kind]),
            }
            for kind in READS
        },
        "read_statuses": dict(sorted(samples.read_statuses.items())),
        "held_reads": {
            "answered": {str(code): n for code, n in sorted(samples.held.items())},
            "waiting_at_start": samples.held_at_start,
        },
    }


# --- the server: `python -m order_service_bench.pipeline --db ...` ----------------------------


class Sleeper:
    """A subscriber that sleeps on every event (and stops sleeping once told to stop)."""

    name = SLOW_NAME

    def __init__(self, conn: Any, seconds: float, stopping: threading.Event) -> None:
        self.conn = conn
        self.seconds = seconds
        self.stopping = stopping

    def apply(self, event: Mapping[str, Any], position: int) -> None:
        self.stopping.wait(self.seconds)


def _with_slow_subscriber(app: Any, seconds: float) -> None:
    """Wrap the app's lifespan: after the service starts, add the sleeper in its own thread."""
    from order_service.bus.subscription import SubscriptionWorker

    started = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with started(app):
            service = app.state.runtime.service  # opened at start: the bench's database is up
            stopping = threading.Event()
            service.add_subscriber(lambda conn: Sleeper(conn, seconds, stopping), SLOW_NAME)
            worker = SubscriptionWorker(service.subscriptions[SLOW_NAME]).start()
            service.bus.subscribers[SLOW_NAME] = worker.wake
            try:
                yield
            finally:
                stopping.set()
                worker.stop()

    app.router.lifespan_context = lifespan


def serve(db: str, sleep: float, bus: str | None = None) -> None:
    """Serve the API on a free loopback port over `db`; print the port, then run until SIGTERM."""
    import uvicorn
    from order_service.entrypoints.http_api import create_app

    app = create_app(db, relay_interval=RELAY_INTERVAL, bus=bus)
    if sleep > 0:
        _with_slow_subscriber(app, sleep)
    # IPPROTO_TCP named, as getaddrinfo names it when uvicorn binds the port itself: asyncio
    # sets TCP_NODELAY only on such sockets, and without it a keep-alive client waits for
    # the delayed ACK (40 ms) on each answer.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", server_header=False, date_header=False)
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(config).run(sockets=[sock])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m order_service_bench.pipeline")
    parser.add_argument("--db", required=True, help="write database: a file or a URL")
    parser.add_argument("--sleep", type=float, default=0.0, help="add the slow subscriber")
    parser.add_argument("--bus", help="kafka://HOST:PORT/TOPIC: serve as `orders serve --bus`")
    args = parser.parse_args(argv)
    serve(args.db, args.sleep, args.bus)
    return 0


SUBSCRIBER_COMMANDS = ("project", "notify")
"""The `orders` commands that run the subscribers apart on Kafka."""


@contextlib.contextmanager
def running(db: str, sleep: float, bus: str | None = None) -> Iterator[int]:
    """The server in a child process; yields its port, stops it (SIGTERM) at the end.

    With a Kafka `bus`, `orders project` and `orders notify` run too, each its own process,
    and the port is yielded once both groups hold every partition.
    """
    command = [sys.executable, "-m", "order_service_bench.pipeline", "--db", db]
    command += ["--sleep", str(sleep)] + (["--bus", bus] if bus else [])
    with contextlib.ExitStack() as stack:
        port = stack.enter_context(_server(command))  # it creates the databases and the topic
        if bus is not None:
            for name in SUBSCRIBER_COMMANDS:
                stack.enter_context(_subscriber_process(name, db, bus))
            _wait_for_groups(bus)
        yield port


@contextlib.contextmanager
def _subscriber_process(name: str, db: str, bus: str) -> Iterator[None]:
    """`orders NAME --db DB --bus BUS` in a child process, stopped by SIGTERM (exit 0)."""
    cli = [sys.executable, "-m", "order_service.entrypoints.cli", name, "--db", db, "--bus", bus]
    child = subprocess.Popen(cli, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield
    finally:
        _stop(child, f"orders {name}")


def _wait_for_groups(bus: str) -> None:
    """Wait until each subscriber's consumer group is stable and holds every partition."""
    from confluent_kafka import ConsumerGroupState, KafkaException
    from confluent_kafka.admin import AdminClient
    from order_service.bus.kafka import PARTITIONS, KafkaBus
    from order_service.bus.kafka_consumer import group_id
    from order_service.read.notifications import NOTIFIER
    from order_service.read.read_model import PROJECTION

    kafka = KafkaBus.parse(bus)
    admin = AdminClient(kafka.config())
    groups = [group_id(kafka, name) for name in (PROJECTION, NOTIFIER)]
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        ready = 0
        for future in admin.describe_consumer_groups(groups, request_timeout=5).values():
            with contextlib.suppress(KafkaException):
                found = future.result()
                held = sum(len(m.assignment.topic_partitions) for m in found.members)
                ready += found.state == ConsumerGroupState.STABLE and held == PARTITIONS
        if ready == len(groups):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the consumer groups {groups} never held every partition")
        time.sleep(0.1)


@contextlib.contextmanager
def _server(command: list[str]) -> Iterator[int]:
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(child.stdout, selectors.EVENT_READ)
            line = child.stdout.readline() if selector.select(START_TIMEOUT) else ""
        if not line.strip().isdigit():
            raise RuntimeError(f"the pipeline server did not start: {line!r}")
        port = int(line)
        _wait_until_healthy(port)
        yield port
    finally:
        _stop(child, "the pipeline server")


def _stop(child: subprocess.Popen[str], what: str) -> None:
    """SIGTERM, then wait (a kill after 30 s); a RuntimeError if it had failed."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
    try:
        _, err = child.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        _, err = child.communicate()
    if child.returncode not in (0, -signal.SIGTERM):
        raise RuntimeError(f"{what} failed ({child.returncode}):\n{err}")


def _wait_until_healthy(port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=5)) as conn:
                conn.request("GET", "/health")
                answer = conn.getresponse()
                answer.read()
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the pipeline server on port {port} never became healthy")
        time.sleep(0.05)


# --- the clients and the watcher -------------------------------------------------------------


class Watcher:
    """Polls the read model; records, for each acknowledged version, when it shows there."""

    def __init__(self, read_db: Backend) -> None:
        self.read_db = read_db
        self.lock = threading.Lock()
        self.pending: dict[str, list[tuple[int, float]]] = {}
        self.lag_s: list[float] = []
        self.latest: tuple[str, int] | None = None
        """The order and version acknowledged last (the reader reads it)."""
        self.clients_done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pipeline watcher", daemon=True)

    def acknowledged(self, order_id: str, version: int, at: float) -> None:
        with self.lock:
            self.pending.setdefault(order_id, []).append((version, at))
            self.latest = (order_id, version)

    def unseen(self) -> int:
        with self.lock:
            return sum(map(len, self.pending.values()))

    def _run(self) -> None:
        deadline = None
        with closing(self.read_db.connect(read_only=True)) as conn:
            while True:
                if self.clients_done.is_set():
                    deadline = deadline or time.perf_counter() + SETTLE_TIMEOUT
                    if not self.unseen() or time.perf_counter() > deadline:
                        return
                rows = conn.execute("SELECT order_id, last_version FROM order_summary").fetchall()
                seen_at = time.perf_counter()
                with self.lock:
                    for order_id, last_version in rows:
                        waiting = self.pending.get(order_id)
                        if not waiting:
                            continue
                        for version, acked in [w for w in waiting if w[0] <= last_version]:
                            self.lag_s.append(seen_at - acked)
                            waiting.remove((version, acked))
                time.sleep(POLL)


def _post(conn: http.client.HTTPConnection, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    answer = conn.getresponse()
    return answer.status, json.loads(answer.read() or b"null")


def _client(
    port: int, order_ids: list[str], watcher: Watcher, samples: Samples, lock: threading.Lock
) -> None:
    latency, statuses = [], Counter[int]()
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)) as conn:
        for order_id in order_ids:
            requests = [("/orders", {"order_id": order_id, **PLACE})]
            requests += [(f"/orders/{order_id}/{path}", body) for path, body in STEPS]
            for path, body in requests:
                start = time.perf_counter()
                status, answer = _post(conn, path, body)
                acked = time.perf_counter()
                statuses[status] += 1
                if 200 <= status < 300:
                    latency.append(acked - start)
                    watcher.acknowledged(order_id, answer["version"], acked)
                else:
                    break  # the order's later commands would fail too
    with lock:
        samples.latency_s += latency
        samples.statuses.update(statuses)


def _reader(port: int, watcher: Watcher, samples: Samples) -> None:
    """Until the clients are done, read the order acknowledged last, plain and waiting."""
    read_s: dict[str, list[float]] = {kind: [] for kind in READS}
    statuses, last, turn = Counter[str](), None, 0
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)) as conn:
        while True:
            latest = watcher.latest
            if latest is None or latest == last:
                if watcher.clients_done.is_set():
                    break  # after reading the last order acknowledged, once
                time.sleep(POLL)
                continue
            last, (order_id, version) = latest, latest
            paths = {"plain": "", "waiting": f"?min_version={version}"}
            for kind in READS[turn % 2 :] + READS[: turn % 2]:  # each kind first in turn
                start = time.perf_counter()
                conn.request("GET", f"/orders/{order_id}{paths[kind]}")
                answer = conn.getresponse()
                answer.read()
                read_s[kind].append(time.perf_counter() - start)
                statuses[f"{kind} {answer.status}"] += 1
            turn += 1
    samples.read_s, samples.read_statuses = read_s, statuses


def _holder(
    port: int,
    until: threading.Event,
    held: Counter[int],
    lock: threading.Lock,
    delay: float,
    wait: bool,
    reading: list[float],
) -> None:
    """After `delay` s, until `until`: keep one read waiting for a version that never comes
    (`wait`), or send the same read without `min_version` once per `WAIT_TIMEOUT`. Counts
    each answer's status into `held`; adds one item to `reading` once its first read is sent."""
    path = f"/orders/{UNUSED_ORDER}" + (f"?min_version={NEVER}" if wait else "")
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)) as conn:
        until.wait(delay)
        first = True
        while not until.is_set():
            conn.request("GET", path)
            if first:
                with lock:
                    reading.append(time.monotonic())
                first = False
            answer = conn.getresponse()
            answer.read()
            with lock:
                held[answer.status] += 1
            if not wait:
                until.wait(WAIT_TIMEOUT)


def _waiting_reads(port: int) -> int:
    """How many reads `GET /health` says are waiting now."""
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)) as conn:
        conn.request("GET", "/health")
        found: int = json.loads(conn.getresponse().read())["waiting_reads"]
        return found


def _read_back(port: int, order_ids: list[str]) -> int:
    """How many orders `GET /orders/{id}` shows at their last version (ETag)."""
    shown = 0
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)) as conn:
        for order_id in order_ids:
            conn.request("GET", f"/orders/{order_id}?min_version={COMMANDS_PER_ORDER}")
            answer = conn.getresponse()
            answer.read()
            if answer.status == 200 and answer.getheader("ETag") == f'"{COMMANDS_PER_ORDER}"':
                shown += 1
    return shown


def _behind(port: int) -> Counter[str]:
    """Each subscriber `GET /health` lists, and how many events it is behind the store."""
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)) as conn:
        conn.request("GET", "/health")
        health = json.loads(conn.getresponse().read())
    return Counter({found["subscriber"]: found["lag"] for found in health["subscribers"]})


def drive(
    port: int,
    read_db: Backend,
    order_ids: list[str],
    clients: int,
    waiters: int = 0,
    wait: bool = True,
) -> Samples:
    """Send every order's commands over `clients` connections; measure latency and lag.

    With `waiters`, that many reads wait for a version that never comes the whole time, the
    first of each spread evenly over `WAIT_TIMEOUT`: the commands begin once `GET /health`
    shows them all waiting. With `wait` False, those clients send the same reads without
    `min_version`, each once per `WAIT_TIMEOUT`: the commands begin once each has sent one.
    """
    samples = Samples(commands=len(order_ids) * COMMANDS_PER_ORDER)
    lock = threading.Lock()
    holding = threading.Event()
    answered, reading = Counter[int](), list[float]()
    holders = [
        threading.Thread(
            target=_holder,
            args=(port, holding, answered, lock, i * WAIT_TIMEOUT / waiters, wait, reading),
        )
        for i in range(waiters)
    ]
    for holder in holders:
        holder.start()
    if waiters:
        deadline = time.monotonic() + START_TIMEOUT
        while (held := _waiting_reads(port) if wait else len(reading)) < waiters:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        samples.held_at_start.append(held)
    watcher = Watcher(read_db)
    watcher.thread.start()
    threads = [
        threading.Thread(target=_client, args=(port, order_ids[i::clients], watcher, samples, lock))
        for i in range(clients)
    ]
    reader = threading.Thread(target=_reader, args=(port, watcher, samples), name="reader")
    reader.start()
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    samples.wall_s.append(time.perf_counter() - start)
    watcher.clients_done.set()
    holding.set()
    reader.join()
    watcher.thread.join()
    for holder in holders:
        holder.join()
    samples.held.update(answered)
    samples.acknowledged = len(samples.latency_s)
    samples.lag_s = watcher.lag_s
    samples.projected = len(watcher.lag_s)
    samples.read_back = _read_back(port, order_ids)
    samples.behind = _behind(port)
    return samples


# --- the rounds ------------------------------------------------------------------------------


class Databases:
    """Fresh write databases, one per round: files under `root`, or schemas on `server`."""

    def __init__(self, root: Path, server: Server | None) -> None:
        self.root = root
        self.server = server
        self.count = 0

    def fresh(self) -> str:
        self.count += 1
        if self.server is None:
            folder = self.root / f"pipeline-{self.count}"
            folder.mkdir(parents=True)
            return str(folder / "orders.db")
        return self.server.new_url()

    def remove(self, db: str) -> None:
        """Drop a round's schemas (the write schema and its siblings); files go with `root`."""
        if self.server is None:
            return
        import psycopg

        schema = db.rsplit("?schema=", 1)[1]
        with psycopg.connect(self.server.url, autocommit=True) as conn:
            names = conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname = %s OR nspname LIKE %s",
                (schema, f"{schema}\\_%"),
            ).fetchall()
            for (name,) in names:
                conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def measure_backend(
    label: str,
    databases: Databases,
    load: Load,
    first_order: int,
    progress: Progress,
    broker: Broker | None = None,
) -> dict[str, Samples]:
    """Every variant, `load.rounds` rounds each, interleaved (the order turns each round).

    The `kafka` variant runs only with a `broker`, on a fresh topic each round.
    """
    variants = tuple(v for v in VARIANTS if v != KAFKA or broker is not None)
    measured = {variant: Samples() for variant in variants}
    next_order = first_order
    for round_no in range(load.rounds):
        shift = round_no % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            db = databases.fresh()
            order_ids = [str(next_order + i) for i in range(load.orders)]
            next_order += load.orders
            sleep = SLOW_SECONDS if variant == "slow_subscriber" else 0.0
            bus = None
            if variant == KAFKA and broker is not None:
                bus = f"{broker.url}/pipeline-{first_order}-{next_order}"  # a topic per round
            try:
                waiters = WAITERS if variant in (WAITING, PLAIN) else 0
                with running(db, sleep, bus) as port:
                    read_db = read_db_for(open_backend(db))
                    got = drive(port, read_db, order_ids, load.clients, waiters, variant != PLAIN)
            finally:
                databases.remove(db)
            measured[variant].extend(got)
        progress.tick(label, round_no + 1, load.rounds)
    progress.done(label, {name: Measurement(s.latency_s) for name, s in measured.items()})
    return measured


def measure(
    root: Path, server: Server, load: Load, progress: Progress, broker: Broker | None = None
) -> dict[str, dict[str, Samples]]:
    """SQLite (files under `root`) and PostgreSQL (schemas on `server`): samples by variant.

    The progress line shows each variant's median command latency; the `kafka` variant runs
    only with a `broker`.
    """
    each = f"{load.orders:,} orders x {COMMANDS_PER_ORDER} commands x {load.rounds} rounds"
    return {
        "sqlite": measure_backend(
            f"pipeline, SQLite, {each}", Databases(root, None), load, 100_000, progress, broker
        ),
        "postgresql": measure_backend(
            f"pipeline, PostgreSQL, {each}",
            Databases(root, server),
            load,
            500_000,
            progress,
            broker,
        ),
    }


def as_json(measured: Mapping[str, Mapping[str, Samples]]) -> dict[str, Any]:
    """The summaries, by database and variant."""
    return {
        backend: {variant: summary(samples) for variant, samples in variants.items()}
        for backend, variants in measured.items()
    }


def pool(runs: list[dict[str, dict[str, Samples]]]) -> dict[str, Any]:
    """Every run's samples together, summarised as one."""
    pooled: dict[str, dict[str, Samples]] = {}
    for measured in runs:
        for backend, variants in measured.items():
            for variant, samples in variants.items():
                pooled.setdefault(backend, {}).setdefault(variant, Samples()).extend(samples)
    return as_json(pooled)


def kafka_configuration(broker: Broker) -> dict[str, Any]:
    """How the `kafka` variant's broker, producer and consumers were set up."""
    from importlib import metadata

    import confluent_kafka
    from order_service.bus.kafka import PARTITIONS, PRODUCER
    from order_service.entrypoints.cli import build_parser

    consumer = build_parser().parse_args(["project", "--db", "x", "--bus", broker.url])
    jars = sorted(p.name for p in Path(os.environ.get(LIBS_VARIABLE) or LIBS).glob("kafka_2*"))
    started = broker.folder is not None
    return {
        "broker": (jars[0].removesuffix(".jar") if started and jars else "given")
        + (", single node (broker and controller in one process, KRaft), loopback"),
        "jvm": [flag for flag in getattr(broker, "_java", []) if flag.startswith("-X")],
        "partitions": PARTITIONS,
        "replicas": 1,
        "producer": {name.replace("_", "."): value for name, value in PRODUCER.items()},
        "consumer": {
            "poll_timeout_s": consumer.poll_timeout,
            "session_timeout_s": consumer.session_timeout,
            "enable.auto.commit": False,
        },
        "client": f"confluent-kafka {metadata.version('confluent-kafka')}, "
        f"librdkafka {confluent_kafka.libversion()[0]}",
        "processes": "orders serve --bus (API and relay), orders project, orders notify",
    }


def configuration(load: Load, broker: Broker | None = None) -> dict[str, Any]:
    """How the section was run, for the results file."""
    return {
        "orders_per_round": load.orders,
        "commands_per_order": COMMANDS_PER_ORDER,
        "clients": load.clients,
        "rounds": load.rounds,
        "variants": list(VARIANTS),
        "slow_subscriber_sleep_s": SLOW_SECONDS,
        "waiting_reads": WAITERS,
        "waiting_reads_spread_s": WAIT_TIMEOUT,
        "relay_interval_s": RELAY_INTERVAL,
        "watcher_poll_s": POLL,
        "reads": list(READS),
        "server": "order_service.entrypoints.http_api.create_app on uvicorn, in a child process",
        "cores": os.cpu_count(),
        "kafka": None if broker is None else kafka_configuration(broker),
    }


if __name__ == "__main__":
    sys.exit(main())
