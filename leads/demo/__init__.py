"""Demo data: two clinics, three locations, two treatments and their pages.

The page copy lives in ``content/`` as Markdown with a small front matter,
one file per page: ``<clinic>--<location>[--<treatment>].md``.
"""

from __future__ import annotations

from pathlib import Path

from leads.extensions import db
from leads.models import Clinic, InboxChannel, Location, Page, Treatment
from leads.services.editor import create_privacy_notice, publish

CONTENT = Path(__file__).parent / "content"

TREATMENTS = {
    "mesotherapy": (
        "Mesotherapy for hair loss",
        "Vitamins, minerals and amino acids delivered to the scalp in a course of short sessions.",
    ),
    "prp": (
        "PRP for hair loss",
        "Platelet-rich plasma from your own blood, placed where the hair is thinning.",
    ),
}

WEEKDAYS_AND_SATURDAY = [
    {"days": "Mo-Fr", "opens": "09:00", "closes": "19:00"},
    {"days": "Sa", "opens": "10:00", "closes": "16:00"},
]

CLINICS = [
    {
        "slug": "aurelia",
        "name": "Aurelia Hair Clinic",
        "tagline": "Hair and scalp care in London and Manchester",
        "inbox": "enquiries@aurelia-hair.example",
        "locations": [
            {
                "slug": "harley-street",
                "name": "Harley Street, London",
                "street": "112 Harley Street",
                "city": "London",
                "postcode": "W1G 7JQ",
                "phone": "+442079460112",
                "opening_hours": WEEKDAYS_AND_SATURDAY,
                "treatments": ["mesotherapy", "prp"],
            },
            {
                "slug": "manchester",
                "name": "Manchester, King Street",
                "street": "48 King Street",
                "city": "Manchester",
                "postcode": "M2 4LY",
                "phone": "+441614960048",
                "opening_hours": [{"days": "Tu-Sa", "opens": "09:30", "closes": "18:00"}],
                "treatments": ["mesotherapy"],
                "inbox": "manchester@aurelia-hair.example",
            },
        ],
    },
    {
        "slug": "northfield",
        "name": "Northfield Trichology",
        "tagline": "Calm, clinical hair loss care in Edinburgh",
        "inbox": "clinic@northfield-trichology.example",
        "locations": [
            {
                "slug": "edinburgh",
                "name": "Edinburgh, George Street",
                "street": "75 George Street",
                "city": "Edinburgh",
                "postcode": "EH2 3EE",
                "nation": "scotland",
                "phone": "+441314960075",
                "opening_hours": [
                    {"days": "Mo-Th", "opens": "08:30", "closes": "18:30"},
                    {"days": "Fr", "opens": "08:30", "closes": "17:00"},
                ],
                "treatments": ["mesotherapy", "prp"],
            }
        ],
    },
]


def read_page(name: str) -> dict[str, str]:
    """Front matter and body of one content file."""
    text = (CONTENT / f"{name}.md").read_text(encoding="utf-8")
    _, head, body = text.split("---\n", 2)
    fields = {}
    for line in head.strip().splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    fields["cta_text"] = fields.pop("cta")
    fields["body"] = body.strip() + "\n"
    return fields


def load_demo() -> list[Clinic]:
    """Create the demo clinics and publish their pages. Caller checks the database is empty."""
    clinics = []
    for spec in CLINICS:
        clinic = Clinic(slug=spec["slug"], name=spec["name"], tagline=spec["tagline"])
        db.session.add(clinic)
        treatments = {
            slug: Treatment(clinic=clinic, slug=slug, name=name, summary=summary)
            for slug, (name, summary) in TREATMENTS.items()
        }
        clinic.channels.append(InboxChannel(kind="email", target=spec["inbox"]))
        for loc in spec["locations"]:
            location = Location(
                clinic=clinic,
                **{k: v for k, v in loc.items() if k not in ("treatments", "inbox")},
            )
            location.treatments = [treatments[slug] for slug in loc["treatments"]]
            db.session.add(location)
            if "inbox" in loc:
                db.session.flush()
                clinic.channels.append(
                    InboxChannel(kind="email", target=loc["inbox"], location_id=location.id)
                )
            _add_page(clinic, location, None)
            for slug in loc["treatments"]:
                _add_page(clinic, location, treatments[slug])
        clinics.append(clinic)
    db.session.commit()
    return clinics


def _add_page(clinic: Clinic, location: Location, treatment: Treatment | None) -> None:
    name = f"{clinic.slug}--{location.slug}" + (f"--{treatment.slug}" if treatment else "")
    page = Page(clinic=clinic, location=location, treatment=treatment, **read_page(name))
    db.session.add(page)
    db.session.flush()
    publish(page, user=None, note="Demo content")


# Speed to lead in the demo: each clinic's two front-desk accounts share its
# leads by turns, and a lead is due within 15 working minutes.
DEMO_TEAMS = {
    "aurelia": [
        ("Priya Shah", "priya@aurelia-hair.example"),
        ("Tom Reid", "tom@aurelia-hair.example"),
    ],
    "northfield": [
        ("Isla Murray", "isla@northfield-trichology.example"),
        ("Callum Boyd", "callum@northfield-trichology.example"),
    ],
}
DEMO_SLA_MINUTES = 15


def load_demo_routing() -> list[str]:
    """Give each demo clinic a pool of two manager accounts, a clinic-wide
    routing rule over them and a 15-minute response target. Returns the
    accounts' addresses. Apart from ``load_demo`` so that tests start from
    clinics without rules (no lead is assigned unless a test asks for it).

    The accounts get a random password nobody knows: they receive mail (in
    ``instance/mail/staff/``); to sign in as one, set its password with the
    password reset on the sign-in page.
    """
    import secrets

    from leads.services import routing
    from leads.services.accounts import create_user

    made = []
    for clinic in db.session.scalars(db.select(Clinic).order_by(Clinic.id)):
        team = DEMO_TEAMS.get(clinic.slug)
        if not team:
            continue
        members = [
            create_user(email, "manager", secrets.token_urlsafe(24), [clinic], name=name)
            for name, email in team
        ]
        clinic.sla_minutes = DEMO_SLA_MINUTES
        db.session.flush()
        routing.save_rule(clinic, None, None, [u.id for u in members], [], None, commit=False)
        made += [u.email for u in members]
    db.session.commit()
    return made


def load_demo_privacy_notices() -> None:
    """Publish each demo clinic's privacy notice, started from the editor's outline.

    Apart from ``load_demo`` so that tests start from clinics without a notice.
    """
    for clinic in db.session.scalars(db.select(Clinic).order_by(Clinic.id)):
        page = create_privacy_notice(clinic, None)
        if page.published is None:
            publish(page, user=None, note="Demo content")
    db.session.commit()
