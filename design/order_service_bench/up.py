"""`make up`: the whole diagram on one machine, each box its own process, until Ctrl-C.

It starts a throwaway PostgreSQL cluster and a throwaway Kafka broker (as the tests do), then
`orders serve` (the API, which also relays the outbox), `orders relay`, `orders project` and
`orders notify`, each a process of its own; it prints the URLs and every command it ran. Ctrl-C
(or SIGTERM) stops the processes with SIGTERM, newest first, then the broker and the cluster,
whose data is thrown away. If one of the processes ends on its own, it says which and stops the
rest (exit 1).

    python -m order_service_bench.up [--port 8080]
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from typing import TextIO

from order_service_bench.kafka_server import Broker
from order_service_bench.kafka_server import Unavailable as NoKafka
from order_service_bench.postgres_server import Server
from order_service_bench.postgres_server import Unavailable as NoPostgres

START_SECONDS = 60.0
"""How long the API may take to answer after it starts."""


class Process:
    """One `orders` command in a process of its own; its error stream is copied to `out`.

    `ready` is set once the process writes a line holding `ready_when` (it runs then).
    """

    def __init__(self, name: str, arguments: Sequence[str], out: TextIO, ready_when: str) -> None:
        self.name = name
        self.ready = threading.Event()
        self._out = out
        self._ready_when = ready_when
        print(f"$ {shlex.join(['orders', *arguments])}", file=out, flush=True)
        self.process = subprocess.Popen(  # its own session: Ctrl-C reaches `up`, which stops it
            [sys.executable, "-m", "order_service.entrypoints.cli", *arguments],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
        self._copier = threading.Thread(target=self._copy, daemon=True)
        self._copier.start()

    def _copy(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            print(line, end="", file=self._out, flush=True)
            if self._ready_when in line:
                self.ready.set()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; a process that does not stop in time is killed.

        Returns the exit status; 0 also for a process the SIGTERM ended while it was starting.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._copier.join(5)
        return 0 if code == -signal.SIGTERM else code


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # loopback only
            return bool(response.status == 200)
    except OSError:
        return False


def _wait(process: Process, stop: threading.Event) -> None:
    """Wait until `process` is ready; raise if it ends first or takes too long."""
    deadline = time.monotonic() + START_SECONDS
    while not process.ready.wait(0.2):
        if process.process.poll() is not None:
            raise RuntimeError(f"{process.name} exited ({process.process.returncode})")
        if stop.is_set():
            raise RuntimeError("stopped while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.name} was not ready in {START_SECONDS:.0f} s")


def run(port: int, out: TextIO) -> int:
    """Start everything, wait for a signal (or a process that ends), stop everything."""
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    started: list[Process] = []
    postgres: Server | None = None
    broker: Broker | None = None
    status = 0
    try:
        print("starting PostgreSQL and Kafka (throwaway, on loopback) ...", file=out, flush=True)
        postgres = Server.start(os.environ)
        broker = Broker.start(os.environ)
        where = (postgres.folder or postgres.url, broker.folder or broker.bootstrap)
        print(f"PostgreSQL cluster in {where[0]}\nKafka broker in {where[1]}", file=out, flush=True)
        db, bus = postgres.new_url(), broker.url
        api = f"http://127.0.0.1:{port}"
        serve = ["serve", "--db", db, "--port", str(port), "--bus", bus]
        started.append(Process("api", serve, out, ready_when="orders: serving"))
        _wait(started[-1], stop)
        for name, command, ready in (
            ("relay", "relay", "relaying"),
            ("projector", "project", "assigned partitions"),
            ("notifier", "notify", "assigned partitions"),
        ):
            started.append(Process(name, [command, "--db", db, "--bus", bus], out, ready))
        for process in started:
            _wait(process, stop)
        deadline = time.monotonic() + START_SECONDS
        while not _answers(f"{api}/health/live"):
            if time.monotonic() > deadline or started[0].process.poll() is not None:
                raise RuntimeError(f"the API does not answer {api}/health/live")
            time.sleep(0.2)
        print(
            f"\nThe Order Service runs: API {api} (OpenAPI {api}/openapi.json, health "
            f"{api}/health)\nwrite database {db}\nKafka {bus} (topic order-events)\n"
            f"Try: curl -s {api}/health\nCtrl-C stops everything (the data is thrown away).",
            file=out,
            flush=True,
        )
        while not stop.wait(0.5):
            ended = [p for p in started if p.process.poll() is not None]
            if ended:
                print(f"up: {ended[0].name} exited ({ended[0].process.returncode}); stopping",
                      file=out, flush=True)  # fmt: skip
                status = 1
                break
    except (NoPostgres, NoKafka, RuntimeError, OSError) as error:
        print(f"up: {error}", file=out, flush=True)
        status = 1
    finally:
        for process in reversed(started):
            code = process.stop()
            if code != 0 and process.process.returncode is not None and status == 0:
                print(f"up: {process.name} exited {code}", file=out, flush=True)
                status = 1
        if broker is not None:
            broker.stop()
        if postgres is not None:
            postgres.stop()
        print("up: stopped", file=out, flush=True)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m order_service_bench.up [--port N]`."""
    parser = argparse.ArgumentParser(prog="make up", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="the API's port (default 8080)")
    args = parser.parse_args(argv)
    return run(args.port, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
