"""The two set-up commands do what the README promises.

`make serve` builds strictly and serves on 127.0.0.1:8000; `make test` installs Debian's Chromium
when it is missing (as root); a machine without npm gets a plain message saying what to install;
`.ci/run` is `make test` and nothing less. Recipes run against stub commands in a temporary PATH,
so these tests install nothing and change nothing.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MAKE = "/usr/bin/make"


def _make(*arguments: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path} if path is not None else None
    return subprocess.run(
        [MAKE, "--no-print-directory", *arguments],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _stub(folder: Path, name: str, script: str) -> None:
    command = folder / name
    command.write_text(f"#!/bin/bash\n{script}\n", encoding="utf-8")
    command.chmod(0o755)


def test_ci_run_is_make_test_and_nothing_less():
    ci_run = REPO_ROOT / ".ci" / "run"
    assert os.access(ci_run, os.X_OK)
    commands = [
        line.strip()
        for line in ci_run.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert commands[-1] == "make test"
    assert "set -euo pipefail" in commands
    assert "export CI=true" in commands


def test_make_serve_builds_strictly_and_serves_on_loopback_port_8000():
    plan = _make("-n", "serve")
    assert plan.returncode == 0, plan.stderr
    commands = [shlex.split(line) for line in plan.stdout.splitlines() if "mkdocs" in line]
    assert [command[1:3] for command in commands] == [["build", "--strict"], ["serve", "--strict"]]
    assert commands[-1][-2:] == ["--dev-addr", "127.0.0.1:8000"]


def test_make_test_runs_lint_and_every_test_after_the_set_up():
    plan = _make("-n", "test")
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    pytest_command = shlex.split(lines[-1])
    assert pytest_command[0] == ".venv/bin/pytest"
    # Every test: no path, no -m/-k selection; on two xdist workers, the slowest 25 printed.
    assert pytest_command[1:] == ["-n", "2", "--dist", "loadfile", "--durations=25"]
    assert ".venv/bin/ruff format --check ." in lines
    pytest_at = len(lines) - 1
    assert lines.index(".venv/bin/mypy") < pytest_at
    assert lines.index(".venv/bin/ruff format --check .") < pytest_at


def test_make_test_passes_extra_pytest_options_through():
    plan = _make("-n", "test", "PYTEST_ARGS=-m 'not fault'", "TEST_WORKERS=1")
    assert plan.returncode == 0, plan.stderr
    assert shlex.split(plan.stdout.splitlines()[-1])[1:] == [
        "-n", "1", "--dist", "loadfile", "--durations=25", "-m", "not fault",
    ]  # fmt: skip


def test_make_check_is_lint_then_the_unit_tests_without_servers_browsers_or_slow_ones():
    plan = _make("-n", "check")
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    assert lines.index(".venv/bin/ruff check .") < lines.index(".venv/bin/ruff format --check .")
    assert lines.index(".venv/bin/mypy") < len(lines) - 1  # the type checker, before the tests
    assert shlex.split(lines[-1]) == [
        ".venv/bin/pytest", "tests/unit", "-q", "-m",
        "not slow and not postgresql and not kafka and not browser",
    ]  # fmt: skip
    assert not any("chromium" in line or "apt-get" in line for line in lines)


@pytest.mark.parametrize(
    ("arguments", "packages"),
    [
        (["chromium"], "chromium"),
        (["PG_INITDB=/nowhere/*/initdb", "postgresql"], "postgresql"),
        (["java"], "default-jdk-headless maven"),
    ],
    ids=["chromium", "postgresql", "java"],
)
def test_make_test_installs_what_is_missing_from_debian_when_root(tmp_path, arguments, packages):
    calls = tmp_path / "apt-get.calls"
    _stub(tmp_path, "id", "echo 0")
    _stub(tmp_path, "apt-get", f'echo "$*" >> {calls}')
    result = _make(*arguments, path=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == ["update -qq", f"install -y -qq {packages}"]


def test_make_test_says_how_to_install_chromium_when_not_root(tmp_path):
    _stub(tmp_path, "id", "echo 1000")
    _stub(tmp_path, "apt-get", "exit 99")  # never reached: only root installs
    result = _make("chromium", path=str(tmp_path))
    assert result.returncode == 0
    assert "chromium is missing: sudo apt-get install -y chromium" in result.stderr


def test_make_test_says_how_to_get_postgresql_when_not_root(tmp_path):
    _stub(tmp_path, "id", "echo 1000")
    _stub(tmp_path, "apt-get", "exit 99")  # never reached: only root installs
    result = _make("PG_INITDB=/nowhere/*/initdb", "postgresql", path=str(tmp_path))
    assert result.returncode == 0
    assert "PostgreSQL is missing: sudo apt-get install -y postgresql" in result.stderr
    assert "ORDERS_TEST_PG_URL" in result.stderr


def test_make_test_installs_nothing_when_postgresql_is_there(tmp_path):
    initdb = tmp_path / "15" / "bin" / "initdb"
    initdb.parent.mkdir(parents=True)
    initdb.touch()
    _stub(tmp_path, "apt-get", "exit 99")
    result = _make(f"PG_INITDB={tmp_path}/*/bin/initdb", "postgresql", path=str(tmp_path))
    assert result.returncode == 0, result.stderr


def test_make_test_says_how_to_get_java_when_not_root(tmp_path):
    _stub(tmp_path, "id", "echo 1000")
    _stub(tmp_path, "apt-get", "exit 99")  # never reached: only root installs
    result = _make("java", path=str(tmp_path))
    assert result.returncode == 0
    assert "sudo apt-get install -y default-jdk-headless maven" in result.stderr
    assert "ORDERS_TEST_KAFKA" in result.stderr


def test_make_test_fetches_kafkas_jars_before_the_tests_when_the_pom_changed():
    plan = _make("-n", "-W", "design/kafka/pom.xml", "test")  # -W: as if the pom were just edited
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    fetch = next(i for i, line in enumerate(lines) if "dependency:copy-dependencies" in line)
    assert fetch < len(lines) - 1  # before pytest, the last line


def test_without_npm_make_says_so_plainly_and_fetches_nothing(tmp_path):
    bundle = tmp_path / "assets" / "mermaid.min.js"
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    result = _make(f"MERMAID_JS={bundle}", str(bundle), path=str(empty_path))
    assert result.returncode != 0
    assert "npm is missing" in result.stderr
    assert "apt-get install -y nodejs npm" in result.stderr
    assert not bundle.parent.exists()
