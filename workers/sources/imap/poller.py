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

from pipeline.errors import MailboxError, MailroomError
from storage import leases
from storage import mailbox_state as state
from storage.locks import process_gone
from storage.mailbox_state import FolderKey
from workers.config.mailboxes import MailboxConfig, resolve_password
from workers.ingest_result import IngestOutcome, SourceRef
from workers.sources.imap import client as imap_client
from workers.sources.imap import handoff
from workers.sources.imap.progress import Progress, default_progress

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


@dataclass
class PollSummary:
    """What one poll of one account did."""

    account: str
    folders: list[FolderSummary] = field(default_factory=list)
    skipped: str | None = None  # why the account was not polled (another poller)
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
    holder, name = new_holder(), lease_name(cfg)
    if not _take_lease(ctx, name, holder):
        current = leases.lease_holder(ctx.db, name)
        summary.skipped = (
            f"another mailroom process ({current[0] if current else '?'}) is polling it"
        )
        log.info("mailbox %s: %s", cfg.name, summary.skipped)
        return summary
    run = _AccountPoll(ctx, cfg, holder, progress or default_progress(), stop)
    try:
        client = imap_client.connect(cfg, password)
        try:
            for folder in cfg.folders:
                if run.stopping():
                    break
                summary.folders.append(run.poll_folder(client, folder))
                if summary.folders[-1].error and run.connection_lost:
                    break
        finally:
            imap_client.close(client)
    finally:
        run.progress.close()
        summary.run_id = run.finish()
        leases.release_lease(ctx.db, name, holder)
        summary.seconds = time.monotonic() - started
    return summary


def _take_lease(ctx: AppContext, name: str, holder: str) -> bool:
    """Take the account's lease; a lease left by a dead process on this host is taken over."""
    if leases.acquire_lease(ctx.db, name, holder, LEASE_TTL):
        return True
    current = leases.lease_holder(ctx.db, name)
    if current is None or not _holder_is_dead(current[0]):
        return False
    log.warning("taking over the lease %s from %s, which is no longer running", name, current[0])
    return leases.take_over_lease(ctx.db, name, current[0], holder, LEASE_TTL)


def _holder_is_dead(holder: str) -> bool:
    """Return True if holder names a process on this host that no longer runs."""
    host, _, rest = holder.partition(":")
    return process_gone(host, rest.partition(":")[0]) is True  # another host: lease expiry


class _AccountPoll:
    """The state of one poll of one account (lease, ingestor, progress)."""

    def __init__(self, ctx, cfg: MailboxConfig, holder: str, progress: Progress, stop):
        self.ctx, self.cfg, self.holder, self.progress, self.stop = ctx, cfg, holder, progress, stop
        self.ingestor = None  # an Ingestor, made when the first new message arrives
        self.hand_off = ctx.jobs.distributed  # with a broker, workers file what is fetched
        self.queued: list[tuple[int, str, datetime | None]] = []  # stored, not yet recorded
        self.connection_lost = False
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
        except imap_client.ConnectionLostError as exc:
            self.connection_lost = True
            result.error = str(exc)
            log.error("mailbox %s, folder %s: %s", self.cfg.name, folder, exc)
        except MailboxError as exc:
            result.error = str(exc)
            log.error("mailbox %s, folder %s: %s", self.cfg.name, folder, exc)
        except Exception as exc:  # isolated: the next folder still gets polled
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
        finally:
            self._submit_queued(key)  # what was stored before a failure is recorded too
            messages.close()

    @staticmethod
    def _source(key: FolderKey, uid: int, received: datetime | None) -> SourceRef:
        return SourceRef(
            kind="imap", location=key.location, uidvalidity=key.uidvalidity,
            uid=uid, received_at=received,
        )  # fmt: skip

    def _store(self, key: FolderKey, message: imap_client.FetchedMessage) -> str:
        """Ingest one fetched message and record its UID; return the record's status."""
        if self.hand_off:
            return self._queue(key, message)
        if self.ingestor is None:
            from workers.ingest import Ingestor  # the parser and classifier: only for new mail

            self.ingestor = Ingestor(self.ctx, f"imap:{self.cfg.name}")
        sha = message.sha256
        source = self._source(key, message.uid, message.internaldate)
        try:
            outcome: IngestOutcome | None = self.ingestor.ingest(message.raw, source, sha256=sha)
            problem = outcome.error if outcome.message_pk is None else None
        except Exception as exc:  # the ingestor should not raise; if it does, retry later
            log.exception("cannot ingest UID %s of %s/%s", message.uid, self.cfg.name, key.folder)
            outcome, problem = None, f"{type(exc).__name__}: {exc}"
        after_done = self.cfg.after.kind == "none"
        with self.ctx.db.session() as session:
            if outcome is not None and outcome.message_pk is not None:
                row = state.record_outcome(
                    session, key, message.uid, status=outcome.status,
                    message_pk=outcome.message_pk, raw_sha256=sha, error=outcome.error,
                    after_done=after_done,
                )  # fmt: skip
            else:
                row = state.record_failure(
                    session, key, message.uid, raw_sha256=sha,
                    error=problem or "not recorded in the index", max_attempts=self.cfg.max_attempts,
                )  # fmt: skip
                row.after_done = after_done
            status = row.status
        if status == state.QUARANTINED:
            self._keep_raw(message.raw, sha)
            log.error(
                "quarantined UID %s of %s/%s after %d failed attempts: %s",
                message.uid, self.cfg.name, key.folder, row.attempts, row.error,
            )  # fmt: skip
        return status

    def _queue(self, key: FolderKey, message: imap_client.FetchedMessage) -> str:
        """Store the raw message; its UID is recorded and its job submitted with the batch."""
        where = f"UID {message.uid} of {self.cfg.name}/{key.folder}"
        try:
            sha, _ = self.ctx.archive.put_raw(message.raw, message.sha256)
        except Exception as exc:  # the store is unreachable: fetch it again next time
            log.exception("cannot store the raw copy of %s", where)
            with self.ctx.db.session() as session:
                row = state.record_failure(
                    session, key, message.uid, raw_sha256=None,
                    error=f"cannot store the raw copy: {type(exc).__name__}: {exc}",
                    max_attempts=self.cfg.max_attempts,
                )  # fmt: skip
                row.after_done = self.cfg.after.kind == "none"
                return row.status
        self.queued.append((message.uid, sha, message.internaldate))
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
        for uid, sha, received in handoff.record(self.ctx, key, fetched, acted=acted):
            try:
                self.ctx.jobs.submit_ingest(sha, self._source(key, uid, received))
            except Exception:  # the UID stays queued in the index; the sweep sends it again
                log.exception(
                    "cannot submit the ingest job of UID %s of %s; it is sent again later",
                    uid, key.location,
                )  # fmt: skip

    def _keep_raw(self, raw: bytes, sha: str) -> None:
        try:
            self.ctx.archive.put_raw(raw, sha)
        except Exception:
            log.exception("cannot keep the raw copy of a quarantined message")

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


# -- scheduling ------------------------------------------------------------------


class Backoff:
    """After failures, skip ticks: wait 1, 2, 4 ... intervals (at most an hour) before retrying."""

    def __init__(self, interval: float, ceiling: float = 3600.0, clock=time.monotonic):
        self.interval, self.ceiling, self.clock = interval, ceiling, clock
        self.failures, self.not_before = 0, 0.0

    def ready(self) -> bool:
        return self.clock() >= self.not_before

    def failed(self) -> float:
        """Count a failure and return how many seconds the next attempt waits."""
        self.failures += 1
        wait = min(self.interval * 2 ** (self.failures - 1), max(self.ceiling, self.interval))
        self.not_before = self.clock() + wait - self.interval  # the tick itself waits interval
        return wait

    def succeeded(self) -> None:
        self.failures, self.not_before = 0, 0.0


def poll_job(ctx: AppContext, cfg: MailboxConfig, stop: threading.Event, backoff: Backoff) -> None:
    """One scheduled tick for one account: poll, log one line, never raise."""
    if stop.is_set() or not backoff.ready():
        return
    try:
        summary = poll_account(ctx, cfg, resolve_password(cfg), stop=stop)
    except Exception as exc:  # a failed tick must not kill the scheduler
        wait = backoff.failed()
        if isinstance(exc, MailroomError):  # one clear line says what to check
            log.error("mailbox %s: %s (next try in %.0f s)", cfg.name, exc, wait)
        else:
            log.exception("mailbox %s: poll failed (next try in %.0f s)", cfg.name, wait)
        return
    if summary.errors:
        backoff.failed()
    else:
        backoff.succeeded()
    if summary.fetched or summary.errors:
        log.info("%s", summary.text())


def register_poll_jobs(scheduler, ctx: AppContext, stop: threading.Event) -> list:
    """Add one interval job per [[mailbox]] to an APScheduler 3 scheduler.

    Accounts with idle = true also get an IDLE watcher thread that runs their
    job at once when the server announces new mail; returns those watchers.
    """
    from workers.sources.imap.idle import IdleWatcher

    watchers = []
    for cfg in ctx.config.mailboxes:
        resolve_password(cfg)  # a missing password is a start-up error, not a tick error
        job = scheduler.add_job(
            poll_job, "interval", seconds=cfg.poll_interval_seconds,
            args=[ctx, cfg, stop, Backoff(cfg.poll_interval_seconds)],
            id=f"imap:{cfg.name}", name=f"poll mailbox {cfg.name}",
            next_run_time=datetime.now().astimezone(),
            max_instances=1, coalesce=True,
        )  # fmt: skip
        log.info(
            "mailbox %s: polling %s (%s) every %ss, after = %s%s",
            cfg.name, cfg.describe(), ", ".join(cfg.folders), cfg.poll_interval_seconds,
            cfg.after, ", IDLE on" if cfg.idle else "",
        )  # fmt: skip
        if cfg.idle:
            watcher = IdleWatcher(cfg, _run_now(scheduler, job.id), stop)
            watcher.start()
            watchers.append(watcher)
    return watchers


def _run_now(scheduler, job_id: str):
    def wake() -> None:
        scheduler.modify_job(job_id, next_run_time=datetime.now().astimezone())

    return wake
