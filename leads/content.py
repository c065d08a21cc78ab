"""Rendering marketing Markdown to safe HTML.

Markdown is rendered with raw HTML switched off, then sanitised with nh3 to
an allow-list, so nothing typed into a page can run in a patient's browser.
Rendered HTML is cached by the page revision that produced it.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = {
    "h2", "h3", "h4", "p", "br", "hr", "ul", "ol", "li", "strong", "em", "b", "i",
    "blockquote", "a", "table", "thead", "tbody", "tr", "th", "td", "code", "pre",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"scope"}, "ol": {"start"}}
URL_SCHEMES = {"https", "http", "mailto", "tel"}

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True}).enable(
    ["table", "strikethrough"]
)


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener nofollow",
    )


def render_markdown(text: str | None) -> Markup:
    """Markdown to sanitised HTML, safe to place in a template."""
    return Markup(sanitise(_md.render(text or "")))  # noqa: S704 - sanitised just now


@lru_cache(maxsize=512)
def render_revision(revision_id: int, body: str) -> Markup:
    """The body of a published revision; revisions never change, so the id is the key."""
    return render_markdown(body)
