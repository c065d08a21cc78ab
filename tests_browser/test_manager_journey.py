"""A clinic manager works a new lead from the inbox: status, note, assignment, export."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests_browser.pages import ask_for_consultation, name_for, sign_in
from tests_browser.service import STAFF_PASSWORD, Service

EXPORT = re.compile(r"^Export the \d+ matching leads? as CSV$")
NOTE = "Called at lunchtime, prefers a Saturday visit."


def test_a_manager_works_a_new_lead_and_exports_it(
    desktop: Page,
    phone: Page,
    service: Service,
    patient: str,
    shoot: Callable[[Page, str], Path],
) -> None:
    name = name_for(patient)
    ask_for_consultation(phone, name, patient)

    page = desktop
    manager = service.staff["manager"]
    sign_in(page, manager, STAFF_PASSWORD, then="/inbox/")
    expect(page).to_have_url(service.url("/inbox/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Leads")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))
    expect(row).to_contain_text("Mesotherapy for hair loss")
    expect(row).to_contain_text("New")
    shoot(page, "desktop-inbox")

    # The export holds the rows the list shows, this patient's among them.
    with page.expect_download() as download_info:
        page.get_by_role("link", name=EXPORT).click()
    download = download_info.value
    assert re.fullmatch(r"leads-\d{8}-\d{4}\.csv", download.suggested_filename)
    with open(download.path(), newline="", encoding="utf-8") as exported:
        rows = [r for r in csv.DictReader(exported) if r["email"] == patient]
    assert [(r["full_name"], r["status"], r["location"]) for r in rows] == [
        (name, "new", "Harley Street, London")
    ]

    row.get_by_role("link", name=name, exact=True).click()
    expect(page).to_have_url(re.compile(r"/inbox/leads/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator(".lead-summary")).to_contain_text("Not contacted yet.")
    work = page.get_by_role("region", name="Work this lead")
    flashes = page.get_by_role("status")

    for value, label in (("contacted", "Contacted"), ("booked", "Consultation booked")):
        work.get_by_label("Status").select_option(value)
        work.get_by_role("button", name="Save status").click()
        expect(flashes).to_have_text(f"Status changed to {label.lower()}.")
        expect(page.locator(".lead-summary .tag")).to_have_text(label)
    expect(page.locator(".lead-summary")).to_contain_text("First contact after")

    work.get_by_label("Note").fill(NOTE)
    work.get_by_role("button", name="Add note").click()
    expect(flashes).to_have_text("Note added.")

    # The manager is the clinic's only colleague here, so the lead goes to them.
    work.get_by_label("Assigned to").select_option(label="Demo manager")
    work.get_by_role("button", name="Save assignment").click()
    expect(flashes).to_have_text("Assignment saved.")
    expect(work.get_by_label("Assigned to")).to_have_value(re.compile(r"^\d+$"))

    timeline = page.get_by_role("region", name="Timeline").get_by_role("listitem")
    # Newest first; the openings and the mail deliveries (the worker's, on
    # its own time) are left out.
    expect(timeline.filter(has_not_text=re.compile("opened it|Sent to|Sending to"))).to_have_text(
        [
            re.compile(r"Demo manager assigned it to Demo manager\."),
            re.compile(rf"Demo manager wrote: {re.escape(NOTE)}"),
            re.compile(r"Demo manager changed the status from contacted to consultation booked\."),
            re.compile(r"Demo manager changed the status from new to contacted\."),
            re.compile(r"Demo manager exported it\."),
            re.compile(r"Received from the website\."),
        ]
    )
    shoot(page, "desktop-lead")

    page.get_by_role("link", name="Back to the leads").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))
    expect(row).to_contain_text("Consultation booked")
    expect(row).to_contain_text("Demo manager")


def test_an_open_inbox_offers_a_lead_that_arrives_later(
    desktop: Page, phone: Page, service: Service, patient: str
) -> None:
    page = desktop
    # The page asks for news on a timer; the test moves the page's clock on
    # instead of waiting for it.
    page.clock.install()
    sign_in(page, service.staff["manager"], STAFF_PASSWORD, then="/inbox/")
    notice = page.locator("#new-leads")
    expect(notice).to_be_hidden()
    expect(notice).to_have_attribute("role", "status")

    name = name_for(patient)
    ask_for_consultation(phone, name, patient)
    expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    page.clock.run_for("00:21")

    expect(notice).to_be_visible()
    expect(notice).to_have_text("1 new lead. Show")
    expect(page).to_have_title(re.compile(r"^\(1\) Leads \| "))
    notice.get_by_role("link", name="Show").click()
    expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(page.locator("#new-leads")).to_be_hidden()
