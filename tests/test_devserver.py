"""``make run``'s launcher: everything starts, a lead reaches the Maildir, and
SIGTERM leaves no process behind."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent


def wait_for(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


def get(opener, url):
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.read().decode()
    except OSError:
        return None, ""


@pytest.mark.slow
def test_launcher_runs_web_worker_and_redis_then_stops_cleanly(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL", "SMTP_URL", "CLINIC_LEADS_ENV")
    }
    # This client posts as soon as the page arrives: let the time trap allow it.
    env.update(
        INSTANCE_PATH=str(tmp_path / "instance"),
        PORT=str(port),
        SWEEP_INTERVAL_SECONDS="5",
        SPAM_MIN_FILL_SECONDS="0",
        SPAM_INSTANT_SECONDS="0",
    )
    launcher = subprocess.Popen(
        [sys.executable, "-m", "leads.devserver"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{port}"
        url = f"{base}/aurelia/harley-street/prp/"
        status, html = wait_for(lambda: (r := get(opener, url))[0] == 200 and r, 90, "the page")
        family = psutil.Process(launcher.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in family)
        assert "flask" in names and "worker.py" in names
        worker = next(p for p in family if "worker.py" in " ".join(p.cmdline()))
        redis_socket = worker.environ()["REDIS_URL"].removeprefix("unix://")
        family += [
            p
            for p in psutil.process_iter(["cmdline"])
            if "redis-server" in " ".join(p.info["cmdline"] or [])
            and redis_socket in " ".join(p.info["cmdline"] or [])
        ]
        assert any("redis-server" in " ".join(p.cmdline()) for p in family)

        fields = {
            name: re.search(rf'name="{name}"[^>]*value="([^"]+)"', html).group(1)
            for name in ("rendered",)
        }
        fields.update(
            full_name="Robin Example",
            email="robin@example.org",
            phone="07911 123456",
            treatment="prp",
            contact_method="phone",
            contact_time="any",
            consent_enquiry="y",
        )
        body = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(url, data=body)  # noqa: S310 - our loopback URL
        with opener.open(request, timeout=10) as response:
            assert response.url.endswith("/thank-you/")
        inbox = tmp_path / "instance" / "mail" / "aurelia" / "new"
        wait_for(lambda: inbox.exists() and any(inbox.iterdir()), 30, "the clinic's email")
        assert b"Robin Example" in next(inbox.iterdir()).read_bytes()
    finally:
        launcher.send_signal(signal.SIGTERM)
        output, _ = launcher.communicate(timeout=30)
    assert "Clinic Leads is running at" in output and "Stopped." in output
    for process in family:
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE, process
