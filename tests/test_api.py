"""The read API: tokens, scope, filters, paging, changes, limits."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from leads.extensions import db
from leads.models import ApiToken, AuditEntry, Clinic, Lead, LeadEvent, utcnow
from leads.services.api_tokens import create_token, digest, revoke
from tests.conftest import _hidden


@pytest.fixture
def token_for(app, demo):
    """``token_for("aurelia")``: a new token of that clinic, as a client sends it."""

    def make(slug: str = "aurelia", name: str = "CRM") -> str:
        with app.app_context():
            clinic = db.session.scalar(db.select(Clinic).where(Clinic.slug == slug))
            _, raw = create_token(clinic, name, None)
            return raw

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def reference_of(app, lead_id: int) -> str:
    with app.app_context():
        return db.session.get(Lead, lead_id).reference


def test_no_token_a_wrong_one_or_a_revoked_one_gets_401(app, client, token_for):
    good = token_for()
    for headers in ({}, bearer("clk_not-a-real-token"), {"Authorization": f"Basic {good}"}):
        response = client.get("/api/v1/leads", headers=headers)
        assert response.status_code == 401
        assert response.json["error"].startswith("Send a valid API token")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/leads", headers=bearer(good)).status_code == 200
    with app.app_context():
        revoke(db.session.scalar(db.select(ApiToken)), None)
    assert client.get("/api/v1/leads", headers=bearer(good)).status_code == 401


def test_a_token_is_stored_hashed_and_its_use_noted(app, client, token_for):
    raw = token_for()
    with app.app_context():
        row = db.session.scalar(db.select(ApiToken))
        assert row.token_hash == digest(raw) and raw not in (row.token_hash, row.prefix)
        assert row.last_used_at is None
    client.get("/api/v1/leads", headers=bearer(raw))
    with app.app_context():
        assert db.session.scalar(db.select(ApiToken)).last_used_at is not None


def test_a_token_of_clinic_a_never_reads_clinic_b(app, client, token_for, make_lead):
    mine = make_lead(full_name="Patient Aurelia")
    theirs = make_lead("northfield", "edinburgh", full_name="Patient Northfield")
    token = bearer(token_for("aurelia"))
    listed = client.get("/api/v1/leads", headers=token)
    assert [lead["reference"] for lead in listed.json["leads"]] == [reference_of(app, mine)]
    assert "Patient Northfield" not in listed.get_data(as_text=True)
    # Asked by reference, clinic B's lead does not exist for this token.
    other = reference_of(app, theirs)
    for method in ("get", "patch"):
        response = getattr(client, method)(
            f"/api/v1/leads/{other}", headers=token, json={"status": "contacted"}
        )
        assert response.status_code == 404, method
        assert "Patient Northfield" not in response.get_data(as_text=True)
    # Its filters cannot reach the other clinic either.
    for query in ("location=edinburgh", "treatment=prp&location=edinburgh"):
        assert client.get(f"/api/v1/leads?{query}", headers=token).json["leads"] == []
    with app.app_context():
        assert db.session.get(Lead, theirs).status == "new"


def test_the_list_skips_leads_held_as_spam(app, client, token_for, make_lead):
    make_lead(screening="held", full_name="Held Patient")
    shown = make_lead()
    body = client.get("/api/v1/leads", headers=bearer(token_for())).json
    assert [lead["reference"] for lead in body["leads"]] == [reference_of(app, shown)]


def test_filters_by_status_location_treatment_and_date(app, client, token_for, make_lead):
    now = utcnow()
    old = make_lead(created_at=now - timedelta(days=10))
    contacted = make_lead(status="contacted")
    manchester = make_lead(location="manchester", treatment="mesotherapy")
    prp = make_lead(treatment="prp")
    token = bearer(token_for())

    def refs(query: str) -> set[str]:
        response = client.get(f"/api/v1/leads?{query}", headers=token)
        assert response.status_code == 200, response.json
        return {lead["reference"] for lead in response.json["leads"]}

    assert refs("status=contacted") == {reference_of(app, contacted)}
    assert refs("location=manchester") == {reference_of(app, manchester)}
    assert refs("treatment=prp") == {reference_of(app, prp)}
    day = (now - timedelta(days=10)).date().isoformat()
    assert refs(f"received_from={day}&received_to={day}") == {reference_of(app, old)}
    assert reference_of(app, old) not in refs(f"received_from={now.date().isoformat()}")
    assert refs("location=nowhere") == set()
    for bad in ("status=spam", "received_from=yesterday", "limit=0", "limit=101", "cursor=%%%"):
        response = client.get(f"/api/v1/leads?{bad}", headers=token)
        assert response.status_code == 400, bad
        assert response.json["error"], bad


def test_cursor_pages_cover_every_lead_once(app, client, token_for, make_lead):
    start = datetime(2026, 1, 1, 12, 0)
    ids = [make_lead(created_at=start + timedelta(minutes=i % 3)) for i in range(7)]
    token = bearer(token_for())
    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/v1/leads?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=token).json
        seen += [lead["reference"] for lead in body["leads"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(reference_of(app, i) for i in ids)
    assert len(seen) == len(set(seen)) == 7


def test_one_lead_by_reference(app, client, token_for, make_lead):
    lead_id = make_lead(full_name="Sam Reader", message="Crown thinning")
    reference = reference_of(app, lead_id)
    body = client.get(f"/api/v1/leads/{reference}", headers=bearer(token_for())).json
    assert (body["reference"], body["full_name"], body["message"]) == (
        reference,
        "Sam Reader",
        "Crown thinning",
    )
    assert (body["clinic"], body["location"], body["treatment"]) == (
        "aurelia",
        "harley-street",
        "mesotherapy",
    )
    assert body["api_url"] == f"http://leads.test/api/v1/leads/{reference}"
    assert body["received_at"].endswith("Z")


def test_patch_moves_the_lead_like_a_person_would(app, client, token_for, make_lead, make_user):
    lead_id = make_lead()
    colleague = make_user("manager", ("aurelia",), email="kim@aurelia.example")
    stranger = make_user("manager", ("northfield",), email="lee@northfield.example")
    reference = reference_of(app, lead_id)
    token = bearer(token_for())
    url = f"/api/v1/leads/{reference}"

    for body, code in [
        ({}, 400),
        ({"status": "spam"}, 400),
        ({"status": "contacted", "colour": "red"}, 400),
        ({"status": "lost"}, 422),  # a lost lead needs a reason
        ({"assigned_to": "lee@northfield.example"}, 422),
    ]:
        response = client.patch(url, headers=token, json=body)
        assert response.status_code == code, (body, response.json)
    assert client.patch(url, headers=token, data="not json").status_code == 400
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        assert (lead.status, lead.assigned_to_id) == ("new", None)

    response = client.patch(
        url, headers=token, json={"status": "contacted", "assigned_to": "kim@aurelia.example"}
    )
    assert response.status_code == 200
    assert (response.json["status"], response.json["assigned_to"]) == (
        "contacted",
        "kim@aurelia.example",
    )
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        assert (lead.status, lead.assigned_to_id) == ("contacted", colleague)
        assert lead.first_contacted_at is not None
        kinds = list(
            db.session.scalars(
                db.select(LeadEvent.kind).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
            )
        )
        assert kinds[-2:] == ["status_changed", "assigned"]
        actions = set(
            db.session.scalars(db.select(AuditEntry.action).where(AuditEntry.object_id == lead_id))
        )
        assert {"lead_status_changed", "lead_assigned", "api_lead_updated"} <= actions
    unassigned = client.patch(url, headers=token, json={"assigned_to": None})
    assert unassigned.status_code == 200 and unassigned.json["assigned_to"] is None
    assert stranger


def test_tokens_are_rate_limited(app, client, token_for):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    token = bearer(token_for())
    codes = [client.get("/api/v1/leads", headers=token).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/v1/leads", headers=token)
    assert limited.status_code == 429 and limited.json["error"].startswith("Too many")
    # Another token has its own allowance.
    assert client.get("/api/v1/leads", headers=bearer(token_for())).status_code == 200


def test_unknown_api_addresses_answer_json(app, client, token_for):
    response = client.get("/api/v1/nothing/here", headers=bearer(token_for()))
    assert response.status_code == 404 and response.json == {"error": "No such resource."}


def test_the_openapi_document_is_built_from_the_schemas(client, demo):
    from leads.schemas.api import LeadOut, LeadPatch

    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"] == "3.1.0"
    schemas = doc["components"]["schemas"]
    assert set(schemas["LeadOut"]["properties"]) == set(LeadOut.model_fields)
    assert set(schemas["LeadPatch"]["properties"]) == set(LeadPatch.model_fields)
    assert set(doc["paths"]) == {"/api/v1/leads", "/api/v1/leads/{reference}"}
    assert set(doc["paths"]["/api/v1/leads/{reference}"]) == {"get", "patch"}


def test_admins_make_and_revoke_tokens_on_the_clinic_screen(app, demo, make_user, login):
    admin = app.test_client()
    login(admin, make_user("admin", ()))
    with app.app_context():
        clinic_id = db.session.scalar(db.select(Clinic.id).where(Clinic.slug == "aurelia"))
    page = f"/admin/clinics/{clinic_id}/channels"
    csrf = _hidden(admin.get(page).get_data(as_text=True), "csrf_token")
    made = admin.post(
        f"/admin/clinics/{clinic_id}/tokens", data={"csrf_token": csrf, "name": "Front desk CRM"}
    )
    assert made.status_code == 201
    raw = re.search(r'<code class="secret">(clk_[^<]+)</code>', made.get_data(as_text=True))[1]
    api = app.test_client()
    assert api.get("/api/v1/leads", headers=bearer(raw)).status_code == 200
    listing = admin.get(page).get_data(as_text=True)
    assert "Front desk CRM" in listing and raw not in listing
    with app.app_context():
        token_id = db.session.scalar(db.select(ApiToken.id))
    revoked = admin.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 303
    assert api.get("/api/v1/leads", headers=bearer(raw)).status_code == 401
    assert (
        admin.post(
            f"/admin/clinics/{clinic_id}/tokens", data={"csrf_token": csrf, "name": ""}
        ).status_code
        == 422
    )


def test_tokens_commands(app, demo):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["tokens", "create", "--clinic", "aurelia", "--name", "CRM"])
    assert made.exit_code == 0, made.output
    raw = made.output.split("Token (shown once): ")[1].strip()
    assert raw.startswith("clk_")
    listed = runner.invoke(args=["tokens", "list", "--clinic", "aurelia"])
    assert "CRM" in listed.output and raw not in listed.output and "active" in listed.output
    with app.app_context():
        token_id = db.session.scalar(db.select(ApiToken.id))
    assert runner.invoke(args=["tokens", "revoke", str(token_id)]).exit_code == 0
    assert "revoked" in runner.invoke(args=["tokens", "list", "--clinic", "aurelia"]).output
    missing = runner.invoke(args=["tokens", "create", "--clinic", "nowhere", "--name", "x"])
    assert missing.exit_code != 0 and "No clinic" in missing.output
