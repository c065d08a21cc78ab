"""Rendering what marketing writes, safely.

Markdown is rendered with raw HTML switched off, then sanitised with nh3 to
an allow-list, so nothing typed into a page can run in a patient's browser.
Plain-text fields (titles, SEO and sharing text) lose any markup through nh3
and are then escaped by Jinja, which also covers quotes inside attributes.
Images come from the clinic's media library only: ``![alt](media:12)`` in
the Markdown becomes a responsive ``<picture>`` built by the caller's
``picture`` function after sanitising; any other image is refused when the
page is saved (``image_problem``) and left out when rendered. Rendered HTML is
cached by the page revision that produced it.

The same module holds the input check the editor's forms use, so staff learn
at once when what they typed would be removed.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable
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


MEDIA_REFERENCE = re.compile(r"^media:([1-9][0-9]{0,9})$")
# Builds the HTML of library image ``id`` with ``alt`` ("" when it is unknown).
PictureMaker = Callable[[int, str], str]


def markdown_images(text: str | None) -> list[str]:
    """The address of every image in the Markdown ``text``, in order."""
    found: list[str] = []

    def walk(tokens) -> None:  # type: ignore[no-untyped-def]
        for token in tokens:
            if token.type == "image":
                found.append(token.attrGet("src") or "")
            if token.children:
                walk(token.children)

    walk(_md.parse(text or ""))
    return found


def media_ids(text: str | None) -> list[int]:
    """The library images ``text`` shows, by id."""
    ids = []
    for src in markdown_images(text):
        match = MEDIA_REFERENCE.match(src)
        if match:
            ids.append(int(match[1]))
    return ids


def image_problem(text: str | None) -> str | None:
    """Why the images in Markdown ``text`` cannot be shown, or None."""
    for src in markdown_images(text):
        if not MEDIA_REFERENCE.match(src):
            shown = src if len(src) <= 60 else src[:57] + "..."
            return (
                f"The image “{shown}” is not from the media library, so it would not be shown. "
                "Upload it to the library and insert it as ![what it shows](media:ID)."
            )
    return None


def _render_image(self, tokens, idx, options, env) -> str:  # type: ignore[no-untyped-def]
    token = tokens[idx]
    match = MEDIA_REFERENCE.match(token.attrGet("src") or "")
    if not match or "pictures" not in env:
        return ""
    alt = self.renderInlineAsText(token.children or [], options, env)
    env["pictures"].append((int(match[1]), alt))
    return f"{env['marker']}{len(env['pictures']) - 1}x"


_md.add_render_rule("image", _render_image)


def render_markdown(text: str | None, picture: PictureMaker | None = None) -> Markup:
    """Markdown to sanitised HTML, safe to place in a template.

    Library images become what ``picture`` makes of them (without it, they
    are left out), placed after sanitising, as they are built by us.
    """
    if picture is None:
        return Markup(sanitise(_md.render(text or "")))  # noqa: S704 - sanitised just now
    marker = "media" + secrets.token_hex(8) + "n"
    env: dict = {"pictures": [], "marker": marker}
    clean = sanitise(_md.render(text or "", env))
    if env["pictures"]:
        pictures = env["pictures"]
        clean = re.sub(
            re.escape(marker) + r"(\d+)x", lambda m: picture(*pictures[int(m[1])]), clean
        )
    return Markup(clean)  # noqa: S704 - sanitised, then our own markup added


@lru_cache(maxsize=512)
def render_revision(revision_id: int, body: str, picture: PictureMaker | None = None) -> Markup:
    """The body of a published revision; revisions (and stored images) never
    change, so the id is the key."""
    return render_markdown(body, picture)
