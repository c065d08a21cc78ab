"""A clinic's own look: its brand and accent colours, checked for contrast,
and the stylesheet that carries them to its pages.

The colours reach pages through a stylesheet of their own per clinic (the
Content-Security-Policy allows no inline styles). Its address carries a
digest of its text, so it is cached for a year and changes with the colours.

Where the colours are used, and so what they are checked against (WCAG AA,
4.5:1 for normal text):

- brand colour: the background of buttons, under white button text, and the
  colour of links, on the white page and on the pale band behind the heading;
- accent colour: the colour of headings, on the white page and on that band.
"""

from __future__ import annotations

import hashlib
import re

WHITE = "#ffffff"
WASH = "#f4f6f5"  # the band behind a page's heading (site.css --wash)
AA_TEXT = 4.5
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")

# (setting, what it sits on, how staff know that place)
USES = {
    "brand_colour": (
        (WHITE, "white button text and the white page"),
        (WASH, "the pale heading band"),
    ),
    "accent_colour": ((WHITE, "the white page"), (WASH, "the pale heading band")),
}
LABELS = {"brand_colour": "brand colour", "accent_colour": "accent colour"}


class LookError(ValueError):
    """A colour that cannot be used; ``field`` names it, the message is for staff."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def normalise(colour: str | None, field: str) -> str:
    """``colour`` as "#rrggbb" ("" stays "": the site's own colour).

    :raise LookError: not a hex colour.
    """
    colour = (colour or "").strip()
    if not colour:
        return ""
    match = _HEX.match(colour)
    if not match:
        raise LookError(field, "Use a hex colour such as #0b5d57.")
    digits = match[1].lower()
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return "#" + digits


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two "#rrggbb" colours, from 1 to 21."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def check_colours(brand: str | None, accent: str | None) -> tuple[str, str]:
    """Both colours normalised, each checked against what it is used with.

    :raise LookError: a colour is not a colour, or is too faint against text
        or a background that uses it; the message names the ratio.
    """
    values = {
        "brand_colour": normalise(brand, "brand_colour"),
        "accent_colour": normalise(accent, "accent_colour"),
    }
    for field, colour in values.items():
        if not colour:
            continue
        for other, where in USES[field]:
            ratio = contrast(colour, other)
            if ratio < AA_TEXT:
                raise LookError(
                    field,
                    f"The {LABELS[field]} {colour} has a contrast of {ratio:.2f}:1 with {where}; "
                    f"WCAG AA needs at least {AA_TEXT}:1 for text. Choose a darker colour.",
                )
    return values["brand_colour"], values["accent_colour"]


def stylesheet(brand: str, accent: str) -> str:
    """The clinic's stylesheet: the site's colour variables set to its own."""
    rules = []
    if brand:
        rules.append(f"--accent: {brand};")
    if accent:
        rules.append(f"--heading: {accent};")
    return ":root { " + " ".join(rules) + " }\n" if rules else ""


def stylesheet_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
