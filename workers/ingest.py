"""Ingesting one raw message: store it, parse it, decide, file and index it.

Orchestration only: the pipeline parses and decides (pipeline.parse,
pipeline.decide), storage files (storage.filing) and indexes (storage.search);
this module puts them in order so nothing is lost: the raw bytes are stored
first (by content); everything after that happens in one index transaction,
which also records the jobs still to do (archives to open, derivatives to make),
so a crash after the commit leaves them pending, never forgotten. A failure of the
message's own bytes records the message with its error and the raw copy stays; a
failure of the machine (full disk, index locked or down) is raised and records
nothing, so the message is tried again.
"""

from __future__ import annotations

import hashlib
import logging
import time
import traceback
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pipeline.budget import Deadline
from pipeline.campaign_match import CampaignBook
from pipeline.classify import ItemPlan, MessageVerdict
from pipeline.decide import MessageDecision, decide_message
from pipeline.errors import LimitExceeded, MailroomError, is_transient
from pipeline.identify import UnitMatch
from pipeline.message import ParsedMessage
from pipeline.parse import parse_message
from pipeline.units import UnitDirectory
from storage import campaigns as campaign_store
from storage import filing
from storage.crashpoints import AFTER_FILING, crash_point
from storage.filing import Place
from storage.models import DecisionRecord, IngestError, IngestRun, Message
from storage.search import index_message
from workers.ingest_result import IngestOutcome, SourceRef
from workers.media import expand
from workers.media import jobs as media_jobs

if TYPE_CHECKING:
    from workers.app import AppContext

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

    def ingest(self, raw: bytes, source: SourceRef, *, sha256: str | None = None) -> IngestOutcome:
        """Files one message and returns what happened; never raises for bad input.

        A transient failure of the machine (IndexUnavailable, ArchiveUnavailable) is
        raised, not recorded: the message is not at fault. `sha256`: the raw bytes'
        hash, when the caller has it already (hashed once).
        """
        sha = sha256 or hashlib.sha256(raw).hexdigest()
        try:
            outcome = self._ingest(raw, sha, source)
        except LimitExceeded as exc:  # expected for hostile mail: one line, no traceback
            log.warning("message from %s not filed: %s", source.label(), exc)
            outcome = self._record_failure(raw, sha, source, "limit", exc)
        except Exception as exc:  # the next message must go on whatever happened here
            if is_transient(exc):  # the machine's fault (full disk, index down), not the message's:
                raise  # nothing is recorded against it; the caller tries it again later
            if isinstance(exc, MailroomError):
                # Bad input we know (empty, no headers, an unreadable .msg, over the size
                # limit): one line that says what and where, no traceback.
                log.warning("cannot ingest %s: %s", source.label(), exc)
            else:
                log.exception("cannot ingest a message from %s", source.label())
            outcome = self._record_failure(raw, sha, source, "ingest", exc)
        if outcome.status == "duplicate" and outcome.message_pk is not None:
            self._resume(outcome.message_pk)
        elif outcome.status != "error" and outcome.media:
            crash_point(AFTER_FILING)
            expand.after_filing(self.ctx, outcome.media)
        self.outcomes.append(outcome)
        return outcome

    def _resume(self, message_pk: int) -> None:
        """Runs the jobs a crash left unfinished for a message fetched again as a duplicate."""
        try:
            expand.resume(self.ctx, message_pk)
        except Exception as exc:  # the rows wait in the index for the pool or the sweep
            log.warning("cannot resume the jobs of message %d now: %s", message_pk, exc)

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

    def _ingest(self, raw: bytes, sha: str, source: SourceRef) -> IngestOutcome:
        with self.ctx.db.session() as session:
            known = session.scalar(select(Message.id).where(Message.raw_sha256 == sha))
        if known is not None:
            return IngestOutcome("duplicate", known)
        max_bytes = self.ctx.config.limits.max_message_bytes
        _, raw_rel = self.ctx.archive.put_raw(raw, sha)
        if len(raw) > max_bytes:
            raise MailroomError(
                f"message of {len(raw)} bytes is over limits.max_message_bytes "
                f"({max_bytes}); the raw copy is kept at {raw_rel}"
            )
        # The budget covers parsing and deciding, not waiting for the index in between:
        # a slow database is the machine's problem, never the message's.
        limit = self.ctx.config.limits.message_seconds
        parsing = Deadline("message_seconds", limit)
        parsed = parse_message(raw, parsing)
        spent = time.monotonic() - parsing.started
        with self.ctx.db.session() as session:
            directory = self.ctx.unit_directory(session)
            book = self.ctx.campaign_book(session, parsed)
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
        deadline = Deadline("message_seconds", limit, started=time.monotonic() - spent)
        try:
            return self._file(
                parsed,
                raw,
                sha,
                raw_rel,
                received,
                received_source,
                source,
                directory,
                book,
                deadline,
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
        book: CampaignBook,
        deadline: Deadline,
    ) -> IngestOutcome:
        ctx = self.ctx
        decision = decide_message(parsed, directory, ctx.rules, received, book, deadline)
        unit, status = decision.unit, decision.status
        planned = next((c for c in book.campaigns if c.code == decision.campaign_code), None)
        place = Place(planned, decision.campaign_status, ctx.campaign.tz)
        unit_name = next((u.name for u in ctx.units if u.code == unit), None)
        new_items = [_new_item(parsed, plan) for plan in decision.plans]
        created: list[str] = []
        try:
            with ctx.db.session() as session:
                message = _message_row(self.run_id, parsed, decision, sha, raw_rel, len(raw),
                                       received, received_source, source)  # fmt: skip
                session.add(message)
                # Inserted before any view file is made: the same bytes filed by another
                # process at this moment fail here (unique raw hash), not after linking.
                session.flush()
                kinds = filing.file_items(
                    session, ctx.archive, place, message, unit_name, new_items, created
                )
                index_message(session, message.id, new=True)  # searchable in the same transaction
                jobs = media_jobs.enqueue_filed(session, message)
                if (
                    any(i.duplicate_of_id for i in message.items)
                    and "duplicate" not in message.flags
                ):
                    message.flags = [*message.flags, "duplicate"]
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
        for plan in decision.plans:
            if plan.status == "corrupt":  # kept with its reason; one line says so
                log.warning(
                    "%s: attachment %s is corrupt: %s", source.label(), plan.name, plan.error
                )
        log.info(
            "%s %s unit=%s campaign=%s items=%d from %s: %s",
            status,
            parsed.message_id or sha[:12],
            unit or "-",
            decision.campaign_code
            if decision.campaign_status == "assigned"
            else decision.campaign_status,
            count,
            parsed.from_addr or "?",
            parsed.subject[:60],
        )
        return IngestOutcome(status, message.id, parsed.message_id, count, kinds, media=jobs)

    def _record_failure(
        self, raw: bytes, sha: str, source: SourceRef, stage: str, exc: Exception
    ) -> IngestOutcome:
        """Records a message that could not be filed, keeping its raw copy.

        A message a limit stopped says so to staff, in Chinese, and carries the
        `over_limit` flag; the English line stays in the ingest error for the log.
        """
        reason = str(exc) if isinstance(exc, MailroomError) else f"{type(exc).__name__}: {exc}"
        limited = isinstance(exc, LimitExceeded)
        shown = exc.staff if limited else reason
        try:
            _, raw_rel = self.ctx.archive.put_raw(raw, sha)
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
                        campaign_status=campaign_store.NONE,
                        is_material=False,
                        flags=["over_limit"] if limited else [],
                        run_id=self.run_id,
                        error=shown[:2000],
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
                        # the stack only helps with the unexpected; bad input has its reason
                        detail=""
                        if isinstance(exc, MailroomError)
                        else traceback.format_exc()[-8000:],
                    )
                )
                pk = message.id
        except Exception as exc:
            if is_transient(exc):  # recording it needs the disk and index the failure hit
                raise
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


def _new_item(parsed: ParsedMessage, plan: ItemPlan) -> filing.NewItem:
    """Returns a plan with its bytes (the part's payload, or the plan's own) and their hash."""
    if plan.part_index is None:
        data, declared = plan.payload, plan.mime
    else:
        part = parsed.parts[plan.part_index]
        data = plan.payload if plan.payload is not None else part.payload
        declared = part.declared_type
    digest = hashlib.sha256(data).hexdigest() if data is not None else None
    return filing.NewItem(plan, data, digest, declared)


def _message_row(
    run_id: int,
    parsed: ParsedMessage,
    decision: MessageDecision,
    sha: str,
    raw_rel: str,
    raw_size: int,
    received: datetime,
    received_source: str,
    source: SourceRef,
) -> Message:
    match, verdict = decision.match, decision.verdict
    short = _truncation(source, raw_size)
    return Message(
        raw_sha256=sha,
        raw_path=raw_rel,
        raw_size=raw_size,
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
        unit_code=decision.unit,
        confidence=match.confidence,
        status=decision.status,
        campaign_code=decision.campaign_code,
        campaign_status=decision.campaign_status,
        campaign_confidence=decision.campaign.confidence,
        is_material=verdict.is_material,
        not_material_reason=verdict.reason or None,
        flags=[*decision.flags, *(["truncated"] if short else [])],
        forwarded_from=_forwarded_from(parsed, match),
        forwarded_by=match.forwarded_by,
        error="; ".join(sorted({*parsed.defects, *([short] if short else [])}))[:2000] or None,
        run_id=run_id,
        items=[],  # a new message: no lazy load of its (empty) collections
        decisions=[
            _unit_decision(match, verdict),
            DecisionRecord.of("campaign", decision.campaign),
        ],
    )


def _truncation(source: SourceRef, raw_size: int) -> str | None:
    """Returns the defect of a message the server kept sending short, or None."""
    declared = source.declared_size
    if declared is None or declared <= raw_size:
        return None
    return (
        f"truncated: the server sent {raw_size} of the {declared} bytes it announced "
        "(RFC822.SIZE), on every fetch"
    )


def _forwarded_from(parsed: ParsedMessage, match: UnitMatch) -> str | None:
    if not match.forwarded_by or not parsed.forwarded:
        return None
    return parsed.forwarded[0].from_addr or parsed.forwarded[0].from_name or None


def _unit_decision(match: UnitMatch, verdict: MessageVerdict) -> DecisionRecord:
    evidence: dict = {}
    if verdict.reason:  # a code of pipeline/reasons.py
        evidence["not_material"] = verdict.reason
    if verdict.signals:
        evidence["signals"] = verdict.signals
    if verdict.question:  # an inquiry: what it asks or acknowledges, for 待回复
        evidence["question"] = verdict.question
    if match.forwarded_by:
        evidence["forwarded_by"] = match.forwarded_by
    return DecisionRecord.of("unit", match, evidence=evidence)
