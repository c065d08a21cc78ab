"""Browser tests: the real service in child processes, driven by Debian's Chromium.

Run with ``make test-browser``. A flow is a test file here that uses the
fixtures: ``service`` (the running service: ``url()``, ``wait_for_mail()``,
``staff``), ``phone`` and ``desktop`` (a fresh Playwright page in that
viewport), ``shoot`` (a screenshot into test-artifacts/screenshots/),
``patient`` (a unique email address for one test's submissions).
"""

from __future__ import annotations

import itertools
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests_browser.service import Service
from tests_browser.tools import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS

SCREENSHOTS = ARTIFACTS / "screenshots"
VIEWPORTS = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
    "desktop": {"viewport": {"width": 1366, "height": 900}},
}


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = Service(instance=tmp_path_factory.mktemp("instance"), logs=ARTIFACTS / "logs")
    try:
        yield running.start()
    finally:
        running.stop()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # Debian's Chromium; Playwright's own browser download is never used.
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    yield chromium
    chromium.close()


def _context(browser: Browser, service: Service, kind: str) -> BrowserContext:
    context = browser.new_context(
        base_url=service.base_url, locale="en-GB", timezone_id="Europe/London", **VIEWPORTS[kind]
    )
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def phone(browser: Browser, service: Service) -> Iterator[Page]:
    context = _context(browser, service, "phone")
    yield context.new_page()
    context.close()


@pytest.fixture
def desktop(browser: Browser, service: Service) -> Iterator[Page]:
    context = _context(browser, service, "desktop")
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


@pytest.fixture
def shoot(screenshots: Path) -> Callable[[Page, str], Path]:
    """Save a full-page screenshot as ``<name>.png``."""

    def save(page: Page, name: str) -> Path:
        path = screenshots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


_numbers = itertools.count(1)


_summary: list[str] = []


@pytest.fixture
def summary() -> Callable[[str], None]:
    """Add a line to the report printed at the end of the run (Lighthouse scores)."""
    return _summary.append


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if _summary:
        terminalreporter.section("browser checks")
        for line in _summary:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"Screenshots: {SCREENSHOTS.relative_to(ARTIFACTS.parent)}/")


@pytest.fixture
def patient() -> str:
    """An email address no other test uses, so its mail can be told apart."""
    return f"patient{next(_numbers)}.{uuid.uuid4().hex[:8]}@example.org"
