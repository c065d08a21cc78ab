"""Lighthouse, mobile settings, on a location page and two treatment pages (one
with a hero image, a gallery of six photos and the clinic's logo): 95 or more in
performance, accessibility, best practices and SEO."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests_browser.service import Service
from tests_browser.tools import ARTIFACTS, CATEGORIES, failing_audits, lighthouse, scores

TARGET = 95


@pytest.mark.parametrize(
    "path",
    [
        "/aurelia/harley-street/",
        "/aurelia/harley-street/mesotherapy/",
        # A hero image, a gallery of six photos, an image in the body, the logo.
        "/aurelia/harley-street/prp/",
    ],
    ids=["location", "treatment", "treatment-with-pictures"],
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
