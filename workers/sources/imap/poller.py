"""Polling IMAP accounts: every message filed exactly once, whatever happens meanwhile.

For each folder: SELECT, compare UIDVALIDITY with the recorded ones, ask
only for UIDs above the highest one recorded (plus those due a retry),
fetch them in bounded batches with BODY.PEEK[], ingest each message
(which commits it to the index) and record its UID right after. A crash
between the two is harmless: the refetched message is recognised by its
raw hash. The after-action (seen, flag, move) is applied only to UIDs
whose record is committed. A lease in the database keeps two mailroom
processes from polling one account at once.

When this process has a broker (`ctx.jobs.distributed`), a fetched message
is not filed here: its raw copy is stored, its UID recorded as `queued` and an
ingest job submitted; a worker files it and settles the UID, and the after-action
follows on a later poll (workers/sources/imap/handoff.py).

A failure of the machine (the archive's disk full, the index locked or down) is
not the message's: its UID is recorded `waiting`, no attempt is counted, and the
poll of the account stops there (the next message would meet the same disk); the
next poll fetches it again, however long the outage lasts. Only the same failure
from the same bytes counts towards quarantine, and a quarantined message always
has its raw copy (if that cannot be written, the UID waits instead). Below
`[limits] min_free_bytes` of free disk nothing is fetched at all.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import imapclient

from pipeline.errors import MailboxError, is_transient
from storage import health, leases
from storage import mailbox_state as state
from storage.locks import process_gone
from storage.mailbox_state import FolderKey
from workers.config.mailboxes import MailboxConfig
from workers.ingest_result import IngestOutcome, SourceRef
from workers.sources.imap import client as imap_client
from workers.sources.imap import handoff
from workers.sources.imap.progress import Progress, default_progress
from workers.sources.space import low_disk

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)

LEASE_TTL = timedelta(minutes=5)
LEASE_RENEW_SECONDS = 30.0


@dataclass
class FolderSummary:
    """What one folder poll did."""

    folder: str
    uidvalidity: int = 0
    fetched: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    rescanned: bool = False
    error: str | None = None
    waiting: bool = False  # stopped by a machine failure: what is left is fetched next time


@dataclass
class PollSummary:
    """What one poll of one account did."""

    account: str
    folders: list[FolderSummary] = field(default_factory=list)
    skipped: str | None = None  # why the account was not polled (another poller, low disk)
    low_disk: bool = False  # skipped because a disk is below [limits] min_free_bytes
    seconds: float = 0.0
    run_id: int | None = None

    @property
    def fetched(self) -> int:
        return sum(f.fetched for f in self.folders)

    @property
    def errors(self) -> list[str]:
        return [f"{f.folder}: {f.error}" for f in self.folders if f.error]

    def count(self, status: str) -> int:
        return sum(f.statuses.get(status, 0) for f in self.folders)

    def text(self) -> str:
        """Return a one-line human summary."""
        if self.skipped:
            return f"{self.account}: skipped: {self.skipped}"
        parts = []
        for folder in self.folders:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(folder.statuses.items()))
            note = " (UIDVALIDITY changed: re-scanned)" if folder.rescanned else ""
            line = f"{folder.folder} {folder.fetched} new" + (f" ({counts})" if counts else "")
            parts.append(line + note + (f" FAILED: {folder.error}" if folder.error else ""))
        return f"{self.account}: " + "; ".join(parts) + f" in {self.seconds:.1f} s"


def lease_name(cfg: MailboxConfig) -> str:
    return f"imap:{cfg.name}"


def new_holder() -> str:
    """Return a name for this poller that is unique across hosts and processes."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def poll_account(
    ctx: AppContext,
    cfg: MailboxConfig,
    password: str,
    *,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> PollSummary:
    """Poll every folder of one account once and return what happened.

    Raises MailboxError when the account cannot be reached or logged in to;
    a folder that fails is reported in the summary and the others go on.
    """
    started = time.monotonic()
    summary = PollSummary(cfg.name)
    if _skip_for_low_disk(ctx, cfg, summary):
        return summary
    holder, name = new_holder(), lease_name(cfg)
    if not _take_lease(ctx, name, holder):
        current = leases.lease_holder(ctx.db, name)
        summary.skipped = (
            f"another mailroom process ({current[0] if current else '?'}) is polling it"
        )
        log.info("mailbox %s: %s", cfg.name, summary.skipped)
        return summary
    run = _AccountPoll(ctx, cfg, holder, progress or default_progress(), stop)
    problem = None
    with _POLLING_LOCK:
        _POLLING.add(holder)
    try:
        client = imap_client.connect(cfg, password)
        try:
            for folder in cfg.folders:
                if run.stopping() or run.paused:
                    break
                summary.folders.append(run.poll_folder(client, folder))
                if summary.folders[-1].error and run.connection_lost:
                    break
        finally:
            imap_client.close(client)
    except MailboxError as exc:
        problem = str(exc)
        raise
    finally:
        with _POLLING_LOCK:
            _POLLING.discard(holder)
        run.progress.close()
        summary.run_id = _quietly("close the ingestion run", run.finish)
        _quietly("release the poll lease", lambda: leases.release_lease(ctx.db, name, holder))
        summary.seconds = time.monotonic() - started
        _record(ctx, cfg, summary, problem, run)
    return summary


def _quietly(what: str, step):
    """Runs a closing step of a poll; the index being down then is one line, not a second error.

    A lease left behind is taken over by this process's next poll; a run left open
    only lacks its counts.
    """
    try:
        return step()
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("cannot %s: %s", what, _line(exc))
        return None


def _skip_for_low_disk(ctx: AppContext, cfg: MailboxConfig, summary: PollSummary) -> bool:
    """Returns True (and says so, once) when a disk is too full to fetch mail onto."""
    problem = low_disk(ctx)
    if problem is None:
        return False
    summary.skipped, summary.low_disk = problem, True
    with ctx.db.session() as session:
        before = session.get(health.SourceStatus, lease_name(cfg))
        told = before is not None and before.reason == health.LOW_DISK
    (log.debug if told else log.warning)("mailbox %s: %s", cfg.name, problem)
    health.record_poll(ctx.db, lease_name(cfg), fetched=0, problem=problem, reason=health.LOW_DISK)
    return True


def _record(
    ctx: AppContext, cfg: MailboxConfig, summary: PollSummary, problem: str | None, run
) -> None:
    """Records the poll's outcome for `mailroom status` and the daily report."""
    reason = health.MAILBOX if problem else None
    if isinstance(run.paused, _LowDisk):
        problem, reason = str(run.paused), health.LOW_DISK
    elif run.paused is not None:
        problem, reason = _line(run.paused), state.reason_of(run.paused)
    elif summary.errors and problem is None:
        problem, reason = summary.errors[0], health.MAILBOX
    health.record_poll(
        ctx.db, lease_name(cfg), fetched=summary.fetched, problem=problem, reason=reason
    )


def _take_lease(ctx: AppContext, name: str, holder: str) -> bool:
    """Take the account's lease; a lease left by a dead process on this host is taken over."""
    if leases.acquire_lease(ctx.db, name, holder, LEASE_TTL):
        return True
    current = leases.lease_holder(ctx.db, name)
    if current is None or not _holder_is_dead(current[0]):
        return False
    log.warning("taking over the lease %s from %s, which no longer polls", name, current[0])
    return leases.take_over_lease(ctx.db, name, current[0], holder, LEASE_TTL)


def _holder_is_dead(holder: str) -> bool:
    """Return True if holder names a process on this host that no longer runs, or a poll
    of this process that has ended without releasing its lease (the index was down then)."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host == socket.gethostname() and pid == str(os.getpid()):
        with _POLLING_LOCK:
            return holder not in _POLLING
    return process_gone(host, pid) is True  # another host: lease expiry


# The lease holders of this process's polls now running: a lease of this process held by
# none of them was left by a poll that ended (it could not be released) and is taken over.
_POLLING: set[str] = set()
_POLLING_LOCK = threading.Lock()


class _AccountPoll:
    """The state of one poll of one account (lease, ingestor, progress)."""

    def __init__(self, ctx, cfg: MailboxConfig, holder: str, progress: Progress, stop):
        self.ctx, self.cfg, self.holder, self.progress, self.stop = ctx, cfg, holder, progress, stop
        self.ingestor = None  # an Ingestor, made when the first new message arrives
        self.hand_off = ctx.jobs.distributed  # with a broker, workers file what is fetched
        # stored, not yet recorded: (UID, raw hash, INTERNALDATE, size announced if it differed)
        self.queued: list[tuple[int, str, datetime | None, int | None]] = []
        self.connection_lost = False
        self.paused: BaseException | None = None  # the machine failure that stopped this poll
        self.renewed = time.monotonic()

    def stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def finish(self) -> int | None:
        if self.ingestor is None:
            return None
        return self.ingestor.finish().id

    def keep_lease(self) -> None:
        """Renew the lease now and then; stop at once if another process took it over."""
        if time.monotonic() - self.renewed < LEASE_RENEW_SECONDS:
            return
        if not leases.renew_lease(self.ctx.db, lease_name(self.cfg), self.holder, LEASE_TTL):
            raise MailboxError(
                f"mailbox {self.cfg.name}: lost the poll lease to another process; stopping"
            )
        self.renewed = time.monotonic()

    # -- one folder ------------------------------------------------------------
    def poll_folder(self, client: imapclient.IMAPClient, folder: str) -> FolderSummary:
        """Poll one folder; failures are logged and returned in the summary, not raised."""
        result = FolderSummary(folder)
        try:
            self._poll_folder(client, folder, result)
        except _Paused as paused:  # logged where it happened, with the UID
            self.paused = paused.cause
            result.error, result.waiting = f"waiting: {_line(paused.cause)}", True
        except imap_client.ConnectionLostError as exc:
            self.connection_lost = True
            result.error = str(exc)
            log.error("mailbox %s, folder %s: %s", self.cfg.name, folder, exc)
        except MailboxError as exc:
            result.error = str(exc)
            log.error("mailbox %s, folder %s: %s", self.cfg.name, folder, exc)
        except Exception as exc:  # isolated: the next folder still gets polled
            if is_transient(exc):  # the index went away: one line, and the poll stops
                self.paused = exc
                result.error, result.waiting = f"waiting: {_line(exc)}", True
                log.warning("mailbox %s, folder %s: waiting: %s", self.cfg.name, folder, _line(exc))
                return result
            result.error = f"{type(exc).__name__}: {exc}"
            log.exception("mailbox %s, folder %s failed", self.cfg.name, folder)
        return result

    def _poll_folder(self, client, folder: str, result: FolderSummary) -> None:
        cfg = self.cfg
        readonly = cfg.after.kind == "none"
        folder_state = imap_client.select(client, cfg, folder, readonly=readonly)
        key = FolderKey(cfg.name, folder, folder_state.uidvalidity)
        result.uidvalidity = key.uidvalidity
        with self.ctx.db.session() as session:
            known = state.known_uidvalidities(session, cfg.name, folder)
            last = state.highest_uid(session, key)
            retry = state.retry_uids(session, key)
        if known and key.uidvalidity not in known:
            result.rescanned = True
            log.warning(
                "mailbox %s, folder %s: UIDVALIDITY changed from %s to %s (mailbox recreated or "
                "migrated): re-scanning; messages already filed are recognised and not filed again",
                cfg.name, folder, max(known), key.uidvalidity,
            )  # fmt: skip
        with imap_client.translate_errors(cfg, f"searching {folder!r}"):
            uids = sorted(
                set(retry) | set(imap_client.new_uids(client, folder, last, folder_state.uidnext))
            )
        if uids:
            self._fetch_and_ingest(client, key, uids, result)
        self._apply_pending_after_action(client, key)

    def _fetch_and_ingest(self, client, key: FolderKey, uids: list[int], result) -> None:
        cfg = self.cfg
        self.progress.start(f"{cfg.name}/{key.folder}", len(uids))
        messages = imap_client.fetch_messages(client, uids, cfg.batch_size)
        since_action = 0
        try:
            while not self.stopping():
                with imap_client.translate_errors(cfg, f"fetching from {key.folder!r}"):
                    message = next(messages, None)
                if message is None:
                    break
                status = self._store(key, message)
                result.fetched += 1
                result.statuses[status] = result.statuses.get(status, 0) + 1
                self.progress.advance()
                self.keep_lease()
                since_action += 1
                if since_action >= cfg.batch_size:
                    self._submit_queued(key)
                    self._apply_pending_after_action(client, key)
                    since_action = 0
                    self._check_space()
        finally:
            self._submit_queued(key)  # what was stored before a failure is recorded too
            messages.close()

    @staticmethod
    def _source(key: FolderKey, message: imap_client.FetchedMessage) -> SourceRef:
        return SourceRef(
            kind="imap", location=key.location, uidvalidity=key.uidvalidity,
            uid=message.uid, received_at=message.internaldate,
            declared_size=message.declared_size,
        )  # fmt: skip

    def _check_space(self) -> None:
        """Stops fetching (the rest waits for the next poll) when a disk runs low mid-poll."""
        problem = low_disk(self.ctx)
        if problem is not None:
            log.warning("mailbox %s: %s", self.cfg.name, problem)
            raise _Paused(_LowDisk(problem))

    def _store(self, key: FolderKey, message: imap_client.FetchedMessage) -> str:
        """Ingest one fetched message and record its UID; return the record's status."""
        if self.hand_off:
            return self._queue(key, message)
        if self.ingestor is None:
            from workers.ingest import Ingestor  # the parser and classifier: only for new mail

            self.ingestor = Ingestor(self.ctx, f"imap:{self.cfg.name}")
        source = self._source(key, message)
        try:
            outcome: IngestOutcome | None = self.ingestor.ingest(
                message.raw, source, sha256=message.sha256
            )
            problem = outcome.error if outcome.message_pk is None else None
        except Exception as exc:  # the ingestor raises only for the machine; anything else: retry
            if is_transient(exc):
                self._wait(key, message, exc)
            log.exception("cannot ingest UID %s of %s/%s", message.uid, self.cfg.name, key.folder)
            outcome, problem = None, f"{type(exc).__name__}: {exc}"
        after_done = self.cfg.after.kind == "none"
        if outcome is None or outcome.message_pk is None:
            return self._failed(key, message, problem or "not recorded in the index", after_done)
        with self.ctx.db.session() as session:
            return state.record_outcome(
                session, key, message.uid, status=outcome.status,
                message_pk=outcome.message_pk, raw_sha256=message.sha256, error=outcome.error,
                after_done=after_done,
            ).status  # fmt: skip

    def _failed(
        self, key: FolderKey, message: imap_client.FetchedMessage, problem: str, after_done: bool
    ) -> str:
        """Count a failure of the message itself, its raw copy stored first (quarantine keeps it)."""
        try:
            self.ctx.archive.put_raw(message.raw, message.sha256)
            with self.ctx.db.session() as session:
                row = state.record_failure(
                    session, key, message.uid, raw_sha256=message.sha256, error=problem,
                    max_attempts=self.cfg.max_attempts,
                )  # fmt: skip
                row.after_done = after_done
                status, attempts = row.status, row.attempts
        except Exception as exc:
            if is_transient(exc):  # no raw copy, no quarantine: the UID waits instead
                self._wait(key, message, exc)
            raise
        if status == state.QUARANTINED:
            log.error(
                "quarantined UID %s of %s/%s after the same failure %d times (raw copy kept): %s",
                message.uid, self.cfg.name, key.folder, attempts, problem,
            )  # fmt: skip
        return status

    def _wait(self, key: FolderKey, message: imap_client.FetchedMessage, exc: BaseException):
        """Record that the machine could not take this UID (no attempt counted) and stop."""
        log.warning(
            "mailbox %s, folder %s: UID %s waits, fetched again on the next poll: %s",
            self.cfg.name, key.folder, message.uid, _line(exc),
        )  # fmt: skip
        try:
            with self.ctx.db.session() as session:
                state.record_waiting(
                    session, key, message.uid, raw_sha256=message.sha256, error=_line(exc),
                    reason=state.reason_of(exc),
                )  # fmt: skip
        except Exception as again:  # the index is what failed: unrecorded, so fetched again
            log.warning("cannot record that UID %s waits: %s", message.uid, _line(again))
        raise _Paused(exc)

    def _queue(self, key: FolderKey, message: imap_client.FetchedMessage) -> str:
        """Store the raw message; its UID is recorded and its job submitted with the batch."""
        try:
            sha, _ = self.ctx.archive.put_raw(message.raw, message.sha256)
        except Exception as exc:
            if is_transient(exc):
                self._wait(key, message, exc)
            raise
        self.queued.append((message.uid, sha, message.internaldate, message.declared_size))
        return state.QUEUED

    def _submit_queued(self, key: FolderKey) -> None:
        """Record the stored messages' UIDs as queued (one transaction), then submit their jobs.

        A crash before the commit loses nothing: those UIDs are fetched again, their raw
        copies are already stored under the same hash, and filing recognises them.
        """
        fetched, self.queued = self.queued, []
        if not fetched:
            return
        acted = self.cfg.after.kind == "none"
        declared = {uid: size for uid, _, _, size in fetched}
        recorded = handoff.record(self.ctx, key, [f[:3] for f in fetched], acted=acted)
        for uid, sha, received in recorded:
            source = SourceRef(
                kind="imap", location=key.location, uidvalidity=key.uidvalidity, uid=uid,
                received_at=received, declared_size=declared.get(uid),
            )  # fmt: skip
            try:
                self.ctx.jobs.submit_ingest(sha, source)
            except Exception:  # the UID stays queued in the index; the sweep sends it again
                log.exception(
                    "cannot submit the ingest job of UID %s of %s; it is sent again later",
                    uid, key.location,
                )  # fmt: skip

    def _apply_pending_after_action(self, client, key: FolderKey) -> None:
        """Apply the after-action to every UID committed but not yet acted on."""
        if self.cfg.after.kind == "none":
            return
        with self.ctx.db.session() as session:
            pending = state.pending_after_action(session, key)
        if not pending:
            return
        with imap_client.translate_errors(self.cfg, f"applying after = {self.cfg.after}"):
            imap_client.apply_after_action(client, key.folder, pending, self.cfg.after)
        with self.ctx.db.session() as session:
            state.mark_after_done(session, key, pending)


class _LowDisk(Exception):
    """A disk fell below [limits] min_free_bytes during a poll."""


class _Paused(Exception):
    """The machine cannot take mail now: this account's poll stops; what is left waits."""

    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
