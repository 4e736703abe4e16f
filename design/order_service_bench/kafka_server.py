"""A Kafka broker for the tests, `make up` and the benchmark: a throwaway one, or one given.

`ORDERS_TEST_KAFKA=HOST:PORT` uses that broker. Otherwise Apache Kafka 4.x (KRaft: no
ZooKeeper) runs as one process that is both broker and controller, from the jars `make kafka`
copies out of Maven Central into `.cache/kafka/libs`: storage formatted in a temporary folder,
loopback only, free ports, a 256 MB heap. `halt()` and `resume()` stop and start that same
process on the same ports and data, as an operator's restart would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from order_service_bench.postgres_server import free_port

ADDRESS_VARIABLE = "ORDERS_TEST_KAFKA"
LIBS_VARIABLE = "ORDERS_KAFKA_LIBS"
ROOT = Path(__file__).resolve().parents[2]
LIBS = ROOT / ".cache" / "kafka" / "libs"
"""Where `make kafka` puts the broker's jars."""
LOG_CONFIG = ROOT / "design" / "kafka" / "log4j2.properties"
READY = "Kafka Server started"
"""The line the broker logs once it accepts clients."""
START_SECONDS = 120.0


class Unavailable(RuntimeError):
    """No broker can be had; the message says what to do."""


def how_to_get_one() -> str:
    """What to do when no broker can be had."""
    return (
        "Kafka is needed: `make kafka` fetches its jars from Maven Central (it needs Java 17+ "
        f"and Maven: apt-get install -y default-jdk-headless maven); or set {ADDRESS_VARIABLE}"
        "=HOST:PORT to use a running broker"
    )


def _properties(folder: Path, port: int, controller: int) -> str:
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={folder / "data"}
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
"""


class Broker:
    """A running broker: `bootstrap` is its `HOST:PORT`, `url` the `--bus` value naming it."""

    def __init__(self, bootstrap: str, folder: Path | None = None) -> None:
        self.bootstrap = bootstrap
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self._java: list[str] = []

    @property
    def url(self) -> str:
        """`kafka://HOST:PORT`: what `orders … --bus` takes."""
        return f"kafka://{self.bootstrap}"

    @classmethod
    def start(cls, environ: Mapping[str, str]) -> Broker:
        """Use the broker in `ORDERS_TEST_KAFKA`, or start a throwaway one; raises `Unavailable`."""
        if environ.get(ADDRESS_VARIABLE):
            return cls(environ[ADDRESS_VARIABLE])
        java = shutil.which("java", path=environ.get("PATH"))
        if java is None:
            raise Unavailable(f"java not found. {how_to_get_one()}")
        libs = Path(environ.get(LIBS_VARIABLE) or LIBS)
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise Unavailable(f"no Kafka jars in {libs}. {how_to_get_one()}")
        folder = Path(tempfile.mkdtemp(prefix="orders-kafka-"))
        port, controller = free_port(), free_port()
        (folder / "server.properties").write_text(_properties(folder, port, controller))
        broker = cls(f"127.0.0.1:{port}", folder)
        broker._java = [java, "-Xms256m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                        f"-Dlog4j2.configurationFile={LOG_CONFIG}", "-cp", f"{libs}/*"]  # fmt: skip
        try:
            subprocess.run(
                [*broker._java, "kafka.tools.StorageTool", "format", "-t", str(uuid.uuid4()),
                 "-c", str(folder / "server.properties")],
                check=True, capture_output=True, text=True, timeout=START_SECONDS,
            )  # fmt: skip
            broker.resume()
        except (subprocess.SubprocessError, OSError, Unavailable) as error:
            detail = getattr(error, "stderr", "") or ""
            broker.stop()
            raise Unavailable(f"cannot start Kafka: {error}\n{detail[-2000:]}") from None
        return broker

    def resume(self) -> None:
        """Start the broker process (again, after `halt()`) and wait until it serves clients."""
        if self.folder is None:
            raise Unavailable("only a broker this harness started can be started again")
        log = self.folder / "broker.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [*self._java, "kafka.Kafka", str(self.folder / "server.properties")],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        started = log.stat().st_size if log.exists() else 0
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Unavailable(f"the broker exited ({self.process.returncode}): {self._tail()}")
            with log.open("rb") as text:
                text.seek(started)
                if READY.encode() in text.read():
                    return
            time.sleep(0.2)
        raise Unavailable(f"the broker did not start in {START_SECONDS:.0f} s: {self._tail()}")

    def halt(self) -> None:
        """Stop the process (SIGTERM, a clean shutdown) and keep its data and ports."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        """Kill a broker this harness started and remove its folder; a given one is left alone."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _tail(self) -> str:
        assert self.folder is not None
        log = self.folder / "broker.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""


if __name__ == "__main__":  # a broker by hand: `python -m order_service_bench.kafka_server`
    server = Broker.start(os.environ)
    print(f"Kafka on {server.bootstrap} ({server.folder}); Ctrl-C stops it", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
