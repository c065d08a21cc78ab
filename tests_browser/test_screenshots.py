"""Screenshots of the key pages on a phone and a desktop, into test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests_browser.pages import LOGIN, submit_with_mistakes

KEY_PAGES = {
    "home": "/",
    "location": "/aurelia/harley-street/",
    "treatment": "/aurelia/harley-street/mesotherapy/",
    "thank-you": "/aurelia/harley-street/thank-you/",
    "login": LOGIN,
}


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_screenshots_of_the_key_pages(
    request: pytest.FixtureRequest, viewport: str, shoot: Callable[[Page, str], Path]
) -> None:
    page: Page = request.getfixturevalue(viewport)
    for name, path in KEY_PAGES.items():
        response = page.goto(path)
        assert response is not None and response.ok, (path, response and response.status)
        assert shoot(page, f"{viewport}-{name}").stat().st_size > 0

    submit_with_mistakes(page)
    assert shoot(page, f"{viewport}-form-with-errors").stat().st_size > 0
