"""The consultation form and the sign-in form work with the keyboard alone."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests_browser.pages import FORM_PAGE, phone_for
from tests_browser.service import Service


def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element matching ``selector`` has focus."""
    target = page.locator(selector)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_the_form_can_be_corrected_and_sent_with_tab_space_and_enter_only(
    desktop: Page, service: Service, patient: str
) -> None:
    page = desktop
    page.goto(FORM_PAGE)

    # The skip link comes first and lands on the content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()

    tab_to(page, "#full_name")
    page.keyboard.type("Robin Hale")
    page.keyboard.press("Tab")
    expect(page.locator("#email")).to_be_focused()
    page.keyboard.type(patient)
    page.keyboard.press("Tab")
    expect(page.locator("#phone")).to_be_focused()
    page.keyboard.type(phone_for(patient))
    # Sent without the consent box ticked: Enter on the button.
    tab_to(page, "#consult button[type=submit]")
    page.keyboard.press("Enter")

    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Please tick this box")
    # From the summary, Tab reaches the link to the field and Enter follows it.
    page.keyboard.press("Tab")
    expect(summary.get_by_role("link")).to_be_focused()
    page.keyboard.press("Enter")
    consent = page.locator("#consent_enquiry")
    expect(consent).to_be_focused()
    page.keyboard.press("Space")
    expect(consent).to_be_checked()
    tab_to(page, "#consult button[type=submit]")
    page.keyboard.press("Enter")

    expect(page).to_have_url(service.url("/aurelia/harley-street/thank-you/"))
    service.wait_for_mail(patient, containing="Hello Robin,")


def test_staff_can_sign_in_with_the_keyboard(desktop: Page, service: Service) -> None:
    from tests_browser.service import STAFF_PASSWORD

    page = desktop
    page.goto("/login")
    tab_to(page, "#email")
    page.keyboard.type(service.staff["manager"])
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type("not the password")
    page.keyboard.press("Enter")

    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()

    tab_to(page, "#password")
    page.keyboard.type(STAFF_PASSWORD)
    page.keyboard.press("Enter")
    expect(page).not_to_have_url(service.url("/login"))
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
