"""An admin sets up a new clinic on screen, publishes it, and its first lead arrives.

The service here runs with the embedded defaults for mail (no SMTP server), so
the clinic's inbox is a Maildir under the instance folder.
"""

from __future__ import annotations

import mailbox
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests_browser.conftest import VIEWPORTS
from tests_browser.pages import ask_for_consultation, name_for, sign_in
from tests_browser.service import STAFF_PASSWORD, Service
from tests_browser.tools import ARTIFACTS

PAGE = "/harbour/quay-street/mesotherapy/"


@pytest.fixture(scope="module")
def maildir_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = Service(
        instance=tmp_path_factory.mktemp("setup-instance"),
        logs=ARTIFACTS / "logs" / "clinic-setup",
        maildir=True,
    )
    try:
        yield running.start()
    finally:
        running.stop()


def open_page(browser: Browser, service: Service, kind: str) -> Page:
    context = browser.new_context(
        base_url=service.base_url, locale="en-GB", timezone_id="Europe/London", **VIEWPORTS[kind]
    )
    context.set_default_timeout(10_000)
    return context.new_page()


def wait_for_maildir(folder: Path, containing: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (folder / "new").is_dir():
            for message in mailbox.Maildir(folder, create=False):
                text = message.get_payload(decode=True).decode("utf-8", "replace")
                if containing in text:
                    return text
        time.sleep(0.2)
    raise AssertionError(f"no message containing {containing!r} in {folder}")


def test_an_admin_sets_up_a_clinic_and_its_first_lead_arrives(
    browser: Browser,
    maildir_service: Service,
    patient: str,
    shoot: Callable[[Page, str], Path],
) -> None:
    service = maildir_service
    page = open_page(browser, service, "desktop")
    sign_in(page, service.staff["admin"], STAFF_PASSWORD, then="/admin/clinics/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinics")

    # A clinic, with an address that is not a slug first.
    page.get_by_role("link", name="Add a clinic").click()
    page.get_by_label("Clinic name").fill("Harbour Hair Clinic")
    page.get_by_label("Address (URL slug)").fill("Harbour Hair!")
    page.get_by_label("Inbox email address").fill("enquiries@harbour.example")
    page.get_by_role("button", name="Add clinic").click()
    expect(page.get_by_text("Use lowercase letters, numbers and single hyphens")).to_be_visible()
    page.get_by_label("Address (URL slug)").fill("harbour")
    page.get_by_role("button", name="Add clinic").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Harbour Hair Clinic")
    clinic_url = page.url

    # A treatment, and its page written once for every location.
    page.get_by_role("link", name="Add a treatment").click()
    page.get_by_label("Treatment name").fill("Mesotherapy for hair loss")
    page.get_by_label("Address (URL slug)").fill("mesotherapy")
    page.get_by_role("button", name="Add treatment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Mesotherapy for hair loss: the page at every location"
    )
    page.get_by_label("Heading", exact=True).fill("Mesotherapy for hair loss in {city}")
    page.get_by_label("Body (Markdown)").fill("A course of weekly sessions at {location}.")
    page.get_by_role("button", name="Save and fill in at every location").click()
    expect(page.get_by_role("status")).to_contain_text("Template saved")

    # A location that offers it: a phone that is not a phone first.
    page.goto(clinic_url)
    page.get_by_role("link", name="Add a location").click()
    page.get_by_label("Location name").fill("Quay Street, Bristol")
    page.get_by_label("Address (URL slug)").fill("quay-street")
    page.get_by_label("Street address").fill("5 Quay Street")
    page.get_by_label("Town or city").fill("Bristol")
    page.get_by_label("Postcode").fill("BS1 4DB")
    page.get_by_label("Phone").fill("not a phone")
    page.get_by_label("Opening hours").fill("Mo-Fr 09:00-18:00")
    page.get_by_label("Mesotherapy for hair loss").check()
    page.get_by_role("button", name="Add location").click()
    expect(page.get_by_text("Please enter a phone number such as")).to_be_visible()
    page.get_by_label("Phone").fill("0117 496 0000")
    page.get_by_label("Mesotherapy for hair loss").check()
    page.get_by_role("button", name="Add location").click()
    expect(page.get_by_role("status")).to_contain_text("Quay Street, Bristol added")
    shoot(page, "desktop-clinic-setup")

    row = page.get_by_role("row").filter(has_text="/harbour/quay-street/")
    row.get_by_role("button", name="Publish its pages").click()
    expect(page.get_by_role("status")).to_have_text("Published 2 pages of Quay Street, Bristol.")

    # A patient finds the page and asks for a consultation.
    public = open_page(browser, service, "phone")
    public.goto(PAGE)
    expect(public.get_by_role("heading", level=1)).to_have_text(
        "Mesotherapy for hair loss in Bristol"
    )
    expect(
        public.get_by_text("A course of weekly sessions at Quay Street, Bristol.")
    ).to_be_visible()
    name = name_for(patient)
    ask_for_consultation(public, name, patient, path=PAGE)

    text = wait_for_maildir(service.instance / "mail" / "harbour", name)
    assert re.search(r"New consultation request for Quay Street, Bristol", text)
    assert "Mesotherapy for hair loss" in text
