"""Services speak the project's language: they never read Flask's request or
session nor call abort; they raise the project's errors (leads.errors and
each service's own), which the blueprints answer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "leads"
SERVICE_FILES = sorted((ROOT / "services").glob("*.py")) + [ROOT / "lifecycle.py"]
FORBIDDEN = {
    "flask": {"request", "session", "abort", "redirect", "g"},
    "flask_login": {"login_user", "logout_user", "current_user"},
}


@pytest.mark.parametrize("path", SERVICE_FILES, ids=lambda p: p.name)
def test_a_service_never_touches_the_request(path):
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in FORBIDDEN:
            found += [a.name for a in node.names if a.name in FORBIDDEN[node.module]]
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "flask"
            and node.attr in FORBIDDEN["flask"]
        ):
            found.append(f"flask.{node.attr}")
    assert found == [], f"{path.name} uses {found}"


def test_a_lead_that_is_not_yours_is_a_404_through_the_project_error(
    app, client, demo, make_user, make_lead, login
):
    theirs = make_lead("northfield", "edinburgh")
    login(client, make_user("manager", clinics=("aurelia",)))
    response = client.get(f"/inbox/leads/{theirs}")
    assert response.status_code == 404
    assert "We could not find that page" in response.get_data(as_text=True)


def test_an_old_address_moves_with_its_query_string(app, client, demo, make_user, login):
    from leads.extensions import db
    from leads.models import Location, SlugRedirect

    with app.app_context():
        location = db.session.scalar(db.select(Location).where(Location.slug == "harley-street"))
        db.session.add(
            SlugRedirect(clinic_id=location.clinic_id, old_slug="harley", location_id=location.id)
        )
        db.session.commit()
    response = client.get("/aurelia/harley/mesotherapy/?utm_source=ads")
    assert response.status_code == 301
    assert response.headers["Location"].endswith(
        "/aurelia/harley-street/mesotherapy/?utm_source=ads"
    )
    assert client.get("/aurelia/nowhere/").status_code == 404
