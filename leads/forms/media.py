"""The media library's upload form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length

from leads.forms.editor import _no_markup, _single_line, _strip


class UploadForm(FlaskForm):
    clinic = SelectField("Clinic", coerce=int)
    file = FileField(
        "Image",
        validators=[FileRequired("Please choose an image to upload.")],
        description="JPEG, PNG, WebP or HEIC, up to 10 MB and 40 megapixels.",
        render_kw={"accept": "image/jpeg,image/png,image/webp,image/heic,image/heif"},
    )
    alt = StringField(
        "What the image shows",
        validators=[Length(max=300), _single_line, _no_markup],
        filters=[_strip],
        description="Read aloud to patients who cannot see it, such as "
        "“A treatment room with a reclining chair”.",
        render_kw={"maxlength": 300},
    )
    decorative = BooleanField("Decorative: it adds nothing to the words around it")
