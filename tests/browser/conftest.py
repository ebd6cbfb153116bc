"""The console in a real browser: each test runs in Debian's headless Chromium and in its
Firefox ESR, driven by Playwright, against a real ``wayfare serve`` (one per module, with an
admin token). Playwright cannot download its own browsers here, so it launches
``/usr/bin/chromium`` over the DevTools protocol and ``/usr/bin/firefox-esr`` over WebDriver
BiDi (its ``moz-firefox`` channel; no geckodriver); ``.ci/run`` installs both. Without one of
them its tests fail under CI=true and are skipped elsewhere.

Every page a test visits is saved as a screenshot under
``tests/browser/screenshots/<test>[<browser>]/`` (git-ignored), so that a person can look at
what the test saw."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Response,
    expect,
    sync_playwright,
)

from tests.conftest import Demo, Server
from tests.integration.conftest import apply_demo_to, new_org

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
FIREFOX = Path("/usr/bin/firefox-esr")
FIREFOX_PREFS: dict[str, str | float | bool] = {
    # Playwright's profile already turns off updates, telemetry and safe browsing; these
    # keep the rest of Firefox's own traffic at home too.
    "network.captive-portal-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/",
    "toolkit.telemetry.enabled": False,
    # navigator.clipboard.readText() without the paste menu a person would click
    "dom.events.testing.asyncClipboard": True,
}
BROWSERS = {"chromium": CHROMIUM, "firefox": FIREFOX}
SCREENSHOTS = Path(__file__).parent / "screenshots"
ADMIN_TOKEN = "console-test-admin-token"
EXPECTED_ERROR = re.compile(r"status of (400|403|404)|: (NS_BINDING_ABORTED|net::ERR_ABORTED)$")
"""Errors a test causes on purpose: a form sent back with its errors, a refused change, a
page that does not exist; and a request the browser dropped because the test went to another
page while it was under way (a journey page's counts, fetched every few seconds)."""
SUBRESOURCES = frozenset({"script", "stylesheet", "image", "font"})
REPORT_REFUSALS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("refused by the content security policy: " + e.violatedDirective);
});
"""
"""Chromium logs what the content security policy refuses as an error; Firefox keeps it to
its own console, out of WebDriver BiDi's reach: the page says it, for both."""
WAIT_MS = 15_000
"""How long an expectation waits for the page (htmx refreshes every 5 s)."""
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # One module's at a time: Playwright's sync driver keeps an asyncio loop running in
    # this thread while it is open, and the tests after the browser's call asyncio.run.
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module", params=sorted(BROWSERS))
def browser(request: pytest.FixtureRequest, playwright: Playwright) -> Iterator[Browser]:
    """Each of the browsers, headless, launched once for the module's tests."""
    name: str = request.param
    executable = BROWSERS[name]
    if not executable.exists():
        reason = f"the console's browser tests need Debian's {executable.name} at {executable}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    launched = (
        playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        if name == "chromium"
        else playwright.firefox.launch(
            executable_path=executable, channel="moz-firefox", firefox_user_prefs=FIREFOX_PREFS
        )
    )
    try:
        yield launched
    finally:
        launched.close()


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
def context(browser: Browser, console_server: Server) -> Iterator[BrowserContext]:
    """A fresh browser profile that may read and write the clipboard."""
    options: dict[str, Any] = {}
    if browser.browser_type.name == "chromium":  # Firefox lets a page's click copy as is
        options["permissions"] = ["clipboard-read", "clipboard-write"]
    fresh = browser.new_context(
        base_url=console_server.url, viewport={"width": 1280, "height": 800}, **options
    )
    fresh.add_init_script(REPORT_REFUSALS)
    try:
        yield fresh
    finally:
        fresh.close()


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


def failed_load(response: Response) -> list[str]:
    """A page or a script, style sheet, image or font that came back as an error (Chromium
    logs each one; Firefox does not)."""
    failed = response.status >= 500 or (
        response.status >= 400 and response.request.resource_type in SUBRESOURCES
    )
    return [f"{response.url}: status of {response.status}"] if failed else []


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
    page.on("requestfailed", lambda request: errors.append(f"{request.url}: {request.failure}"))
    page.on("response", lambda response: errors.extend(failed_load(response)))
    yield Visit(page, folder)
    expected = [e for e in errors if not EXPECTED_ERROR.search(e)]
    assert not expected, f"the pages logged errors: {expected}"
