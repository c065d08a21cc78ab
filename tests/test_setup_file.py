"""Setup as a file: ``flask --app leads import FILE [--dry-run]`` and ``export-config``."""

from __future__ import annotations

from pathlib import Path

import pytest

from leads.extensions import db
from leads.models import AuditEntry, Clinic, InboxChannel, Location, Page, Treatment

EXAMPLE = Path(__file__).parent.parent / "config" / "example-setup.yaml"

SMALL = """\
clinics:
  - slug: nar-london
    name: NAR London
    inbox: enquiries@nar.example
    treatments:
      - slug: mesotherapy
        name: Mesotherapy for hair loss
        page:
          title: Hair mesotherapy at {location}
          heading: Mesotherapy for hair loss in {city}
          body: |
            Call {phone}.
    locations:
      - slug: harley-street
        name: Harley Street
        address: ["10 Harley Street", "London", "W1G 9PF"]
        phone: 020 7946 0000
        timezone: Europe/London
        hours: ["Mo-Fr 09:00-19:00", "Sa 10:00-16:00"]
        treatments: [mesotherapy]
        publish: true
"""


@pytest.fixture
def run(app, tmp_path):
    """Run ``flask import`` on ``text``; returns (exit code, output)."""
    runner = app.test_cli_runner()

    def invoke(text: str, *options: str) -> tuple[int, str]:
        path = tmp_path / "setup.yaml"
        path.write_text(text, encoding="utf-8")
        result = runner.invoke(args=["import", str(path), *options])
        return result.exit_code, result.output

    return invoke


def state(app) -> tuple:
    """Everything an import could write."""
    with app.app_context():
        rows = []
        for model in (Clinic, Location, Treatment, Page, InboxChannel, AuditEntry):
            rows.append(db.session.scalar(db.select(db.func.count()).select_from(model)))
        rows.append(
            tuple(db.session.execute(db.select(Location.slug, Location.phone, Location.name)))
        )
        return tuple(rows)


def changed(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (changed(SMALL, "slug: nar-london", "slug: NAR London"), "line 2, clinics[0].slug: Use"),
        (
            changed(SMALL, "treatments: [mesotherapy]", "treatments: [mesotherapy, laser]"),
            "line 20, clinics[0].locations[0].treatments[1]: unknown treatment “laser”",
        ),
        (
            changed(SMALL, "phone: 020 7946 0000", "phone: 12345"),
            "line 17, clinics[0].locations[0].phone: write the phone number as text",
        ),
        (
            changed(SMALL, "phone: 020 7946 0000", "phone: call us"),
            "line 17, clinics[0].locations[0].phone: Please enter a phone number",
        ),
        (
            changed(SMALL, "timezone: Europe/London", "timezone: Europe/Atlantis"),
            "line 18, clinics[0].locations[0].timezone: Please use a time zone name",
        ),
        (
            changed(SMALL, '"Sa 10:00-16:00"', '"Saturday mornings"'),
            "line 19, clinics[0].locations[0].hours: “Saturday mornings” is not like",
        ),
        (
            changed(
                SMALL,
                "      - slug: harley-street",
                "      - slug: harley-street\n        sla_minutes: 30",
            ),
            "line 15, clinics[0].locations[0].sla_minutes: unknown key",
        ),
        (
            changed(SMALL, "    name: NAR London\n", "    name: NAR London\n    routing: {}\n"),
            "line 4, clinics[0].routing: expected a list.",
        ),
        (
            changed(
                SMALL,
                "    name: NAR London\n",
                "    name: NAR London\n    routing:\n      - pool: [nobody@staff.example]\n",
            ),
            "line 5, clinics[0].routing[0].pool[0]: “nobody@staff.example” is not an active",
        ),
        (
            changed(
                SMALL, "    name: NAR London\n", "    name: NAR London\n    sla_minutes: soon\n"
            ),
            "line 4, clinics[0].sla_minutes: Please give a whole number of minutes",
        ),
        (
            changed(
                SMALL, "    name: NAR London\n", "    name: NAR London\n    escalate_to: [x]\n"
            ),
            "line 4, clinics[0].escalate_to: “x” is not an email address",
        ),
        (
            changed(
                SMALL, "timezone: Europe/London", "timezone: Europe/London\n        nation: kent"
            ),
            "line 19, clinics[0].locations[0].nation: Choose one of",
        ),
        (
            changed(SMALL, "heading: Mesotherapy for hair loss in {city}", "heading: At {clinic}"),
            "line 10, clinics[0].treatments[0].page.heading: “{clinic}” is not a placeholder",
        ),
        (
            changed(SMALL, "inbox: enquiries@nar.example", "inbox: not-an-address"),
            "line 4, clinics[0].inbox: Enter an email address",
        ),
        (
            changed(SMALL, "address: [", 'address: ["Flat 1", '),
            "line 16, clinics[0].locations[0].address: expected [street, town or city, postcode]",
        ),
        (
            SMALL + "  - slug: nar-london\n    name: Again\n",
            "line 22, clinics[1].slug: “nar-london” appears twice in this list (first on line 2)",
        ),
        (
            changed(
                SMALL,
                "    locations:\n",
                "      - slug: mesotherapy\n        name: Twice\n    locations:\n",
            ),
            "line 13, clinics[0].treatments[1].slug: “mesotherapy” appears twice",
        ),
        (changed(SMALL, "name: NAR London", "name: [NAR"), "line 4, file: not valid YAML"),
        ("clinic:\n  - slug: x\n", "line 1, file.clinic: unknown key"),
        (changed(SMALL, "publish: true", "publish: yes please"), "publish: expected true or false"),
        (
            changed(
                SMALL, "    name: NAR London\n", '    name: NAR London\n    brand_colour: "#9ad"\n'
            ),
            "line 4, clinics[0].brand_colour: The brand colour #99aadd has a contrast of 2.30:1",
        ),
        (
            changed(
                SMALL, "    name: NAR London\n", "    name: NAR London\n    accent_colour: teal\n"
            ),
            "line 4, clinics[0].accent_colour: Use a hex colour",
        ),
    ],
)
def test_a_bad_file_names_the_line_and_field_and_changes_nothing(app, run, text, expected):
    before = state(app)
    code, output = run(text)
    assert code != 0
    assert expected in output, output
    assert state(app) == before


def test_an_error_late_in_the_file_undoes_the_earlier_clinics(app, run):
    before = state(app)
    text = SMALL + "  - slug: second\n    name: Second\n    retention_months: 0\n"
    code, output = run(text)
    assert code != 0 and "line 24, clinics[1].retention_months" in output
    assert state(app) == before


def test_a_clinic_slug_taken_by_the_site_is_refused(app, run):
    code, output = run(changed(SMALL, "slug: nar-london", "slug: admin"))
    assert code != 0 and "is used by the site itself" in output


def test_the_small_file_sets_up_a_clinic_that_takes_leads(app, run, form_page_for, run_worker):
    code, output = run(SMALL)
    assert code == 0, output
    assert "add clinic nar-london" in output and "publish 2 page(s)" in output

    with app.app_context():
        clinic = db.session.scalar(db.select(Clinic).where(Clinic.slug == "nar-london"))
        [location] = clinic.locations
        assert location.phone == "+442079460000"
        assert [(c.kind, c.target) for c in clinic.channels] == [("email", "enquiries@nar.example")]
    public = app.test_client()
    html = public.get("/nar-london/harley-street/mesotherapy/").get_data(as_text=True)
    assert "Mesotherapy for hair loss in London" in html and "Call 020 7946 0000." in html
    assert public.get("/nar-london/harley-street/").status_code == 200

    code, output = run(SMALL)
    assert (code, output.strip()) == (0, "Nothing to change.")


def test_a_dry_run_prints_the_changes_and_writes_nothing(app, run):
    before = state(app)
    code, output = run(SMALL, "--dry-run")
    assert code == 0
    assert "add clinic nar-london" in output and "nothing was written" in output
    assert state(app) == before


def test_the_example_file_imports_and_a_second_run_changes_nothing(app, run):
    text = EXAMPLE.read_text(encoding="utf-8")
    code, output = run(text)
    assert code == 0, output
    with app.app_context():
        wharf = db.session.scalar(db.select(Location).where(Location.slug == "canary-wharf"))
        own = [(c.kind, c.target, c.secret) for c in wharf.clinic.channels if c.location_id]
        assert ("webhook", "https://crm.nar.example/hooks/leads", own[1][2]) in own
        assert own[1][2] == "change-me-to-a-long-random-value"
        page = db.session.scalar(
            db.select(Page).where(Page.location_id == wharf.id, Page.treatment_id.isnot(None))
        )
        assert page.heading == "Mesotherapy for hair loss in London"
        assert page.published_revision_id is None  # publish: false
    assert app.test_client().get("/nar-london/harley-street/prp/").status_code == 200
    assert run(text) == (0, "Nothing to change.\n")


def test_an_update_changes_only_what_differs(app, run):
    assert run(SMALL)[0] == 0
    code, output = run(changed(SMALL, "name: Harley Street", "name: Harley Street, London"))
    assert code == 0
    assert output.splitlines() == [
        "location nar-london/harley-street: change name",
        "location nar-london/harley-street: publish 1 page(s)",
        "Applied 2 change(s).",
    ]
    html = app.test_client().get("/nar-london/harley-street/mesotherapy/").get_data(as_text=True)
    assert "Hair mesotherapy at Harley Street, London" in html


def test_export_then_import_changes_nothing(app, demo, run):
    assert run(EXAMPLE.read_text(encoding="utf-8"))[0] == 0
    result = app.test_cli_runner().invoke(args=["export-config"])
    assert result.exit_code == 0
    exported = result.output
    assert "slug: aurelia" in exported and "slug: nar-london" in exported
    assert "change-me" not in exported  # webhook secrets stay out of files
    assert "Mesotherapy for hair loss in {city}" in exported
    assert "#0b5d57" in exported and "#1f3a5f" in exported  # the clinic's colours
    assert run(exported) == (0, "Nothing to change.\n")


def test_archiving_by_file_keeps_the_location_and_redirects(app, run):
    assert run(SMALL)[0] == 0
    text = changed(
        SMALL, "        publish: true\n", "        publish: true\n        archived: true\n"
    )
    code, output = run(text)
    assert code == 0 and "location nar-london/harley-street: archive" in output
    response = app.test_client().get("/nar-london/harley-street/mesotherapy/")
    assert (response.status_code, response.headers["Location"]) == (302, "/nar-london/")


ROUTED = (
    SMALL.replace(
        "    inbox: enquiries@nar.example\n",
        "    inbox: enquiries@nar.example\n"
        "    sla_minutes: 15\n"
        "    escalate_to: [duty@nar.example]\n",
    )
    + """\
    routing:
      - location: harley-street
        treatment: mesotherapy
        pool: [rota1@staff.example.org, rota2@staff.example.org]
        notify: [enquiries@nar.example]
      - pool: [rota1@staff.example.org]
"""
)


def test_routing_target_and_escalation_by_file_round_trip(app, run, make_user):
    from leads.models import RoutingRule

    assert run(SMALL)[0] == 0
    first = make_user("manager", clinics=("nar-london",), email="rota1@staff.example.org")
    second = make_user("manager", clinics=("nar-london",), email="rota2@staff.example.org")
    code, output = run(ROUTED)
    assert code == 0, output
    assert "clinic nar-london: add routing rule harley-street/mesotherapy" in output
    with app.app_context():
        clinic = db.session.scalar(db.select(Clinic).where(Clinic.slug == "nar-london"))
        assert (clinic.sla_minutes, clinic.escalate_to) == (15, "duty@nar.example")
        rules = {
            (r.location_id is not None, r.treatment_id is not None): r
            for r in db.session.scalars(db.select(RoutingRule))
        }
        assert sorted(u.id for u in rules[True, True].members) == [first, second]
        assert [u.id for u in rules[False, False].members] == [first]
        assert len(rules[True, True].channel_ids) == 1
    assert run(ROUTED) == (0, "Nothing to change.\n")
    exported = app.test_cli_runner().invoke(args=["export-config"]).output
    assert "sla_minutes: 15" in exported and "rota2@staff.example.org" in exported
    assert run(exported) == (0, "Nothing to change.\n")
    # A file whose routing lists one rule removes the other.
    code, output = run(ROUTED.split("      - pool: [rota1")[0])
    assert "remove routing rule any location/any treatment" in output
