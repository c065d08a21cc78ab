"""Forms of the reports: a clinic's Google Ads conversion settings.

The reports' own filters are a GET form read by ``leads.services.reports``:
they change nothing, so they carry no CSRF token.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Length, Optional

from leads.services.ad_conversions import NAME_MAX


class AdConversionsForm(FlaskForm):
    enabled = BooleanField("Export offline conversions for Google Ads")
    booked = StringField(
        "Conversion name for a booked consultation",
        validators=[Optional(), Length(max=NAME_MAX)],
    )
    treated = StringField(
        "Conversion name for a treatment",
        validators=[Optional(), Length(max=NAME_MAX)],
    )
