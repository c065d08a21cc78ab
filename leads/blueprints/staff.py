"""The staff landing page: where each role starts."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.get("/")
@login_required
def home() -> str:
    return render_template("staff/home.html")
