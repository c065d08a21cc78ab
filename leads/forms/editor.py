"""The page editor's forms, and the admins' clinic and location details form.

Every text field refuses HTML and script addresses on input (the writer is
told at once); what is stored is sanitised again on output in any case.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from leads import phones
from leads.content import markup_problem, safe_url
from leads.services.editor import (
    RESERVED_LOCATION_SLUGS,
    RESERVED_TREATMENT_SLUGS,
    SlugError,
    check_slug,
)
from leads.working_time import NATION_LABELS


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _no_markup(form: FlaskForm, field) -> None:
    problem = markup_problem(field.data)
    if problem:
        raise ValidationError(problem)


def _single_line(form: FlaskForm, field) -> None:
    if field.data and any(not ch.isprintable() for ch in field.data):
        raise ValidationError("Please keep this to one line of text.")


def _image_url(form: FlaskForm, field) -> None:
    if field.data and not safe_url(field.data):
        raise ValidationError("Use an address that starts with https:// (or a path on this site).")


def _line(label: str, max_length: int, required: bool = False, hint: str = "") -> StringField:
    validators = [DataRequired(f"Please fill in the {label.lower()}.")] if required else []
    validators += [Length(max=max_length), _single_line, _no_markup]
    return StringField(
        label,
        validators=validators,
        filters=[_strip],
        description=hint,
        render_kw={"maxlength": max_length},
    )


class PageForm(FlaskForm):
    title = _line("Title", 160, required=True, hint="Names the page in the editor and in search.")
    heading = _line("Heading", 160, required=True, hint="The large heading patients see first.")
    intro = TextAreaField(
        "Introduction",
        validators=[Length(max=600), _no_markup],
        filters=[_strip],
        description="One or two sentences under the heading.",
    )
    body = TextAreaField(
        "Body (Markdown)",
        validators=[Length(max=50_000), _no_markup],
        description="## for a section heading, - for a list item, [words](https://...) for a link, "
        "![what it shows](media:12) for an image from the media library.",
    )
    # Choices: the clinic's media library, set by the view.
    hero_image = SelectField(
        "Hero image",
        validate_choice=False,
        description="Shown beside the heading; it loads first.",
    )
    gallery = StringField(
        "Gallery",
        validators=[Length(max=400), _single_line],
        filters=[_strip],
        description="Images from the media library in the order to show them, "
        "such as media:3 media:7 media:8.",
        render_kw={"maxlength": 400},
    )
    cta_text = _line("Call to action", 80, required=True, hint="The text of the booking buttons.")
    seo_title = _line("SEO title", 70, hint="Shown as the title in search results; up to 70.")
    seo_description = TextAreaField(
        "SEO description",
        validators=[Length(max=200), _single_line, _no_markup],
        filters=[_strip],
        description="Shown under the title in search results; up to 200 characters.",
    )
    og_title = _line("Sharing title", 160, hint="When the page is shared; the title if empty.")
    og_description = TextAreaField(
        "Sharing description",
        validators=[Length(max=300), _single_line, _no_markup],
        filters=[_strip],
    )
    og_image = URLField(
        "Sharing image address",
        validators=[Optional(), Length(max=500), _image_url],
        filters=[_strip],
        description="An https:// address of an image, at least 1200 by 630 pixels.",
    )
    slug = StringField(
        "Address (URL slug)",
        validators=[DataRequired("Please give the page an address."), Length(max=64)],
        filters=[_strip, lambda v: v.lower() if isinstance(v, str) else v],
    )

    def __init__(self, *args, treatment_page: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._reserved = RESERVED_TREATMENT_SLUGS if treatment_page else RESERVED_LOCATION_SLUGS

    def validate_slug(self, field: StringField) -> None:
        try:
            check_slug(field.data or "", self._reserved)
        except SlugError as exc:
            raise ValidationError(str(exc)) from None

    def content(self) -> dict[str, str]:
        from leads.models import CONTENT_FIELDS

        return {name: self[name].data or "" for name in CONTENT_FIELDS}

    def pictures(self) -> dict[str, str]:
        from leads.models import PICTURE_FIELDS

        return {name: self[name].data or "" for name in PICTURE_FIELDS}

    def picture_choices(self, images: list) -> None:
        """The hero image's choices: none, or an image of the page's clinic.
        The images are kept for the list beside the body."""
        self.library = images
        self.hero_image.choices = [SelectChoice("", "No hero image")] + [
            SelectChoice(f"media:{m.id}", f"media:{m.id}: {m.alt or 'decorative'}"[:90])
            for m in images
        ]


class PrivacyNoticeForm(FlaskForm):
    """A clinic's privacy notice: the words patients read, no address of its own."""

    title = PageForm.title
    heading = PageForm.heading
    intro = PageForm.intro
    body = PageForm.body

    def content(self) -> dict[str, str]:
        return {name: self[name].data or "" for name in ("title", "heading", "intro", "body")}


class PublishForm(FlaskForm):
    note = _line("Note for the history (optional)", 300)
    # The claims the publisher was shown; ticking the box confirms exactly these.
    claims = HiddenField()
    confirm_claims = BooleanField(
        "I have checked these claims against the advertising rules and confirm them."
    )

    def confirmed(self) -> list[str]:
        if not self.confirm_claims.data:
            return []
        return [c for c in (self.claims.data or "").split("|") if c]


class UnpublishForm(FlaskForm):
    """Sent only by the confirmation page, which says what patients will see instead."""

    confirm = HiddenField(validators=[AnyOf(("yes",))])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


HOURS_LINE = re.compile(
    r"^(?P<days>(?:Mo|Tu|We|Th|Fr|Sa|Su)(?:-(?:Mo|Tu|We|Th|Fr|Sa|Su))?)\s+"
    r"(?P<opens>[01]\d|2[0-3]):(?P<om>[0-5]\d)\s*-\s*(?P<closes>[01]\d|2[0-4]):(?P<cm>[0-5]\d)$"
)


def parse_hours(text: str) -> list[dict[str, str]]:
    """ "Mo-Fr 09:00-19:00" lines into opening-hours rows; ValueError names a bad line."""
    rows = []
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line:
            continue
        match = HOURS_LINE.match(line)
        if not match:
            raise ValueError(line)
        opens = f"{match['opens']}:{match['om']}"
        closes = f"{match['closes']}:{match['cm']}"
        if closes <= opens:
            raise ValueError(line)
        rows.append({"days": match["days"], "opens": opens, "closes": closes})
    return rows


def format_hours(rows: list[dict[str, str]]) -> str:
    return "\n".join(f"{r['days']} {r['opens']}-{r['closes']}" for r in rows or [])


class ClinicForm(FlaskForm):
    name = _line("Clinic name", 120, required=True)
    tagline = _line("Tagline", 200)


class LocationForm(FlaskForm):
    name = _line("Location name", 120, required=True)
    street = _line("Street address", 200, required=True)
    city = _line("Town or city", 100, required=True)
    postcode = _line("Postcode", 16, required=True)
    phone = StringField(
        "Phone",
        validators=[DataRequired("Please give the location's phone number."), Length(max=32)],
        filters=[_strip],
    )
    opening_hours = TextAreaField(
        "Opening hours",
        description=(
            "One line per set of days, such as: Mo-Fr 09:00-19:00 (days Mo Tu We Th Fr Sa Su)."
        ),
    )
    time_zone = StringField(
        "Time zone",
        validators=[DataRequired("Please give the time zone, such as Europe/London.")],
        filters=[_strip],
    )
    nation = SelectField(
        "Bank holidays of",
        choices=[SelectChoice(key, label) for key, label in NATION_LABELS.items()],
        default="england",
        description="The location is taken to be closed on this nation's bank holidays.",
    )
    treatments = MultiCheckboxField("Treatments offered here", coerce=int)

    def validate_phone(self, field: StringField) -> None:
        e164 = phones.valid_e164(field.data)
        if e164 is None:
            raise ValidationError("Please enter a phone number such as 020 7946 0112.")
        field.data = e164

    def validate_time_zone(self, field: StringField) -> None:
        if field.data not in available_timezones():
            raise ValidationError("Please use a time zone name such as Europe/London.")
        try:
            ZoneInfo(field.data)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError("Please use a time zone name such as Europe/London.") from None

    def validate_opening_hours(self, field: TextAreaField) -> None:
        try:
            field.parsed = parse_hours(field.data or "")
        except ValueError as exc:
            raise ValidationError(
                f"“{exc}” is not like “Mo-Fr 09:00-19:00”, closing after opening."
            ) from None
