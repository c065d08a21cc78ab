"""Each clinic's privacy notice: written and published in the editor like a
page, shown at /<clinic>/privacy-notice/, linked next to the consent box of
every form of that clinic and from the acknowledgement email."""

from __future__ import annotations

import re

from leads.extensions import db
from leads.models import Clinic, Page
from tests.conftest import _hidden
from tests.test_editor_fixes import browser_fields

TREATMENT_URL = "/aurelia/harley-street/mesotherapy/"
NOTICE_URL = "/aurelia/privacy-notice/"


def _clinic_id(app, slug: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Clinic.id).where(Clinic.slug == slug))


def _start_notice(client, app, slug: str = "aurelia"):
    index = client.get("/editor/").get_data(as_text=True)
    return client.post(
        f"/editor/clinics/{_clinic_id(app, slug)}/privacy-notice",
        data={"csrf_token": _hidden(index, "csrf_token")},
    )


def _publish(client, edit_url: str) -> None:
    publish_url = edit_url + "publish"
    page = client.get(publish_url).get_data(as_text=True)
    answer = client.post(publish_url, data={"csrf_token": _hidden(page, "csrf_token")})
    assert answer.status_code == 303


def _marketing(client, make_user, login, clinics=("aurelia",)):
    login(client, make_user("marketing", clinics=clinics))


# -- before there is a notice -----------------------------------------------------------


def test_without_a_published_notice_there_is_no_link_and_no_page(
    app, client, demo, make_user, login
):
    patient = app.test_client()
    missing = patient.get(NOTICE_URL)
    assert missing.status_code == 404
    assert "Aurelia Hair Clinic" in missing.get_data(as_text=True)
    assert "privacy-notice" not in patient.get(TREATMENT_URL).get_data(as_text=True)
    _marketing(client, make_user, login)
    index = client.get("/editor/").get_data(as_text=True)
    assert "Forms of Aurelia Hair Clinic show no privacy notice link" in index
    assert "Write the privacy notice" in index


def test_marketing_cannot_start_another_clinics_notice(app, client, demo, make_user, login):
    _marketing(client, make_user, login)
    assert _start_notice(client, app, "northfield").status_code == 404
    assert (
        client.post(
            "/editor/clinics/999999/privacy-notice",
            data={
                "csrf_token": _hidden(client.get("/editor/").get_data(as_text=True), "csrf_token")
            },
        ).status_code
        == 404
    )
    with app.app_context():
        assert db.session.scalar(db.select(Page).where(Page.kind == "privacy")) is None


def test_a_location_cannot_take_the_notices_address(app, client, demo, make_user, login):
    _marketing(client, make_user, login)
    with app.app_context():
        page_id = db.session.scalar(
            db.select(Page.id).where(
                Page.location.has(slug="harley-street"), Page.treatment_id.is_(None)
            )
        )
    edit_url = f"/editor/pages/{page_id}/"
    fields = browser_fields(client.get(edit_url).get_data(as_text=True))
    fields["slug"] = "privacy-notice"
    refused = client.post(edit_url, data=fields)
    assert refused.status_code == 422
    assert "used by the site itself" in refused.get_data(as_text=True)


# -- writing and publishing ----------------------------------------------------------------


def test_a_notice_is_drafted_previewed_published_and_linked_from_every_form(
    app, client, demo, make_user, login
):
    _marketing(client, make_user, login)
    started = _start_notice(client, app)
    assert started.status_code == 303
    edit_url = started.headers["Location"]
    assert _start_notice(client, app).headers["Location"] == edit_url  # one per clinic

    editor_page = client.get(edit_url).get_data(as_text=True)
    assert "Privacy notice" in editor_page and "/aurelia/privacy-notice/" in editor_page
    fields = browser_fields(editor_page)
    assert "Aurelia Hair Clinic is responsible" in fields["body"]
    assert "slug" not in fields  # the address never changes
    fields["heading"] = "How Aurelia looks after your details"
    fields["body"] += "\r\n## Contact\r\n\r\nWrite to privacy@aurelia-hair.example.\r\n"
    saved = client.post(edit_url, data=fields)
    assert saved.status_code == 303
    assert "It is not published" in client.get(edit_url).get_data(as_text=True)

    patient = app.test_client()
    assert patient.get(NOTICE_URL).status_code == 404  # a draft until published
    preview = client.get(edit_url + "preview").get_data(as_text=True)
    assert "How Aurelia looks after your details" in preview and "Preview of the draft" in preview

    _publish(client, edit_url)
    notice = patient.get(NOTICE_URL)
    assert notice.status_code == 200
    html = notice.get_data(as_text=True)
    assert "<h1>How Aurelia looks after your details</h1>" in html
    assert "<h2>Contact</h2>" in html
    assert "Clinic Leads" not in html and "Northfield" not in html

    for url in (TREATMENT_URL, "/aurelia/harley-street/", "/aurelia/manchester/"):
        form = patient.get(url).get_data(as_text=True)
        consent = form[form.index('name="consent_enquiry"') :]
        link = re.search(r'<p class="hint privacy-link"><a href="([^"]+)">', consent)
        assert link and link.group(1) == NOTICE_URL, url
        assert consent.index("privacy-link") < consent.index('name="marketing_opt_in"'), url
    # Another clinic's forms do not link to it.
    assert NOTICE_URL not in patient.get("/northfield/edinburgh/").get_data(as_text=True)


def test_the_acknowledgement_email_links_to_the_clinics_notice(
    app, client, demo, make_user, login, form_page_for, run_worker, mail
):
    _marketing(client, make_user, login)
    _publish(client, _start_notice(client, app).headers["Location"])
    for url, email in (
        (TREATMENT_URL, "aurelia.patient@example.org"),
        ("/northfield/edinburgh/mesotherapy/", "northfield.patient@example.org"),
    ):
        patient = app.test_client()
        data = form_page_for(patient)(url, email=email)
        assert patient.post(url, data=data).status_code == 303
    run_worker()
    [aurelia] = mail.to("aurelia.patient@example.org")
    assert "http://leads.test/aurelia/privacy-notice/" in aurelia.get_content()
    [northfield] = mail.to("northfield.patient@example.org")
    assert "privacy-notice" not in northfield.get_content()  # no notice published


def test_unpublishing_the_notice_takes_the_link_away(app, client, demo, make_user, login):
    _marketing(client, make_user, login)
    edit_url = _start_notice(client, app).headers["Location"]
    _publish(client, edit_url)
    confirm = client.get(edit_url + "unpublish").get_data(as_text=True)
    assert "“page not found” page from Aurelia Hair Clinic" in confirm
    assert "stop linking to it" in confirm
    done = client.post(
        edit_url + "unpublish",
        data={"csrf_token": _hidden(confirm, "csrf_token"), "confirm": "yes"},
    )
    assert done.status_code == 303
    patient = app.test_client()
    assert patient.get(NOTICE_URL).status_code == 404
    assert "privacy-notice" not in patient.get(TREATMENT_URL).get_data(as_text=True)


def test_the_demo_command_publishes_each_clinics_notice(app):
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    for slug, name in (("aurelia", "Aurelia Hair Clinic"), ("northfield", "Northfield Trichology")):
        notice = client.get(f"/{slug}/privacy-notice/")
        assert notice.status_code == 200 and name in notice.get_data(as_text=True)
