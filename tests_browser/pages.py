"""The pages the checks visit, and ways to reach the states that only a POST shows."""

from __future__ import annotations

import re

from playwright.sync_api import Page

# Every public page of the demo data, by a short name used for files.
PUBLIC_PAGES = {
    "home": "/",
    "location-harley-street": "/aurelia/harley-street/",
    "treatment-harley-street-mesotherapy": "/aurelia/harley-street/mesotherapy/",
    "treatment-harley-street-prp": "/aurelia/harley-street/prp/",
    "location-manchester": "/aurelia/manchester/",
    "treatment-manchester-mesotherapy": "/aurelia/manchester/mesotherapy/",
    "location-edinburgh": "/northfield/edinburgh/",
    "treatment-edinburgh-mesotherapy": "/northfield/edinburgh/mesotherapy/",
    "treatment-edinburgh-prp": "/northfield/edinburgh/prp/",
    "thank-you": "/aurelia/harley-street/thank-you/",
}
LOGIN = "/login"
FORM_PAGE = "/aurelia/harley-street/mesotherapy/"


def submit_with_mistakes(page: Page, path: str = FORM_PAGE) -> None:
    """Open a form page and send it with a bad phone and email, no consent."""
    page.goto(path)
    page.get_by_role("textbox", name="Full name").fill("Jo Lee")
    page.get_by_role("textbox", name="Email").fill("jo.lee@")
    page.get_by_role("textbox", name="Phone").fill("12345")
    page.locator("#consult").get_by_role("button").click()
    page.get_by_role("alert").wait_for()


def hidden_value(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'<input[^>]*value="([^"]*)"[^>]*name="{name}"', html
    )
    if match is None:
        raise AssertionError(f"no {name} in the page")
    return match.group(1)
