"""The console in a real browser: Debian's headless Chromium driven by Playwright, against a
real ``wayfare serve`` (one per module, with an admin token). Playwright cannot download
browsers here, so it launches ``/usr/bin/chromium`` (``.ci/run`` installs it); without it
the tests fail under CI=true and are skipped elsewhere.

Every page a test visits is saved as a screenshot under ``tests/browser/screenshots/<test>/``
(git-ignored), so that a person can look at what the test saw."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright

from tests.conftest import Demo, Server
from tests.integration.conftest import apply_demo_to, new_org

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
ADMIN_TOKEN = "console-test-admin-token"
EXPECTED_ERROR = re.compile(r"status of (400|403|404)")
"""Errors a test causes on purpose: a form sent back with its errors, a refused change, a
page that does not exist."""
WAIT_MS = 15_000
"""How long an expectation waits for the page (htmx refreshes every 5 s)."""


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # One module's at a time: Playwright's sync driver keeps an asyncio loop running in
    # this thread while it is open, and the tests after the browser's call asyncio.run.
    if not CHROMIUM.exists():
        reason = f"the console's browser tests need Debian's chromium at {CHROMIUM}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("console")
    srv = Server(root / "data", extra_args=["--admin-token", ADMIN_TOKEN, "--workers", "1"])
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def demo(console_server: Server) -> Demo:
    """A fresh org with the demo schema, dataset and inlet."""
    return apply_demo_to(console_server, new_org(), ADMIN_TOKEN)


@pytest.fixture
def context(playwright: Playwright, console_server: Server) -> Iterator[BrowserContext]:
    """A fresh browser profile that may read and write the clipboard."""
    with tempfile.TemporaryDirectory(prefix="wayfare-chromium-") as profile:
        browser = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            base_url=console_server.url,
            viewport={"width": 1280, "height": 800},
            permissions=["clipboard-read", "clipboard-write"],
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Visit:
    """A page of the browser, saving a screenshot of each page it shows."""

    page: Page
    folder: Path
    shots: int = field(default=0)

    def shot(self, label: str) -> None:
        self.shots += 1
        name = re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-") or "page"
        self.page.screenshot(path=self.folder / f"{self.shots:02d}-{name}.png", full_page=True)

    def go(self, path: str, label: str | None = None) -> Page:
        self.page.goto(path)
        self.shot(label or path)
        return self.page

    def sign_in(self, org: str) -> None:
        """Sign in with the admin token and open ``org`` with the switcher."""
        self.go("/", "sign-in")
        self.page.get_by_label("Admin token").fill(ADMIN_TOKEN)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/org")
        self.shot("choose-org")
        self.page.get_by_label("Org id").fill(org)
        self.page.get_by_role("button", name="Open").click()
        self.page.wait_for_url(lambda url: url.endswith("/"))
        self.shot("home")


@pytest.fixture
def visit(context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Visit]:
    """The test's page; at its end, no page it showed may have logged an error (a script
    refused by the content security policy, a failed load, an exception)."""
    folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    page = context.pages[0] if context.pages else context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    yield Visit(page, folder)
    expected = [e for e in errors if not EXPECTED_ERROR.search(e)]
    assert not expected, f"the pages logged errors: {expected}"
