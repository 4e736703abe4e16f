"""`orders serve` end to end: a real server in a subprocess on a loopback port."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from console import comparable, run, steps
from http_story import ORDER, PLACE
from order_service.entrypoints import cli, http_api
from served import free_port, orders_serve

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_PAGE = REPO_ROOT / "docs" / "design" / "run.md"
sys.path.insert(0, str(REPO_ROOT / "tests" / "docs"))
from marked_blocks import marked_blocks  # noqa: E402


def test_r2_exchange_201_version_1_then_404_before_the_projection_then_a_min_version_read(
    tmp_path,
):
    # The relay polls every 4 s: the first poll runs as the server starts, so a read sent
    # right after the command lands before the projection, as in R2's sequence diagram.
    options = ("--relay-interval", "4", "--wait-timeout", "15")
    with orders_serve(tmp_path / "orders.db", *options) as (base, _):
        placed = httpx.post(f"{base}/orders", json=PLACE)
        assert (placed.status_code, placed.json()) == (201, {"order_id": ORDER, "version": 1})
        assert placed.headers["location"] == f"/orders/{ORDER}"
        before = httpx.get(f"{base}/orders/{ORDER}")
        assert before.status_code == 404
        assert before.headers["content-type"] == "application/problem+json"
        started = time.monotonic()
        after = httpx.get(f"{base}/orders/{ORDER}", params={"min_version": 1}, timeout=30)
        assert after.status_code == 200
        assert after.json()["last_version"] == 1
        assert after.headers["etag"] == '"1"'
        assert "read-model-stale" not in after.headers
        assert time.monotonic() - started > 0.1  # it waited for the projection


def test_the_curl_session_on_the_run_page_prints_what_the_page_shows(tmp_path):
    [session] = [block for block in marked_blocks(RUN_PAGE) if block.kind == "curl-session"]
    shown = steps(session.text)
    assert len(shown) >= 10 and all(step.command.startswith("curl ") for step in shown)
    with orders_serve(tmp_path / "orders.db") as (base, _):
        port = int(base.rsplit(":", 1)[1])
        for step in shown:
            printed = run(step, port)
            assert comparable(printed) == comparable(step.output), step.command


def test_orders_serve_stops_cleanly_on_sigterm_with_its_events_kept(tmp_path):
    write_db = tmp_path / "orders.db"
    with orders_serve(write_db) as (base, process):
        assert httpx.post(f"{base}/orders", json=PLACE).status_code == 201
    _, err = process.communicate()
    assert process.returncode == 0, err
    assert err.splitlines()[-1] == "orders: stopped"
    with orders_serve(write_db) as (base, _):  # served again from the same files
        assert httpx.get(f"{base}/orders/{ORDER}", params={"min_version": 1}).status_code == 200


def test_orders_serve_refuses_a_file_that_is_not_a_write_database(tmp_path):
    not_a_store = tmp_path / "notes.db"
    not_a_store.write_text("shopping list\n")
    result = subprocess.run(
        [sys.executable, "-m", "order_service.entrypoints.cli", "serve", "--db", str(not_a_store)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"orders: cannot serve {not_a_store}: not a SQLite database")
    assert not_a_store.read_text() == "shopping list\n"


def test_orders_serve_on_a_port_in_use_says_so_and_exits_1(tmp_path):
    with socket.socket() as taken:
        port = free_port()
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = subprocess.run(
            [sys.executable, "-m", "order_service.entrypoints.cli", "serve", "--db",
             str(tmp_path / "orders.db"), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"orders: could not serve on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_orders_serve_without_the_http_extra_says_how_to_install_it():
    # A fresh interpreter where uvicorn cannot be imported, as without the extra.
    code = (
        "import sys; sys.modules['uvicorn'] = None; "
        "from order_service.entrypoints.cli import main; sys.exit(main(['serve']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == cli.EXIT_USAGE
    assert result.stderr == (
        "orders: serve needs the `http` extra (uvicorn is not installed): "
        "pip install -e '.[http]' (or `make setup`)\n"
    )


def test_orders_serve_refuses_a_port_or_timeout_out_of_range_naming_it():
    cases = {
        "--port=70000": "'70000' is not a TCP port (1 to 65535)",
        "--wait-timeout=0": "'0': give more than 0 and at most 60 seconds",
        "--relay-interval=soon": "'soon' is not a number of seconds",
    }
    for option, message in cases.items():
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert cli.main(["serve", option], out=io.StringIO(), err=err) == cli.EXIT_USAGE
        assert message in err.getvalue()


def test_orders_serve_help_states_the_defaults_the_api_uses():
    import inspect

    from order_service.entrypoints.http_api import DEFAULT_PORT, WAIT_TIMEOUT, create_app

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main(["serve", "--help"], out=out, err=io.StringIO())
    text = " ".join(out.getvalue().split())
    relay_interval = inspect.signature(create_app).parameters["relay_interval"].default
    assert f"for the read model (default {WAIT_TIMEOUT:g})" in text
    assert f"polls of the outbox (default {relay_interval:g})" in text
    assert f"TCP port (default {DEFAULT_PORT})" in text


# --- how `serve` stops uvicorn: its own signal handlers, uvicorn's public `should_exit` ------


class FakeServer:
    """Runs until told to exit, as `uvicorn.Server.run` does; or ends with `ending`."""

    def __init__(self, ending: BaseException | None = None, *, until: str = "should_exit") -> None:
        self.should_exit = self.force_exit = False
        self.ending = ending
        self.until = until  # `force_exit`: a graceful shutdown that a second Ctrl-C cuts short
        self.running = threading.Event()

    def run(self) -> None:
        self.running.set()
        if self.ending is not None:
            raise self.ending
        deadline = time.monotonic() + 30  # bounded: a missed signal fails, never hangs
        while not getattr(self, self.until) and time.monotonic() < deadline:
            time.sleep(0.01)


def _signal_when_running(server: FakeServer, *signals: signal.Signals) -> threading.Thread:
    def send() -> None:
        assert server.running.wait(30)
        for sig in signals:
            os.kill(os.getpid(), sig)
            deadline = time.monotonic() + 30
            while not server.should_exit and time.monotonic() < deadline:
                time.sleep(0.01)  # handled before the next is sent: two pending would be one

    thread = threading.Thread(target=send)
    thread.start()
    return thread


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_cleanly_and_the_handlers_are_put_back(sig):
    before = signal.getsignal(sig)
    server = FakeServer()
    sender = _signal_when_running(server, sig)
    assert http_api._run_until_signalled(server) is None  # a clean stop: `serve` exits 0
    sender.join()
    assert (server.should_exit, server.force_exit) == (True, False)
    assert signal.getsignal(sig) is before


def test_a_second_ctrl_c_forces_the_exit():
    server = FakeServer(until="force_exit")
    sender = _signal_when_running(server, signal.SIGINT, signal.SIGINT)
    http_api._run_until_signalled(server)
    sender.join()
    assert server.should_exit and server.force_exit


def test_uvicorn_exiting_is_returned_and_any_other_error_raised():
    assert isinstance(http_api._run_until_signalled(FakeServer(SystemExit(3))), SystemExit)
    with pytest.raises(RuntimeError, match="fatal"):
        http_api._run_until_signalled(FakeServer(RuntimeError("fatal")))
