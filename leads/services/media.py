"""The media library: uploading images and checking what pages show.

An upload is checked and re-encoded by ``leads.images`` before anything is
stored; its files go to the media store (``leads.media_storage``) under
names made of a random key and a digest of their bytes, then one ``Media``
row records them. Pages, clinics and practitioners refer to an image as
``media:ID``; a reference is accepted only to an image of the same clinic.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from leads import images
from leads.content import MEDIA_REFERENCE, image_problem, markup_problem, media_ids
from leads.extensions import db
from leads.media_storage import storage
from leads.models import Clinic, Media, User
from leads.services import scope
from leads.services.audit import record

GALLERY_MAX = 12


class MediaError(Exception):
    """An image that cannot be stored or shown; the message is for staff.
    ``field`` names the form field it belongs to."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def library(user: User | None, clinic_id: int | None = None) -> list[Media]:
    """The images ``user`` may use, newest first; one clinic's when ``clinic_id`` is given."""
    query = scope.visible_media(user)
    if clinic_id is not None:
        query = query.where(Media.clinic_id == clinic_id)
    return list(db.session.scalars(query.order_by(Media.id.desc())))


def upload(clinic: Clinic, data: bytes, alt: str, decorative: bool, user: User | None) -> Media:
    """Store the image in ``data`` in ``clinic``'s library.

    :raise MediaError: no alt text for an image that is not decorative, or
        the file is refused (``leads.images.ImageRefused``); nothing is stored.
    """
    alt = " ".join((alt or "").split())
    if decorative:
        alt = ""
    elif not alt:
        raise MediaError(
            "Please describe what the image shows (for patients who cannot see it), "
            "or tick “decorative” if it adds nothing to the words around it.",
            field="alt",
        )
    elif len(alt) > 300:
        raise MediaError("Please keep the description to 300 characters.", field="alt")
    elif markup_problem(alt):
        raise MediaError(markup_problem(alt) or "", field="alt")
    try:
        processed = images.process(data)
    except images.ImageRefused as exc:
        raise MediaError(str(exc), field="file") from None
    key = secrets.token_hex(16)
    store = storage()
    variants = []
    for variant in processed.variants:
        digest = hashlib.sha256(variant.data).hexdigest()[:16]
        name = f"{key}-{variant.width}-{digest}.{variant.extension}"
        # Written before the row: a failed commit leaves files no row names,
        # never a row without its files.
        store.put(name, variant.data, variant.content_type)
        variants.append(
            {
                "format": variant.format,
                "width": variant.width,
                "height": variant.height,
                "name": name,
                "bytes": len(variant.data),
            }
        )
    media = Media(
        clinic_id=clinic.id,
        key=key,
        alt=alt,
        decorative=decorative,
        width=processed.width,
        height=processed.height,
        variants=variants,
        created_by_id=user.id if user is not None and getattr(user, "id", None) else None,
    )
    db.session.add(media)
    db.session.flush()
    record("media.uploaded", user, "media", media.id, clinic=clinic.id)
    db.session.commit()
    return media


def reference_id(reference: str | None) -> int | None:
    match = MEDIA_REFERENCE.match((reference or "").strip())
    return int(match[1]) if match else None


def gallery_ids(gallery: str | None) -> list[int]:
    return [i for i in (reference_id(part) for part in (gallery or "").split()) if i]


def clinic_media(clinic_id: int, ids: Iterable[int]) -> dict[int, Media]:
    """The images of ``clinic_id``'s library among ``ids``, by id."""
    wanted = set(ids)
    if not wanted:
        return {}
    found = db.session.scalars(
        db.select(Media).where(Media.clinic_id == clinic_id, Media.id.in_(sorted(wanted)))
    )
    return {media.id: media for media in found}


def check_page_pictures(clinic_id: int, fields: dict[str, str]) -> None:
    """:raise MediaError: the body shows an image from outside the library,
    or the page names an image that is not in its clinic's library."""
    body = fields.get("body") or ""
    problem = image_problem(body)
    if problem:
        raise MediaError(problem, field="body")
    hero = (fields.get("hero_image") or "").strip()
    hero_id = reference_id(hero)
    if hero and hero_id is None:
        raise MediaError("Choose the hero image from the media library.", field="hero_image")
    gallery = gallery_ids(fields.get("gallery"))
    if len((fields.get("gallery") or "").split()) != len(gallery):
        raise MediaError("Choose the gallery's images from the media library.", field="gallery")
    if len(gallery) > GALLERY_MAX:
        raise MediaError(f"A gallery shows {GALLERY_MAX} images at most.", field="gallery")
    known = clinic_media(clinic_id, [*media_ids(body), *gallery, *([hero_id] if hero_id else [])])
    for media_id in media_ids(body):
        if media_id not in known:
            raise MediaError(
                f"The body shows media:{media_id}, which is not in this clinic's media library.",
                field="body",
            )
    if hero_id and hero_id not in known:
        raise MediaError("That hero image is not in this clinic's library.", field="hero_image")
    if any(i not in known for i in gallery):
        raise MediaError("A gallery image is not in this clinic's library.", field="gallery")


@dataclass(frozen=True)
class PagePictures:
    hero: Media | None
    gallery: list[Media]


def page_pictures(clinic_id: int, hero_image: str, gallery_text: str) -> PagePictures:
    """The hero image and gallery of a page (or revision, or preview) of
    ``clinic_id``; images not in that clinic's library are left out."""
    hero_id = reference_id(hero_image)
    gallery = gallery_ids(gallery_text)
    found = clinic_media(clinic_id, [*gallery, *([hero_id] if hero_id else [])])
    return PagePictures(
        hero=found.get(hero_id) if hero_id else None,
        gallery=[found[i] for i in gallery if i in found],
    )
