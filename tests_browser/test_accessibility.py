"""axe-core finds no serious or critical violation on the public pages and the sign-in page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests_browser.pages import LOGIN, PUBLIC_PAGES, submit_with_mistakes
from tests_browser.tools import axe, blocking

VIEWPORT = ["phone", "desktop"]


@pytest.fixture(params=VIEWPORT)
def any_page(request: pytest.FixtureRequest) -> Page:
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("path", [*PUBLIC_PAGES.values(), LOGIN], ids=[*PUBLIC_PAGES, "login"])
def test_a_page_has_no_serious_violation(any_page: Page, path: str) -> None:
    any_page.goto(path)
    assert blocking(axe(any_page)) == []


def test_the_form_with_errors_has_no_serious_violation(any_page: Page) -> None:
    submit_with_mistakes(any_page)
    assert blocking(axe(any_page)) == []


def test_the_sign_in_form_with_errors_has_no_serious_violation(any_page: Page) -> None:
    any_page.goto(LOGIN)
    any_page.locator("form.login-form").get_by_role("button", name="Sign in").click()
    any_page.get_by_role("alert").wait_for()
    assert blocking(axe(any_page)) == []
