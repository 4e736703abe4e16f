"""Fixtures shared across the suite: the site's nav, and the site built once per session.

`built_site` builds with `mkdocs build --strict` into a temporary folder (never `site/`, so runs do
not collide); tests of pages read the HTML from there. Under pytest-xdist (`make test` runs two
workers) the first worker to ask builds it, under a file lock, into the run's shared temporary
folder, and the others read that one build. A test that asks for `nav_page` runs once per page of
the nav in mkdocs.yml.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from filelock import FileLock
from kafka_server import broker_for_tests
from postgres_server import server_for_tests

REPO_ROOT = Path(__file__).resolve().parent.parent

BACKENDS = ("sqlite", "postgresql")
"""The databases the store, outbox, projection and query tests run on, from one suite."""


class _ConfigLoader(yaml.SafeLoader):
    """Reads mkdocs.yml without importing what its `!!python/name:` tags point to."""


_ConfigLoader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
_ConfigLoader.add_multi_constructor("!", lambda *_: None)


def _load_mkdocs_config(path: Path = REPO_ROOT / "mkdocs.yml") -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_ConfigLoader)


def _nav_pages(nav: list) -> list[str]:
    pages: list[str] = []
    for entry in nav:
        for value in entry.values() if isinstance(entry, dict) else [entry]:
            if isinstance(value, list):
                pages.extend(_nav_pages(value))
            elif isinstance(value, str) and value.endswith(".md"):
                pages.append(value)
    return pages


def _mkdocs_build(config_file: Path, site_dir: Path) -> subprocess.CompletedProcess[str]:
    # From the repository root: pymdownx.snippets resolves its base_path "." against the cwd.
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config_file)]
    return subprocess.run(
        [*command, "--site-dir", str(site_dir)],
        cwd=REPO_ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark `postgresql` the tests that run on the PostgreSQL server (the `postgresql` backend, or
    the server fixture), and `kafka` those that use the broker, so `make check` leaves them out."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgresql = callspec is not None and callspec.params.get("backend") == "postgresql"
        if on_postgresql or "postgres_server" in item.fixturenames:
            item.add_marker(pytest.mark.postgresql)
        if "kafka_broker" in item.fixturenames:
            item.add_marker(pytest.mark.kafka)


_TIME_BY_FOLDER: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add each phase's time (set-up, call, teardown) to its folder's total (tests/unit...)."""
    folder = "/".join(report.nodeid.split("::")[0].split("/")[:2])
    _TIME_BY_FOLDER[folder] = _TIME_BY_FOLDER.get(folder, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Where the time went, by folder (summed over xdist workers), before pytest's closing line."""
    if not _TIME_BY_FOLDER or config.getoption("durations") is None:
        return
    terminalreporter.section("time by folder (set-up + call + teardown, summed over workers)")
    total = sum(_TIME_BY_FOLDER.values())
    for folder, seconds in sorted(_TIME_BY_FOLDER.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{seconds:8.1f}s {seconds / total:6.1%}  {folder}")
    terminalreporter.write_line(f"{total:8.1f}s  total")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "nav_page" in metafunc.fixturenames:
        pages = _nav_pages(_load_mkdocs_config()["nav"])
        metafunc.parametrize("nav_page", pages, ids=pages)


@pytest.fixture(scope="session")
def mkdocs_config() -> dict:
    """mkdocs.yml as data (python tags read as None)."""
    return _load_mkdocs_config()


@pytest.fixture(scope="session")
def nav_pages(mkdocs_config: dict) -> list[str]:
    """The Markdown files of the nav, in nav order, relative to docs/."""
    return _nav_pages(mkdocs_config["nav"])


@pytest.fixture(scope="session")
def mkdocs_build():
    """`mkdocs_build(config_file, site_dir)` runs a strict build; returns the finished process."""
    return _mkdocs_build


def run_temp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's temporary folder, the same for every xdist worker (each has a subfolder of it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once per run with `mkdocs build --strict`; fails with the build log if it
    fails. One build serves every xdist worker: the first builds under the lock and records the
    outcome, the others wait for it and read it (a failed build fails each worker's tests)."""
    root = run_temp_root(tmp_path_factory)
    site_dir, outcome_file = root / "site", root / "site-build.json"
    with FileLock(root / "site-build.lock"):
        if not outcome_file.exists():
            result = _mkdocs_build(REPO_ROOT / "mkdocs.yml", site_dir)
            outcome = {"returncode": result.returncode, "log": f"{result.stdout}\n{result.stderr}"}
            outcome_file.write_text(json.dumps(outcome), encoding="utf-8")
        outcome = json.loads(outcome_file.read_text(encoding="utf-8"))
    if outcome["returncode"] != 0:
        pytest.fail(
            f"mkdocs build --strict failed (exit {outcome['returncode']}):\n{outcome['log']}",
            pytrace=False,
        )
    return site_dir


@pytest.fixture(scope="session")
def page_html_path(built_site: Path):
    """`page_html_path("answers/architecture.md")` is that page's index.html in the built site."""

    def html_path(md_path: str) -> Path:
        stem = md_path.removesuffix(".md")
        if stem == "index" or stem.endswith("/index"):
            return built_site / stem.removesuffix("index") / "index.html"
        return built_site / stem / "index.html"

    return html_path


class _MermaidSources(HTMLParser):
    """Collects the text of each `<pre class="mermaid">`, as Material's loader reads it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []
        self._depth = 0  # >0 while inside a mermaid <pre>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "pre" and "mermaid" in (dict(attrs).get("class") or "").split():
            self._depth = 1
            self.sources.append("")
        elif tag == "pre" and self._depth:
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre" and self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.sources[-1] += data


@pytest.fixture(scope="session")
def mermaid_sources(nav_pages: list[str], page_html_path) -> dict[str, list[str]]:
    """Each nav page's Mermaid diagram sources, read from the built HTML."""
    sources = {}
    for page in nav_pages:
        parser = _MermaidSources()
        parser.feed(page_html_path(page).read_text(encoding="utf-8"))
        sources[page] = [source.strip() for source in parser.sources]
    return sources


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for the session (see `postgres_server.py`).

    Missing, it skips the postgresql tests, or fails them when `CI=true`: CI must not pass
    a suite it did not run.
    """
    server = server_for_tests(os.environ)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kafka_broker():
    """A Kafka broker for the session (see `kafka_server.py`): one per pytest-xdist worker.

    Missing, it skips the kafka tests, or fails them when `CI=true`. A test that stops a broker
    starts its own with `broker_for_tests`, so it never stops the one other tests share.
    """
    broker = broker_for_tests(os.environ)
    yield broker
    broker.stop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend a parametrised test runs on: `sqlite` or `postgresql`."""
    return request.param


@pytest.fixture
def new_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    """`new_db("name")` is a fresh database on the test's backend: a file path or a URL."""
    if backend == "sqlite":
        return lambda name="orders": str(tmp_path / f"{name}.db")
    server = request.getfixturevalue("postgres_server")
    return lambda name="orders": server.new_url()
