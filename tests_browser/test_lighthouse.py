"""Lighthouse, mobile settings, on a location page and a treatment page: 95 or more in
performance, accessibility, best practices and SEO."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests_browser.service import Service
from tests_browser.tools import ARTIFACTS, CATEGORIES, failing_audits, lighthouse, scores

TARGET = 95


@pytest.mark.parametrize(
    "path",
    ["/aurelia/harley-street/", "/aurelia/harley-street/mesotherapy/"],
    ids=["location", "treatment"],
)
def test_lighthouse_scores(service: Service, path: str, summary: Callable[[str], None]) -> None:
    name = path.strip("/").replace("/", "--")
    report = lighthouse(service.url(path), ARTIFACTS / "lighthouse" / f"{name}.json")
    got = scores(report)
    line = f"Lighthouse (mobile) {path}: " + ", ".join(f"{c} {got[c]}" for c in CATEGORIES)
    print(line)
    summary(line)
    short = {c: failing_audits(report, c) for c in CATEGORIES if got[c] < TARGET}
    assert not short, f"{got} below {TARGET}: {short}"
