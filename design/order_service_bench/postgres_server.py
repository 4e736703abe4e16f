"""A PostgreSQL server for the tests and the benchmark: a throwaway cluster, or one given by URL.

A URL in the caller's variable (`ORDERS_TEST_PG_URL` for the tests, `ORDERS_BENCH_PG_URL` for
the benchmark) uses that server: each user gets its own schemas, dropped at the end. Otherwise
Debian's PostgreSQL binaries start a cluster in a temporary folder on a free loopback port,
removed afterwards. initdb and postgres refuse to run as root, so as root they run as the
`postgres` system user (`runuser`).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path

URL_VARIABLE = "ORDERS_TEST_PG_URL"


def how_to_get_one(url_variable: str) -> str:
    """What to do when no server can be had."""
    return (
        "PostgreSQL is needed: `make test` installs it as root on Debian (apt-get install -y "
        f"postgresql); or set {url_variable}=postgresql://USER@HOST:PORT/DB"
    )


class Unavailable(RuntimeError):
    """No PostgreSQL server can be had; the message says what to do."""


INITDB_GLOB = "/usr/lib/postgresql/*/bin/initdb"
"""Where Debian puts each major version's initdb (the Makefile's PG_INITDB)."""


def _bin_dir(initdb_glob: str, path: str | None, url_variable: str) -> Path:
    found = sorted(glob.glob(initdb_glob), key=_major)
    if not found:
        on_path = shutil.which("initdb", path=path)
        if on_path is None:
            raise Unavailable(f"initdb not found. {how_to_get_one(url_variable)}")
        return Path(on_path).parent
    return Path(found[-1]).parent


def _major(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the harnesses' servers listen on loopback only)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """A running server; `new_url()` gives a URL whose schema no other test uses."""

    def __init__(self, url: str, folder: Path | None = None, as_user: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.folder = folder
        self.as_user = as_user
        self.bin_dir: Path | None = None
        self.options = ""
        """The cluster's `postgres` options (a cluster this harness started)."""
        self.prefix = f"t{uuid.uuid4().hex[:6]}"
        self._count = itertools.count(1)

    def new_url(self) -> str:
        """A URL naming a fresh schema (its `_read` and `_replay` siblings are fresh too)."""
        return f"{self.url}?schema={self.prefix}_{next(self._count)}"

    @classmethod
    def start(
        cls,
        environ: Mapping[str, str],
        initdb_glob: str = INITDB_GLOB,
        url_variable: str = URL_VARIABLE,
    ) -> Server:
        """Use the URL in `url_variable`, or start a throwaway cluster; raises `Unavailable`."""
        if environ.get(url_variable):
            return cls(environ[url_variable])
        bin_dir = _bin_dir(initdb_glob, environ.get("PATH"), url_variable)
        as_user = None
        folder = Path(tempfile.mkdtemp(prefix="orders-pg-"))
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(folder)
                raise Unavailable(
                    f"no `postgres` user to run initdb as. {how_to_get_one(url_variable)}"
                ) from None
            os.chown(folder, owner.pw_uid, owner.pw_gid)
            as_user = "postgres"
        server = cls(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", folder, as_user)
        port = server.url.rsplit(":", 1)[1].split("/")[0]
        server.options = (
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        try:
            server._run(
                str(bin_dir / "initdb"), "-D", str(folder / "data"), "-A", "trust",
                "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
            )  # fmt: skip
            server._run(
                str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "log"),
                "-w", "-o", server.options, "start",
            )  # fmt: skip
        except (subprocess.CalledProcessError, OSError) as error:
            log = folder / "log"
            detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            shutil.rmtree(folder, ignore_errors=True)
            raise Unavailable(f"cannot start PostgreSQL: {error}\n{detail}") from None
        server.bin_dir = bin_dir
        return server

    def _pg_ctl(self, *arguments: str) -> None:
        if self.folder is None or self.bin_dir is None:
            raise Unavailable("only a cluster this harness started can be stopped and started")
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), *arguments)

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is dropped, the data stays."""
        assert self.folder is not None
        self._pg_ctl("-l", str(self.folder / "log"), "-m", "fast", "-w", "restart")

    def halt(self) -> None:
        """Stop the cluster (`-m fast`) but keep it, so `resume()` starts it again."""
        self._pg_ctl("-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start a cluster `halt()` stopped, with the options it had (postmaster.opts)."""
        assert self.folder is not None
        self._pg_ctl("-l", str(self.folder / "log"), "-w", "-o", self.options, "start")

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.as_user, "--"] if self.as_user else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, text=True, timeout=120)

    def stop(self) -> None:
        """Stop a cluster this harness started and remove it; drop the schemas of a given one."""
        if self.folder is None or self.bin_dir is None:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                names = conn.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
                    (f"{self.prefix}\\_%",),
                ).fetchall()
                for (name,) in names:
                    conn.execute(f'DROP SCHEMA "{name}" CASCADE')
            return
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"),
                      "-m", "immediate", "-w", "stop")  # fmt: skip
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
