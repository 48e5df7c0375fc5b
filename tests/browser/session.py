"""The browser tests' session: one headless Chromium (through Playwright) for every browser
test module, the site served over loopback HTTP, and a tab that fails the test on a request
leaving the machine or a console error. A plugin of tests/conftest.py, so that every module
shares the one Playwright instance (a second sync_playwright() in the same process fails)."""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# what never leaves the machine: files, the loopback server, in-page blobs and data URLs
LOCAL = ("file://", "http://127.0.0.1:", "blob:", "data:")


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """One browser for the session, with a fresh profile. Without chromium the browser tests
    fail with one line saying what to install."""
    path = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if not path:
        pytest.fail("chromium is missing: install the Debian package chromium "
                    "(sudo apt-get install chromium; `make test` does it when run as root)", pytrace=False)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    context, problem = None, ""
    try:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=path,
            args=CHROMIUM_ARGS, headless=True, accept_downloads=True)
    except Exception as error:  # noqa: BLE001 - any failure to start is reported the same way
        problem = str(error).strip().splitlines()[0]
    if context is None:  # outside the except block, so pytest shows no chained traceback
        playwright.stop()
        pytest.fail(f"chromium ({path}) did not start: {problem}", pytrace=False)
    yield context
    context.close()
    playwright.stop()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="session")
def http_root(site):
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site.outdir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["file", "http"])
def root(request, site) -> str:
    """The site's root URL, once from file:// and once over HTTP."""
    if request.param == "file":
        return site.outdir.as_uri() + "/"
    return request.getfixturevalue("http_root")


@pytest.fixture
def page(chromium):
    """A new tab that records every request and every console error, and checks both when
    the test is done. Requests that would leave the machine are aborted as well."""
    tab = chromium.new_page()
    requests: list[str] = []
    errors: list[str] = []
    tab.on("request", lambda request: requests.append(request.url))
    tab.on("console", lambda message: message.type == "error" and errors.append(message.text))
    tab.on("pageerror", lambda error: errors.append(str(error)))

    def only_local(route):
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            route.abort()

    tab.route("**/*", only_local)
    yield tab
    tab.close()
    assert [url for url in requests if not url.startswith(LOCAL)] == [], "requests left the machine"
    assert errors == [], "console errors"
