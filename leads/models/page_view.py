"""Page views counted per page per day: no cookie, no address, no visitor."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leads.extensions import db


class PageView(db.Model):
    """How many times people (not bots) viewed a published page on one day (UTC).

    Written only by :func:`leads.services.page_views.flush`, which adds the
    counts the web processes kept in Redis.
    """

    __tablename__ = "page_views"
    __table_args__ = (sa.UniqueConstraint("page_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(sa.ForeignKey("pages.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(sa.Date, index=True)
    views: Mapped[int] = mapped_column(default=0)
