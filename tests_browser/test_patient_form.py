"""The form in a real browser: no cookie needed, a stamp that comes back, and Back.

Each flow checks what the clinic receives: exactly one notification per
enquiry, however the patient got there.
"""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from tests_browser.pages import phone_for
from tests_browser.service import Service

URL = "/aurelia/harley-street/mesotherapy/"
THANKS = "/aurelia/harley-street/thank-you/"
CLINIC_INBOX = "enquiries@aurelia-hair.example"


def fill(page: Page, email: str, name: str = "Robin Hale", phone: str = "") -> None:
    page.get_by_role("textbox", name="Full name").fill(name)
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Phone").fill(phone or phone_for(email))
    page.get_by_label("I agree that the clinic may use the details").check()


def send(page: Page) -> None:
    page.locator("#consult").get_by_role("button").click()


def notifications(service: Service, email: str, settle: float = 3.0) -> int:
    """How many notifications about ``email`` the clinic got, once the worker is idle."""
    service.wait_for_mail(CLINIC_INBOX, containing=email)
    time.sleep(settle)  # a second one, if any, would be sent by now
    assert service.smtp is not None
    return sum(
        email in message.get_body(("plain",)).get_content()
        for message in service.smtp.inbox.to(CLINIC_INBOX)
    )


def test_cookies_cleared_between_render_and_submit(
    phone: Page, service: Service, patient: str
) -> None:
    """Cookies blocked, an in-app browser, a tab restored after the browser closed."""
    page = phone
    page.goto(URL)
    fill(page, patient)
    page.context.clear_cookies()
    send(page)
    expect(page).to_have_url(service.url(THANKS))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, we have your request")
    assert notifications(service, patient) == 1


def test_a_stamp_that_does_not_check_out_costs_one_more_press(
    desktop: Page, service: Service, patient: str
) -> None:
    """A form whose stamp is spoilt (a key changed, a page kept too long) comes
    back with everything typed and a fresh stamp; one press sends it."""
    page = desktop
    page.goto(URL)
    fill(page, patient, name="Kit Ramos")
    page.get_by_label("Anything you would like us to know (optional)").fill("Crown & temples.")
    page.context.clear_cookies()
    page.locator('input[name="rendered"]').evaluate("field => { field.value = 'spoilt' }")
    send(page)

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("press the button again")
    expect(page.get_by_role("textbox", name="Full name")).to_have_value("Kit Ramos")
    expect(page.get_by_role("textbox", name="Email")).to_have_value(patient)
    expect(page.get_by_label("Anything you would like us to know (optional)")).to_have_value(
        "Crown & temples."
    )
    expect(page.get_by_label("I agree that the clinic may use the details")).to_be_checked()
    send(page)
    expect(page).to_have_url(service.url(THANKS))
    assert notifications(service, patient) == 1


def test_back_after_success_and_sending_again_is_one_lead(
    phone: Page, service: Service, patient: str
) -> None:
    page = phone
    page.goto(URL)
    fill(page, patient)
    send(page)
    expect(page).to_have_url(service.url(THANKS))

    page.go_back()
    expect(page).to_have_url(service.url(URL))
    expect(page.get_by_role("alert")).to_have_count(0)
    # Whatever the browser restored, the patient sends the same enquiry again.
    fill(page, patient)
    send(page)
    expect(page).to_have_url(service.url(THANKS))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, we have your request")
    assert notifications(service, patient) == 1


def test_back_after_fixing_a_mistake_shows_a_fresh_form_not_the_old_error(
    phone: Page, service: Service, patient: str
) -> None:
    page = phone
    page.goto(URL)
    fill(page, patient, phone="12345")
    send(page)
    expect(page.get_by_role("alert")).to_contain_text("Please enter a phone number we can call")
    page.get_by_role("textbox", name="Phone").fill(phone_for(patient))
    send(page)
    expect(page).to_have_url(service.url(THANKS))

    page.go_back()
    expect(page).to_have_url(service.url(URL))
    # Not the old error state from the back/forward cache, and no resend prompt.
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_role("textbox", name="Phone")).not_to_have_attribute("aria-invalid", "true")
    fill(page, patient)
    send(page)
    expect(page).to_have_url(service.url(THANKS))
    assert notifications(service, patient) == 1
