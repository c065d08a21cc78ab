"""A local SMTP server for the benchmarks: counts what arrives and when, and can
answer slowly (one second a message) like a struggling mail provider."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time

from aiosmtpd.controller import Controller


class MailSink:
    def __init__(self) -> None:
        self.slow = False
        self.count = 0
        self.arrivals: list[float] = []
        # Reply-To (the patient's address) -> when the clinic's email arrived.
        self.inbox_arrivals: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.slow:
            await asyncio.sleep(1.0)
        now = time.time()
        headers = email.message_from_bytes(
            envelope.content, policy=email.policy.compat32, _class=email.message.Message
        )
        reply_to = headers.get("Reply-To", "")
        with self.lock:
            self.count += 1
            self.arrivals.append(now)
            if reply_to:
                address = reply_to.rsplit("<", 1)[-1].rstrip(">").strip()
                self.inbox_arrivals[address] = now
        return "250 OK"

    def reset(self) -> None:
        with self.lock:
            self.count = 0
            self.arrivals.clear()
            self.inbox_arrivals.clear()


def start_sink(port: int) -> tuple[MailSink, Controller]:
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return sink, controller
