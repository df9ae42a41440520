"""Ingesting one raw message: store it, parse it, decide, file and index it.

Order of work, so nothing is lost: the raw bytes are stored first (by content);
everything after that happens in one index transaction; a failure after the
raw store records the message with its error and the raw copy stays.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline.classify import ItemPlan, message_flags, message_verdict, plan_items
from pipeline.doctext import document_texts
from pipeline.errors import MailroomError
from pipeline.identify import UnitMatch, identify_unit
from pipeline.message import ParsedMessage
from pipeline.parse import parse_message
from pipeline.units import UnitDirectory
from storage import layout
from storage.models import DecisionRecord, IngestError, IngestRun, Item, Message, first_copy
from storage.search import index_message
from workers import media_jobs
from workers.context import AppContext
from workers.ingest_result import IngestOutcome, SourceRef

log = logging.getLogger(__name__)


class Ingestor:
    """Ingests raw messages into the archive and index, counting into one IngestRun."""

    def __init__(self, ctx: AppContext, source_label: str):
        self.ctx = ctx
        with ctx.db.session() as session:
            run = IngestRun(source=source_label[:500])
            session.add(run)
            session.flush()
            self.run_id = run.id
        self.outcomes: list[IngestOutcome] = []

    def ingest(self, raw: bytes, source: SourceRef) -> IngestOutcome:
        """Files one message and returns what happened; never raises for bad input."""
        try:
            outcome = self._ingest(raw, source)
        except Exception as exc:  # the next message must go on whatever happened here
            log.exception("cannot ingest a message from %s", source.label())
            outcome = self._record_failure(raw, source, "ingest", exc)
        if outcome.status not in ("duplicate", "error") and outcome.message_pk is not None:
            self._queue_media(outcome)
        self.outcomes.append(outcome)
        return outcome

    def _queue_media(self, outcome: IngestOutcome) -> None:
        """Submits the message's derivative jobs (opening its archives first), after its commit."""
        try:
            if outcome.media is not None:  # queued in the filing transaction
                media_jobs.submit_all(outcome.media)
            else:
                media_jobs.after_ingest(self.ctx, outcome.message_pk)
        except Exception:  # the message is filed; its thumbnails can be made later
            log.exception(
                "cannot queue media work for message %d (`mailroom media run` queues it again)",
                outcome.message_pk,
            )

    def finish(self) -> IngestRun:
        """Closes the run with its counts and returns it."""
        with self.ctx.db.session() as session:
            run = session.get(IngestRun, self.run_id)
            run.finished_at = datetime.now(UTC)
            run.messages = sum(1 for o in self.outcomes if o.status != "duplicate")
            run.duplicates = sum(1 for o in self.outcomes if o.status == "duplicate")
            run.items = sum(o.items for o in self.outcomes)
            run.errors = sum(1 for o in self.outcomes if o.status == "error")
        return run

    # -- the steps ---------------------------------------------------------------

    def _ingest(self, raw: bytes, source: SourceRef) -> IngestOutcome:
        sha = hashlib.sha256(raw).hexdigest()
        with self.ctx.db.session() as session:
            known = session.scalar(select(Message.id).where(Message.raw_sha256 == sha))
        if known is not None:
            return IngestOutcome("duplicate", known)
        limit = self.ctx.config.limits.max_message_bytes
        _, raw_rel = self.ctx.archive.put_raw(raw)
        if len(raw) > limit:
            raise MailroomError(
                f"message of {len(raw)} bytes is over limits.max_message_bytes "
                f"({limit}); the raw copy is kept at {raw_rel}"
            )
        parsed = parse_message(raw)
        with self.ctx.db.session() as session:
            directory = self.ctx.unit_directory(session)
            # The same Message-ID from the same sender with the same subject is the same
            # message delivered again (another mailbox, a re-scan after UIDVALIDITY changed).
            same_id = parsed.message_id and session.scalar(
                select(Message.id)
                .where(
                    Message.message_id == parsed.message_id,
                    Message.from_addr == parsed.from_addr[:320],
                    Message.subject == parsed.subject,
                )
                .limit(1)
            )
        if same_id:
            log.info("skipped %s: already ingested with the same Message-ID", parsed.message_id)
            return IngestOutcome("duplicate", same_id, parsed.message_id)
        received, received_source = _received(parsed, source)
        try:
            return self._file(
                parsed, raw, sha, raw_rel, received, received_source, source, directory
            )
        except IntegrityError:
            with self.ctx.db.session() as session:
                known = session.scalar(select(Message.id).where(Message.raw_sha256 == sha))
            if known is None:
                raise
            log.info("skipped %s: filed by another process at the same moment", sha[:12])
            return IngestOutcome("duplicate", known, parsed.message_id)

    def _file(
        self,
        parsed: ParsedMessage,
        raw: bytes,
        sha: str,
        raw_rel: str,
        received: datetime,
        received_source: str,
        source: SourceRef,
        directory: UnitDirectory,
    ) -> IngestOutcome:
        ctx, cfg = self.ctx, self.ctx.config
        documents = document_texts(parsed.parts)
        match = identify_unit(
            parsed,
            directory,
            department=ctx.department(),
            threshold=cfg.identify.confident_threshold,
            documents=documents,
        )
        verdict = message_verdict(parsed, match.from_department)
        plans = plan_items(
            parsed,
            ctx.campaign,
            received,
            documents=documents,
            decorative_max_bytes=cfg.identify.decorative_max_bytes,
            decorative_max_pixels=cfg.identify.decorative_max_pixels,
        )
        flags = list(verdict.flags)
        if verdict.is_material:
            flags += message_flags(plans, ctx.campaign, received)
        if match.forwarded_by:
            flags.append("forwarded")
        unit = match.value if verdict.is_material else None
        status = "not_material" if not verdict.is_material else ("filed" if unit else "triage")
        created: list[str] = []
        try:
            with ctx.db.session() as session:
                message = Message(
                    raw_sha256=sha,
                    raw_path=raw_rel,
                    raw_size=len(raw),
                    message_id=parsed.message_id[:998],
                    source=source.label()[:1000],
                    received_at=received,
                    received_source=received_source,
                    header_date=parsed.date,
                    from_addr=parsed.from_addr[:320],
                    from_name=parsed.from_name[:500],
                    to_addrs=parsed.to[:50],
                    subject=parsed.subject,
                    body_text=parsed.body_text,
                    body_html=parsed.body_html,
                    unit_code=unit,
                    confidence=match.confidence,
                    status=status,
                    is_material=verdict.is_material,
                    flags=flags,
                    forwarded_from=_forwarded_from(parsed, match),
                    forwarded_by=match.forwarded_by,
                    error="; ".join(sorted(set(parsed.defects)))[:2000] or None,
                    run_id=self.run_id,
                    items=[],  # a new message: no lazy load of its (empty) collections
                    decisions=[_unit_decision(match, verdict.reason)],
                )
                session.add(message)
                # Inserted before any view file is made: the same bytes filed by another
                # process at this moment fail here (unique raw hash), not after linking.
                session.flush()
                kinds = self._add_items(session, message, parsed, plans, created)
                index_message(session, message.id, new=True)  # searchable in the same transaction
                jobs = media_jobs.enqueue_filed(session, message)
                if any(i.duplicate_of_id for i in message.items) and "duplicate" not in flags:
                    message.flags = [*flags, "duplicate"]
                for error in (i for i in message.items if i.status == "corrupt"):
                    session.add(
                        IngestError(
                            run_id=self.run_id,
                            message_pk=message.id,
                            stage="decode",
                            error=error.error or "corrupt",
                            raw_sha256=sha,
                            source=source.label()[:1000],
                        )
                    )
        except BaseException:
            for rel in created:
                ctx.archive.unlink_view(rel)
            raise
        count = sum(kinds.values())
        log.info(
            "%s %s unit=%s items=%d from %s: %s",
            status,
            parsed.message_id or sha[:12],
            unit or "-",
            count,
            parsed.from_addr or "?",
            parsed.subject[:60],
        )
        return IngestOutcome(status, message.id, parsed.message_id, count, kinds, media=jobs)

    def _add_items(
        self,
        session: Session,
        message: Message,
        parsed: ParsedMessage,
        plans: list[ItemPlan],
        created: list[str],
    ) -> dict[str, int]:
        archive, campaign = self.ctx.archive, self.ctx.campaign
        unit = next((u for u in self.ctx.config.units if u.code == message.unit_code), None)
        day = campaign.local_day(message.received_at)
        kinds: dict[str, int] = {}
        firsts: dict[str, Item] = {}  # sha256 -> the first material copy within this message
        payloads = [_payload(parsed, plan) for plan in plans]
        digests = [hashlib.sha256(d).hexdigest() if d is not None else None for d in payloads]
        _lock_contents(session, digests)
        with session.no_autoflush:  # one flush for all items, not one per item and query
            for seq, (plan, data, digest) in enumerate(zip(plans, payloads, digests, strict=True)):
                item = Item(
                    seq=seq,
                    name=plan.name[:1000],
                    declared_type=_declared(parsed, plan),
                    mime=plan.mime,
                    media=plan.media,
                    role=plan.role,
                    kind=plan.kind.value,
                    kind_confidence=plan.kind.confidence,
                    status=plan.status,
                    error=plan.error,
                    url=plan.url,
                    url_expiry=plan.url_expiry,
                    meta={"service": plan.service} if plan.service else {},
                )
                if data is not None:
                    item.sha256, item.blob_path = archive.put_blob(data, digest)
                    item.size = len(data)
                    item.duplicate_of_id = first_copy(session, item.sha256)
                    if item.duplicate_of_id is None and item.sha256 in firsts:
                        item.duplicate_of = firsts[item.sha256]
                    elif item.duplicate_of_id is None and plan.role == "material":
                        firsts[item.sha256] = item
                message.items.append(item)
                if plan.role != "material":
                    continue
                kinds[plan.kind.value or ""] = kinds.get(plan.kind.value or "", 0) + 1
                if not message.is_material or item.blob_path is None:
                    continue
                if item.duplicate_of is not None:
                    item.path = item.duplicate_of.path
                    continue
                if item.duplicate_of_id is not None:
                    item.path = session.get(Item, item.duplicate_of_id).path
                    continue
                folder = layout.message_folder(
                    campaign.name,
                    unit.name if unit else None,
                    campaign.label(item.kind),
                    day,
                    message.subject,
                )
                view = layout.item_view_path(folder, item.name)
                item.path = archive.link(item.blob_path, view, made=created)
                message.folder = folder.rsplit("/", 2)[0]
        session.flush()
        session.add_all(
            DecisionRecord.of("kind", plan.kind, message_pk=message.id, item_id=item.id)
            for item, plan in zip(message.items, plans, strict=True)
        )
        return kinds

    def _record_failure(
        self, raw: bytes, source: SourceRef, stage: str, exc: Exception
    ) -> IngestOutcome:
        """Records a message that could not be filed, keeping its raw copy."""
        sha = hashlib.sha256(raw).hexdigest()
        reason = str(exc) if isinstance(exc, MailroomError) else f"{type(exc).__name__}: {exc}"
        try:
            _, raw_rel = self.ctx.archive.put_raw(raw)
            with self.ctx.db.session() as session:
                message = session.scalar(select(Message).where(Message.raw_sha256 == sha))
                if message is None:
                    message = Message(
                        raw_sha256=sha,
                        raw_path=raw_rel,
                        raw_size=len(raw),
                        source=source.label()[:1000],
                        received_at=source.received_at or datetime.now(UTC),
                        received_source="imap" if source.received_at else "ingest",
                        status="error",
                        is_material=False,
                        flags=[],
                        run_id=self.run_id,
                        error=reason[:2000],
                    )
                    session.add(message)
                    session.flush()
                session.add(
                    IngestError(
                        run_id=self.run_id,
                        message_pk=message.id,
                        raw_sha256=sha,
                        source=source.label()[:1000],
                        stage=stage,
                        error=reason[:2000],
                        detail=traceback.format_exc()[-8000:],
                    )
                )
                pk = message.id
        except Exception:
            log.exception("cannot even record the failure of a message from %s", source.label())
            pk = None
        return IngestOutcome("error", pk, error=reason)


def _received(parsed: ParsedMessage, source: SourceRef) -> tuple[datetime, str]:
    """Returns when the mailbox received the message, and which clock said so."""
    if source.received_at is not None:
        return source.received_at.astimezone(UTC), "imap"
    if parsed.received_at is not None:
        return parsed.received_at.astimezone(UTC), "received"
    if parsed.date is not None:
        return parsed.date.astimezone(UTC), "date"
    return datetime.now(UTC), "ingest"


def _payload(parsed: ParsedMessage, plan: ItemPlan) -> bytes | None:
    if plan.payload is None and plan.part_index is not None:
        return parsed.parts[plan.part_index].payload
    return plan.payload


def _lock_contents(session: Session, digests: list[str | None]) -> None:
    """On PostgreSQL, lock these file contents until commit (sorted: no deadlock).

    Two workers filing two messages with the same attachment at once would each find
    no first copy and both file theirs as the original; with the lock the second
    waits and then finds the first. SQLite needs none: its writers take turns, and
    this transaction's first statement (the message insert) already waited its turn.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    from storage.locks import advisory_key

    for key in sorted({advisory_key(f"content:{d}") for d in digests if d}):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _declared(parsed: ParsedMessage, plan: ItemPlan) -> str:
    if plan.part_index is None:
        return plan.mime
    return parsed.parts[plan.part_index].declared_type


def _forwarded_from(parsed: ParsedMessage, match: UnitMatch) -> str | None:
    if not match.forwarded_by or not parsed.forwarded:
        return None
    return parsed.forwarded[0].from_addr or parsed.forwarded[0].from_name or None


def _unit_decision(match: UnitMatch, verdict_reason: str) -> DecisionRecord:
    evidence = {}
    if verdict_reason:
        evidence["not_material"] = verdict_reason
    if match.forwarded_by:
        evidence["forwarded_by"] = match.forwarded_by
    return DecisionRecord.of("unit", match, evidence=evidence)
