"""A patient on a phone finds a treatment page from the home page and asks for a consultation."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests_browser.pages import e164_for, phone_for
from tests_browser.service import Service

PHONE_ERROR = re.compile("Please enter a phone number we can call")


def test_a_patient_on_a_phone_corrects_a_mistake_and_gets_both_emails(
    phone: Page, service: Service, patient: str
) -> None:
    page = phone
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a clinic near you")
    page.get_by_role("link", name="Harley Street, London").click()

    expect(page).to_have_url(service.url("/aurelia/harley-street/"))
    page.get_by_role("complementary").get_by_role("link", name="Mesotherapy for hair loss").click()
    expect(page).to_have_url(service.url("/aurelia/harley-street/mesotherapy/"))
    expect(page.get_by_label("Treatment you are interested in")).to_have_value("mesotherapy")

    page.get_by_role("textbox", name="Full name").fill("Sam Okafor")
    page.get_by_role("textbox", name="Email").fill(patient)
    page.get_by_role("textbox", name="Phone").fill("12345")
    page.get_by_label("When is best?").select_option("evening")
    page.get_by_label("I agree that the clinic may use the details").check()
    submit = page.locator("#consult").get_by_role("button")
    submit.click()

    # The mistake is announced: an alert with the message, focus on it, the field flagged.
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(PHONE_ERROR)
    expect(alert).to_be_focused()
    field = page.get_by_role("textbox", name="Phone")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(PHONE_ERROR)
    # What was typed is still there, so only the mistake needs fixing.
    expect(page.get_by_role("textbox", name="Full name")).to_have_value("Sam Okafor")
    expect(page.get_by_label("When is best?")).to_have_value("evening")

    alert.get_by_role("link", name=PHONE_ERROR).click()
    expect(field).to_be_focused()
    field.fill(phone_for(patient))
    page.get_by_label("I agree that the clinic may use the details").check()
    submit.click()

    expect(page).to_have_url(service.url("/aurelia/harley-street/thank-you/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, we have your request")

    acknowledgement = service.wait_for_mail(patient, containing="Hello Sam,")
    assert acknowledgement["Subject"] == "We have your consultation request, Aurelia Hair Clinic"
    notification = service.wait_for_mail("enquiries@aurelia-hair.example", containing=patient)
    assert notification["Subject"] == (
        "New enquiry: Mesotherapy for hair loss at Harley Street, London"
    )
    body = notification.get_body(("plain",)).get_content()
    assert e164_for(patient) in body
    # The visit began on the location page: that is where the patient landed.
    assert re.search(r"Page: +/aurelia/harley-street/\s", body)
