"""Sources people understand: tags first, then click ids, then the referrer's host."""

from __future__ import annotations

import pytest

from leads.extensions import db
from leads.models import Lead
from leads.sources import classify

URL = "/aurelia/harley-street/mesotherapy/"


@pytest.mark.parametrize(
    ("attribution", "expected"),
    [
        # Bad and empty inputs first.
        ({}, ("direct", "none")),
        ({"referrer": "not a url"}, ("direct", "none")),
        ({"referrer": "http://[::1"}, ("direct", "none")),
        ({"utm_source": "   ", "utm_medium": ""}, ("direct", "none")),
        # Tags come first, lower-cased, whatever else the visit says.
        ({"utm_source": "Google", "utm_medium": "CPC"}, ("google", "cpc")),
        ({"utm_source": "google", "utm_medium": "cpc"}, ("google", "cpc")),
        (
            {"utm_source": "Newsletter", "utm_medium": "Email", "gclid": "x"},
            ("newsletter", "email"),
        ),
        ({"utm_source": "FB", "utm_medium": "paid-social"}, ("facebook", "paid_social")),
        ({"utm_source": "facebook.com", "utm_medium": "social"}, ("facebook", "social")),
        ({"utm_source": "adwords", "utm_medium": "PPC"}, ("google", "cpc")),
        # A tagged source without a medium borrows one from a matching click id.
        ({"utm_source": "google", "gclid": "abc"}, ("google", "cpc")),
        ({"utm_source": "partner"}, ("partner", "")),
        # Click ids imply source and medium when there are no tags.
        ({"gclid": "abc", "referrer": "https://www.google.com/"}, ("google", "cpc")),
        ({"gbraid": "abc"}, ("google", "cpc")),
        ({"wbraid": "abc"}, ("google", "cpc")),
        ({"msclkid": "abc", "referrer": "https://www.bing.com/"}, ("bing", "cpc")),
        ({"fbclid": "abc", "referrer": "https://l.facebook.com/"}, ("facebook", "social")),
        # The referrer's host, with no tags and no click id.
        ({"referrer": "https://www.bing.com/search?q=hair+loss"}, ("bing", "organic")),
        ({"referrer": "https://www.google.co.uk/"}, ("google", "organic")),
        ({"referrer": "https://duckduckgo.com/"}, ("duckduckgo", "organic")),
        ({"referrer": "https://search.yahoo.com/"}, ("yahoo", "organic")),
        ({"referrer": "https://lm.facebook.com/l.php?u=x"}, ("facebook", "social")),
        ({"referrer": "https://l.instagram.com/"}, ("instagram", "social")),
        ({"referrer": "https://t.co/abc"}, ("twitter", "social")),
        ({"referrer": "https://www.linkedin.com/feed/"}, ("linkedin", "social")),
        (
            {"referrer": "https://WWW.Hair-Forum.example/thread/1"},
            ("hair-forum.example", "referral"),
        ),
    ],
)
def test_classify(attribution, expected):
    assert classify(attribution) == expected


def test_a_visitor_from_bing_with_no_tags_is_stored_as_bing_organic(app, client, demo, form_page):
    client.get(URL, headers={"Referer": "https://www.bing.com/search?q=mesotherapy+london"})
    assert client.post(URL, data=form_page(URL)).status_code == 303
    with app.app_context():
        lead = db.session.scalars(db.select(Lead)).one()
        assert (lead.source, lead.medium) == ("bing", "organic")
        assert lead.utm_source == ""


@pytest.mark.parametrize(
    ("query", "stored", "expected"),
    [
        ("msclkid=ms-123", {"msclkid": "ms-123"}, ("bing", "cpc")),
        ("gbraid=gb-1", {"gbraid": "gb-1"}, ("google", "cpc")),
        ("wbraid=wb-2", {"wbraid": "wb-2"}, ("google", "cpc")),
    ],
)
def test_click_ids_are_captured_and_imply_the_source(
    app, client, demo, form_page, query, stored, expected
):
    client.get(f"{URL}?{query}")
    assert client.post(URL, data=form_page(URL)).status_code == 303
    with app.app_context():
        lead = db.session.scalars(db.select(Lead)).one()
        assert {name: getattr(lead, name) for name in stored} == stored
        assert (lead.source, lead.medium) == expected


def test_tags_are_stored_lower_cased(app, client, demo, form_page):
    client.get(URL + "?utm_source=Google&utm_medium=CPC&utm_campaign=Spring")
    assert client.post(URL, data=form_page(URL)).status_code == 303
    with app.app_context():
        lead = db.session.scalars(db.select(Lead)).one()
        assert (lead.source, lead.medium) == ("google", "cpc")
        assert lead.utm_source == "Google"  # the tag itself is kept as it came


def test_a_visit_with_nothing_is_direct(app, client, demo, form_page):
    client.get(URL)
    assert client.post(URL, data=form_page(URL)).status_code == 303
    with app.app_context():
        lead = db.session.scalars(db.select(Lead)).one()
        assert (lead.source, lead.medium) == ("direct", "none")


def test_the_retention_purge_blanks_the_new_click_ids_and_keeps_the_source(app, demo, make_lead):
    from datetime import timedelta

    from leads.models import utcnow
    from leads.services.retention import purge

    old = make_lead(
        created_at=utcnow() - timedelta(days=5 * 366),
        gbraid="gb",
        wbraid="wb",
        msclkid="ms",
        source="bing",
        medium="cpc",
    )
    with app.app_context():
        purge()
        lead = db.session.get(Lead, old)
        assert (lead.gbraid, lead.wbraid, lead.msclkid) == ("", "", "")
        assert (lead.source, lead.medium) == ("bing", "cpc")
