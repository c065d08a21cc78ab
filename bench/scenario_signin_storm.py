"""A landing page's p95, calm and during a storm of 100 parallel wrong sign-ins.

Both runs use the same visitors on the same page; the storm comes from 100
addresses at once (``bench/signin_storm.py``), each sending wrong passwords for
an unknown account as fast as it is answered, so every attempt needs a password
check until the per-address limit refuses it. Picked up by ``make bench``;
alone: ``python -m bench.run --only signin_storm``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from bench.run import FORM_PATH, ROOT, Bench, Row

VISITORS = 2
STORM = 100


def _spec(bench: Bench, visitors: int, storm: int, seconds: float) -> str:
    return json.dumps(
        {
            "port": bench.port,
            "path": FORM_PATH,
            "visitors": visitors,
            "storm": storm,
            "seconds": seconds,
            "attempts": 50,
        }
    )


def _result(stdout: str) -> dict[str, Any]:
    return json.loads(stdout.strip().splitlines()[-1])


def _load(bench: Bench, storm: int) -> dict[str, Any]:
    """The landing page's visitors, timed; with ``storm``, the storm runs in a
    process of its own, so its threads never take the visitors' interpreter."""
    attack = None
    if storm:
        # The storm lasts a little longer than the visitors, so it covers them.
        attack = subprocess.Popen(
            [sys.executable, "-m", "bench.signin_storm", _spec(bench, 0, storm, bench.seconds + 2)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert attack.stdout is not None
        attack.stdout.readline()  # "ready": its sign-in forms are loaded, the storm begins
    completed = subprocess.run(
        [sys.executable, "-m", "bench.signin_storm", _spec(bench, VISITORS, 0, bench.seconds)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result = _result(completed.stdout)
    if attack is not None:
        out, _ = attack.communicate(timeout=600)
        result["sign_ins"] = _result(out)["sign_ins"]
    return result


def run(bench: Bench) -> list[Row]:
    _load(bench, 0)  # warm the page and the connections
    calm = _load(bench, 0)
    storm = _load(bench, STORM)
    answers = ", ".join(f"{n} x {code}" for code, n in storm["sign_ins"].items())
    print(
        f"\n  landing p95 calm {calm['p95_ms']:.1f} ms, during the storm {storm['p95_ms']:.1f} ms "
        f"(ratio {storm['p95_ms'] / calm['p95_ms']:.2f}); sign-in answers: {answers}",
        flush=True,
    )
    return [
        Row(
            f"Landing page p95 during {STORM} parallel wrong sign-ins",
            storm["p95_ms"],
            calm["p95_ms"],
            "ms",
            "<= 2.0",
            "the same page, calm",
            note=f"sign-in answers: {answers}",
        )
    ]
