"""The index: SQLAlchemy 2 models for messages, items, units and decisions.

Portable by design: no SQLite-only types or functions, so the same models and
migrations run on PostgreSQL. Times are stored in UTC and come back aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always returned time-zone aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Clipped(TypeDecorator):
    """A VARCHAR(n) for text that comes from the sender: longer values keep their first n
    characters (the raw message keeps every one).

    SQLite ignores the length but PostgreSQL refuses a longer value, so a 400-character
    Content-Type or a 2,000-character display name would stop the whole message there.
    Paths and codes are not clipped: a cut path would point at the wrong file.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None or len(value) <= self.impl.length:
            return value
        return value[: self.impl.length]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Unit(Base):
    """A unit from the registry (config is the source; this copy is for joins and history)."""

    __tablename__ = "units"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16), default="other")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SenderAddress(Base):
    """A sender address known to belong to a unit, configured or learned from triage."""

    __tablename__ = "sender_addresses"
    address: Mapped[str] = mapped_column(Clipped(320), primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"))
    source: Mapped[str] = mapped_column(String(16), default="learned")  # configured | learned
    learned_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IngestRun(Base):
    """One run of ingestion (a CLI call or a scheduled poll) and what it did."""

    __tablename__ = "ingest_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(Clipped(500))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    messages: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    items: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)


class Message(Base):
    """One received email, recorded whether or not it is material."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    raw_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    raw_path: Mapped[str] = mapped_column(String(500))
    raw_size: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str] = mapped_column(Clipped(998), default="", index=True)
    source: Mapped[str] = mapped_column(Clipped(1000), default="")
    received_at: Mapped[datetime] = mapped_column(index=True)  # the mailbox's clock
    received_source: Mapped[str] = mapped_column(
        String(16), default=""
    )  # imap|received|date|ingest
    header_date: Mapped[datetime | None]  # the sender's Date: header
    from_addr: Mapped[str] = mapped_column(Clipped(320), default="", index=True)
    from_name: Mapped[str] = mapped_column(Clipped(500), default="")
    to_addrs: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    unit_code: Mapped[str | None] = mapped_column(ForeignKey("units.code"), index=True)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16), index=True)
    # filed | triage | not_material | error | quarantined
    is_material: Mapped[bool] = mapped_column(Boolean, default=True)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    forwarded_from: Mapped[str | None] = mapped_column(Clipped(320))
    forwarded_by: Mapped[str | None] = mapped_column(Clipped(320))
    # The campaign decision (storage/campaigns.py): the campaign whose kinds and folders the
    # message uses, and whether that is settled. Only `assigned` is counted by its tracker;
    # `other` is 其他来件 (campaign_code null); `triage` waits for a person (the code is then
    # the likeliest candidate). Null status: filed before campaigns were data (migration).
    campaign_code: Mapped[str | None] = mapped_column(String(64), index=True)
    campaign_status: Mapped[str | None] = mapped_column(String(16))  # assigned | other | triage
    campaign_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    # Why a message is not material (bounce, auto_reply, bulk, department, inquiry).
    not_material_reason: Mapped[str | None] = mapped_column(String(32), index=True)
    answered_at: Mapped[datetime | None]  # an inquiry answered (待回复 no more)
    answered_by: Mapped[str | None] = mapped_column(String(100))
    folder: Mapped[str | None] = mapped_column(String(1000))  # view folder, relative to archive
    error: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id"))
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[Item]] = relationship(
        back_populates="message", order_by="Item.seq", cascade="all, delete-orphan"
    )
    decisions: Mapped[list[DecisionRecord]] = relationship(
        back_populates="message", cascade="all, delete-orphan"
    )


class Item(Base):
    """One file (or link, or body text) that came with a message."""

    __tablename__ = "items"
    __table_args__ = (Index("ix_items_sha_first", "sha256", "duplicate_of_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Clipped(1000))
    declared_type: Mapped[str] = mapped_column(Clipped(200), default="")
    mime: Mapped[str] = mapped_column(Clipped(200), default="")
    media: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16), default="material")  # material | decorative
    kind: Mapped[str | None] = mapped_column(String(64), index=True)
    kind_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), default="ok", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    blob_path: Mapped[str | None] = mapped_column(String(500))  # content-addressed copy
    path: Mapped[str | None] = mapped_column(String(1000))  # readable view, relative
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    container_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    url: Mapped[str | None] = mapped_column(Text)
    url_expiry: Mapped[str | None] = mapped_column(String(32))
    thumbnail: Mapped[str | None] = mapped_column(String(500))
    preview: Mapped[str | None] = mapped_column(String(500))
    web_video: Mapped[str | None] = mapped_column(String(500))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    text: Mapped[str] = mapped_column(Text, default="")  # extracted text, for search
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="items")
    duplicate_of: Mapped[Item | None] = relationship(
        remote_side="Item.id", foreign_keys=[duplicate_of_id]
    )
    container: Mapped[Item | None] = relationship(
        remote_side="Item.id", foreign_keys=[container_id]
    )


def first_copy(session: Session, sha: str) -> int | None:
    """Return the id of the item holding the first filed copy of these bytes, if any."""
    return session.scalar(
        select(Item.id)
        .where(Item.sha256 == sha, Item.duplicate_of_id.is_(None), Item.role == "material")
        .order_by(Item.id)
        .limit(1)
    )


def first_copies(session: Session, shas: list[str]) -> dict[str, int]:
    """Returns {sha256: id of the item holding its first filed copy} for those filed before."""
    found: dict[str, int] = {}
    for start in range(0, len(shas), 500):  # bound the IN list
        rows = session.execute(
            select(Item.sha256, func.min(Item.id))
            .where(
                Item.sha256.in_(shas[start : start + 500]),
                Item.duplicate_of_id.is_(None),
                Item.role == "material",
            )
            .group_by(Item.sha256)
        )
        found.update({sha: item_id for sha, item_id in rows})
    return found


class DecisionRecord(Base):
    """A unit or kind decision with its clues, by the machine or by a person."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    subject: Mapped[str] = mapped_column(String(16))  # unit | kind
    value: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    level: Mapped[str] = mapped_column(String(8), default="none")
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    decided_by: Mapped[str] = mapped_column(String(100), default="auto")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="decisions")

    @classmethod
    def of(cls, subject: str, match: Any, **fields: Any) -> DecisionRecord:
        """Records the pipeline's decision `match` (value, confidence, level, evidence())."""
        fields["evidence"] = {**match.evidence(), **fields.get("evidence", {})}
        return cls(
            subject=subject,
            value=match.value,
            confidence=match.confidence,
            level=match.level,
            **fields,
        )


class IngestError(Base):
    """A failure while ingesting: which stage, the error, and the raw copy kept."""

    __tablename__ = "ingest_errors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id"))
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    raw_sha256: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Clipped(1000), default="")
    stage: Mapped[str] = mapped_column(String(32))
    error: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SourceFile(Base):
    """A file already read from the local folder source, so it is not read again."""

    __tablename__ = "source_files"
    __table_args__ = (UniqueConstraint("path", "size", "mtime_ns"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(2000))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """A change made by a person (triage, re-filing), kept so it can be reviewed and undone."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    undone: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
