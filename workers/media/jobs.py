"""Jobs after filing: queued in the index, run by id wherever a dispatcher sends them.

The index is the queue: `enqueue()` writes MediaJob rows — an `expand` job for each
archive to open (workers/media/expand.py) and the derivative jobs (thumbnails, web
video, document text) — in the same transaction as what they are for, so a crash
after the commit loses none of them. `ctx.jobs.submit_media` runs them by id, in
this process's pool (workers/media/pool.py) or on a worker machine. A worker claims
its row (pending -> running) before working, so a job submitted twice runs once; a
row left `running` by a process that died goes back to pending at the next start.
A job that meets a machine failure (a full disk) goes back to pending with the
reason in `error`, without counting an attempt; it runs again with the next sweep.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from pipeline import budget
from pipeline.errors import LimitExceeded, StorageError, is_transient
from storage.archive import Archive
from storage.db import Database
from storage.locks import process_gone
from storage.media_models import EXPAND, EXPAND_PRIORITY, MediaJob
from storage.models import Item, Message
from storage.search import index_items
from workers.config import LimitsConfig, MediaSettings
from workers.jobs import JobRef
from workers.media import derive, unpack

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # a job whose worker died this many times is marked failed
STALE_AFTER = timedelta(hours=6)  # a running row from another machine is presumed dead
SAVE_ATTEMPTS = 3  # a result the index refused (deadlock, dropped connection) is saved again


@dataclass(frozen=True)
class JobEnv:
    """What running a job needs: the index, the archive (with its blob store), [media], [limits]."""

    db: Database
    archive: Archive
    settings: MediaSettings
    limits: LimitsConfig = LimitsConfig()

    @classmethod
    def of(cls, ctx: AppContext) -> JobEnv:
        return cls(ctx.db, ctx.archive, ctx.config.media, ctx.config.limits)


# -- queueing --------------------------------------------------------------------------


def enqueue(session: Session, items: list[Item], *, new: bool = False) -> list[JobRef]:
    """Returns the jobs added for items that need work (none twice per item and kind).

    An archive item of the message itself (not a member) gets an `expand` job unless
    its members are already there; material items get their derivative jobs.
    new=True says the items were made in this transaction, so none has a job yet.
    """
    existing: set = set()
    expanded: set[int] = set()
    if not new:
        ids = [i.id for i in items]
        existing = set(
            session.execute(
                select(MediaJob.item_id, MediaJob.kind).where(MediaJob.item_id.in_(ids))
            ).all()
        )
        expanded = set(session.scalars(select(Item.container_id).where(Item.container_id.in_(ids))))
    jobs = []
    for item in items:
        for kind, priority in _kinds(item, expanded):
            if (item.id, kind) not in existing:
                jobs.append(MediaJob(item_id=item.id, kind=kind, priority=priority))
    if not jobs:
        return []
    session.add_all(jobs)
    session.flush()
    return [JobRef(j.priority, j.id, j.kind) for j in jobs]


def _kinds(item: Item, expanded: set[int]) -> list[tuple[str, int]]:
    kinds = []
    if item.container_id is None and item.id not in expanded and unpack.can_expand(item):
        kinds.append((EXPAND, EXPAND_PRIORITY))
    if item.role == "material":
        kinds += [(kind, derive.PRIORITY[kind]) for kind in derive.job_kinds(item)]
    return kinds


def enqueue_filed(session: Session, message: Message) -> list[JobRef]:
    """Queues a message's jobs (archives to open, derivatives) in its filing transaction.

    Returns them; the caller runs the expand jobs and submits the rest after the commit.
    """
    return enqueue(session, list(message.items), new=True)


def refs_of(session: Session, job_ids: list[int]) -> list[JobRef]:
    """Returns the pending jobs among these ids, ready to submit."""
    rows = session.execute(
        select(MediaJob.priority, MediaJob.id, MediaJob.kind).where(
            MediaJob.id.in_(job_ids), MediaJob.state == "pending"
        )
    ).all()
    return [JobRef(*row) for row in rows]


def backfill(session: Session) -> list[JobRef]:
    """Queues jobs for items that have none: filed before such jobs existed, archives included."""
    has_job = select(MediaJob.id).where(MediaJob.item_id == Item.id).exists()
    items = list(
        session.scalars(
            select(Item).where(
                Item.status == "ok",
                Item.blob_path.is_not(None),
                (Item.role == "material") | (Item.media == "archive"),
                ~has_job,
            )
        )
    )
    return enqueue(session, items) if items else []


def pending(session: Session) -> list[JobRef]:
    """Returns every pending job, by priority and age."""
    rows = session.execute(
        select(MediaJob.priority, MediaJob.id, MediaJob.kind)
        .where(MediaJob.state == "pending")
        .order_by(MediaJob.priority, MediaJob.id)
    ).all()
    return [JobRef(*row) for row in rows]


def retry_failed(session: Session, job_ids: list[int] | None = None) -> list[JobRef]:
    """Puts failed jobs (all, or those given) back to pending; returns them."""
    query = select(MediaJob).where(MediaJob.state == "failed")
    if job_ids:
        query = query.where(MediaJob.id.in_(job_ids))
    jobs = list(session.scalars(query))
    for job in jobs:
        job.state, job.attempts, job.error, job.worker = "pending", 0, None, None
        job.started_at = job.finished_at = None
    return [JobRef(j.priority, j.id, j.kind) for j in jobs]


def recover_stale(session: Session) -> int:
    """Returns how many `running` rows whose process is gone went back to pending (or failed)."""
    host, count = socket.gethostname(), 0
    for job in session.scalars(select(MediaJob).where(MediaJob.state == "running")):
        if not _is_dead(job, host):
            continue
        count += 1
        requeue(job, f"the worker process died {job.attempts} times while running this job")
    if count:
        log.warning("%d media jobs were left running by a process that died; requeued", count)
    return count


def requeue(job: MediaJob, reason_if_given_up: str) -> None:
    """Puts a `running` job nobody runs back to pending, or fails it after MAX_ATTEMPTS."""
    if job.attempts >= MAX_ATTEMPTS:
        job.state, job.finished_at = "failed", datetime.now(UTC)
        job.error = job.error or reason_if_given_up
    else:
        job.state, job.worker = "pending", None


def _is_dead(job: MediaJob, host: str) -> bool:
    worker_host, _, pid = (job.worker or "").rpartition(":")
    gone = process_gone(worker_host, pid) if worker_host == host else None
    if gone is None:  # another host: only the time since it started can tell
        started = job.started_at or job.created_at
        return started < datetime.now(UTC) - STALE_AFTER
    return gone


# -- running one job (in a pool's worker process, or a Celery task) ---------------------


def run_job(env: JobEnv, job_id: int) -> str:
    """Runs one job by id; returns done, failed, waiting (the machine failed) or skipped.

    Idempotent: derivatives are named by content and overwritten atomically.
    """
    db, archive = env.db, env.archive
    src = _claim(db, job_id)
    if src is None:
        return "skipped"
    kind, source = src
    try:
        result = _derive_within_budget(env, kind, source)
    except Exception as exc:
        return _failed(db, job_id, kind, source, exc)
    # With an S3 store the derivatives were made in the local cache: upload them
    # before the index says they exist, so every machine can serve them.
    for rel in filter(None, (result.thumbnail, result.preview, result.web_video)):
        archive.publish(rel)
    if not _save(db, job_id, kind, source, result):
        return "failed"
    if result.status:  # a corrupt or encrypted file: expected, one line, no traceback
        log.warning("%s is %s: %s", source.name, result.status, result.error)
    return "done"


def _derive_within_budget(env: JobEnv, kind: str, source: derive.Source) -> derive.Derived:
    """Returns derive()'s result, made within the job's wall-clock and memory budget.

    The budget is applied here, where every job runs (a pool worker process or a Celery
    task), and only around the work: never while the index is written. A job a budget
    stopped is a result, not a failure: running it again would stop it again. A decoder
    stuck in C code, which the alarm cannot interrupt, ends the worker process (cpu_cap):
    the pool counts an attempt and fails the job after MAX_ATTEMPTS.
    """
    deadline = derive.job_deadline(kind, env.limits)
    doing = f"the {kind} job of {source.name}"
    try:
        with (
            budget.cpu_cap(deadline),
            budget.run_within(deadline, env.limits.job_memory_bytes, doing),
        ):
            return derive.derive(kind, source, env.archive, env.settings, env.limits, deadline)
    except LimitExceeded as exc:
        log.warning("%s stopped: %s", doing, exc)
        return derive.refused(exc)


def _save(
    db: Database, job_id: int, kind: str, source: derive.Source, result: derive.Derived
) -> bool:
    """Saves a job's result; a job whose result cannot be saved is failed, never left running.

    A deadlock or a dropped connection is tried again (the files are already made,
    so saving twice is harmless); after that the job is recorded as failed, so
    `mailroom media retry` can run it again.
    """
    reason, last = "its result could not be saved", None
    for attempt in range(1, SAVE_ATTEMPTS + 1):
        try:
            _finish(db, job_id, result, None)
            return True
        except (DBAPIError, StorageError) as exc:
            log.warning(
                "could not save the %s of %s (attempt %d of %d): %s",
                kind, source.name, attempt, SAVE_ATTEMPTS, str(exc).splitlines()[0],
            )  # fmt: skip
            reason = f"the index did not take its result: {getattr(exc, 'orig', None) or exc}"
            last = exc
            time.sleep(0.2 * attempt)
        except Exception as exc:
            log.exception("could not save the %s of %s", kind, source.name)
            reason = f"its result could not be saved: {type(exc).__name__}: {exc}"
            break
    if last is not None and is_transient(last):  # the index is down or locked: not the job's fault
        defer(db, job_id, last, f"{kind} of {source.name}")
        return False
    _finish(db, job_id, None, reason[:4000])
    return False


def run_jobs(env: JobEnv, job_ids: list[int]) -> list[str]:
    """Runs several jobs by id in one go; returns each one's result (as run_job does).

    One claim and one save for the lot: 2,000 members of a zip cost 80 transactions,
    not 4,000. A job that raises is failed alone (or put back to pending, if the
    machine failed); if the index refuses the saved lot, each result is saved again
    on its own.
    """
    if len(job_ids) == 1:
        return [run_job(env, job_ids[0])]
    results: dict[int, str] = {}
    made: list[tuple[int, str, derive.Source, derive.Derived]] = []
    for job_id, (kind, source) in _claim_many(env.db, job_ids).items():
        try:
            result = _derive_within_budget(env, kind, source)
        except Exception as exc:
            results[job_id] = _failed(env.db, job_id, kind, source, exc)
            continue
        for rel in filter(None, (result.thumbnail, result.preview, result.web_video)):
            env.archive.publish(rel)
        made.append((job_id, kind, source, result))
    try:
        _finish_many(env.db, made)
        results.update({job_id: "done" for job_id, *_ in made})
    except (DBAPIError, StorageError) as exc:
        log.warning(
            "could not save %d media results at once (%s); saving one by one", len(made), exc
        )
        for job_id, kind, source, result in made:
            results[job_id] = "done" if _save(env.db, job_id, kind, source, result) else "failed"
    for _, _, source, result in made:
        if result.status:  # a corrupt or encrypted file: expected, one line, no traceback
            log.warning("%s is %s: %s", source.name, result.status, result.error)
    return [results.get(job_id, "skipped") for job_id in job_ids]


def _failed(db: Database, job_id: int, kind: str, source: derive.Source, exc: Exception) -> str:
    """Records a job that raised; returns waiting (the machine's fault) or failed."""
    if is_transient(exc):  # a full disk: the file is not at fault, try again later
        defer(db, job_id, exc, f"{kind} of {source.name}")
        return "waiting"
    log.exception("media job %d (%s of %s) failed", job_id, kind, source.name)  # a hung ffmpeg
    _finish(db, job_id, None, f"{type(exc).__name__}: {exc}")
    return "failed"


def _claim_many(db: Database, job_ids: list[int]) -> dict[int, tuple[str, derive.Source]]:
    """Claims the pending jobs among job_ids; returns {job id: (kind, source)} for those."""
    worker = worker_id()
    with db.session() as session:
        session.execute(
            update(MediaJob)
            .where(MediaJob.id.in_(job_ids), MediaJob.state == "pending")
            .values(
                state="running",
                worker=worker,
                attempts=MediaJob.attempts + 1,
                started_at=datetime.now(UTC),
                error=None,
            )
        )
        rows = session.execute(
            select(MediaJob.id, MediaJob.kind, Item)
            .join(Item, Item.id == MediaJob.item_id)
            .where(MediaJob.id.in_(job_ids), MediaJob.state == "running", MediaJob.worker == worker)
            .order_by(MediaJob.item_id)
        ).all()
        return {
            job_id: (kind, derive.Source(i.name, i.media, i.sha256 or "", i.blob_path or ""))
            for job_id, kind, i in rows
        }


def _finish_many(db: Database, made: list[tuple[int, str, derive.Source, derive.Derived]]) -> None:
    """Settles several jobs and merges their results into their items, in one transaction."""
    if not made:
        return
    with db.session() as session:
        texts = []
        for job_id, _, _, result in made:  # claimed in item order: locks taken in that order
            item = settle_job(session, job_id, None, with_item=True)
            if item is None:
                continue
            derive.apply_derived(item, result)
            if result.text is not None:
                texts.append(item)
        index_items(session, texts)


def claim(session: Session, job_id: int) -> MediaJob | None:
    """Claims a pending job for this process (pending -> running); returns it, or None."""
    claimed = session.execute(
        update(MediaJob)
        .where(MediaJob.id == job_id, MediaJob.state == "pending")
        .values(
            state="running",
            worker=worker_id(),
            attempts=MediaJob.attempts + 1,
            started_at=datetime.now(UTC),
            error=None,
        )
    ).rowcount
    return session.get(MediaJob, job_id, populate_existing=True) if claimed else None


def worker_id() -> str:
    """Returns this process's name in a job's `worker` column: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def settle_claimed(session: Session, job_id: int, error: str | None) -> bool:
    """Marks a job this process claimed done or failed; returns False if it was not ours now.

    A job put back to pending while it ran (an archive's expand job, when a password
    arrives) stays pending: it runs again, with what it did not see.
    """
    return bool(
        session.execute(
            update(MediaJob)
            .where(MediaJob.id == job_id, MediaJob.state == "running")
            .where(MediaJob.worker == worker_id())
            .values(
                state="failed" if error else "done",
                error=error[:4000] if error else None,
                finished_at=datetime.now(UTC),
            )
        ).rowcount
    )


def defer(db: Database, job_id: int, exc: BaseException, what: str) -> None:
    """Puts a running job back to pending after a machine failure, its attempt not counted.

    The reason stays in `error` (status and the report show why it waits); the pool
    picks pending rows up again every minute, the sweep after resubmit_after_minutes.
    """
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    log.warning("media job %d (%s) waits for the machine: %s", job_id, what, reason)
    with db.session() as session:
        session.execute(
            update(MediaJob)
            .where(MediaJob.id == job_id, MediaJob.state == "running")
            .values(
                state="pending",
                worker=None,
                attempts=MediaJob.attempts - 1,
                error=f"waiting: {reason}"[:4000],
            )
        )


def _claim(db: Database, job_id: int) -> tuple[str, derive.Source] | None:
    with db.session() as session:
        job = claim(session, job_id)
        if job is None:
            return None
        item = session.get(Item, job.item_id)
        return job.kind, derive.Source(
            item.name, item.media, item.sha256 or "", item.blob_path or ""
        )


def _finish(db: Database, job_id: int, result: derive.Derived | None, error: str | None) -> None:
    """Settles a job and merges what it made into its item, in one transaction."""
    with db.session() as session:
        item = settle_job(session, job_id, error, with_item=result is not None)
        if item is None or result is None:
            return
        derive.apply_derived(item, result)
        if result.text is not None:  # the document's words become searchable
            index_items(session, [item])


def settle_job(session: Session, job_id: int, error: str | None, *, with_item: bool) -> Item | None:
    """Marks a job done or failed; returns its item, locked for the result, if asked.

    A video's poster and its web copy finish in two lanes at once and both merge
    into item.meta, so the item is read only once no other result can be written
    in between: on SQLite the job row is written first, which takes the write lock;
    on PostgreSQL the item row is locked FOR NO KEY UPDATE. Not FOR UPDATE: a job
    re-indexing a sibling item's message inserts search rows that refer to this
    item (a KEY SHARE lock), and FOR UPDATE would deadlock with it.
    """
    session.execute(
        update(MediaJob)
        .where(MediaJob.id == job_id)
        .values(
            state="failed" if error else "done",
            error=error[:4000] if error else None,
            finished_at=datetime.now(UTC),
        )
    )
    if not with_item:
        return None
    item_id = session.scalar(select(MediaJob.item_id).where(MediaJob.id == job_id))
    lock = {"key_share": True}
    return session.get(Item, item_id, with_for_update=lock, populate_existing=True)


def queue_counts(session: Session) -> dict[tuple[str, str], int]:
    """Returns {(kind, state): number of jobs}."""
    from sqlalchemy import func

    rows = session.execute(
        select(MediaJob.kind, MediaJob.state, func.count()).group_by(MediaJob.kind, MediaJob.state)
    ).all()
    return {(kind, state): n for kind, state, n in rows}
