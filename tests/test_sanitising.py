"""Whatever is typed into any editor field never reaches a patient as active content."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from leads.content import markup_problem
from leads.extensions import db
from leads.models import CONTENT_FIELDS, Page, Treatment
from leads.services import editor
from tests.xss_payloads import PAYLOADS

URL = "/aurelia/harley-street/mesotherapy/"
PAGE_LIMITS = {name: getattr(Page, name).type.length or 100_000 for name in CONTENT_FIELDS}
LOCATION_LIMITS = {"name": 120, "street": 200, "city": 100, "postcode": 16}
TREATMENT_LIMITS = {"name": 120, "summary": 300}

# The elements the site's own templates and the Markdown allow-list produce.
SITE_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "link",
    "body",
    "a",
    "header",
    "div",
    "main",
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "article",
    "aside",
    "address",
    "br",
    "dl",
    "dt",
    "dd",
    "ul",
    "ol",
    "li",
    "section",
    "form",
    "input",
    "label",
    "select",
    "option",
    "textarea",
    "button",
    "fieldset",
    "legend",
    "span",
    "strong",
    "em",
    "b",
    "i",
    "blockquote",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "code",
    "pre",
    "hr",
    "footer",
    "nav",
    "script",
    "small",
    "del",
    "ins",
}
URL_ATTRIBUTES = {
    "href",
    "src",
    "action",
    "formaction",
    "background",
    "data",
    "poster",
    "xlink:href",
    "srcset",
}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:")


class ActiveContent(HTMLParser):
    """Collects everything in a page that could run, load or hide something."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.forms = 0
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag not in SITE_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "srcdoc", "formaction", "http-equiv"):
                self.problems.append(f"<{tag} {name}>")
            is_url_meta = tag == "meta" and attributes.get("property") in ("og:image", "og:url")
            if name in URL_ATTRIBUTES or (is_url_meta and name == "content"):
                cleaned = re.sub(r"[\x00-\x20]", "", value or "").lower()
                if cleaned.startswith(BAD_SCHEMES):
                    self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "form":
            self.forms += 1
            action = attributes.get("action") or ""
            own_path = action.startswith("/") and not action.startswith("//") and ":" not in action
            if attributes.get("class") != "consult-form" or not own_path:
                self.problems.append(f"foreign form {attributes}")
        if tag == "script":
            if attributes != {"type": "application/ld+json"}:
                self.problems.append(f"script {attributes}")
            self._in_script = True
            self.scripts.append("")
        if tag == "link" and attributes.get("rel") not in ("stylesheet", "canonical", "icon"):
            self.problems.append(f"link {attributes}")
        if (
            tag == "link"
            and attributes.get("rel") in ("stylesheet", "icon")
            and not (attributes.get("href", "").startswith("/static/"))
        ):
            self.problems.append(f"{attributes.get('rel')} {attributes}")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def active_content(html: str) -> list[str]:
    parser = ActiveContent()
    parser.feed(html)
    parser.close()
    problems = list(parser.problems)
    if parser.forms != 1:
        problems.append(f"{parser.forms} forms")
    for script in parser.scripts:
        if "</" in script or "<!--" in script:
            problems.append("markup inside the JSON-LD")
        try:
            json.loads(script)
        except ValueError:
            problems.append("JSON-LD that does not parse")
    return problems


def fits(value: str, limit: int) -> bool:
    return len(value) <= limit


def test_the_checker_finds_active_content():
    clean = '<form class="consult-form" action="/aurelia/harley-street/"></form>'
    assert active_content(clean) == []
    for bad in (
        '<img src=x onerror="alert(1)">',
        '<a href=" javascript:alert(1)">x</a>',
        "<iframe></iframe>",
        '<p style="display:none">x</p>',
        "<script>alert(1)</script>",
        '<form action="https://evil.example"></form>',
        "<svg onload=alert(1)>",
        '<meta property="og:image" content="javascript:alert(1)">',
    ):
        assert active_content(clean + bad), bad


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_in_every_field_never_reaches_the_public_page(app, client, demo, payload):
    with app.app_context():
        page = db.session.scalar(
            db.select(Page)
            .join(Treatment, Page.treatment_id == Treatment.id)
            .where(Treatment.slug == "mesotherapy", Page.location.has(slug="harley-street"))
        )
        fields = {
            name: payload if fits(payload, limit) else page.content()[name]
            for name, limit in PAGE_LIMITS.items()
        }
        fields["body"] = f"## Before\n\n{payload}\n\nText {payload} inline.\n\n- {payload}\n"
        editor.save_draft(page, fields, user=None)
        # Details that admins type are shown on every page too.
        for name, limit in LOCATION_LIMITS.items():
            if fits(payload, limit):
                setattr(page.location, name, payload)
        for name, limit in TREATMENT_LIMITS.items():
            if fits(payload, limit):
                setattr(page.treatment, name, payload)
        if fits(payload, 120):
            page.clinic.name = payload
        editor.publish_page(page, user=None, confirmed=["100%", "miracle"])
    response = client.get(URL)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert active_content(html) == []
    # The sitemap and the directory stay well-formed and inert too.
    assert active_content(client.get("/").get_data(as_text=True) + _a_form()) == []


def _a_form() -> str:
    return '<form class="consult-form" action="/aurelia/harley-street/"></form>'


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_is_refused_as_a_slug(app, demo, payload):
    with pytest.raises(editor.SlugError):
        editor.check_slug(payload)


@pytest.mark.parametrize(
    "payload", [p for p in PAYLOADS if "<" in p or "script:" in p.lower() or "data:" in p]
)
def test_editor_forms_refuse_markup_and_script_addresses_on_input(payload):
    assert markup_problem(payload) is not None, payload


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        '"><svg onload=alert(1)>',
        "[x](javascript:alert(1))",
        "<iframe src=https://evil.example/>",
        "<style>body{display:none}</style>",
    ],
)
def test_editor_form_with_a_payload_in_every_field_saves_nothing(
    app, client, demo, make_user, login, payload
):
    from tests.conftest import _hidden

    login(client, make_user("marketing", clinics=("aurelia", "northfield")))
    with app.app_context():
        page = db.session.scalar(db.select(Page).where(Page.treatment_id.is_(None)))
        page_id, before = page.id, page.content()
    edit_url = f"/editor/pages/{page_id}/"
    token = _hidden(client.get(edit_url).get_data(as_text=True), "csrf_token")
    data = {name: payload for name in CONTENT_FIELDS}
    data.update(csrf_token=token, slug=payload)
    response = client.post(edit_url, data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "HTML tags are not allowed" in html or "Script and data addresses" in html
    # The form echoes what was typed, escaped: nothing in the editor runs either.
    assert "<script>alert" not in html and "<svg onload" not in html and "<iframe" not in html
    with app.app_context():
        assert db.session.get(Page, page_id).content() == before


def test_plain_copy_with_angle_brackets_and_ampersands_is_kept(app, client, demo):
    with app.app_context():
        page = db.session.scalar(db.select(Page).where(Page.treatment_id.is_(None)))
        url = f"/{page.clinic.slug}/{page.location.slug}/"
        editor.save_draft(page, {"intro": "Fewer than 8 sessions < 3 months & more"}, None)
        editor.publish_page(page, None)
    html = client.get(url).get_data(as_text=True)
    assert "Fewer than 8 sessions &lt; 3 months &amp; more" in html
    assert markup_problem("Fewer than 8 sessions < 3 months & more") is None


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_never_reaches_the_privacy_notice_or_the_clinics_not_found_page(
    app, client, demo, payload
):
    from leads.models import Clinic

    with app.app_context():
        clinic = db.session.scalar(db.select(Clinic).where(Clinic.slug == "aurelia"))
        notice = editor.create_privacy_notice(clinic, None)
        fields = {
            name: payload if fits(payload, PAGE_LIMITS[name]) else getattr(notice, name)
            for name in ("title", "heading", "intro")
        }
        fields["body"] = f"## Before\n\n{payload}\n\nText {payload} inline.\n\n- {payload}\n"
        editor.save_draft(notice, fields, user=None)
        if fits(payload, 120):
            clinic.name = payload
            for location in clinic.locations:
                location.name = payload
        editor.publish_page(notice, user=None, confirmed=["100%", "miracle"])
    notice_page = client.get("/aurelia/privacy-notice/")
    assert notice_page.status_code == 200
    # Neither page has a form of its own; the checker counts exactly one.
    assert active_content(notice_page.get_data(as_text=True) + _a_form()) == []
    missing = client.get("/aurelia/nowhere/")
    assert missing.status_code == 404
    assert active_content(missing.get_data(as_text=True) + _a_form()) == []
