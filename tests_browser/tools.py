"""The checking tools from node_modules: axe-core, the Nu Html Checker, Lighthouse."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# The same flags for Playwright's Chromium and Lighthouse's: no sandbox (CI
# runs as root in a container), no GPU, nothing talking to the network on its own.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BLOCKING_IMPACTS = ("serious", "critical")


def tool(path: str) -> Path:
    found = NODE_MODULES / path
    if not found.exists():
        raise RuntimeError(f"{found} is missing: run `npm ci` at the repository root")
    return found


# -- axe-core ---------------------------------------------------------------


def axe(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; returns its violations."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the page's CSP (no inline
        # script) does not govern, so the page is checked under its real policy.
        page.evaluate(tool("axe-core/axe.min.js").read_text() + "\n;undefined")
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return result["violations"]


def blocking(violations: list[dict[str, Any]]) -> list[str]:
    """The serious and critical violations, one readable line each."""
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in violations
        if v.get("impact") in BLOCKING_IMPACTS
    ]


# -- the Nu Html Checker -----------------------------------------------------


def validate_html(files: list[Path]) -> list[str]:
    """Check saved HTML files with vnu; returns its errors, one line each."""
    completed = subprocess.run(
        [
            "java",
            "-jar",
            str(tool("vnu-jar/build/dist/vnu.jar")),
            "--errors-only",
            "--format",
            "json",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # vnu writes its report to stderr and exits 1 when it found errors.
    report = json.loads(completed.stderr or "{}")
    return [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine', '?')}: {m.get('message')}"
        f" [{m.get('extract', '').strip()}]"
        for m in report.get("messages", [])
        if m.get("type") == "error" or m.get("subType") == "fatal"
    ]


# -- Lighthouse ----------------------------------------------------------------

CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


def lighthouse(url: str, output: Path) -> dict[str, Any]:
    """Run Lighthouse with its mobile defaults; returns the JSON report."""
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(tool(".bin/lighthouse")),
        url,
        "--quiet",
        "--output=json",
        f"--output-path={output}",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={' '.join(CHROMIUM_FLAGS)}",
    ]
    # Lighthouse launching its own Chromium fails now and then on a busy machine
    # (the run ends before any page is measured, or its trace misses the page
    # load: NO_NAVSTART, "Please run Lighthouse again"; both happened twice in
    # a row in one CI run): up to four tries, a moment apart. Scores are
    # judged by the caller either way.
    attempts = 4
    for attempt in range(attempts):
        if attempt:
            time.sleep(2)
        run = subprocess.run(
            command,
            env={**os.environ, "CHROME_PATH": CHROMIUM},
            timeout=300,
            capture_output=True,
            text=True,
        )
        if run.returncode == 0:
            return json.loads(output.read_text())
    raise RuntimeError(f"lighthouse failed {attempts} times: {run.stderr[-2000:]}")


def scores(report: dict[str, Any]) -> dict[str, int]:
    return {name: round((report["categories"][name]["score"] or 0) * 100) for name in CATEGORIES}


def failing_audits(report: dict[str, Any], category: str) -> list[str]:
    """The audits that cost ``category`` points, for the failure message."""
    lines = []
    for ref in report["categories"][category]["auditRefs"]:
        audit = report["audits"][ref["id"]]
        if ref.get("weight") and audit.get("score") is not None and audit["score"] < 1:
            lines.append(f"{ref['id']} ({audit['score']}): {audit.get('displayValue', '')}")
    return lines
