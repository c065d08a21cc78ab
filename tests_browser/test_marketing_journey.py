"""Marketing changes a treatment page's heading, previews the draft and publishes it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests_browser.pages import FORM_PAGE, sign_in
from tests_browser.service import STAFF_PASSWORD, Service

NEW_HEADING = "Mesotherapy at our Harley Street clinic"


def test_marketing_previews_a_new_heading_then_publishes_it(
    desktop: Page, phone: Page, service: Service, shoot: Callable[[Page, str], Path]
) -> None:
    public = phone
    public.goto(FORM_PAGE)
    old_heading = public.get_by_role("heading", level=1).inner_text()
    assert old_heading and old_heading != NEW_HEADING

    page = desktop
    sign_in(page, service.staff["marketing"], STAFF_PASSWORD, then="/editor/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pages")
    row = page.get_by_role("row").filter(has_text=FORM_PAGE)
    expect(row).to_contain_text("Published")
    shoot(page, "desktop-editor")
    row.get_by_role("rowheader").get_by_role("link").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Edit page")
    expect(page.locator(".eyebrow")).to_have_text(
        "Aurelia Hair Clinic · Harley Street, London · Mesotherapy for hair loss"
    )
    heading = page.get_by_role("textbox", name="Heading", exact=True)
    expect(heading).to_have_value(old_heading)
    shoot(page, "desktop-edit-page")
    heading.fill(NEW_HEADING)
    page.get_by_role("button", name="Save draft").click()

    expect(page.get_by_role("status")).to_have_text(
        "Draft saved. Patients still see the published version until you publish."
    )
    expect(page.get_by_text("Changed since publishing")).to_be_visible()
    expect(page.get_by_role("textbox", name="Heading", exact=True)).to_have_value(NEW_HEADING)
    edit_url = page.url

    # The draft shows in the preview only; patients still get the published page.
    page.get_by_role("link", name="Preview the saved draft").click()
    expect(page).to_have_url(re.compile(r"/editor/pages/\d+/preview$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(NEW_HEADING)
    expect(page.get_by_role("status")).to_contain_text("Preview of the draft.")
    public.reload()
    expect(public.get_by_role("heading", level=1)).to_have_text(old_heading)

    page.get_by_role("link", name="Back to the editor").click()
    expect(page).to_have_url(edit_url)
    page.get_by_role("link", name="Publish…", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Publish")
    change = page.get_by_role("region", name="Heading")
    expect(change.locator("del")).to_have_text(f"Removed: {old_heading}")
    expect(change.locator("ins")).to_have_text(f"Added: {NEW_HEADING}")
    # Plain words: nothing for the publisher to confirm.
    expect(page.get_by_role("checkbox")).to_have_count(0)
    page.get_by_role("textbox", name="Note for the history (optional)").fill("Shorter heading")
    page.get_by_role("button", name="Publish now").click()

    expect(page).to_have_url(edit_url)
    expect(page.get_by_role("status")).to_have_text(
        re.compile(r"Published revision \d+\. Patients see it now\.")
    )
    expect(page.get_by_text("Changed since publishing")).to_have_count(0)
    public.reload()
    expect(public.get_by_role("heading", level=1)).to_have_text(NEW_HEADING)
