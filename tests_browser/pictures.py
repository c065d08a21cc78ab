"""Pictures for the browser checks: the Harley Street PRP page gets a hero
image, a gallery of six photos and an image in its body; Aurelia gets its
logo, its colours and a practitioner with a photo. Lighthouse, axe and the
HTML checker then see a page with every kind of picture."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

GPS_IFD = 0x8825


def photo(shade: int, size: tuple[int, int] = (1600, 1067)) -> bytes:
    """A JPEG with some structure (so it compresses like a photo) and a GPS position."""
    image = Image.new("RGB", size, (30 + shade, 110, 130))
    draw = ImageDraw.Draw(image)
    for n in range(0, size[0], 80):
        draw.rectangle((n, size[1] // 3, n + 40, size[1]), fill=(200 - shade, 180, 160))
    exif = Image.Exif()
    exif.get_ifd(GPS_IFD)[1] = "N"
    exif.get_ifd(GPS_IFD)[2] = (51.0, 31.0, 12.5)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def logo() -> bytes:
    image = Image.new("RGBA", (400, 160), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((10, 10, 150, 150), fill=(91, 42, 134, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def add_pictures() -> None:
    """Inside an app context, on the demo data."""
    from leads.claims import find_claims
    from leads.extensions import db
    from leads.models import Clinic, Location, Page
    from leads.services import clinics, editor, media, practitioners

    aurelia = db.session.scalar(db.select(Clinic).where(Clinic.slug == "aurelia"))
    rooms = [
        media.upload(aurelia, photo(15 * n), f"Treatment room {n + 1}", False, None).id
        for n in range(8)
    ]
    mark = media.upload(aurelia, logo(), "", True, None).id
    portrait = media.upload(aurelia, photo(40, (600, 600)), "Dr Amira Shah", False, None).id
    clinics.update_clinic(
        aurelia,
        clinics.ClinicDetails(
            name=aurelia.name,
            tagline=aurelia.tagline,
            retention_months=aurelia.retention_months,
            brand_colour="#5b2a86",
            accent_colour="#1f3a5f",
            logo=f"media:{mark}",
        ),
        None,
    )
    harley = db.session.scalar(db.select(Location).where(Location.slug == "harley-street"))
    practitioners.save(
        aurelia,
        practitioners.PractitionerDetails(
            name="Dr Amira Shah",
            role="Consultant trichologist",
            registration_body="GMC",
            registration_number="7012345",
            photo=f"media:{portrait}",
            bio="Treats hair loss in women and men at Harley Street.",
            location_ids=(harley.id,),
        ),
        None,
        None,
    )
    page = db.session.scalar(
        db.select(Page).where(Page.location_id == harley.id, Page.treatment.has(slug="prp"))
    )
    fields = {
        **page.content(),
        "body": page.body + f"\n\n![A treatment room at Harley Street](media:{rooms[0]})\n",
        "hero_image": f"media:{rooms[1]}",
        "gallery": " ".join(f"media:{i}" for i in rooms[2:8]),
    }
    editor.save_draft(page, fields, None)
    editor.publish_page(page, None, confirmed=find_claims(page.content()))
