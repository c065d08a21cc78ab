"""Admins set up clinics, locations and treatments on screen, and archive them
without losing a lead or leaving patients on a 404."""

from __future__ import annotations

import pytest

from leads.extensions import db
from leads.models import AuditEntry, Clinic, InboxChannel, Lead, Location, Page, Treatment
from tests.conftest import _hidden


@pytest.fixture
def admin_client(app, client, make_user, login):
    login(client, make_user("admin", clinics=()))
    return client


def post_form(client, url: str, **fields):
    """GET the form at ``url`` for its CSRF token, then POST ``fields`` to it."""
    token = _hidden(client.get(url).get_data(as_text=True), "csrf_token")
    return client.post(url, data={"csrf_token": token, **fields})


def clinic_id(app, slug: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Clinic.id).where(Clinic.slug == slug))


def location_id(app, slug: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Location.id).where(Location.slug == slug))


def treatment_id(app, clinic: str, slug: str) -> int:
    with app.app_context():
        return db.session.scalar(
            db.select(Treatment.id)
            .join(Clinic)
            .where(Clinic.slug == clinic, Treatment.slug == slug)
        )


def counts(app) -> tuple[int, int, int, int]:
    with app.app_context():
        return tuple(
            db.session.scalar(db.select(db.func.count()).select_from(model))
            for model in (Clinic, Location, Treatment, Page)
        )


LOCATION = {
    "name": "Harley Street",
    "slug": "harley-street",
    "street": "10 Harley Street",
    "city": "London",
    "postcode": "W1G 9PF",
    "phone": "020 7946 0000",
    "opening_hours": "Mo-Fr 09:00-19:00\nSa 10:00-16:00",
    "time_zone": "Europe/London",
}


# -- bad input first ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"slug": "NAR London!"}, "Use lowercase letters, numbers and single hyphens"),
        ({"slug": "-nar"}, "Use lowercase letters"),
        ({"slug": "admin"}, "is used by the site itself"),
        ({"slug": "aurelia"}, "Another clinic has that address"),
        ({"name": ""}, "Please fill in the clinic name"),
        ({"name": "<script>x</script>"}, "HTML tags are not allowed"),
        ({"retention_months": "0"}, "Between 1 and 120 months"),
        ({"retention_months": "many"}, "Not a valid integer"),
        ({"inbox": "not an address"}, "Enter an email address"),
    ],
)
def test_a_bad_clinic_is_refused_and_nothing_is_stored(app, admin_client, demo, fields, message):
    before = counts(app)
    data = {"name": "NAR London", "slug": "nar-london", "tagline": "", **fields}
    response = post_form(admin_client, "/admin/clinics/new", **data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert counts(app) == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"slug": "Harley Street"}, "Use lowercase letters"),
        ({"slug": ""}, "Use lowercase letters"),
        ({"phone": "12345"}, "Please enter a phone number"),
        ({"phone": "call us"}, "Please enter a phone number"),
        ({"time_zone": "Europe/Atlantis"}, "Please use a time zone name"),
        ({"opening_hours": "Monday 9 till late"}, "is not like"),
        ({"opening_hours": "Mo-Fr 19:00-09:00"}, "closing after opening"),
        ({"treatments": ["999999"]}, "is not a valid choice"),
    ],
)
def test_a_bad_location_is_refused_and_nothing_is_stored(app, admin_client, demo, fields, message):
    before = counts(app)
    url = f"/admin/clinics/{clinic_id(app, 'aurelia')}/locations/new"
    response = post_form(admin_client, url, **{**LOCATION, "slug": "soho", **fields})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert counts(app) == before


def test_a_location_slug_is_unique_within_its_clinic_only(app, admin_client, demo):
    aurelia = f"/admin/clinics/{clinic_id(app, 'aurelia')}/locations/new"
    response = post_form(admin_client, aurelia, **LOCATION)
    assert response.status_code == 422
    assert "Another location of this clinic has that address" in response.get_data(as_text=True)
    northfield = f"/admin/clinics/{clinic_id(app, 'northfield')}/locations/new"
    assert post_form(admin_client, northfield, **LOCATION).status_code == 303


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"slug": "thank-you"}, "is used by the site itself"),
        ({"slug": "prp_2"}, "Use lowercase letters"),
        ({"slug": "prp"}, "Another treatment of this clinic has that address"),
        ({"name": ""}, "Please fill in the treatment name"),
    ],
)
def test_a_bad_treatment_is_refused(app, admin_client, demo, fields, message):
    before = counts(app)
    url = f"/admin/clinics/{clinic_id(app, 'aurelia')}/treatments/new"
    response = post_form(admin_client, url, **{"name": "Scalp care", "slug": "scalp", **fields})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert counts(app) == before


def test_only_admins_reach_the_setup_screens(app, client, demo, make_user, login):
    login(client, make_user("marketing", ()))
    assert client.get("/admin/clinics/").status_code == 403
    assert client.get(f"/admin/clinics/{clinic_id(app, 'aurelia')}/").status_code == 403


# -- creating and editing ------------------------------------------------------------


def test_an_admin_sets_up_a_clinic_from_nothing(app, admin_client):
    response = post_form(
        admin_client,
        "/admin/clinics/new",
        name="NAR London",
        slug="nar-london",
        tagline="Hair and scalp clinic",
        retention_months="24",
        inbox="enquiries@nar.example",
    )
    assert response.status_code == 303
    new_id = clinic_id(app, "nar-london")
    assert response.headers["Location"] == f"/admin/clinics/{new_id}/"

    response = post_form(
        admin_client,
        f"/admin/clinics/{new_id}/treatments/new",
        name="Mesotherapy for hair loss",
        slug="mesotherapy",
        summary="Vitamins for the scalp.",
    )
    assert response.status_code == 303
    meso = treatment_id(app, "nar-london", "mesotherapy")
    response = post_form(
        admin_client,
        f"/admin/clinics/{new_id}/locations/new",
        **{**LOCATION, "treatments": [str(meso)]},
    )
    assert response.status_code == 303

    with app.app_context():
        clinic = db.session.get(Clinic, new_id)
        assert (clinic.name, clinic.tagline, clinic.retention_months) == (
            "NAR London",
            "Hair and scalp clinic",
            24,
        )
        [location] = clinic.locations
        assert location.phone == "+442079460000"
        assert location.opening_hours == [
            {"days": "Mo-Fr", "opens": "09:00", "closes": "19:00"},
            {"days": "Sa", "opens": "10:00", "closes": "16:00"},
        ]
        assert [t.slug for t in location.treatments] == ["mesotherapy"]
        channels = [(c.kind, c.target, c.location_id) for c in clinic.channels]
        assert channels == [("email", "enquiries@nar.example", None)]
        # A draft location page exists for the editor; nothing is published yet.
        page = db.session.scalar(db.select(Page).where(Page.location_id == location.id))
        assert page.published_revision_id is None
        actions = set(db.session.scalars(db.select(AuditEntry.action)))
        assert {"clinic.created", "treatment.created", "location.created"} <= actions

    assert app.test_client().get("/nar-london/harley-street/").status_code == 404
    listing = admin_client.get("/admin/clinics/").get_data(as_text=True)
    assert "NAR London" in listing
    overview = admin_client.get(f"/admin/clinics/{new_id}/").get_data(as_text=True)
    assert "/nar-london/harley-street/" in overview and "Mesotherapy for hair loss" in overview

    location = location_id(app, "harley-street")
    response = post_form(admin_client, f"/admin/clinics/{new_id}/", name="x")
    assert response.status_code == 303
    response = admin_client.post(
        f"/admin/locations/{location}/publish",
        data={"csrf_token": _hidden(overview, "csrf_token")},
    )
    assert response.status_code == 303
    page = app.test_client().get("/nar-london/harley-street/")
    assert page.status_code == 200 and "020 7946 0000" in page.get_data(as_text=True)


def test_editing_a_location_and_a_treatment(app, admin_client, demo):
    harley = location_id(app, "harley-street")
    prp = treatment_id(app, "aurelia", "prp")
    response = post_form(
        admin_client,
        f"/admin/locations/{harley}/",
        **{**LOCATION, "name": "Harley Street, London", "phone": "+44 20 7946 0999"},
        treatments=[str(prp)],
    )
    assert response.status_code == 303
    response = post_form(
        admin_client, f"/admin/treatments/{prp}/", name="PRP therapy", summary="Your own plasma."
    )
    assert response.status_code == 303
    with app.app_context():
        location = db.session.get(Location, harley)
        assert location.phone == "+442079460999"
        treatment = db.session.get(Treatment, prp)
        assert treatment.name == "PRP therapy"
        # The treatment form's locations are what it is offered at: none were ticked.
        assert treatment.locations == []
    public = app.test_client()
    assert public.get("/aurelia/harley-street/prp/").status_code == 404
    assert public.get("/aurelia/harley-street/mesotherapy/").status_code == 404


# -- archiving ------------------------------------------------------------------------


def archive(client, url: str, archived: bool = True):
    token = _hidden(client.get("/admin/clinics/").get_data(as_text=True), "csrf_token")
    return client.post(url, data={"csrf_token": token, "archived": "1" if archived else "0"})


def test_an_archived_location_sends_patients_to_the_same_treatment_elsewhere(
    app, admin_client, demo, make_lead, form_page_for
):
    lead = make_lead(location="manchester")
    manchester = location_id(app, "manchester")
    public = app.test_client()
    sent_late = form_page_for(public)("/aurelia/manchester/mesotherapy/")
    assert archive(admin_client, f"/admin/locations/{manchester}/archive").status_code == 303

    response = public.get("/aurelia/manchester/mesotherapy/?utm_source=ad")
    assert response.status_code == 302
    assert response.headers["Location"] == "/aurelia/harley-street/mesotherapy/?utm_source=ad"
    response = public.get("/aurelia/manchester/")
    assert (response.status_code, response.headers["Location"]) == (302, "/aurelia/harley-street/")
    # A form loaded before the archiving and sent after it is not stored there:
    # It goes on (307, what was typed kept) to where the page went.
    assert public.post("/aurelia/manchester/mesotherapy/", data=sent_late).status_code == 307
    assert b"/aurelia/manchester/" not in public.get("/sitemap.xml").data
    assert "King Street" not in public.get("/").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Lead, lead) is not None
        assert db.session.scalar(db.select(db.func.count(Lead.id))) == 1
        assert db.session.get(Location, manchester).archived_at is not None

    assert archive(admin_client, f"/admin/locations/{manchester}/archive", False).status_code == 303
    assert public.get("/aurelia/manchester/mesotherapy/").status_code == 200


def test_the_last_open_location_sends_patients_to_the_clinic_page(app, admin_client, demo):
    edinburgh = location_id(app, "edinburgh")
    assert archive(admin_client, f"/admin/locations/{edinburgh}/archive").status_code == 303
    public = app.test_client()
    for url in ("/northfield/edinburgh/", "/northfield/edinburgh/prp/"):
        response = public.get(url)
        assert (response.status_code, response.headers["Location"]) == (302, "/northfield/")
    page = public.get("/northfield/")
    assert page.status_code == 200
    assert "no location open for requests" in page.get_data(as_text=True)


def test_an_archived_treatment_sends_patients_to_the_location_page(app, admin_client, demo):
    prp = treatment_id(app, "aurelia", "prp")
    assert archive(admin_client, f"/admin/treatments/{prp}/archive").status_code == 303
    public = app.test_client()
    response = public.get("/aurelia/harley-street/prp/")
    assert (response.status_code, response.headers["Location"]) == (302, "/aurelia/harley-street/")
    html = public.get("/aurelia/harley-street/").get_data(as_text=True)
    assert 'value="prp"' not in html  # the form no longer offers it
    assert "PRP for hair loss" not in html
    assert public.get("/northfield/edinburgh/prp/").status_code == 200  # another clinic's


def test_an_archived_clinic_keeps_its_leads_and_says_it_takes_no_requests(
    app, admin_client, demo, make_lead
):
    lead = make_lead("northfield", "edinburgh")
    northfield = clinic_id(app, "northfield")
    assert archive(admin_client, f"/admin/clinics/{northfield}/archive").status_code == 303
    public = app.test_client()
    response = public.get("/northfield/edinburgh/mesotherapy/")
    assert (response.status_code, response.headers["Location"]) == (302, "/northfield/")
    page = public.get("/northfield/")
    assert page.status_code == 410 and "no longer takes" in page.get_data(as_text=True)
    assert "Northfield" not in public.get("/").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Lead, lead) is not None
        assert db.session.scalar(
            db.select(db.func.count(InboxChannel.id)).where(InboxChannel.clinic_id == northfield)
        )
    assert archive(admin_client, f"/admin/clinics/{northfield}/archive", False).status_code == 303
    assert public.get("/northfield/edinburgh/mesotherapy/").status_code == 200


def test_an_unknown_clinic_page_is_a_404(app, demo):
    assert app.test_client().get("/no-such-clinic/").status_code == 404


def test_archiving_needs_the_form_token(app, admin_client, demo):
    manchester = location_id(app, "manchester")
    response = admin_client.post(f"/admin/locations/{manchester}/archive", data={"archived": "1"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Location, manchester).archived_at is None


@pytest.mark.parametrize(
    ("screen", "fields", "message"),
    [
        ("clinic", {"name": ""}, "Please fill in the clinic name"),
        ("clinic", {"name": "Aurelia", "retention_months": "500"}, "Between 1 and 120"),
        ("location", {**LOCATION, "phone": "0800 not a phone"}, "Please enter a phone number"),
        ("location", {**LOCATION, "time_zone": "London"}, "Please use a time zone name"),
        ("location", {**LOCATION, "opening_hours": "Mo-Fr 9-5"}, "is not like"),
        ("treatment", {"name": "", "summary": "x"}, "Please fill in the treatment name"),
        ("treatment", {"name": "PRP", "summary": "<i>x</i>"}, "HTML tags are not allowed"),
    ],
)
def test_bad_edits_are_refused_and_nothing_changes(
    app, admin_client, demo, screen, fields, message
):
    url = {
        "clinic": f"/admin/clinics/{clinic_id(app, 'aurelia')}/",
        "location": f"/admin/locations/{location_id(app, 'harley-street')}/",
        "treatment": f"/admin/treatments/{treatment_id(app, 'aurelia', 'prp')}/",
    }[screen]
    with app.app_context():
        before = [(c.name, c.retention_months) for c in db.session.scalars(db.select(Clinic))] + [
            (loc.name, loc.phone, loc.time_zone) for loc in db.session.scalars(db.select(Location))
        ]
    response = post_form(admin_client, url, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        after = [(c.name, c.retention_months) for c in db.session.scalars(db.select(Clinic))] + [
            (loc.name, loc.phone, loc.time_zone) for loc in db.session.scalars(db.select(Location))
        ]
        assert after == before
        assert (
            db.session.get(Treatment, treatment_id(app, "aurelia", "prp")).name
            == "PRP for hair loss"
        )


# -- speed to lead settings ------------------------------------------------------------


def test_an_admin_sets_the_response_target_and_escalation_contacts(app, admin_client, demo):
    cid = clinic_id(app, "aurelia")
    url = f"/admin/clinics/{cid}/"
    base = {"name": "Aurelia Hair Clinic", "tagline": "x"}
    response = post_form(admin_client, url, **base, sla_minutes="0", escalate_to="")
    assert response.status_code == 422 and "Between 1 and 10080 minutes" in response.get_data(
        as_text=True
    )
    response = post_form(admin_client, url, **base, sla_minutes="15", escalate_to="duty, x@y.z")
    assert response.status_code == 422
    assert "“duty” is not an email address" in response.get_data(as_text=True)
    with app.app_context():
        clinic = db.session.get(Clinic, cid)
        assert (clinic.sla_minutes, clinic.escalate_to) == (None, "")
    response = post_form(
        admin_client,
        url,
        **base,
        sla_minutes="15",
        escalate_to="Duty@Aurelia.example , b@c.example",
    )
    assert response.status_code == 303
    with app.app_context():
        clinic = db.session.get(Clinic, cid)
        assert (clinic.sla_minutes, clinic.escalate_to) == (15, "Duty@aurelia.example, b@c.example")


def test_a_location_names_its_nation_for_bank_holidays(app, admin_client, demo):
    lid = location_id(app, "edinburgh")
    fields = {k: v for k, v in LOCATION.items() if k != "slug"}
    response = post_form(admin_client, f"/admin/locations/{lid}/", **fields, nation="atlantis")
    assert response.status_code == 422
    response = post_form(admin_client, f"/admin/locations/{lid}/", **fields, nation="wales")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Location, lid).nation == "wales"


def test_an_admin_adds_and_removes_a_routing_rule(app, admin_client, demo, make_user):
    from leads.models import RoutingRule

    cid = clinic_id(app, "aurelia")
    person = make_user("manager", email="rota@staff.example.org")
    outsider = make_user("manager", clinics=("northfield",))
    url = f"/admin/clinics/{cid}/"
    page = admin_client.get(url).get_data(as_text=True)
    assert "rota@staff.example.org" in page
    token = _hidden(page, "csrf_token")
    rule_url = f"/admin/clinics/{cid}/routing"
    harley = location_id(app, "harley-street")
    refused = admin_client.post(
        rule_url,
        data={"csrf_token": token, "location": harley, "treatment": 0, "members": [outsider]},
    )
    assert refused.status_code == 422
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(RoutingRule.id))) == 0
    saved = admin_client.post(
        rule_url,
        data={"csrf_token": token, "location": harley, "treatment": 0, "members": [person]},
    )
    assert saved.status_code == 303
    with app.app_context():
        rule = db.session.scalar(db.select(RoutingRule))
        assert (rule.location_id, rule.treatment_id) == (harley, None)
        assert [u.id for u in rule.members] == [person]
        rule_id = rule.id
    assert "Harley Street, London, any treatment" in admin_client.get(url).get_data(as_text=True)
    removed = admin_client.post(f"/admin/routing/{rule_id}/delete", data={"csrf_token": token})
    assert removed.status_code == 303
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(RoutingRule.id))) == 0
