"""Every route × every kind of visitor, against the answer each must get.

The matrix lists each (endpoint, method) of ``app.url_map``. A route that is
added without a row here fails ``test_every_route_is_in_the_matrix``: decide
who may reach it, add its row, and the other tests then check it.

Leads of two clinics are seeded. Managers see their own clinic's lead and get
404 for the other's, whichever way they ask (URL, bulk action); lists, polling
and exports never carry the other clinic's patient. The marketing account
belongs to clinic A: every editor route asked about clinic B's page, location
or clinic answers it 404 and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from leads.extensions import db
from leads.models import (
    Clinic,
    Delivery,
    InboxChannel,
    Lead,
    LeadEvent,
    Location,
    Page,
    PageRevision,
    Practitioner,
    User,
)
from leads.services.api_tokens import create_token
from leads.services.editor import create_privacy_notice, publish
from tests.conftest import _hidden

ROLES = ("anonymous", "marketing", "manager_a", "manager_b", "admin")
LOGIN = "login"  # answered with a redirect to the sign-in page
ANY = "any"  # reachable; the answer depends on the data sent, never 5xx

NAME_A = "Patient Aurelia-Only"
NAME_B = "Patient Northfield-Only"


def everyone(code: int | str) -> dict[str, int | str]:
    return dict.fromkeys(ROLES, code)


def signed_in(code: int) -> dict[str, int | str]:
    return {"anonymous": LOGIN, **dict.fromkeys(ROLES[1:], code)}


def lead_workers(code: int) -> dict[str, int | str]:
    """Admins and managers; marketing is refused."""
    return {
        "anonymous": LOGIN,
        "marketing": 403,
        "manager_a": code,
        "manager_b": code,
        "admin": code,
    }


def lead_of(clinic: str, code: int) -> dict[str, int | str]:
    """One clinic's lead: its managers and admins reach it; the other clinic's
    managers get 404, exactly as for a lead that does not exist."""
    return {
        "anonymous": LOGIN,
        "marketing": 403,
        "manager_a": code if clinic == "a" else 404,
        "manager_b": code if clinic == "b" else 404,
        "admin": code,
    }


def editors(code: int) -> dict[str, int | str]:
    """Marketing and admins; managers are refused."""
    return {
        "anonymous": LOGIN,
        "marketing": code,
        "manager_a": 403,
        "manager_b": 403,
        "admin": code,
    }


def editors_of_b(code: int) -> dict[str, int | str]:
    """Clinic B's pages: admins reach them; marketing of clinic A gets 404,
    exactly as for a page that does not exist."""
    return {**editors(code), "marketing": 404}


def reporters(code: int) -> dict[str, int | str]:
    """Marketing, managers and admins: numbers, each scoped to what they may see."""
    return {"anonymous": LOGIN, **dict.fromkeys(ROLES[1:], code)}


def admins(code: int) -> dict[str, int | str]:
    return {"anonymous": LOGIN, "marketing": 403, "manager_a": 403, "manager_b": 403, "admin": code}


@dataclass
class Case:
    endpoint: str
    method: str
    expected: dict[str, int | str]
    args: dict[str, str] = field(default_factory=dict)  # symbolic values, see ``resolve``
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        extra = ",".join(
            f"{k}={v}"
            for k, v in {**self.args, **self.body}.items()
            if isinstance(v, str) and v.startswith("@")
        )
        return f"{self.method} {self.endpoint}" + (f" [{extra}]" if extra else "")


PLACE = {"clinic_slug": "aurelia", "location_slug": "harley-street"}
NOBODY = "nobody@staff.example.org"
NEW_PASSWORD = {"password": "a new long passphrase", "confirm": "a new long passphrase"}

CASES = [
    # Public pages
    Case("public.index", "GET", everyone(200)),
    Case("public.location_page", "GET", everyone(200), PLACE),
    Case("public.send_from_location_page", "POST", everyone(422), PLACE),
    Case("public.treatment_page", "GET", everyone(200), {**PLACE, "treatment_slug": "mesotherapy"}),
    Case(
        "public.send_from_treatment_page",
        "POST",
        everyone(422),
        {**PLACE, "treatment_slug": "mesotherapy"},
    ),
    Case("public.thank_you", "GET", everyone(200), PLACE),
    Case("public.privacy_notice", "GET", everyone(200), {"clinic_slug": "aurelia"}),
    Case("public.privacy_notice", "GET", everyone(404), {"clinic_slug": "northfield"}),
    Case("public.clinic_page", "GET", everyone(200), {"clinic_slug": "aurelia"}),
    Case("public.sitemap", "GET", everyone(200)),
    Case("public.robots", "GET", everyone(200)),
    # A clinic's stylesheet: the demo clinics keep the site's colours, so none.
    Case("public.clinic_theme", "GET", everyone(404), {"clinic_slug": "aurelia", "digest": "0"}),
    # A media file: public by its unguessable name; this one was never stored.
    Case("media.file", "GET", everyone(404), {"name": "a" * 32 + "-480-" + "b" * 16 + ".webp"}),
    # Signing in and out
    Case("auth.login", "GET", {"anonymous": 200, **dict.fromkeys(ROLES[1:], 303)}),
    Case(
        "auth.login",
        "POST",
        {"anonymous": 401, **dict.fromkeys(ROLES[1:], 303)},
        body={"email": "nobody@staff.example.org", "password": "not a password at all"},
    ),
    Case("auth.logout", "POST", everyone(303)),
    # Links by email: the same answer whoever asks, and for any address
    Case("account.forgot_password", "GET", everyone(200)),
    Case("account.forgot_password", "POST", everyone(200), body={"email": NOBODY}),
    Case("account.request_sign_in_link", "POST", everyone(200), body={"email": NOBODY}),
    Case("account.reset_password", "GET", everyone(404), {"token": "forged"}),
    Case("account.reset_password", "POST", everyone(404), {"token": "forged"}, body=NEW_PASSWORD),
    Case("account.join", "GET", everyone(404), {"token": "forged"}),
    Case("account.join", "POST", everyone(404), {"token": "forged"}, body=NEW_PASSWORD),
    Case("account.sign_in_by_link", "GET", everyone(404), {"token": "forged"}),
    Case("account.sign_in_by_link", "POST", everyone(404), {"token": "forged"}),
    # Two-factor sign-in: the code step needs a right password first
    Case("account.two_factor_code", "GET", everyone(303)),
    Case("account.two_factor_code", "POST", everyone(303), body={"code": "123456"}),
    Case("account.two_factor", "GET", signed_in(200)),
    Case("account.digest_settings", "GET", lead_workers(200)),
    Case("account.digest_settings", "POST", lead_workers(422), body={"digest_time": "soon"}),
    Case("account.start_two_factor", "POST", signed_in(303)),
    Case("account.confirm_two_factor", "POST", signed_in(422), body={"code": "123456"}),
    Case("account.remove_two_factor", "POST", signed_in(303), body={"code": "123456"}),
    Case("account.new_recovery_codes", "POST", signed_in(303)),
    Case("staff.home", "GET", signed_in(200)),
    # The inbox
    Case("inbox.index", "GET", lead_workers(200)),
    Case("inbox.index", "GET", lead_workers(200), query={"clinic": "@clinic_b"}),
    Case("inbox.search", "POST", lead_workers(303), body={"q": "patient", "clinic": "@clinic_b"}),
    Case("inbox.updates", "GET", lead_workers(200), query={"since": "0"}),
    Case("inbox.export", "GET", lead_workers(200)),
    Case("inbox.export", "GET", lead_workers(200), query={"clinic": "@clinic_b"}),
    Case("inbox.lead", "GET", lead_of("a", 200), {"lead_id": "@lead_a"}),
    Case("inbox.lead", "GET", lead_of("b", 200), {"lead_id": "@lead_b"}),
    Case(
        "inbox.change_status",
        "POST",
        lead_of("a", 303),
        {"lead_id": "@lead_a"},
        body={"status": "contacted"},
    ),
    Case(
        "inbox.change_status",
        "POST",
        lead_of("b", 303),
        {"lead_id": "@lead_b"},
        body={"status": "contacted"},
    ),
    Case("inbox.assign", "POST", lead_of("a", 303), {"lead_id": "@lead_a"}, body={"assignee": ""}),
    Case("inbox.assign", "POST", lead_of("b", 303), {"lead_id": "@lead_b"}, body={"assignee": ""}),
    Case(
        "inbox.add_note",
        "POST",
        lead_of("a", 303),
        {"lead_id": "@lead_a"},
        body={"text": "Left a voicemail."},
    ),
    Case(
        "inbox.add_note",
        "POST",
        lead_of("b", 303),
        {"lead_id": "@lead_b"},
        body={"text": "Left a voicemail."},
    ),
    Case("inbox.bulk", "POST", lead_of("a", 303), body={"status": "new", "lead_id": "@lead_a"}),
    Case("inbox.bulk", "POST", lead_of("b", 303), body={"status": "new", "lead_id": "@lead_b"}),
    Case(
        "inbox.bulk",
        "POST",
        {"anonymous": LOGIN, "marketing": 403, "manager_a": 404, "manager_b": 404, "admin": 303},
        body={"status": "new", "lead_id": ["@lead_a", "@lead_b"]},
    ),
    Case(
        "inbox.retry_delivery",
        "POST",
        lead_of("a", 303),
        {"lead_id": "@lead_a", "delivery_id": "@delivery_a"},
    ),
    Case(
        "inbox.retry_delivery",
        "POST",
        lead_of("b", 303),
        {"lead_id": "@lead_b", "delivery_id": "@delivery_b"},
    ),
    # A delivery of clinic B asked for under clinic A's lead: 404 for everyone.
    Case(
        "inbox.retry_delivery",
        "POST",
        {"anonymous": LOGIN, "marketing": 403, "manager_a": 404, "manager_b": 404, "admin": 404},
        {"lead_id": "@lead_a", "delivery_id": "@delivery_b"},
    ),
    # Admin
    Case("admin.deliveries_health", "GET", admins(200)),
    Case("admin.retry_delivery", "POST", admins(303), {"delivery_id": "@delivery_a"}),
    Case("admin.channels", "GET", admins(200), {"clinic_id": "@clinic_a"}),
    Case(
        "admin.channels",
        "POST",
        admins(422),
        {"clinic_id": "@clinic_a"},
        body={"kind": "email", "target": "not an address", "location": ""},
    ),
    Case(
        "admin.toggle_channel",
        "POST",
        admins(303),
        {"channel_id": "@channel_a"},
        body={"active": "1"},
    ),
    Case("admin.rotate_secret", "POST", admins(200), {"channel_id": "@webhook_b"}),
    Case(
        "admin.create_token", "POST", admins(201), {"clinic_id": "@clinic_a"}, body={"name": "CRM"}
    ),
    Case("admin.revoke_token", "POST", admins(303), {"token_id": "@token_a"}),
    Case("admin.users", "GET", admins(200)),
    Case("admin.new_user", "GET", admins(200)),
    Case("admin.new_user", "POST", admins(422), body={"email": "not an address", "role": "admin"}),
    Case("admin.edit_user", "GET", admins(200), {"user_id": "@target"}),
    Case(
        "admin.edit_user",
        "POST",
        admins(303),
        {"user_id": "@target"},
        body={"role": "manager", "clinics": "@clinic_a", "name": "Target"},
    ),
    Case(
        "admin.reset_password",
        "POST",
        admins(303),
        {"user_id": "@target"},
        body={"password": "a brand new long passphrase"},
    ),
    Case("admin.deactivate_user", "POST", admins(303), {"user_id": "@target"}),
    Case("admin.reactivate_user", "POST", admins(303), {"user_id": "@target"}),
    Case("admin.audit", "GET", admins(200)),
    Case("invitations.new", "GET", admins(200)),
    Case("invitations.new", "POST", admins(422), body={"email": "not an address", "role": "admin"}),
    Case("invitations.invite_again", "POST", admins(303), {"user_id": "@target"}),
    Case("account.remove_colleague_two_factor", "POST", admins(303), {"user_id": "@target"}),
    # The page editor
    Case("editor.index", "GET", editors(200)),
    # The media library: each marketer sees and fills their own clinics' only.
    Case("media.library", "GET", editors(200)),
    Case("media.library", "POST", editors(422), body={"alt": "A room"}),
    Case("editor.create", "GET", editors(200), query={"location": "@location_a"}),
    Case(
        "editor.create",
        "GET",
        editors(200),
        query={"location": "@location_a", "copy_from": "@page"},
    ),
    Case(
        "editor.create", "POST", editors(422), query={"location": "@location_a"}, body={"title": ""}
    ),
    Case("editor.edit", "GET", editors(200), {"page_id": "@page"}),
    Case("editor.edit", "POST", editors(422), {"page_id": "@page"}, body={"title": ""}),
    Case("editor.preview", "GET", editors(200), {"page_id": "@page"}),
    Case(
        "editor.preview_unsaved",
        "POST",
        editors(ANY),
        {"page_id": "@page"},
        body={"title": "Draft title"},
    ),
    Case("editor.publish", "GET", editors(200), {"page_id": "@page"}),
    Case("editor.publish", "POST", editors(303), {"page_id": "@page"}),
    Case("editor.unpublish", "GET", editors(200), {"page_id": "@page"}),
    Case("editor.unpublish", "POST", editors(303), {"page_id": "@page"}, body={"confirm": "yes"}),
    Case("editor.history", "GET", editors(200), {"page_id": "@page"}),
    Case("editor.compare", "GET", editors(200), {"page_id": "@page", "number": "1"}),
    Case("editor.restore", "POST", editors(303), {"page_id": "@page", "number": "1"}),
    Case("editor.clinic_details", "GET", admins(200), {"clinic_id": "@clinic_a"}),
    Case(
        "editor.clinic_details", "POST", admins(422), {"clinic_id": "@clinic_a"}, body={"name": ""}
    ),
    Case("editor.location_details", "GET", admins(200), {"location_id": "@location_a"}),
    # The same editor routes on clinic B's page, location and clinic.
    Case("editor.create", "GET", editors_of_b(200), query={"location": "@location_b"}),
    # Starting clinic A's page as a copy of clinic B's.
    Case(
        "editor.create",
        "GET",
        editors_of_b(200),
        query={"location": "@location_a", "copy_from": "@page_b"},
    ),
    Case(
        "editor.create",
        "POST",
        editors_of_b(422),
        query={"location": "@location_b"},
        body={"title": ""},
    ),
    Case("editor.edit", "GET", editors_of_b(200), {"page_id": "@page_b"}),
    Case(
        "editor.edit",
        "POST",
        editors_of_b(303),
        {"page_id": "@page_b"},
        body={
            "title": "Changed by the matrix",
            "heading": "Changed by the matrix",
            "cta_text": "Book",
            "slug": "mesotherapy",
        },
    ),
    Case("editor.preview", "GET", editors_of_b(200), {"page_id": "@page_b"}),
    Case(
        "editor.preview_unsaved",
        "POST",
        {**editors(ANY), "marketing": 404},
        {"page_id": "@page_b"},
        body={"title": "Draft title"},
    ),
    Case("editor.publish", "GET", editors_of_b(200), {"page_id": "@page_b"}),
    Case("editor.publish", "POST", editors_of_b(303), {"page_id": "@page_b"}),
    Case("editor.unpublish", "GET", editors_of_b(200), {"page_id": "@page_b"}),
    Case(
        "editor.unpublish",
        "POST",
        editors_of_b(303),
        {"page_id": "@page_b"},
        body={"confirm": "yes"},
    ),
    Case("editor.history", "GET", editors_of_b(200), {"page_id": "@page_b"}),
    Case("editor.compare", "GET", editors_of_b(200), {"page_id": "@page_b", "number": "1"}),
    Case("editor.restore", "POST", editors_of_b(303), {"page_id": "@page_b", "number": "1"}),
    Case("editor.clinic_details", "GET", admins(200), {"clinic_id": "@clinic_b"}),
    Case("editor.create_privacy_notice", "POST", editors(303), {"clinic_id": "@clinic_a"}),
    Case("editor.create_privacy_notice", "POST", editors_of_b(303), {"clinic_id": "@clinic_b"}),
    Case("editor.edit", "GET", editors(200), {"page_id": "@privacy_a"}),
    Case("editor.location_details", "GET", admins(200), {"location_id": "@location_b"}),
    Case(
        "editor.location_details",
        "POST",
        admins(422),
        {"location_id": "@location_a"},
        body={"name": ""},
    ),
    # Reports: numbers only; a manager's are scoped to their clinics (tests/test_reports.py)
    Case("reports.index", "GET", reporters(200)),
    Case("reports.charts_css", "GET", everyone(200)),
    Case("reports.show", "GET", reporters(200), {"name": "leads"}),
    Case("reports.show", "GET", reporters(200), {"name": "funnel"}, {"clinic": "@clinic_b"}),
    Case("reports.show", "GET", reporters(404), {"name": "no-such-report"}),
    Case("reports.download", "GET", reporters(200), {"name": "funnel"}),
    Case("reports.download", "GET", reporters(200), {"name": "leads"}, {"clinic": "@clinic_a"}),
    Case("reports.ads_settings", "GET", admins(200), {"clinic_id": "@clinic_a"}),
    Case(
        "reports.ads_settings",
        "POST",
        admins(303),
        {"clinic_id": "@clinic_a"},
        body={"enabled": "y", "booked": "Booked consultation"},
    ),
    # Off until an admin turns it on: 404 for everyone who may ask.
    Case("reports.ads_export", "GET", reporters(404), {"clinic_id": "@clinic_a"}),
    # Quarantine, subject access, marketing withdrawal
    Case("privacy.quarantine", "GET", lead_workers(200)),
    # Roles go in order: once manager B has released it, it is no longer in quarantine.
    Case(
        "privacy.release",
        "POST",
        {"anonymous": LOGIN, "marketing": 403, "manager_a": 404, "manager_b": 303, "admin": 404},
        {"lead_id": "@spam_b"},
    ),
    Case(
        "privacy.release",
        "POST",
        {"anonymous": LOGIN, "marketing": 403, "manager_a": 303, "manager_b": 404, "admin": 404},
        {"lead_id": "@spam_a"},
    ),
    # The other screen actions, each on a lead of each clinic in the state it applies to.
    *[
        Case(
            endpoint,
            "POST",
            {
                "anonymous": LOGIN,
                "marketing": 403,
                "manager_a": 303 if clinic == "a" else 404,
                "manager_b": 303 if clinic == "b" else 404,
                "admin": 404,
            },
            {"lead_id": f"@{lead}_{clinic}"},
        )
        for endpoint, lead in (
            ("privacy.confirm_spam", "held"),
            ("privacy.mark_spam", "clear"),
            ("privacy.unmark_spam", "marked"),
        )
        for clinic in ("b", "a")
    ],
    Case("privacy.subject", "GET", admins(200)),
    Case("privacy.subject", "POST", admins(422), body={"email": "", "phone": ""}),
    # Clinic setup (admins)
    Case("clinics.index", "GET", admins(200)),
    Case("clinics.new_clinic", "GET", admins(200)),
    Case("clinics.new_clinic", "POST", admins(422), body={"slug": "Not A Slug"}),
    Case("clinics.clinic", "GET", admins(200), {"clinic_id": "@clinic_a"}),
    Case("clinics.clinic", "POST", admins(422), {"clinic_id": "@clinic_a"}, body={"name": ""}),
    Case(
        "clinics.archive_clinic",
        "POST",
        admins(303),
        {"clinic_id": "@clinic_a"},
        body={"archived": "0"},
    ),
    Case("clinics.save_routing_rule", "POST", admins(422), {"clinic_id": "@clinic_a"}, body={}),
    Case("clinics.delete_routing_rule", "POST", admins(404), {"rule_id": "999999"}),
    Case("clinics.new_location", "GET", admins(200), {"clinic_id": "@clinic_a"}),
    Case("clinics.new_location", "POST", admins(422), {"clinic_id": "@clinic_a"}, body={}),
    Case("clinics.location", "GET", admins(200), {"location_id": "@location_a"}),
    Case("clinics.location", "POST", admins(422), {"location_id": "@location_a"}, body={}),
    Case(
        "clinics.archive_location",
        "POST",
        admins(303),
        {"location_id": "@location_a"},
        body={"archived": "0"},
    ),
    Case("clinics.publish_location", "POST", admins(303), {"location_id": "@location_a"}),
    Case("clinics.new_treatment", "GET", admins(200), {"clinic_id": "@clinic_a"}),
    Case("clinics.new_treatment", "POST", admins(422), {"clinic_id": "@clinic_a"}, body={}),
    Case("clinics.treatment", "GET", admins(200), {"treatment_id": "@treatment_a"}),
    Case("clinics.treatment", "POST", admins(422), {"treatment_id": "@treatment_a"}, body={}),
    Case(
        "clinics.archive_treatment",
        "POST",
        admins(303),
        {"treatment_id": "@treatment_a"},
        body={"archived": "0"},
    ),
    Case("clinics.new_practitioner", "GET", admins(200), {"clinic_id": "@clinic_a"}),
    Case("clinics.new_practitioner", "POST", admins(422), {"clinic_id": "@clinic_a"}, body={}),
    Case("clinics.practitioner", "GET", admins(200), {"practitioner_id": "@practitioner_a"}),
    Case(
        "clinics.practitioner", "POST", admins(422), {"practitioner_id": "@practitioner_a"}, body={}
    ),
    Case(
        "clinics.remove_practitioner", "POST", admins(303), {"practitioner_id": "@practitioner_a"}
    ),
    Case("clinics.template", "GET", admins(200), {"treatment_id": "@treatment_a"}),
    Case("clinics.template", "POST", admins(422), {"treatment_id": "@treatment_a"}, body={}),
    # The demo treatments have no template yet: nothing to preview.
    Case(
        "clinics.preview_template",
        "GET",
        admins(404),
        {"treatment_id": "@treatment_a", "location_id": "@location_a"},
    ),
    Case("clinics.publish_template", "POST", admins(303), {"treatment_id": "@treatment_a"}),
    Case("clinics.follow_template", "POST", admins(303), {"page_id": "@page"}),
    Case("privacy.withdraw", "GET", everyone(404), {"token": "forged-token"}),
    Case("privacy.withdraw", "POST", everyone(404), {"token": "forged-token"}),
    # The API answers tokens, never staff sessions (tests/test_api.py checks tokens).
    Case("api.openapi", "GET", everyone(200)),
    Case("api.list_leads", "GET", everyone(401)),
    Case("api.get_lead", "GET", everyone(401), {"reference": "0" * 32}),
    Case("api.update_lead", "PATCH", everyone(401), {"reference": "0" * 32}),
    Case("api.not_found", "GET", everyone(401), {"rest": "nothing/here"}),
]

UNLISTED = {"static"}  # files, not views


def test_every_route_is_in_the_matrix(app):
    routes = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in UNLISTED
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    listed = {(case.endpoint, case.method) for case in CASES}
    missing = sorted(routes - listed)
    assert not missing, (
        f"Routes without a row in the access matrix: {missing}. Add who may reach them to CASES."
    )
    assert not sorted(listed - routes), "Rows for routes that no longer exist."


@pytest.fixture
def world(app, demo, make_user, make_lead, login) -> dict[str, Any]:
    """Two clinics' leads, one user per role, one signed-in client per role."""
    ids = {
        "lead_a": make_lead(full_name=NAME_A, email="a.patient@example.org"),
        "lead_b": make_lead(
            "northfield",
            "edinburgh",
            full_name=NAME_B,
            email="b.patient@example.org",
            phone="+447911654321",
        ),
        "target": make_user("manager", ("aurelia",), email="target@staff.example.org"),
        "spam_a": make_lead(full_name=NAME_A, screening="held"),
        "spam_b": make_lead("northfield", "edinburgh", full_name=NAME_B, screening="held"),
        "held_a": make_lead(full_name=NAME_A, screening="held"),
        "held_b": make_lead("northfield", "edinburgh", full_name=NAME_B, screening="held"),
        "clear_a": make_lead(full_name=NAME_A),
        "clear_b": make_lead("northfield", "edinburgh", full_name=NAME_B),
        "marked_a": make_lead(full_name=NAME_A, screening="marked_spam"),
        "marked_b": make_lead("northfield", "edinburgh", full_name=NAME_B, screening="marked_spam"),
    }
    users = {
        "marketing": make_user("marketing", ("aurelia",)),
        "manager_a": make_user("manager", ("aurelia",)),
        "manager_b": make_user("manager", ("northfield",)),
        "admin": make_user("admin", ()),
    }
    with app.app_context():
        for slug, key in (("aurelia", "clinic_a"), ("northfield", "clinic_b")):
            ids[key] = db.session.scalar(db.select(Clinic.id).where(Clinic.slug == slug))
        location = db.session.scalar(db.select(Location).where(Location.slug == "harley-street"))
        ids["location_a"] = location.id
        location_b = db.session.scalar(db.select(Location).where(Location.slug == "edinburgh"))
        ids["location_b"] = location_b.id
        ids["treatment_a"] = location.treatments[0].id
        ids["channel_a"] = db.session.scalar(
            db.select(InboxChannel.id).where(InboxChannel.clinic_id == ids["clinic_a"])
        )
        webhook = InboxChannel(
            clinic_id=ids["clinic_b"], kind="webhook", target="https://hooks.example.org/b"
        )
        db.session.add(webhook)
        db.session.flush()
        ids["webhook_b"] = webhook.id
        person = Practitioner(clinic_id=ids["clinic_a"], name="Dr A")
        db.session.add(person)
        db.session.flush()
        ids["practitioner_a"] = person.id
        token, _ = create_token(db.session.get(Clinic, ids["clinic_a"]), "CRM", None)
        ids["token_a"] = token.id
        for name in ("a", "b"):  # a failed delivery on each clinic's lead
            delivery = Delivery(
                lead_id=ids[f"lead_{name}"],
                purpose="inbox",
                channel="email",
                target="x@example.org",
                status="failed",
                attempts=4,
                last_error="SMTP 550",
            )
            db.session.add(delivery)
            db.session.flush()
            ids[f"delivery_{name}"] = delivery.id
        db.session.commit()
        notice = create_privacy_notice(db.session.get(Clinic, ids["clinic_a"]), None)
        publish(notice, None)
        db.session.commit()
        ids["privacy_a"] = notice.id
        ids["page"] = db.session.scalar(
            db.select(Page.id).where(Page.location_id == location.id, Page.treatment_id.isnot(None))
        )
        ids["page_b"] = db.session.scalar(
            db.select(Page.id).where(
                Page.location_id == location_b.id, Page.treatment.has(slug="mesotherapy")
            )
        )
    clients = {"anonymous": app.test_client()}
    for role, user_id in users.items():
        clients[role] = app.test_client()
        login(clients[role], user_id)
    return {"ids": ids, "users": users, "clients": clients, "login": login}


def resolve(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, list):
        return [resolve(v, ids) for v in value]
    if isinstance(value, str) and value.startswith("@"):
        return str(ids[value[1:]])
    return value


def url_for_case(app, case: Case, ids: dict[str, int]) -> str:
    with app.test_request_context():
        from flask import url_for

        args = {k: resolve(v, ids) for k, v in case.args.items()}
        query = {k: resolve(v, ids) for k, v in case.query.items()}
        return url_for(case.endpoint, **args, **query)


def csrf_token(client) -> str:
    page = client.get("/login", follow_redirects=True).get_data(as_text=True)
    return _hidden(page, "csrf_token")


def check(response, expected: int | str, label: str) -> None:
    if expected == LOGIN:
        assert response.status_code == 302, (label, response.status_code)
        assert response.headers["Location"].startswith("/login?next="), label
    elif expected == ANY:
        assert response.status_code < 500, (label, response.status_code)
    else:
        assert response.status_code == expected, (label, response.status_code)


def snapshot(app) -> tuple:
    """What a GET must never change: leads' working state, the staff's
    changes on timelines, accounts."""
    with app.app_context():
        leads = db.session.execute(
            db.select(
                Lead.id, Lead.status, Lead.lost_reason, Lead.assigned_to_id, Lead.first_contacted_at
            ).order_by(Lead.id)
        ).all()
        changes = db.session.execute(
            db.select(LeadEvent.id, LeadEvent.kind)
            .where(LeadEvent.kind.not_in(("viewed", "exported")))
            .order_by(LeadEvent.id)
        ).all()
        users = db.session.execute(
            db.select(
                User.id, User.role, User.active, User.password_hash, User.session_version
            ).order_by(User.id)
        ).all()
        pages = db.session.execute(
            db.select(Page.id, Page.heading, Page.published_revision_id, Page.location_id).order_by(
                Page.id
            )
        ).all()
        revisions = db.session.scalar(db.select(db.func.count(PageRevision.id)))
        return tuple(leads), tuple(changes), tuple(users), tuple(pages), revisions


def test_get_routes_answer_each_role_as_expected_and_change_nothing(app, world):
    ids, clients = world["ids"], world["clients"]
    before = snapshot(app)
    for case in (c for c in CASES if c.method == "GET"):
        url = url_for_case(app, case, ids)
        for role in ROLES:
            response = clients[role].get(url)
            label = f"{case.label} as {role}"
            check(response, case.expected[role], label)
            body = response.get_data(as_text=True)
            if role != "manager_a" and role != "admin":
                assert NAME_A not in body, label
            if role != "manager_b" and role != "admin":
                assert NAME_B not in body, label
    assert snapshot(app) == before


def test_post_routes_refuse_requests_without_csrf(app, world):
    ids, clients = world["ids"], world["clients"]
    before = snapshot(app)
    for case in (c for c in CASES if c.method == "POST"):
        url = url_for_case(app, case, ids)
        body = {k: resolve(v, ids) for k, v in case.body.items()}
        # The public form has no session token: its signed stamp protects it,
        # and a post without one gets the form back (422), storing nothing.
        refused = 422 if case.endpoint.startswith("public.") else 400
        for role in ROLES:
            response = clients[role].post(url, data=body)
            assert response.status_code == refused, (
                f"{case.label} as {role}",
                response.status_code,
            )
    assert snapshot(app) == before


@pytest.mark.parametrize("case", [c for c in CASES if c.method == "POST"], ids=lambda c: c.label)
def test_post_routes_answer_each_role_as_expected(app, world, case):
    ids, clients = world["ids"], world["clients"]
    url = url_for_case(app, case, ids)
    body = {k: resolve(v, ids) for k, v in case.body.items()}
    for role in ROLES:
        before = snapshot(app)
        response = clients[role].post(url, data={**body, "csrf_token": csrf_token(clients[role])})
        expected = case.expected[role]
        check(response, expected, f"{case.label} as {role}")
        if expected in (LOGIN, 403, 404):
            assert snapshot(app) == before, f"{case.label} as {role} changed something"
        if case.endpoint == "auth.logout" and role != "anonymous":
            world["login"](clients[role], world["users"][role])
