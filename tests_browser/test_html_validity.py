"""The Nu Html Checker reports no error on the public pages, as the server sends them."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from tests_browser.pages import FORM_PAGE, LOGIN, PUBLIC_PAGES, hidden_value
from tests_browser.tools import ARTIFACTS, validate_html

SAVED = ARTIFACTS / "html"


def test_the_public_pages_are_valid_html(desktop: Page) -> None:
    SAVED.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for name, path in {**PUBLIC_PAGES, "login": LOGIN}.items():
        response = desktop.request.get(path)
        assert response.status == 200, (path, response.status)
        files.append(_save(name, response.text()))

    # The form as it comes back with errors: only a POST shows it.
    html = desktop.request.get(FORM_PAGE).text()
    response = desktop.request.post(
        FORM_PAGE,
        form={
            "rendered": hidden_value(html, "rendered"),
            "full_name": "Jo Lee",
            "email": "jo.lee@",
            "phone": "12345",
            "treatment": "mesotherapy",
            "contact_method": "phone",
            "contact_time": "any",
        },
    )
    assert response.status == 422
    files.append(_save("form-with-errors", response.text()))
    # The form as it comes back for its stamp, with a line above it.
    spoilt = desktop.request.post(
        FORM_PAGE,
        form={
            "rendered": "spoilt",
            "full_name": "Jo Lee",
            "email": "jo.lee@example.org",
            "phone": "07911 654321",
            "treatment": "mesotherapy",
            "contact_method": "phone",
            "contact_time": "any",
            "consent_enquiry": "y",
        },
    )
    assert spoilt.status == 422
    files.append(_save("form-with-a-new-stamp", spoilt.text()))

    assert validate_html(files) == []


def _save(name: str, html: str) -> Path:
    path = SAVED / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    return path
