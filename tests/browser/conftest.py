"""A real browser against the built site: Debian's Chromium, driven by Playwright, fully offline.

The site is served by a thread running http.server on 127.0.0.1 (a free port). Every request a page
makes is routed: loopback ones go through, any other is aborted and recorded, so a test can assert
that none was made. Without /usr/bin/chromium the browser tests skip, except in CI (CI=true), where
they fail: CI must not pass without having looked at the site.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright
from site_server import SiteServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"

# Material renders each Mermaid diagram into a closed shadow root; opening them lets locators and
# scripts reach the SVG. Nothing else about the page changes.
OPEN_SHADOW_ROOTS = """
const attachShadow = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  return attachShadow.call(this, { ...init, mode: "open" });
};
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    # WebAssembly streaming (the playground's Pyodide) needs these types, whatever the machine's
    # mime.types says.
    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".mjs": "text/javascript",
    }

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Watch:
    """What a page did that a test asserts it did not: errors and requests off the machine."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)  # every URL asked for, loopback included


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install -y chromium (`make test` does it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; under CI the browser tests must run", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def site_url(built_site: Path) -> Iterator[str]:
    """The built site, served on 127.0.0.1 at a free port, as a base URL ending in '/'."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = SiteServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_watched_context(
    browser: Browser, **context_options: Any
) -> tuple[BrowserContext, Page, Watch]:
    """A new context and page whose errors and off-loopback requests are recorded in a Watch."""
    watch = Watch()
    options = {"viewport": {"width": 1280, "height": 900}, "color_scheme": "light"}
    context = browser.new_context(**{**options, **context_options})
    context.add_init_script(OPEN_SHADOW_ROOTS)

    def keep_on_loopback(route: Route) -> None:
        watch.requested.append(route.request.url)
        url = urlsplit(route.request.url)
        if url.scheme in {"data", "blob"} or url.hostname == "127.0.0.1":
            route.continue_()
        else:
            watch.outside_requests.append(route.request.url)
            route.abort()

    context.route("**/*", keep_on_loopback)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and watch.console_errors.append(m.text))
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
    return context, page, watch


@pytest.fixture
def open_watched_page(browser: Browser) -> Iterator[Callable[..., tuple[Page, Watch]]]:
    """`open_watched_page(width=1280, color_scheme="light")`: a fresh page in its own context (the
    scheme is the system preference it reports), errors and off-loopback requests in a Watch."""
    contexts: list[BrowserContext] = []

    def open_page(width: int = 1280, color_scheme: str = "light") -> tuple[Page, Watch]:
        context, page, watch = new_watched_context(
            browser, viewport={"width": width, "height": 900}, color_scheme=color_scheme
        )
        contexts.append(context)
        return page, watch

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def watched_page(open_watched_page) -> tuple[Page, Watch]:
    """A fresh light-mode page, 1280 px wide, its errors and off-loopback requests recorded."""
    return open_watched_page()


@pytest.fixture(scope="session")
def page_opener(browser: Browser):
    """`page_opener(**context_options)` opens a watched page a test module can keep and close."""
    return functools.partial(new_watched_context, browser)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """The folder for screenshots (git-ignored), for anyone to look at after a run."""
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


def _new_offline_context(browser: Browser, viewport: dict[str, int]) -> BrowserContext:
    """A light-mode context at `viewport`, shadow roots open, kept on loopback."""
    context = browser.new_context(viewport=viewport, color_scheme="light")
    context.add_init_script(OPEN_SHADOW_ROOTS)
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if urlsplit(route.request.url).hostname == "127.0.0.1"
            or urlsplit(route.request.url).scheme in {"data", "blob"}
            else route.abort()
        ),
    )
    return context


@pytest.fixture(scope="session")
def offline_context_opener(browser: Browser):
    """`offline_context_opener(viewport)`: an offline context a test module can keep and close."""
    return functools.partial(_new_offline_context, browser)


@pytest.fixture
def offline_context(browser: Browser):
    """`offline_context(viewport)`: a light-mode context, shadow roots open, kept on loopback."""
    contexts = []

    def new_context(viewport: dict[str, int]):
        context = _new_offline_context(browser, viewport)
        contexts.append(context)
        return context

    yield new_context
    for context in contexts:
        context.close()
