"""The project's own errors: services raise them, and the blueprints (through
the handlers in ``leads.blueprints.errors``) turn them into answers."""

from __future__ import annotations


class NotFound(LookupError):
    """Nothing there, or nothing this user may see: answered with 404 (the
    same answer in both cases)."""


class Moved(Exception):
    """What was asked for lives at ``path`` now: answered with a 301 that
    keeps the request's query string (a 302 when the move is for now only,
    ``permanent=False``: an archived location's patients sent elsewhere)."""

    def __init__(self, path: str, permanent: bool = True) -> None:
        super().__init__(path)
        self.path = path
        self.permanent = permanent
