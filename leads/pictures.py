"""The HTML of a library image: a ``<picture>`` with every stored width.

Each format gets a ``srcset`` of its widths, so the browser downloads the
smallest file that fills the space ``sizes`` describes; ``width`` and
``height`` let it reserve that space before the file arrives (no layout
shift). Images below the fold load lazily; the hero image loads first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from flask import current_app, request, url_for
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


def _cache(name: str, func, maxsize: int):  # type: ignore[no-untyped-def]
    """``func`` behind an LRU cache of the app's own: what one app (one
    database) cached never answers for another."""
    caches = current_app.extensions.setdefault("leads.pictures", {})
    if name not in caches:
        caches[name] = lru_cache(maxsize=maxsize)(func)
    return caches[name]


def for_clinic(clinic_id: int) -> PictureMaker:
    """What makes the images in the body of a page of ``clinic_id``
    (``![alt](media:ID)``): only that clinic's images are shown. One maker
    per clinic (and app), so rendered revisions stay cached."""
    return _cache("makers", _maker, 1024)(clinic_id)


def _maker(clinic_id: int) -> PictureMaker:
    def make(media_id: int, alt: str) -> str:
        media = db.session.get(Media, media_id)
        if media is None or media.clinic_id != clinic_id:
            return ""
        return str(picture(media, alt=alt))

    return make


HERO_SIZES = "(min-width: 48rem) 24rem, calc(100vw - 2rem)"
GALLERY_SIZES = "(min-width: 48rem) 15rem, calc(50vw - 1.5rem)"
LOGO_SIZES = "10rem"


@dataclass(frozen=True)
class PagePictures:
    hero: Markup | None
    gallery: tuple[Markup, ...]


def page_pictures(clinic_id: int, hero_image: str, gallery: str) -> PagePictures:
    """The HTML of a page's hero image and gallery (images of ``clinic_id`` only)."""
    from leads.services import media

    found = media.page_pictures(clinic_id, hero_image, gallery)
    return PagePictures(
        hero=picture(found.hero, sizes=HERO_SIZES, eager=True) if found.hero else None,
        gallery=tuple(picture(m, sizes=GALLERY_SIZES) for m in found.gallery),
    )


def revision_pictures(
    revision_id: int, clinic_id: int, hero_image: str, gallery: str
) -> PagePictures:
    """``page_pictures`` of a published revision. Revisions and stored images
    never change, so the HTML is kept by revision: a page view reads no image row."""
    cached = _cache("revisions", _revision_pictures, 512)
    return cached(revision_id, clinic_id, hero_image, gallery, request.script_root)


def _revision_pictures(
    revision_id: int, clinic_id: int, hero_image: str, gallery: str, script_root: str
) -> PagePictures:
    return page_pictures(clinic_id, hero_image, gallery)


def logo(clinic_id: int, reference: str) -> Markup | None:
    """The clinic's logo from its library (decorative: its name stands beside it)."""
    if not reference:
        return None
    return _cache("logos", _logo, 256)(clinic_id, reference, request.script_root)


def _logo(clinic_id: int, reference: str, script_root: str) -> Markup | None:
    from leads.services import media

    logo_id = media.reference_id(reference)
    image = media.clinic_media(clinic_id, [logo_id]).get(logo_id) if logo_id else None
    if image is None:
        return None
    return picture(
        image, sizes=LOGO_SIZES, loading="eager", decorative=True, css_class="clinic-logo"
    )
