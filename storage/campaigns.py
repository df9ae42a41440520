"""Campaigns in the index: any number, each a notice's collection, draft → open → closed.

The first is seeded from config ([campaign]/[[kinds]], or the shipped notice) every
time the index is opened, so a config-only installation works as before; others come
from notices (`mailroom campaign add --from-notice`, the web form) and are edited in
the index. A message's campaign decision is kept on the message (`campaign_code`,
`campaign_status`); the helpers here give the decision what it needs from the index:
the open campaigns, the campaigns of the messages a reply refers to, and what a unit
has already filed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from pipeline.campaign import STATES, Campaign
from pipeline.errors import MailroomError
from storage.db import Database
from storage.models import Base, Message, utcnow

log = logging.getLogger(__name__)
ASSIGNED, OTHER, TRIAGE, NONE = "assigned", "other", "triage", "none"
CONFIG, NOTICE = "config", "notice"


class CampaignError(MailroomError):
    """A campaign change that cannot be made as asked (unknown code, bad state)."""


class CampaignRecord(Base):
    """One campaign: its definition (pipeline.campaign.Campaign as JSON) and state."""

    __tablename__ = "campaigns"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    source: Mapped[str] = mapped_column(String(16), default=NOTICE)  # config | notice
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notice: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # sentences, problems
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def campaign(self) -> Campaign:
        return Campaign.from_dict({**self.spec, "code": self.code, "state": self.state})


def load_campaigns(session: Session) -> list[Campaign]:
    """Returns every campaign, open ones first, then by when they were added."""
    order = {"open": 0, "draft": 1, "closed": 2}
    rows = session.scalars(select(CampaignRecord).order_by(CampaignRecord.created_at)).all()
    return sorted((row.campaign() for row in rows), key=lambda c: order.get(c.state, 3))


def revision(session: Session) -> tuple:
    """Returns what changes whenever a campaign does: asked for every message, so one plain
    statement (no ORM, no compiling) on the session's connection."""
    rows = session.connection().exec_driver_sql("SELECT code, updated_at FROM campaigns")
    return tuple(tuple(row) for row in rows)


def save_campaign(
    session: Session,
    campaign: Campaign,
    *,
    actor: str,
    source: str = NOTICE,
    notice: dict[str, Any] | None = None,
) -> CampaignRecord:
    """Adds the campaign, or replaces the definition of the one with its code."""
    if campaign.state not in STATES:
        raise CampaignError(f"unknown state {campaign.state!r}; states are {', '.join(STATES)}")
    row = session.get(CampaignRecord, campaign.code)
    if row is None:
        row = CampaignRecord(code=campaign.code, source=source, created_by=actor[:100])
        session.add(row)
    row.name, row.state = campaign.name[:200], campaign.state
    row.spec = campaign.to_dict()
    if notice is not None:
        row.notice = notice
    row.updated_at = datetime.now(UTC)
    return row


def record(session: Session, code: str) -> CampaignRecord:
    """Returns the campaign row with this code; CampaignError naming the codes if none."""
    row = session.get(CampaignRecord, code) if code else None
    if row is None:
        codes = ", ".join(session.scalars(select(CampaignRecord.code)).all())
        raise CampaignError(f"no campaign {code!r}; campaigns are: {codes or '(none)'}")
    return row


def seed(db: Database, campaign: Campaign) -> None:
    """Puts config's campaign in the index (its state kept), closes config campaigns no
    longer in config, and files messages from before campaigns were data under it.

    Several processes opening a fresh index at once may both add the campaign: the one
    that loses the race finds it there the second time.
    """
    try:
        _seed(db, campaign)
    except IntegrityError:
        _seed(db, campaign)


def _seed(db: Database, campaign: Campaign) -> None:
    with db.session() as session:
        row = session.get(CampaignRecord, campaign.code)
        if row is None:
            save_campaign(session, campaign, actor="config", source=CONFIG)
            log.info("campaign %s (%s) added from config", campaign.code, campaign.name)
        elif row.source == CONFIG and row.campaign() != _with_state(campaign, row.state):
            save_campaign(session, _with_state(campaign, row.state), actor="config", source=CONFIG)
        for old in session.scalars(
            select(CampaignRecord).where(
                CampaignRecord.source == CONFIG,
                CampaignRecord.code != campaign.code,
                CampaignRecord.state == "open",
            )
        ):
            old.state, old.updated_at = "closed", datetime.now(UTC)
            log.info("campaign %s closed: config names %s now", old.code, campaign.code)
        moved = session.execute(
            update(Message)
            .where(Message.campaign_status.is_(None))
            .values(campaign_code=campaign.code, campaign_status=ASSIGNED, campaign_confidence=1.0)
        ).rowcount
        if moved:
            log.info(
                "%d messages from before campaigns were data filed under %s", moved, campaign.code
            )


def _with_state(campaign: Campaign, state: str) -> Campaign:
    from dataclasses import replace

    return replace(campaign, state=state)


def thread_campaigns(session: Session, refs: list[str]) -> dict[str, str | None]:
    """Returns {Message-ID: campaign code, or None for 其他来件} for the referred messages
    whose campaign is settled."""
    if not refs:
        return {}
    rows = session.execute(
        select(Message.message_id, Message.campaign_code, Message.campaign_status).where(
            Message.message_id.in_(refs[:50]), Message.campaign_status.in_((ASSIGNED, OTHER))
        )
    ).all()
    return {mid: (code if status == ASSIGNED else None) for mid, code, status in rows}


def unit_history(session: Session, unit_code: str) -> frozenset[str]:
    """Returns the campaigns the unit has filed material under."""
    rows = session.scalars(
        select(Message.campaign_code)
        .where(
            Message.unit_code == unit_code,
            Message.status == "filed",
            Message.campaign_status == ASSIGNED,
        )
        .distinct()
        .limit(20)
    )
    return frozenset(code for code in rows if code)


def set_state(session: Session, code: str, state: str) -> Campaign:
    """Returns the campaign after moving it to `state` (draft, open or closed)."""
    if state not in STATES:
        raise CampaignError(f"unknown state {state!r}; states are {', '.join(STATES)}")
    row = record(session, code)
    row.state, row.updated_at = state, datetime.now(UTC)
    return row.campaign()
