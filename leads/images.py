"""Turning an uploaded file into the images patients download.

Pillow opens every upload; nothing is stored as it came. A file is refused
before it is decoded when it is too large, is not one of the formats we take
(SVG and HTML among them, whatever their name says) or has more pixels than
``MAX_PIXELS``. An accepted image is turned upright by its EXIF orientation
and written again at a few widths, as WebP (and AVIF where the installed
Pillow writes it) and as a JPEG fallback, with no metadata at all: no EXIF,
no GPS position, no camera details, no colour profile.

HEIC photos (iPhones) are read through pillow-heif when it is installed.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError, features

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
# The widths stored; an image narrower than one is kept at its own width
# there (never enlarged).
WIDTHS = (480, 960, 1600)
# Pillow's format names for what we accept.
ACCEPTED = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "HEIF": "HEIC", "AVIF": "AVIF"}
CONTENT_TYPES = {"avif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg"}
EXTENSIONS = {"avif": "avif", "webp": "webp", "jpeg": "jpg"}

# Pillow refuses anything beyond twice this outright; we refuse beyond it
# ourselves, with a message, before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageRefused(ValueError):
    """The upload is not an image we store; the message is for staff."""


@dataclass(frozen=True)
class Variant:
    format: str  # "avif", "webp" or "jpeg"
    width: int
    height: int
    data: bytes

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


@dataclass(frozen=True)
class Processed:
    width: int
    height: int
    source_format: str
    variants: list[Variant]


def output_formats() -> tuple[str, ...]:
    """The modern formats written besides the JPEG fallback, best first."""
    return ("avif", "webp") if features.check("avif") else ("webp",)


def _register_heif() -> bool:
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # pragma: no cover - an optional package
        return False
    register_heif_opener()
    return True


def _looks_like_markup(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<") or b"<svg" in head or b"<html" in head or b"<script" in head


def open_checked(data: bytes) -> Image.Image:
    """The image in ``data``, its header read and checked, its pixels not yet decoded.

    :raise ImageRefused: too large, not an image, a format we do not take,
        or too many pixels.
    """
    if not data:
        raise ImageRefused("The file is empty. Please choose a photo or a logo.")
    if len(data) > MAX_BYTES:
        raise ImageRefused(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; images may be 10 MB at most."
        )
    if _looks_like_markup(data):
        raise ImageRefused(
            "SVG and HTML files are not accepted (they can carry scripts). "
            "Please upload a JPEG, PNG or WebP image."
        )
    heif = _register_heif()
    try:
        with warnings.catch_warnings():
            # Between MAX_PIXELS and twice that Pillow only warns; the size
            # check below refuses those images with a message of our own.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ImageRefused(_too_many_pixels()) from None
    except (UnidentifiedImageError, OSError):
        kinds = "JPEG, PNG, WebP or HEIC" if heif else "JPEG, PNG or WebP"
        raise ImageRefused(
            f"This file is not an image we can read. Please upload {kinds}."
        ) from None
    if image.format not in ACCEPTED:
        image.close()
        raise ImageRefused(
            f"{image.format} images are not accepted. Please upload a JPEG, PNG or WebP image."
        )
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise ImageRefused(_too_many_pixels(width, height))
    return image


def _too_many_pixels(width: int = 0, height: int = 0) -> str:
    size = f"The image is {width} × {height} pixels ({width * height / 1e6:.0f} megapixels); "
    return (size if width else "The image is too large; ") + (
        "images may have 40 megapixels at most. Please make it smaller first."
    )


def process(data: bytes) -> Processed:
    """Every stored variant of the image in ``data``.

    :raise ImageRefused: as ``open_checked``, or the file is damaged.
    """
    image = open_checked(data)
    source_format = ACCEPTED[image.format or ""]
    try:
        image.seek(0)  # the first frame of an animation
        image.load()
        upright = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ImageRefused(
            "The image is damaged and cannot be read. Please export it again."
        ) from None
    finally:
        image.close()
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or (
        upright.mode == "P" and "transparency" in upright.info
    )
    base = upright.convert("RGBA" if has_alpha else "RGB")
    base.info = {}
    width, height = base.size
    variants = []
    for target in sorted({min(w, width) for w in WIDTHS}):
        scaled = (
            base
            if target == width
            else base.resize(
                (target, max(1, round(height * target / width))), Image.Resampling.LANCZOS
            )
        )
        scaled.info = {}
        for fmt in output_formats():
            variants.append(_encode(scaled, fmt))
        variants.append(_encode(_flatten(scaled), "jpeg"))
    return Processed(width=width, height=height, source_format=source_format, variants=variants)


def _flatten(image: Image.Image) -> Image.Image:
    """JPEG has no transparency: transparent parts become white."""
    if image.mode != "RGBA":
        return image
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def _encode(image: Image.Image, fmt: str) -> Variant:
    out = io.BytesIO()
    # No exif, icc_profile or xmp is passed: Pillow writes none then.
    if fmt == "jpeg":
        image.save(out, "JPEG", quality=80, optimize=True, progressive=True)
    elif fmt == "webp":
        image.save(out, "WEBP", quality=78, method=4)
    else:
        image.save(out, "AVIF", quality=60, speed=8)
    return Variant(format=fmt, width=image.width, height=image.height, data=out.getvalue())
