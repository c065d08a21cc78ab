"""Reports for marketing, managers and admins: numbers, never patients.

What each report counts is scoped by ``leads.services.scope`` (through
``leads.services.reports``): a manager's reports, charts and CSVs hold only
the numbers of their own clinics.
"""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from leads.auth import roles_required
from leads.charts import stylesheet
from leads.forms.reports import AdConversionsForm
from leads.models import utcnow
from leads.services import ad_conversions, reports
from leads.services.export import neutralise
from leads.services.scope import REPORT_ROLES, report_clinics, report_locations

bp = Blueprint("reports", __name__, url_prefix="/reports")


def _filters() -> reports.Filters:
    return reports.parse_filters(request.args, current_user, utcnow().date())


def _page(template: str, **context) -> str:  # type: ignore[no-untyped-def]
    return render_template(
        template,
        clinics=report_clinics(current_user),
        locations=report_locations(current_user),
        intervals=reports.INTERVALS,
        dimensions=reports.DIMENSIONS,
        catalogue=reports.REPORTS,
        **context,
    )


@bp.get("/")
@roles_required(*REPORT_ROLES)
def index() -> str:
    ads = [c for c in report_clinics(current_user) if c.ads_conversions_enabled]
    return _page("reports/index.html", filters=_filters(), ads_clinics=ads)


@bp.get("/charts.css")
def charts_css() -> Response:
    """The charts' stylesheet (pygal's, served as a file for the CSP)."""
    response = Response(stylesheet(), mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


@bp.get("/<name>/")
@roles_required(*REPORT_ROLES)
def show(name: str) -> str:
    filters = _filters()
    try:
        report = reports.build(name, current_user, filters)
    except reports.ReportNotFound:
        abort(404)
    return _page("reports/report.html", filters=filters, report=report)


@bp.get("/<name>.csv")
@roles_required(*REPORT_ROLES)
def download(name: str) -> Response:
    filters = _filters()
    try:
        report = reports.for_csv(name, current_user, filters)
    except reports.ReportNotFound:
        abort(404)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in report.csv_rows():
        writer.writerow([neutralise(cell) for cell in row])
    stamp = f"{filters.date_from:%Y%m%d}-{filters.date_to:%Y%m%d}"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )


@bp.route("/google-ads/<int:clinic_id>/settings", methods=["GET", "POST"])
@roles_required("admin")
def ads_settings(clinic_id: int) -> Response | str | tuple[str, int]:
    clinic = ad_conversions.clinic_for(current_user, clinic_id)
    if clinic is None:
        abort(404)
    form = AdConversionsForm(
        enabled=clinic.ads_conversions_enabled,
        booked=clinic.ads_conversion_booked,
        treated=clinic.ads_conversion_treated,
    )
    if form.validate_on_submit():
        ad_conversions.save_settings(
            clinic, current_user, form.enabled.data, form.booked.data or "", form.treated.data or ""
        )
        flash("Google Ads export settings saved.", "info")
        return redirect(url_for("reports.ads_settings", clinic_id=clinic.id), code=303)
    status = 422 if form.errors else 200
    return render_template("reports/ads_settings.html", clinic=clinic, form=form), status


@bp.get("/google-ads/<int:clinic_id>.csv")
@roles_required(*REPORT_ROLES)
def ads_export(clinic_id: int) -> Response:
    clinic = ad_conversions.clinic_for(current_user, clinic_id)
    if clinic is None:
        abort(404)
    try:
        rows = ad_conversions.conversions(current_user, clinic)
    except ad_conversions.ConversionsOff:
        abort(404)
    text = ad_conversions.csv_text(rows)
    ad_conversions.record_export(current_user, clinic, len(rows))
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        text,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="google-ads-{clinic.slug}-{stamp}.csv"'
        },
    )
