"""Setup as a file: clinics, locations, treatments and their page templates in YAML.

``apply_file`` reads the file, checks every value (an error names the line and
the key), then makes the changes in one transaction, matching clinics,
locations and treatments by slug. What the file does not mention is left as
it is: nothing is deleted, and a key left out keeps its current value. A run
that would change nothing writes nothing and says so. ``export_file`` writes
the same format, so the file can live under version control.

Adding a key is one entry in the ``*_KEYS`` tables below plus its handling in
``_apply_*``; a key that no table knows is an error naming its line.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from leads.extensions import db
from leads.forms.editor import format_hours
from leads.models import CONTENT_FIELDS, Clinic, InboxChannel, Location, Treatment
from leads.services import clinics, look, routing, treatment_templates
from leads.services.clinics import ClinicDetails, LocationDetails, SetupError

TOP_KEYS = {"clinics"}
CLINIC_KEYS = {
    "slug",
    "name",
    "tagline",
    "retention_months",
    "brand_colour",
    "accent_colour",
    "inbox",
    "archived",
    "treatments",
    "locations",
    "sla_minutes",
    "escalate_to",
    "routing",
}
TREATMENT_KEYS = {"slug", "name", "summary", "page", "archived"}
PAGE_KEYS = set(CONTENT_FIELDS)
LOCATION_KEYS = {
    "slug",
    "name",
    "address",
    "phone",
    "timezone",
    "hours",
    "inbox",
    "treatments",
    "publish",
    "archived",
    "nation",
}
CHANNEL_KEYS = {"email", "webhook", "secret"}
ROUTING_KEYS = {"location", "treatment", "pool", "notify"}


class SetupFileError(Exception):
    """What is wrong with a setup file, where: ``line`` (1-based) and ``field``."""

    def __init__(self, line: int | None, field: str, message: str) -> None:
        self.line = line
        self.field = field
        self.message = message
        where = f"line {line}, " if line else ""
        super().__init__(f"{where}{field}: {message}")


@dataclass
class Report:
    changes: list[str] = field(default_factory=list)
    applied: bool = False


# -- reading the file ------------------------------------------------------------


def _load(text: str) -> Any:
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise SetupFileError(line, "file", f"not valid YAML ({exc.problem})") from None
    except YAMLError as exc:
        raise SetupFileError(None, "file", f"not valid YAML ({exc})") from None


def _key_line(node: CommentedMap, key: str) -> int | None:
    try:
        return node.lc.key(key)[0] + 1
    except (AttributeError, KeyError, TypeError):
        return _line(node)


def _line(node: Any) -> int | None:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else None


def _item_line(seq: CommentedSeq, index: int) -> int | None:
    try:
        return seq.lc.item(index)[0] + 1
    except (AttributeError, KeyError, TypeError):
        return _line(seq)


def _mapping(node: Any, path: str, line: int | None, allowed: set[str]) -> CommentedMap:
    if not isinstance(node, CommentedMap):
        raise SetupFileError(line, path, "expected a mapping of keys (key: value).")
    for key in node:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise SetupFileError(
                _key_line(node, key), f"{path}.{key}", f"unknown key; known keys: {known}."
            )
    return node


def _list(node: CommentedMap, key: str, path: str) -> list[tuple[Any, int | None]]:
    value = node.get(key)
    if value is None:
        return []
    if not isinstance(value, CommentedSeq):
        raise SetupFileError(_key_line(node, key), f"{path}.{key}", "expected a list.")
    return [(item, _item_line(value, i)) for i, item in enumerate(value)]


class _Values:
    """Typed access to one mapping's values, each error naming its line and key."""

    def __init__(self, node: CommentedMap, path: str) -> None:
        self.node = node
        self.path = path

    def has(self, key: str) -> bool:
        return key in self.node

    def line(self, key: str) -> int | None:
        return _key_line(self.node, key)

    def fail(self, key: str, message: str) -> SetupFileError:
        return SetupFileError(self.line(key), f"{self.path}.{key}", message)

    def text(self, key: str, max_length: int, required: bool = False) -> str:
        value = self.node.get(key)
        if value is None:
            if required:
                raise self.fail(key, "required.")
            return ""
        if not isinstance(value, str):
            raise self.fail(key, "expected text (put it in quotes).")
        return self.check(key, clinics.check_text, key, value, max_length, required)

    def flag(self, key: str) -> bool:
        value = self.node.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(key, "expected true or false.")
        return value

    def check(self, key: str, check: Callable[..., Any], *args: Any) -> Any:
        try:
            return check(*args)
        except SetupError as exc:
            raise self.fail(key, exc.message) from None


# -- the parsed file ---------------------------------------------------------------


@dataclass
class TreatmentSpec:
    line: int | None
    slug: str
    values: _Values
    page: dict[str, str] | None


@dataclass
class LocationSpec:
    line: int | None
    slug: str
    values: _Values
    treatments: list[str]


@dataclass
class ClinicSpec:
    line: int | None
    slug: str
    values: _Values
    treatments: list[TreatmentSpec]
    locations: list[LocationSpec]


def parse(text: str) -> list[ClinicSpec]:
    """Check the file's shape, keys, slugs and references. :raise SetupFileError:"""
    root = _load(text)
    if root is None:
        raise SetupFileError(1, "clinics", "the file is empty.")
    _mapping(root, "file", 1, TOP_KEYS)
    specs = []
    seen: dict[str, int | None] = {}
    for i, (node, line) in enumerate(_list(root, "clinics", "file")):
        path = f"clinics[{i}]"
        _mapping(node, path, line, CLINIC_KEYS)
        values = _Values(node, path)
        slug = _slug(values, clinics.check_clinic_slug, seen)
        known = {t.slug for t in _existing_clinic_treatments(slug)}
        treatments = _treatments(node, path)
        known |= {t.slug for t in treatments}
        locations = _locations(node, path, known)
        specs.append(ClinicSpec(line, slug, values, treatments, locations))
    return specs


def _slug(values: _Values, check: Callable[[str], str], seen: dict[str, int | None]) -> str:
    if not values.has("slug"):
        raise SetupFileError(_line(values.node), f"{values.path}.slug", "required.")
    raw = values.node["slug"]
    if not isinstance(raw, str):
        raise values.fail("slug", "expected text.")
    slug = values.check("slug", check, raw)
    if slug in seen:
        raise values.fail(
            "slug", f"“{slug}” appears twice in this list (first on line {seen[slug]})."
        )
    seen[slug] = values.line("slug")
    return slug


def _existing_clinic_treatments(slug: str) -> list[Treatment]:
    clinic = clinics.clinic_by_slug(slug)
    return list(clinic.treatments) if clinic is not None else []


def _treatments(node: CommentedMap, path: str) -> list[TreatmentSpec]:
    specs = []
    seen: dict[str, int | None] = {}
    for j, (item, line) in enumerate(_list(node, "treatments", path)):
        tpath = f"{path}.treatments[{j}]"
        _mapping(item, tpath, line, TREATMENT_KEYS)
        values = _Values(item, tpath)
        slug = _slug(values, clinics.check_treatment_slug, seen)
        page = None
        if values.has("page"):
            page_node = _mapping(item["page"], f"{tpath}.page", values.line("page"), PAGE_KEYS)
            page_values = _Values(page_node, f"{tpath}.page")
            page = {}
            for name in CONTENT_FIELDS:
                limit = treatment_templates.MAX_LENGTHS.get(name, 50_000)
                value = page_node.get(name)
                if value is not None and not isinstance(value, str):
                    raise page_values.fail(name, "expected text (put it in quotes).")
                page[name] = (value or "").replace("\r\n", "\n")
                if len(page[name]) > limit:
                    raise page_values.fail(name, f"please keep this to {limit} characters.")
            for name in ("title", "heading"):
                if not page[name].strip():
                    raise page_values.fail(name, "required.")
            try:
                treatment_templates.check_placeholders(page)
            except SetupError as exc:
                raise page_values.fail(exc.field, exc.message) from None
        specs.append(TreatmentSpec(line, slug, values, page))
    return specs


def _locations(node: CommentedMap, path: str, known: set[str]) -> list[LocationSpec]:
    specs = []
    seen: dict[str, int | None] = {}
    for j, (item, line) in enumerate(_list(node, "locations", path)):
        lpath = f"{path}.locations[{j}]"
        _mapping(item, lpath, line, LOCATION_KEYS)
        values = _Values(item, lpath)
        slug = _slug(values, clinics.check_location_slug, seen)
        offered = []
        for k, (name, tline) in enumerate(_list(item, "treatments", lpath)):
            if not isinstance(name, str) or name not in known:
                raise SetupFileError(
                    tline,
                    f"{lpath}.treatments[{k}]",
                    f"unknown treatment “{name}”; list it under this clinic's treatments first.",
                )
            offered.append(name)
        specs.append(LocationSpec(line, slug, values, offered))
    return specs


# -- applying it -------------------------------------------------------------------


def apply_file(text: str, dry_run: bool = False) -> Report:
    """Check and apply a setup file in one transaction.

    :raise SetupFileError: nothing was changed.
    """
    specs = parse(text)
    report = Report()
    try:
        for spec in specs:
            _apply_clinic(spec, report.changes)
    except SetupFileError:
        db.session.rollback()
        raise
    if dry_run or not report.changes:
        db.session.rollback()
    else:
        db.session.commit()
        report.applied = True
    return report


def _apply_clinic(spec: ClinicSpec, changes: list[str]) -> None:
    v = spec.values
    clinic = clinics.clinic_by_slug(spec.slug)
    name = v.text("name", 120, required=clinic is None)
    details = ClinicDetails(
        name=name or (clinic.name if clinic else ""),
        tagline=v.text("tagline", 200) if v.has("tagline") else (clinic.tagline if clinic else ""),
        retention_months=(
            v.check("retention_months", clinics.check_retention, v.node["retention_months"])
            if v.has("retention_months")
            else (clinic.retention_months if clinic else None)
        ),
        sla_minutes=(
            v.check("sla_minutes", clinics.check_sla, v.node["sla_minutes"])
            if v.has("sla_minutes")
            else (clinic.sla_minutes if clinic else None)
        ),
        escalate_to=(
            _escalate_to(v) if v.has("escalate_to") else (clinic.escalate_to if clinic else "")
        ),
        **_colours(v, clinic),
        logo=clinic.logo if clinic else "",
    )
    if clinic is None:
        clinic = _service(v, "slug", clinics.create_clinic, spec.slug, details, None, commit=False)
        changes.append(f"add clinic {spec.slug}")
    else:
        differs = [k for k, val in details.__dict__.items() if getattr(clinic, k) != val]
        if differs:
            clinics.update_clinic(clinic, details, None, commit=False)
            changes.append(f"clinic {spec.slug}: change {', '.join(differs)}")
    if v.has("inbox"):
        _apply_inbox(v, clinic, None, f"clinic {spec.slug}", changes)

    for t in spec.treatments:
        _apply_treatment(clinic, t, changes)
    for loc in spec.locations:
        _apply_location(clinic, loc, changes)
    for t in spec.treatments:
        if t.page is not None:
            _apply_template(clinic, t, changes)
    for loc in spec.locations:
        _apply_publish(clinic, loc, changes)
    if v.has("routing"):
        _apply_routing(v, clinic, changes)
    if v.has("archived"):
        _archive(clinic, v.flag("archived"), f"clinic {spec.slug}", changes)


def _escalate_to(v: _Values) -> str:
    raw = v.node["escalate_to"]
    items = raw if isinstance(raw, CommentedSeq) else [raw]
    if not all(isinstance(item, str) for item in items):
        raise v.fail("escalate_to", "expected an email address, or a list of them.")
    return v.check("escalate_to", clinics.check_escalate_to, list(items))


def _apply_routing(v: _Values, clinic: Clinic, changes: list[str]) -> None:
    """Make the listed rules the clinic's rules (matched by location and
    treatment, so each keeps its turn); rules not listed are removed."""
    db.session.flush()
    staff = {u.email.lower(): u for u in routing.staff_of(clinic)}
    channels = {c.target.lower(): c for c in clinic.channels if c.active}
    wanted: dict[tuple[str, str], tuple[int | None, int | None, list[int], list[int]]] = {}
    for i, (item, line) in enumerate(_list(v.node, "routing", v.path)):
        path = f"{v.path}.routing[{i}]"
        _mapping(item, path, line, ROUTING_KEYS)
        rv = _Values(item, path)
        location = treatment = None
        if rv.has("location"):
            location = _find(Location, clinic, str(item["location"]))
            if location is None:
                raise rv.fail("location", f"unknown location “{item['location']}” of this clinic.")
        if rv.has("treatment"):
            treatment = _find(Treatment, clinic, str(item["treatment"]))
            if treatment is None:
                raise rv.fail(
                    "treatment", f"unknown treatment “{item['treatment']}” of this clinic."
                )
        members = []
        for j, (email, mline) in enumerate(_list(item, "pool", path)):
            user = staff.get(str(email).strip().lower()) if isinstance(email, str) else None
            if user is None:
                raise SetupFileError(
                    mline,
                    f"{path}.pool[{j}]",
                    f"“{email}” is not an active manager of this clinic or an admin.",
                )
            members.append(user.id)
        notify = []
        for j, (target, nline) in enumerate(_list(item, "notify", path)):
            channel = channels.get(str(target).strip().lower()) if isinstance(target, str) else None
            if channel is None:
                raise SetupFileError(
                    nline,
                    f"{path}.notify[{j}]",
                    f"“{target}” is not an inbox of this clinic; list it under inbox first.",
                )
            notify.append(channel.id)
        key = (location.slug if location else "", treatment.slug if treatment else "")
        if key in wanted:
            raise SetupFileError(line, path, "a second rule for the same location and treatment.")
        wanted[key] = (
            location.id if location else None,
            treatment.id if treatment else None,
            members,
            notify,
        )
    current = {
        (r.location.slug if r.location else "", r.treatment.slug if r.treatment else ""): r
        for r in routing.rules_of(clinic)
    }
    for key, rule in current.items():
        if key not in wanted:
            routing.delete_rule(rule, None, commit=False)
            changes.append(f"clinic {clinic.slug}: remove routing rule {_rule_label(key)}")
    for key, (location_id, treatment_id, members, notify) in wanted.items():
        rule = current.get(key)
        if (
            rule is not None
            and sorted(u.id for u in rule.members) == sorted(set(members))
            and sorted(rule.channel_ids) == sorted(set(notify))
        ):
            continue
        routing.save_rule(clinic, location_id, treatment_id, members, notify, None, commit=False)
        verb = "add" if rule is None else "change"
        changes.append(f"clinic {clinic.slug}: {verb} routing rule {_rule_label(key)}")


def _rule_label(key: tuple[str, str]) -> str:
    return f"{key[0] or 'any location'}/{key[1] or 'any treatment'}"


def _colours(v: _Values, clinic: Clinic | None) -> dict[str, str]:
    """The clinic's colours from the file (or as they are), checked for contrast."""
    found = {
        key: v.text(key, 20) if v.has(key) else (getattr(clinic, key) if clinic else "")
        for key in ("brand_colour", "accent_colour")
    }
    try:
        brand, accent = look.check_colours(found["brand_colour"], found["accent_colour"])
    except look.LookError as exc:
        raise v.fail(exc.field, exc.message) from None
    return {"brand_colour": brand, "accent_colour": accent}


def _apply_treatment(clinic: Clinic, spec: TreatmentSpec, changes: list[str]) -> None:
    v = spec.values
    treatment = _find(Treatment, clinic, spec.slug)
    name = v.text("name", 120, required=treatment is None)
    summary = v.text("summary", 300) if v.has("summary") else None
    label = f"treatment {clinic.slug}/{spec.slug}"
    if treatment is None:
        _service(
            v,
            "slug",
            clinics.create_treatment,
            clinic,
            spec.slug,
            name,
            summary or "",
            [],
            None,
            commit=False,
        )
        changes.append(f"add {label}")
    else:
        new_name = name or treatment.name
        new_summary = treatment.summary if summary is None else summary
        if (new_name, new_summary) != (treatment.name, treatment.summary):
            treatment.name, treatment.summary = new_name, new_summary
            changes.append(f"{label}: change name or summary")
    if v.has("archived"):
        found = _find(Treatment, clinic, spec.slug)
        _archive(found, v.flag("archived"), label, changes)


def _apply_location(clinic: Clinic, spec: LocationSpec, changes: list[str]) -> None:
    v = spec.values
    location = _find(Location, clinic, spec.slug)
    label = f"location {clinic.slug}/{spec.slug}"
    new = location is None
    current = _location_details(location) if location else None
    address = _address(v, required=new) or (
        (current.street, current.city, current.postcode) if current else None
    )
    details = LocationDetails(
        name=v.text("name", 120, required=new) or (current.name if current else ""),
        street=address[0],
        city=address[1],
        postcode=address[2],
        phone=_phone(v, required=new) or (current.phone if current else ""),
        opening_hours=_hours(v) if v.has("hours") else (current.opening_hours if current else []),
        time_zone=(
            _time_zone(v)
            if v.has("timezone")
            else (current.time_zone if current else "Europe/London")
        ),
        nation=(
            v.check("nation", clinics.check_nation, v.node["nation"])
            if v.has("nation")
            else (current.nation if current else "england")
        ),
    )
    by_slug = {t.slug: t for t in clinic.treatments}
    if v.has("treatments"):
        treatment_ids = [by_slug[s].id for s in spec.treatments]
    else:
        treatment_ids = [t.id for t in location.treatments] if location else []
    if new:
        location = _service(
            v,
            "slug",
            clinics.create_location,
            clinic,
            spec.slug,
            details,
            treatment_ids,
            None,
            commit=False,
        )
        changes.append(f"add {label}")
    else:
        differs = [k for k, val in details.as_dict().items() if getattr(location, k) != val]
        if sorted(treatment_ids) != sorted(t.id for t in location.treatments):
            differs.append("treatments")
        if differs:
            clinics.update_location(location, details, treatment_ids, None, commit=False)
            changes.append(f"{label}: change {', '.join(differs)}")
    if v.has("inbox"):
        _apply_inbox(v, clinic, location.id, label, changes)
    if v.has("archived"):
        _archive(location, v.flag("archived"), label, changes)


def _apply_template(clinic: Clinic, spec: TreatmentSpec, changes: list[str]) -> None:
    treatment = _find(Treatment, clinic, spec.slug)
    fields = dict(spec.page or {})
    fields["cta_text"] = fields.get("cta_text") or "Book a consultation"
    current = treatment_templates.template_for(treatment)
    if current is not None and current.content() == fields:
        return  # locations' pages were filled in as they were added or changed
    label = f"treatment {clinic.slug}/{spec.slug}"
    before = {
        u.location.id: u.page.content() if u.page else None
        for u in treatment_templates.uses(treatment)
    }
    treatment_templates.save_template(treatment, fields, None, commit=False)
    changes.append(f"{label}: {'write' if current is None else 'change'} the page template")
    for use in treatment_templates.uses(treatment):
        if use.page is not None and use.page.content() != before.get(use.location.id):
            changes.append(f"{label}: fill in the page at {use.location.slug}")
        elif use.page is not None and not use.following:
            changes.append(f"{label}: {use.location.slug} keeps its own version of the page")


def _apply_publish(clinic: Clinic, spec: LocationSpec, changes: list[str]) -> None:
    v = spec.values
    if not v.has("publish") or not v.flag("publish"):
        return
    location = _find(Location, clinic, spec.slug)
    if location.archived_at is not None:
        return
    count = _service(v, "publish", clinics.publish_location, location, None, commit=False)
    if count:
        changes.append(f"location {clinic.slug}/{spec.slug}: publish {count} page(s)")


def _apply_inbox(
    v: _Values, clinic: Clinic, location_id: int | None, label: str, changes: list[str]
) -> None:
    wanted = _channels(v)
    current = {
        (c.kind, c.target): c for c in clinic.channels if c.location_id == location_id and c.active
    }
    if set(current) != {(k, t) for k, t, _ in wanted}:
        clinics.set_inbox(clinic, [(k, t) for k, t, _ in wanted], None, location_id)
        changes.append(f"{label}: inbox {', '.join(t for _, t, _ in wanted) or 'none'}")
    for kind, target, secret in wanted:
        if secret is None:
            continue
        channel = next(
            c
            for c in clinic.channels
            if (c.kind, c.target, c.location_id) == (kind, target, location_id) and c.active
        )
        if channel.secret != secret:
            channel.secret = secret
            changes.append(f"{label}: new signing secret for {target}")
    db.session.flush()


def _channels(v: _Values) -> list[tuple[str, str, str | None]]:
    raw = v.node["inbox"]
    items = raw if isinstance(raw, CommentedSeq) else [raw]
    channels = []
    for i, item in enumerate(items):
        line = _item_line(raw, i) if isinstance(raw, CommentedSeq) else v.line("inbox")
        path = f"{v.path}.inbox" + (f"[{i}]" if isinstance(raw, CommentedSeq) else "")
        if isinstance(item, str):
            channels.append(("email", _email(item, line, path), None))
            continue
        _mapping(item, path, line, CHANNEL_KEYS)
        kinds = [k for k in ("email", "webhook") if k in item]
        if len(kinds) != 1:
            raise SetupFileError(line, path, "give either email: or webhook:, not both.")
        secret = item.get("secret")
        if secret is not None and (kinds[0] != "webhook" or not isinstance(secret, str)):
            raise SetupFileError(line, f"{path}.secret", "a secret is text, for webhooks only.")
        if kinds[0] == "email":
            channels.append(("email", _email(item["email"], line, path), None))
        else:
            url = item["webhook"]
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                raise SetupFileError(
                    line, f"{path}.webhook", "a webhook address starts with https://."
                )
            channels.append(("webhook", url[:500], secret))
    return channels


def _email(value: Any, line: int | None, path: str) -> str:
    try:
        return clinics.check_email(value)
    except SetupError as exc:
        raise SetupFileError(line, path, exc.message) from None


def _address(v: _Values, required: bool) -> tuple[str, str, str] | None:
    if not v.has("address"):
        if required:
            raise v.fail("address", "required: [street, town or city, postcode].")
        return None
    raw = v.node["address"]
    if (
        not isinstance(raw, CommentedSeq)
        or len(raw) != 3
        or not all(isinstance(p, str) for p in raw)
    ):
        raise v.fail("address", "expected [street, town or city, postcode], three pieces of text.")
    street = v.check("address", clinics.check_text, "address", raw[0], 200)
    city = v.check("address", clinics.check_text, "address", raw[1], 100)
    postcode = v.check("address", clinics.check_text, "address", raw[2], 16)
    return street, city, postcode


def _phone(v: _Values, required: bool) -> str | None:
    if not v.has("phone"):
        if required:
            raise v.fail("phone", "required.")
        return None
    raw = v.node["phone"]
    if not isinstance(raw, str):
        raise v.fail("phone", "write the phone number as text, such as 020 7946 0000.")
    return v.check("phone", clinics.check_phone, raw)


def _hours(v: _Values) -> list[dict[str, str]]:
    raw = v.node["hours"]
    if not isinstance(raw, CommentedSeq) or not all(isinstance(h, str) for h in raw):
        raise v.fail("hours", 'expected a list such as ["Mo-Fr 09:00-19:00", "Sa 10:00-16:00"].')
    return v.check("hours", clinics.check_hours, list(raw))


def _time_zone(v: _Values) -> str:
    raw = v.node["timezone"]
    if not isinstance(raw, str):
        raise v.fail("timezone", "expected a time zone name such as Europe/London.")
    return v.check("timezone", clinics.check_time_zone, raw)


def _location_details(location: Location) -> LocationDetails:
    return LocationDetails(
        name=location.name,
        street=location.street,
        city=location.city,
        postcode=location.postcode,
        phone=location.phone,
        opening_hours=list(location.opening_hours or []),
        time_zone=location.time_zone,
        nation=location.nation,
    )


def _find(model: type[Location] | type[Treatment], clinic: Clinic, slug: str) -> Any:
    return db.session.scalar(
        db.select(model).where(model.clinic_id == clinic.id, model.slug == slug)
    )


def _archive(
    row: Clinic | Location | Treatment, archived: bool, label: str, changes: list[str]
) -> None:
    from leads.models import utcnow

    if (row.archived_at is not None) != archived:
        row.archived_at = utcnow() if archived else None
        changes.append(f"{label}: {'archive' if archived else 'restore'}")


def _service(v: _Values, key: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except SetupError as exc:
        raise SetupFileError(v.line(key), f"{v.path}.{exc.field}", exc.message) from None


# -- writing the file ------------------------------------------------------------------


def export_file() -> str:
    """Every clinic, in the import's format (webhook secrets left out)."""
    data = {"clinics": [_export_clinic(c) for c in clinics.all_clinics()]}
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 100
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _export_clinic(clinic: Clinic) -> dict[str, Any]:
    entry: dict[str, Any] = {"slug": clinic.slug, "name": clinic.name, "tagline": clinic.tagline}
    if clinic.retention_months is not None:
        entry["retention_months"] = clinic.retention_months
    for key in ("brand_colour", "accent_colour"):
        if getattr(clinic, key):
            entry[key] = getattr(clinic, key)
    entry["inbox"] = _export_inbox(clinic, None)
    if clinic.sla_minutes is not None:
        entry["sla_minutes"] = clinic.sla_minutes
    if clinic.escalate_to:
        entry["escalate_to"] = [a.strip() for a in clinic.escalate_to.split(",") if a.strip()]
    if clinic.archived_at is not None:
        entry["archived"] = True
    entry["treatments"] = [_export_treatment(t) for t in clinic.treatments]
    entry["locations"] = [_export_location(loc) for loc in clinic.locations]
    rules = routing.rules_of(clinic)
    if rules:
        entry["routing"] = [_export_rule(clinic, rule) for rule in rules]
    return entry


def _export_rule(clinic: Clinic, rule: Any) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if rule.location is not None:
        item["location"] = rule.location.slug
    if rule.treatment is not None:
        item["treatment"] = rule.treatment.slug
    item["pool"] = [u.email for u in sorted(rule.members, key=lambda u: u.id)]
    if rule.channel_ids:
        item["notify"] = [c.target for c in clinic.channels if c.id in rule.channel_ids]
    return item


def _export_inbox(clinic: Clinic, location_id: int | None) -> Any:
    channels: list[InboxChannel] = sorted(
        (c for c in clinic.channels if c.location_id == location_id and c.active),
        key=lambda c: c.id,
    )
    items: list[Any] = [c.target if c.kind == "email" else {"webhook": c.target} for c in channels]
    return items[0] if len(items) == 1 and isinstance(items[0], str) else items


def _export_treatment(treatment: Treatment) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "slug": treatment.slug,
        "name": treatment.name,
        "summary": treatment.summary,
    }
    template = treatment_templates.template_for(treatment)
    if template is not None:
        entry["page"] = {
            name: LiteralScalarString(value) if "\n" in value else value
            for name, value in template.content().items()
            if value
        }
    if treatment.archived_at is not None:
        entry["archived"] = True
    return entry


def _export_location(location: Location) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "slug": location.slug,
        "name": location.name,
        "address": [location.street, location.city, location.postcode],
        "phone": location.phone,
        "timezone": location.time_zone,
        "nation": location.nation,
        "hours": format_hours(location.opening_hours).splitlines(),
        "treatments": [t.slug for t in location.treatments],
    }
    own = _export_inbox(location.clinic, location.id)
    if own:
        entry["inbox"] = own
    if location.archived_at is not None:
        entry["archived"] = True
    return entry
