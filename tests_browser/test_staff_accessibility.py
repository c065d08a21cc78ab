"""axe-core finds no serious or critical violation on the staff pages, each
seen by the role that works there (the sign-in page is in test_accessibility)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests_browser.pages import FORM_PAGE, ask_for_consultation, name_for, sign_in
from tests_browser.service import STAFF_PASSWORD, Service
from tests_browser.tools import axe, blocking


@pytest.fixture(params=["phone", "desktop"])
def any_page(request: pytest.FixtureRequest) -> Page:
    return request.getfixturevalue(request.param)


def open_edit_page(page: Page, service: Service) -> None:
    """Sign in as marketing and open the Harley Street mesotherapy page's editor."""
    sign_in(page, service.staff["marketing"], STAFF_PASSWORD, then="/editor/")
    page.get_by_role("row").filter(has_text=FORM_PAGE).get_by_role("rowheader").get_by_role(
        "link"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit page")


def test_the_inbox_has_no_serious_violation(any_page: Page, service: Service) -> None:
    sign_in(any_page, service.staff["manager"], STAFF_PASSWORD, then="/inbox/")
    expect(any_page.get_by_role("heading", level=1)).to_have_text("Leads")
    assert blocking(axe(any_page)) == []


def test_a_lead_page_has_no_serious_violation(
    any_page: Page, service: Service, patient: str
) -> None:
    name = name_for(patient)
    ask_for_consultation(any_page, name, patient)
    sign_in(any_page, service.staff["manager"], STAFF_PASSWORD, then="/inbox/")
    any_page.get_by_role("link", name=name, exact=True).click()
    expect(any_page.get_by_role("heading", level=1)).to_have_text(name)
    assert blocking(axe(any_page)) == []


def test_the_page_list_has_no_serious_violation(any_page: Page, service: Service) -> None:
    sign_in(any_page, service.staff["marketing"], STAFF_PASSWORD, then="/editor/")
    expect(any_page.get_by_role("heading", level=1)).to_have_text("Pages")
    assert blocking(axe(any_page)) == []


def test_the_edit_page_has_no_serious_violation(any_page: Page, service: Service) -> None:
    open_edit_page(any_page, service)
    assert blocking(axe(any_page)) == []


def test_the_edit_page_with_errors_has_no_serious_violation(
    any_page: Page, service: Service
) -> None:
    open_edit_page(any_page, service)
    any_page.get_by_role("textbox", name="Heading", exact=True).fill("")
    any_page.get_by_role("button", name="Save draft").click()
    expect(any_page.get_by_role("alert")).to_contain_text("Please check the page")
    assert blocking(axe(any_page)) == []


def test_the_publish_page_has_no_serious_violation(any_page: Page, service: Service) -> None:
    open_edit_page(any_page, service)
    any_page.get_by_role("link", name="Publish…", exact=True).click()
    expect(any_page.get_by_role("heading", level=1)).to_have_text("Publish")
    assert blocking(axe(any_page)) == []
