"""Forms of the clinic setup screens: clinics, locations, treatments and their templates.

The checks themselves live in ``leads.services.clinics`` so that the setup
file import applies exactly the same rules.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from leads.forms.editor import (
    LocationForm,
    MultiCheckboxField,
    PageForm,
    _line,
    _no_markup,
    _strip,
)
from leads.models import REGISTRATION_BODIES
from leads.services import clinics
from leads.services.clinics import SetupError


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def _slug_field(example: str) -> StringField:
    return StringField(
        "Address (URL slug)",
        filters=[_strip, _lower],
        description=(
            f"Lowercase letters, numbers and single hyphens, such as {example}. "
            "It cannot be changed here later."
        ),
        render_kw={"maxlength": 64},
    )


def _check(check, field) -> None:
    try:
        field.data = check(field.data or "")
    except SetupError as exc:
        raise ValidationError(exc.message) from None


class ClinicForm(FlaskForm):
    name = _line("Clinic name", 120, required=True)
    tagline = _line("Tagline", 200, hint="One line under the clinic's name.")
    retention_months = IntegerField(
        "Keep leads for (months)",
        validators=[Optional(), NumberRange(*clinics.RETENTION_RANGE, "Between 1 and 120 months.")],
        description="Leave empty for the installation's default.",
    )
    sla_minutes = IntegerField(
        "Response target (working minutes)",
        validators=[Optional(), NumberRange(*clinics.SLA_RANGE, "Between 1 and 10080 minutes.")],
        description=(
            "How soon a new lead should be contacted, counting only opening hours, such as 15. "
            "Leave empty for no target."
        ),
    )
    escalate_to = StringField(
        "Tell about overdue leads",
        filters=[_strip],
        description=(
            "Email addresses, separated by commas, told once when a lead passes its target "
            "uncontacted. Leave empty for the clinic's managers."
        ),
        render_kw={"maxlength": 500},
    )

    def validate_escalate_to(self, field: StringField) -> None:
        try:
            field.data = clinics.check_escalate_to((field.data or "").split(","))
        except SetupError as exc:
            raise ValidationError(exc.message) from None

    brand_colour = StringField(
        "Brand colour",
        filters=[_strip],
        description="Buttons and links, as a hex colour such as #0b5d57; empty for the "
        "site's own. It must be dark enough for white text on it (WCAG AA, 4.5:1).",
        render_kw={"maxlength": 7},
    )
    accent_colour = StringField(
        "Accent colour",
        filters=[_strip],
        description="Headings, as a hex colour; empty for the site's own. It must be "
        "dark enough to read on white (WCAG AA, 4.5:1).",
        render_kw={"maxlength": 7},
    )
    # Choices: the clinic's media library, set by the view.
    logo = SelectField(
        "Logo",
        validate_choice=False,
        choices=[SelectChoice("", "No logo")],
        description="Shown beside the clinic's name on its pages; upload it to the media "
        "library first.",
    )

    def logo_choices(self, images: list) -> None:
        self.logo.choices = [SelectChoice("", "No logo")] + [
            SelectChoice(f"media:{m.id}", f"media:{m.id}: {m.alt or 'decorative'}"[:90])
            for m in images
        ]


class NewClinicForm(ClinicForm):
    slug = _slug_field("nar-london")
    inbox = EmailField(
        "Inbox email address",
        validators=[Optional()],
        filters=[_strip],
        description="Where this clinic's leads go. More channels, such as a webhook, later.",
    )

    def validate_slug(self, field: StringField) -> None:
        _check(clinics.check_clinic_slug, field)

    def validate_inbox(self, field: EmailField) -> None:
        if field.data:
            _check(clinics.check_email, field)


class NewLocationForm(LocationForm):
    slug = _slug_field("harley-street")

    def validate_slug(self, field: StringField) -> None:
        _check(clinics.check_location_slug, field)


class TreatmentForm(FlaskForm):
    name = _line("Treatment name", 120, required=True)
    summary = _line("Summary", 300, hint="One sentence, shown where treatments are listed.")
    locations = MultiCheckboxField("Offered at", coerce=int)


class NewTreatmentForm(TreatmentForm):
    slug = _slug_field("mesotherapy")

    def validate_slug(self, field: StringField) -> None:
        _check(clinics.check_treatment_slug, field)


class TemplateForm(PageForm):
    """A page's fields, without an address or pictures: each location's page
    keeps its own."""

    slug = None
    hero_image = None
    gallery = None

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        from leads.services.treatment_templates import check_placeholders

        try:
            check_placeholders(self.content())
        except SetupError as exc:
            self[exc.field].errors = [*self[exc.field].errors, exc.message]
            return False
        return True


class RoutingRuleForm(FlaskForm):
    """A routing rule: where (location, treatment; 0 = any), who, which channels."""

    location = SelectField("Location", coerce=int)
    treatment = SelectField("Treatment", coerce=int)
    members = MultiCheckboxField("Assign by turns to", coerce=int)
    channels = MultiCheckboxField("Notify these inbox channels", coerce=int)


def routing_rule_form(clinic, staff, **kwargs) -> RoutingRuleForm:
    form = RoutingRuleForm(**kwargs)
    form.location.choices = [SelectChoice(0, "Any location")] + [
        SelectChoice(loc.id, loc.name) for loc in clinic.locations if loc.archived_at is None
    ]
    form.treatment.choices = [SelectChoice(0, "Any treatment")] + [
        SelectChoice(t.id, t.name) for t in clinic.treatments if t.archived_at is None
    ]
    form.members.choices = [(u.id, u.name or u.email) for u in staff]
    form.channels.choices = [(c.id, f"{c.kind}: {c.target}") for c in clinic.channels if c.active]
    return form


class PractitionerForm(FlaskForm):
    name = _line(
        "Name", 120, required=True, hint="As patients would address them, such as Dr Amira Shah."
    )
    role = _line("Role", 120, hint="Such as Consultant trichologist or Aesthetic nurse.")
    registration_body = SelectField(
        "Register",
        choices=[SelectChoice(key, label) for key, label in REGISTRATION_BODIES.items()],
        description="The professional register they are on, if any.",
    )
    registration_number = _line(
        "Registration number", 32, hint="As it appears on the register, such as 7012345."
    )
    photo = SelectField(
        "Photo",
        validate_choice=False,
        choices=[SelectChoice("", "No photo")],
        description="From the media library.",
    )
    bio = TextAreaField(
        "Short biography",
        validators=[Length(max=600), _no_markup],
        filters=[_strip],
        description="Two or three sentences; up to 600 characters.",
    )
    locations = MultiCheckboxField("Works at", coerce=int)

    def photo_choices(self, images: list) -> None:
        self.photo.choices = [SelectChoice("", "No photo")] + [
            SelectChoice(f"media:{m.id}", f"media:{m.id}: {m.alt or 'decorative'}"[:90])
            for m in images
        ]
