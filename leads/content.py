"""Rendering what marketing writes, safely.

Markdown is rendered with raw HTML switched off, then sanitised with nh3 to
an allow-list, so nothing typed into a page can run in a patient's browser.
Plain-text fields (titles, SEO and sharing text) lose any markup through nh3
and are then escaped by Jinja, which also covers quotes inside attributes.
Image addresses must be http(s). Rendered HTML is cached by the page revision
that produced it.

The same module holds the input check the editor's forms use, so staff learn
at once when what they typed would be removed.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = {
    "h2",
    "h3",
    "h4",
    "p",
    "br",
    "hr",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "b",
    "i",
    "blockquote",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "code",
    "pre",
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


def plain_text(text: str | None) -> str:
    """Text with every tag (and the content of script and style) removed.

    The result is plain text again, to be escaped where it is placed.
    """
    if not text:
        return ""
    return html.unescape(nh3.clean(text, tags=set()))


def safe_url(url: str | None) -> str:
    """An absolute http(s) address or a path on this site; anything else is dropped."""
    url = (url or "").strip()
    if not url or any(ord(ch) < 33 or ch in "\\<>\"'`" for ch in url):
        return ""
    if url.startswith("/") and not url.startswith("//"):
        return url
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    return ""


# A tag, a comment or a declaration: "<b", "</p", "<svg/", "<!--", "<?xml".
_MARKUP = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(?=[\s/>]|$)|<!|<\?")
_SCRIPT_URL = re.compile(r"(?:java|vb)\s*script\s*:|data\s*:\s*[a-z]+/[a-z0-9.+-]+", re.IGNORECASE)


def markup_problem(text: str | None) -> str | None:
    """Why ``text`` may not be saved as page copy, or None when it may.

    Pages take plain text and Markdown only; this tells the writer at once
    rather than leaving the sanitiser to remove their words silently.
    """
    if not text:
        return None
    decoded = html.unescape(text)
    if _MARKUP.search(decoded):
        return "HTML tags are not allowed here. Use Markdown for headings, lists and links."
    if _SCRIPT_URL.search(decoded):
        return "Script and data addresses are not allowed. Links must start with https://."
    return None


def render_markdown(text: str | None) -> Markup:
    """Markdown to sanitised HTML, safe to place in a template."""
    return Markup(sanitise(_md.render(text or "")))  # noqa: S704 - sanitised just now


@lru_cache(maxsize=512)
def render_revision(revision_id: int, body: str) -> Markup:
    """The body of a published revision; revisions never change, so the id is the key."""
    return render_markdown(body)
