"""Embedded inbox: one Maildir per clinic under the instance folder.

Any mail client reads a Maildir. The file name is derived from the
Message-ID, so a message delivered twice is stored once.
"""

from __future__ import annotations

import hashlib
import mailbox
import os
from email.message import EmailMessage

from leads.delivery.base import TransientError


class MaildirMailer:
    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def send(
        self,
        message: EmailMessage,
        *,
        mailbox: str,
        wire: bytes | None = None,
        smtputf8: bool = False,
    ) -> None:
        """Store ``message`` once. A Maildir file has plain LF line ends, so it
        is encoded here as such (``wire`` is SMTP's encoding and is not used);
        with ``smtputf8`` its headers are written in UTF-8, as they would travel."""
        folder = self.path(mailbox)
        key = hashlib.sha256(message["Message-ID"].encode()).hexdigest()[:40]
        try:
            box = _maildir(folder)
            if _exists(folder, key):
                return
            tmp = os.path.join(folder, "tmp", key)
            with open(tmp, "wb") as fh:
                fh.write(message.as_bytes(policy=message.policy.clone(utf8=smtputf8)))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, os.path.join(folder, "new", key))
            del box
        except OSError as exc:
            raise TransientError(f"maildir not writable: {exc.strerror}") from exc


def _maildir(folder: str) -> mailbox.Maildir:
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    return mailbox.Maildir(folder, create=True)


def _exists(folder: str, key: str) -> bool:
    if os.path.exists(os.path.join(folder, "new", key)):
        return True
    cur = os.path.join(folder, "cur")
    return any(name.split(":", 1)[0] == key for name in os.listdir(cur))
