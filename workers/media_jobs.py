"""Derivative jobs: queued in the index, run by a pool of worker processes.

The index is the queue: `enqueue()` writes MediaJob rows; a backend runs them by
id. The in-process `LocalPool` is the default backend (no broker): a lane of
`workers` processes for thumbnails and documents and a lane of `video_workers`
for transcodes, so photos never wait behind a video. A worker claims its row
(pending -> running) before working, so a job submitted twice runs once; a row
left `running` by a process that died goes back to pending at the next start.
A Celery backend (issue 8) only has to provide `submit(job)` and call `run_job`.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from storage.archive import Archive
from storage.db import Database
from storage.locks import process_gone
from storage.media_models import MediaJob
from storage.models import Item, Message
from storage.search import index_message
from workers import derive, unpack
from workers.config import Config
from workers.context import AppContext

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # a job whose worker died this many times is marked failed
STALE_AFTER = timedelta(hours=6)  # a running row from another machine is presumed dead
SAVE_ATTEMPTS = 3  # a result the index refused (deadlock, dropped connection) is saved again


@dataclass(frozen=True, order=True)
class JobRef:
    """What a backend needs to run a job: ids only (ordered by priority, then age)."""

    priority: int
    id: int
    kind: str = field(compare=False)

    @property
    def lane(self) -> str:
        return "video" if self.kind == "video" else "general"


class JobBackend(Protocol):
    """Runs queued jobs somewhere: this process's pool, or (later) Celery workers."""

    def submit(self, job: JobRef) -> None: ...


_backend: JobBackend | None = None  # set by serve_media(); None: rows wait in the index


# -- queueing --------------------------------------------------------------------------


def enqueue(session: Session, items: list[Item], *, new: bool = False) -> list[JobRef]:
    """Returns the jobs added for items that need derivatives (none twice per item and kind).

    new=True says the items were made in this transaction, so none has a job yet.
    """
    existing: set = set()
    if not new:
        ids = [i.id for i in items]
        existing = set(
            session.execute(
                select(MediaJob.item_id, MediaJob.kind).where(MediaJob.item_id.in_(ids))
            ).all()
        )
    jobs = []
    for item in items:
        if item.role != "material":
            continue
        for kind in derive.job_kinds(item):
            if (item.id, kind) not in existing:
                jobs.append(MediaJob(item_id=item.id, kind=kind, priority=derive.PRIORITY[kind]))
    if not jobs:
        return []
    session.add_all(jobs)
    session.flush()
    return [JobRef(j.priority, j.id, j.kind) for j in jobs]


def enqueue_filed(session: Session, message: Message) -> list[JobRef] | None:
    """Queues a message's derivative jobs in its filing transaction; submit them after commit.

    Returns None when the message has archives to open: after_ingest() does that
    in a transaction of its own, since unpacking can take long and can fail.
    """
    if any(unpack.can_expand(item) for item in message.items):
        return None
    return enqueue(session, list(message.items), new=True)


def after_ingest(ctx: AppContext, message_pk: int) -> list[JobRef]:
    """Opens the archives of a newly filed message and queues its derivative jobs.

    Returns the jobs queued; they are submitted to the running backend, if any.
    """
    created: list[str] = []
    try:
        with ctx.db.session() as session:
            message = session.get(Message, message_pk)
            for item in list(message.items):
                if unpack.can_expand(item):
                    unpack.expand_archive(ctx, session, item, created)
            jobs = enqueue(session, list(message.items))
    except BaseException:
        for rel in created:
            ctx.archive.unlink_view(rel)
        raise
    submit_all(jobs)
    return jobs


def submit_all(jobs: list[JobRef]) -> None:
    if _backend is not None:
        for job in jobs:
            _backend.submit(job)


def backfill(session: Session) -> list[JobRef]:
    """Queues jobs for items filed before media jobs existed (items with no job row)."""
    has_job = select(MediaJob.id).where(MediaJob.item_id == Item.id).exists()
    items = list(
        session.scalars(
            select(Item).where(
                Item.status == "ok", Item.blob_path.is_not(None), Item.role == "material", ~has_job
            )
        )
    )
    return enqueue(session, items) if items else []


def pending(session: Session) -> list[JobRef]:
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
        _requeue(job, f"the worker process died {job.attempts} times while running this job")
    if count:
        log.warning("%d media jobs were left running by a process that died; requeued", count)
    return count


def _requeue(job: MediaJob, reason_if_given_up: str) -> None:
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
    return gone or _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    """True for a process that has exited but was not reaped (containers whose init never
    reaps orphans keep them), which os.kill(pid, 0) still finds."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return False


# -- running one job (in a worker process, or a Celery task later) ----------------------

_worker: tuple[Database, Archive, derive.MediaSettings] | None = None


def init_worker(config: Config, settings: derive.MediaSettings, log_level: str = "INFO") -> None:
    """Opens the index and archive (with its blob store: local or S3) once per worker process."""
    from workers.scale_config import blob_store

    global _worker
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    archive = Archive(config.storage.archive_dir, store=blob_store(config))
    _worker = (Database(config.storage.database_url), archive, settings)


def run_job(job_id: int) -> str:
    """Runs one job by id; returns done, failed or skipped (someone else has it).

    Idempotent: derivatives are named by content and overwritten atomically.
    """
    assert _worker is not None, "init_worker() first"
    db, archive, settings = _worker
    src = _claim(db, job_id)
    if src is None:
        return "skipped"
    kind, source = src
    try:
        result = derive.derive(kind, source, archive, settings)
    except Exception as exc:  # a missing program, a hung ffmpeg, a full disk: retry later
        log.exception("media job %d (%s of %s) failed", job_id, kind, source.name)
        _finish(db, job_id, None, f"{type(exc).__name__}: {exc}")
        return "failed"
    # With an S3 store the derivatives were made in the local cache: upload them
    # before the index says they exist, so every machine can serve them.
    for rel in filter(None, (result.thumbnail, result.preview, result.web_video)):
        archive.publish(rel)
    if not _save(db, job_id, kind, source, result):
        return "failed"
    if result.status:
        log.info("%s is %s: %s", source.name, result.status, result.error)
    return "done"


def _save(
    db: Database, job_id: int, kind: str, source: derive.Source, result: derive.Derived
) -> bool:
    """Saves a job's result; a job whose result cannot be saved is failed, never left running.

    A deadlock or a dropped connection is tried again (the files are already made,
    so saving twice is harmless); after that the job is recorded as failed, so
    `mailroom media retry` can run it again.
    """
    reason = "its result could not be saved"
    for attempt in range(1, SAVE_ATTEMPTS + 1):
        try:
            _finish(db, job_id, result, None)
            return True
        except DBAPIError as exc:
            log.warning(
                "could not save the %s of %s (attempt %d of %d): %s",
                kind, source.name, attempt, SAVE_ATTEMPTS, str(exc).splitlines()[0],
            )  # fmt: skip
            reason = f"the index did not take its result: {exc.orig or exc}"
            time.sleep(0.2 * attempt)
        except Exception as exc:
            log.exception("could not save the %s of %s", kind, source.name)
            reason = f"its result could not be saved: {type(exc).__name__}: {exc}"
            break
    _finish(db, job_id, None, reason[:4000])
    return False


def _claim(db: Database, job_id: int) -> tuple[str, derive.Source] | None:
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with db.session() as session:
        claimed = session.execute(
            update(MediaJob)
            .where(MediaJob.id == job_id, MediaJob.state == "pending")
            .values(
                state="running",
                worker=worker,
                attempts=MediaJob.attempts + 1,
                started_at=datetime.now(UTC),
                error=None,
            )
        ).rowcount
        if not claimed:
            return None
        job = session.get(MediaJob, job_id)
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
            index_message(session, item.message_pk)


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


# -- the in-process pool -----------------------------------------------------------------


class LocalPool:
    """Worker processes in two lanes, fed by priority; started on the first submit."""

    def __init__(self, ctx: AppContext, settings: derive.MediaSettings | None = None):
        self.ctx = ctx
        self.settings = settings or derive.media_settings(ctx.config)
        self.sizes = {"general": self.settings.workers, "video": self.settings.video_workers}
        self._queues: dict[str, list[JobRef]] = {lane: [] for lane in self.sizes}
        self._executors: dict[str, ProcessPoolExecutor] = {}
        self._threads: list[threading.Thread] = []
        self._cond = threading.Condition()
        self._known: set[int] = set()  # submitted and not finished
        self._submitted: set[int] = set()  # every job submitted here, for _settle()
        self._closing = False

    def submit(self, job: JobRef) -> None:
        with self._cond:
            if job.id in self._known or self._closing:
                return
            if not self._threads:
                self._start()
            self._known.add(job.id)
            self._submitted.add(job.id)
            heapq.heappush(self._queues[job.lane], job)
            self._cond.notify_all()

    def submit_pending(self) -> int:
        """Requeues what died with an earlier process and submits every pending row."""
        with self.ctx.db.session() as session:
            recover_stale(session)
            jobs = pending(session)
        for job in jobs:
            self.submit(job)
        return len(jobs)

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until every submitted job has finished; returns False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._known:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, *, finish: bool = True) -> None:
        """Stops the pool: after every submitted job is settled (finish), or now.

        Without finish, running jobs are interrupted and go back to pending, so a
        service stop never waits for a transcode; the next start runs them again.
        """
        if finish:
            self._settle()
        with self._cond:
            self._closing = True
            for queue in self._queues.values():
                queue.clear()
            self._cond.notify_all()
        if not finish:
            self._interrupt_running()
        for thread in self._threads:
            thread.join()
        for executor in self._executors.values():
            executor.shutdown(wait=True, cancel_futures=True)

    def _settle(self) -> None:
        """Waits until every job submitted here is done or failed, wherever it runs.

        Another process (the service) may have claimed one of them first: then our
        worker skipped it and we wait for the row, resubmitting it if it was requeued.
        """
        while True:
            self.wait()
            with self.ctx.db.session() as session:
                open_rows = session.execute(
                    select(
                        MediaJob.priority,
                        MediaJob.id,
                        MediaJob.kind,
                        MediaJob.state,
                        MediaJob.worker,
                    ).where(
                        MediaJob.id.in_(self._submitted), MediaJob.state.in_(("pending", "running"))
                    )
                ).all()
            if not open_rows:
                return
            mine = {f"{socket.gethostname()}:{pid}" for pid in self._pids()}
            with self._cond:
                orphans = [job_id for _, job_id, _, state, worker in open_rows
                           if state == "running" and worker in mine
                           and job_id not in self._known]  # fmt: skip
            if orphans:  # our worker returned without settling the row (the index was down)
                self._release(orphans)
            for priority, job_id, kind, state, _ in open_rows:
                if state == "pending":
                    self.submit(JobRef(priority, job_id, kind))
            time.sleep(0.5)

    def _pids(self) -> list[int]:
        # ProcessPoolExecutor has no public list of its processes; its _processes map
        # (pid -> process) has been stable since Python 3.2.
        return [pid for ex in self._executors.values() for pid in (ex._processes or {})]

    def _release(self, job_ids: list[int]) -> None:
        """Puts jobs our workers left `running` back to pending (failed after MAX_ATTEMPTS)."""
        try:
            with self.ctx.db.session() as session:
                for job in session.scalars(
                    select(MediaJob).where(MediaJob.id.in_(job_ids), MediaJob.state == "running")
                ):
                    _requeue(job, "its result could not be saved")
        except Exception:  # the index is unreachable: the next start recovers these rows
            log.exception("could not put media jobs %s back in the queue", job_ids)

    def _interrupt_running(self) -> None:
        """Interrupts the worker processes and puts their jobs back to pending."""
        pids = self._pids()  # ProcessPoolExecutor has no public way to interrupt a call
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)  # run_command then kills its ffmpeg too
        host = socket.gethostname()
        with self.ctx.db.session() as session:
            session.execute(
                update(MediaJob)
                .where(
                    MediaJob.state == "running",
                    MediaJob.worker.in_([f"{host}:{pid}" for pid in pids]),
                )
                .values(state="pending", worker=None, attempts=MediaJob.attempts - 1)
            )

    def _start(self) -> None:
        for lane, size in self.sizes.items():
            self._executors[lane] = self._executor(size)
            for n in range(size):
                thread = threading.Thread(
                    target=self._lane_loop, args=(lane,), daemon=True, name=f"media-{lane}-{n}"
                )
                thread.start()
                self._threads.append(thread)

    def _executor(self, size: int) -> ProcessPoolExecutor:
        # spawn: forking a process that holds threads and open database connections is unsafe
        cfg = self.ctx.config
        return ProcessPoolExecutor(
            max_workers=size,
            mp_context=get_context("spawn"),
            initializer=init_worker,
            initargs=(cfg, self.settings, logging.getLevelName(logging.getLogger().level)),
        )

    def _lane_loop(self, lane: str) -> None:
        while True:
            with self._cond:
                while not self._queues[lane] and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
                job = heapq.heappop(self._queues[lane])
                executor = self._executors[lane]
            try:
                executor.submit(run_job, job.id).result()
            except BrokenProcessPool:
                self._replace_broken(lane, executor)
            except KeyboardInterrupt:  # raised in the worker by close(finish=False)
                log.info("media job %d interrupted; it stays queued", job.id)
            except Exception:  # the job's own errors are recorded by run_job; this is ours
                log.exception("media job %d could not be run", job.id)
                self._release([job.id])
            finally:
                with self._cond:
                    self._known.discard(job.id)
                    self._cond.notify_all()

    def _replace_broken(self, lane: str, broken: ProcessPoolExecutor) -> None:
        """A worker process died (killed, out of memory): new processes, and requeue its job."""
        log.error("a media worker process died; starting new ones")
        with self._cond:
            if self._executors[lane] is broken and not self._closing:
                self._executors[lane] = self._executor(self.sizes[lane])
        broken.shutdown(wait=False, cancel_futures=True)
        with self.ctx.db.session() as session:
            recover_stale(session)
            jobs = [j for j in pending(session) if j.lane == lane]
        for job in jobs:
            with self._cond:
                if job.id not in self._known and not self._closing:
                    self._known.add(job.id)
                    heapq.heappush(self._queues[lane], job)
                    self._cond.notify_all()


@contextmanager
def serve_media(ctx: AppContext, *, finish: bool) -> Iterator[LocalPool]:
    """Runs derivative jobs in this process's pool while the block runs.

    Jobs queued inside the block (and pending ones from before) are submitted; on
    leaving, `finish` waits for them (one-shot commands), else queued ones stay
    pending in the index for the next start.
    """
    global _backend
    pool, previous = LocalPool(ctx), _backend
    _backend = pool
    try:
        pool.submit_pending()
        yield pool
    finally:
        _backend = previous
        pool.close(finish=finish)


def queue_counts(session: Session) -> dict[tuple[str, str], int]:
    """Returns {(kind, state): number of jobs}."""
    from sqlalchemy import func

    rows = session.execute(
        select(MediaJob.kind, MediaJob.state, func.count()).group_by(MediaJob.kind, MediaJob.state)
    ).all()
    return {(kind, state): n for kind, state, n in rows}
