"""The pages the checks visit, and ways to reach the states that only a POST shows."""

from __future__ import annotations

import re
import zlib

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


def sign_in(page: Page, email: str, password: str, then: str = "") -> None:
    """Sign in at the login page, going on to ``then`` (a path) when given."""
    page.goto(f"{LOGIN}?next={then}" if then else LOGIN)
    form = page.locator("form.login-form")
    form.get_by_role("textbox", name="Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=f"Sign out {email}").wait_for()


def ask_for_consultation(page: Page, name: str, email: str, path: str = FORM_PAGE) -> None:
    """Send a correct consultation request from a form page, as a patient would
    (``path`` empty: the page open already, with choices made)."""
    if path:
        page.goto(path)
    page.get_by_role("textbox", name="Full name").fill(name)
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Phone").fill(phone_for(email))
    page.get_by_label("I agree that the clinic may use the details").check()
    page.locator("#consult").get_by_role("button").click()
    page.get_by_role("heading", level=1, name="Thank you, we have your request").wait_for()


def phone_for(email: str) -> str:
    """A UK mobile number as unique as the address: the same number at the same
    location within 30 minutes is the same enquiry sent again."""
    return f"07911 {zlib.crc32(email.encode()) % 1_000_000:06d}"


def e164_for(email: str) -> str:
    return "+44" + phone_for(email).replace(" ", "")[1:]


def name_for(email: str) -> str:
    """A patient name as unique as the address: letters only, from its hex part."""
    code = email.split("@")[0].rsplit(".", 1)[-1]
    return "Robin " + code.translate(str.maketrans("0123456789", "ghijklmnop")).capitalize()
