"""The HTML of a library image: a ``<picture>`` with every stored width.

Each format gets a ``srcset`` of its widths, so the browser downloads the
smallest file that fills the space ``sizes`` describes; ``width`` and
``height`` let it reserve that space before the file arrives (no layout
shift). Images below the fold load lazily; the hero image loads first.
"""

from __future__ import annotations

from functools import lru_cache

from flask import url_for
from markupsafe import Markup, escape

from leads.content import PictureMaker
from leads.extensions import db
from leads.models import Media

FORMAT_TYPES = (("avif", "image/avif"), ("webp", "image/webp"))
# The page's content column is at most about 46rem wide.
CONTENT_SIZES = "(min-width: 48rem) 46rem, calc(100vw - 2rem)"


def file_url(name: str) -> str:
    return url_for("media.file", name=name)


def _srcset(files: list[dict]) -> str:
    return ", ".join(f"{file_url(f['name'])} {f['width']}w" for f in files)


def picture(
    media: Media,
    alt: str | None = None,
    sizes: str = CONTENT_SIZES,
    eager: bool = False,
    css_class: str = "",
    loading: str = "",
    decorative: bool = False,
) -> Markup:
    """``media`` as a responsive ``<picture>``; ``alt`` replaces the library's text.

    ``eager``: the page's main image, fetched first (the hero). ``loading``
    "eager": above the fold but not first (a logo). Otherwise lazy.
    ``decorative``: an empty alt, as when the words beside it say the same.
    """
    jpegs = media.files("jpeg")
    if not jpegs:
        return Markup("")
    largest = jpegs[-1]
    fallback = next((f for f in jpegs if f["width"] >= 960), largest)
    text = media.alt if alt is None or not alt.strip() else alt
    if decorative or (media.decorative and (alt is None or not alt.strip())):
        text = ""
    parts = ["<picture>"]
    for fmt, content_type in FORMAT_TYPES:
        files = media.files(fmt)
        if files:
            parts.append(
                f'<source type="{content_type}" srcset="{escape(_srcset(files))}" '
                f'sizes="{escape(sizes)}">'
            )
    if eager:
        how = 'fetchpriority="high"'
    elif loading == "eager":
        how = 'loading="eager"'
    else:
        how = 'loading="lazy"'
    class_attr = f' class="{escape(css_class)}"' if css_class else ""
    parts.append(
        f'<img src="{escape(file_url(fallback["name"]))}" srcset="{escape(_srcset(jpegs))}" '
        f'sizes="{escape(sizes)}" width="{largest["width"]}" height="{largest["height"]}" '
        f'alt="{escape(text)}" {how} decoding="async"{class_attr}>'
    )
    parts.append("</picture>")
    return Markup("".join(parts))  # noqa: S704 - every value escaped above


@lru_cache(maxsize=1024)
def for_clinic(clinic_id: int) -> PictureMaker:
    """What makes the images in the body of a page of ``clinic_id``
    (``![alt](media:ID)``): only that clinic's images are shown. One maker
    per clinic, so rendered revisions stay cached."""

    def make(media_id: int, alt: str) -> str:
        media = db.session.get(Media, media_id)
        if media is None or media.clinic_id != clinic_id:
            return ""
        return str(picture(media, alt=alt))

    return make
