"""Reports in a browser: marketing reads a chart beside its table on a phone
and a desktop, with no CSP violation, no sideways scroll and axe clean."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests_browser.pages import ask_for_consultation, name_for, sign_in
from tests_browser.service import STAFF_PASSWORD, Service
from tests_browser.tools import axe, blocking


@pytest.fixture(params=["phone", "desktop"])
def any_page(request: pytest.FixtureRequest) -> tuple[str, Page]:
    return request.param, request.getfixturevalue(request.param)


@pytest.mark.parametrize("report", ["funnel", "leads"])
def test_a_report_shows_its_chart_beside_its_table(
    any_page: tuple[str, Page], service: Service, patient: str, shoot, report: str
) -> None:
    kind, page = any_page
    ask_for_consultation(page, name_for(patient), patient)
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    sign_in(page, service.staff["marketing"], STAFF_PASSWORD, then="/reports/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    page.get_by_role("link", name="Funnel" if report == "funnel" else "Leads over time").click()
    chart = (
        page.get_by_role("img").filter(has=page.locator("svg")).or_(page.locator("svg[role=img]"))
    )
    expect(chart.first).to_be_visible()
    table = page.get_by_role("table")
    expect(table).to_be_visible()
    expect(table.locator("caption")).not_to_be_empty()
    box = chart.first.bounding_box()
    width = page.evaluate("window.innerWidth")
    assert box is not None and box["width"] <= width
    # The page never scrolls sideways; a wide table scrolls in its own box.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # The chart is styled by /reports/charts.css: its background rect is not black.
    fill = page.evaluate(
        "getComputedStyle(document.querySelector('svg.pygal-chart rect.background')).fill"
    )
    assert fill not in ("rgb(0, 0, 0)", "black"), fill
    assert refused == []
    assert blocking(axe(page)) == []
    shoot(page, f"{kind}-report-{report}")
