"""The live inbox in Chromium: with the tab in the background, a new lead
puts its count in the tab's title and, once the manager has allowed them,
a browser notification says how many arrived (and nothing about whom).

The page's clock is Playwright's, moved on by hand, so the 20-second poll
comes at once; the tab is "in the background" by ``document.hidden``; the
browser's own Notification is kept and each one shown is noted for the test.
"""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests_browser.pages import ask_for_consultation, name_for, sign_in
from tests_browser.service import STAFF_PASSWORD

IN_THE_BACKGROUND = """
Object.defineProperty(document, "hidden", { get: () => true });
window.shownNotifications = [];
const Real = window.Notification;
window.Notification = function (title, options) {
  window.shownNotifications.push({ title, body: (options || {}).body });
  return new Real(title, options);
};
Object.defineProperty(window.Notification, "permission", { get: () => Real.permission });
window.Notification.requestPermission = (...args) => Real.requestPermission(...args);
"""


def test_a_background_inbox_shows_the_count_in_its_title_and_notifies(
    service, browser: Browser, phone: Page, patient: str
) -> None:
    context = browser.new_context(base_url=service.base_url, locale="en-GB")
    context.grant_permissions(["notifications"], origin=service.base_url)
    context.add_init_script(IN_THE_BACKGROUND)
    inbox = context.new_page()
    try:
        inbox.clock.install()
        sign_in(inbox, service.staff["manager"], STAFF_PASSWORD, then="/inbox/")
        expect(inbox.locator("#new-leads")).to_be_hidden()
        title = inbox.title()
        assert not title.startswith("(")

        ask_for_consultation(phone, name_for(patient), patient)
        inbox.clock.fast_forward("00:21")

        expect(inbox).to_have_title("(1) " + title)
        expect(inbox.locator("#new-leads")).to_contain_text("1 new lead.")
        shown = inbox.evaluate("window.shownNotifications")
        assert shown == [{"title": "1 new lead", "body": "Open the inbox to see them."}]
    finally:
        context.close()
