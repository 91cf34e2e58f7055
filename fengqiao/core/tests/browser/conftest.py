"""Browser tests: Playwright (sync API) driving Debian's chromium against pytest-django's live server.

Every test here is marked ``browser`` and skips cleanly when /usr/bin/chromium
(or Playwright) is missing: no browser is ever downloaded. Use::

    @pytest.mark.browser
    @pytest.mark.django_db(transaction=True)
    def test_something(browser_page, login, shot):
        login(browser_page, "admin")
        shot(browser_page, "home")

``new_page(mobile=True)`` gives a 390x844 phone page. Screenshots go to
``test-artifacts/screenshots/<test name>/NN-<step>.png`` (gitignored).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an asyncio event loop in this thread; Django then
# refuses ORM calls from it ("You cannot call this from an async context").
# The test thread only sets up data while the browser waits, so allow it.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

# Debian's chromium; FENGQIAO_CHROMIUM may point at another system-installed chromium.
CHROMIUM = Path(os.environ.get("FENGQIAO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP: dict[str, Any] = {"viewport": {"width": 1366, "height": 900}}
MOBILE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
ROOT = Path(__file__).resolve().parents[4]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
TEST_PASSWORD = "Browser-test-2026"
HERE = Path(__file__).resolve().parent


def _skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium fonts-noto-cjk); browser tests skipped"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed; browser tests skipped"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _skip_reason()
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            # WhiteNoise warns that STATIC_ROOT is missing; the live server serves static files itself
            item.add_marker(pytest.mark.filterwarnings("ignore:No directory at:UserWarning"))
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium per test module (Playwright's event loop stops with it)."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """``new_page(mobile=False, **context_options)``: a page in a fresh browser context (own cookies)."""
    contexts: list[Any] = []

    def make(mobile: bool = False, **options: Any) -> Any:
        context = browser.new_context(**{**(MOBILE if mobile else DESKTOP), "locale": "zh-CN", **options})
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def browser_page(new_page: Callable[..., Any]) -> Any:
    """A desktop (1366x900) page."""
    return new_page()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """``shot(page, "step")`` saves a full-page screenshot under test-artifacts/screenshots/<test>/."""
    folder = SCREENSHOTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    counter = [0]

    def take(page: Any, step: str) -> Path:
        counter[0] += 1
        folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^\w.-]+", "_", step)
        path = folder / f"{counter[0]:02d}-{safe}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def login_as(page: Any, base_url: str, username: str, password: str = TEST_PASSWORD) -> None:
    """Log in through the login form; fails the test with the page's errors when it does not work."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form:has(input[name=password]) button[type=submit]")
    if "/accounts/login/" in page.url:
        errors = page.locator(".errors").all_inner_texts() or [page.locator("body").inner_text()[:500]]
        pytest.fail(f"login as {username!r} failed at {page.url}: {errors}")


@pytest.fixture
def login(live_server: Any) -> Callable[..., None]:
    """``login(page, username, password=TEST_PASSWORD)`` against the live server."""

    def do(page: Any, username: str, password: str = TEST_PASSWORD) -> None:
        login_as(page, live_server.url, username, password)

    return do
