"""The in-process media pool: worker processes in two lanes, fed by priority.

The default way derivative jobs run (no broker): a lane of `workers` processes for
thumbnails and documents and a lane of `video_workers` for transcodes, so photos
never wait behind a video. `serve_media` attaches a pool to the context's
in-process dispatcher while a command or the service runs.

The worker processes are spawned, not forked (this process holds threads and open
database connections); each opens its own index and archive once, in its initializer,
and watches its parent: a worker whose parent died (`kill -9` of `mailroom run`) ends
itself within a second, its ffmpeg with it (PR_SET_PDEATHSIG in run_command), so no
worker or multiprocessing resource tracker outlives the service.

Expand jobs (opening an archive into items) run in a lane thread of this process,
not in a worker: they add rows and submit the members' jobs through the context, as
the ingesting process does right after filing (workers/media/expand.py).
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
from multiprocessing import get_context
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from storage.archive import Archive
from storage.db import Database
from storage.media_models import MediaJob
from workers.config import Config, MediaSettings
from workers.jobs import MEDIA_BATCH, JobRef
from workers.media.expand import run_expand
from workers.media.jobs import EXPAND, JobEnv, pending, recover_stale, requeue, run_job, run_jobs

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)

# The one piece of state of a spawned worker process: its index and archive, opened by
# the pool's initializer (ProcessPoolExecutor calls functions, it does not keep objects).
_process_env: JobEnv | None = None


def _init_worker_process(
    config: Config, settings: MediaSettings, log_level: str = "INFO", parent: int | None = None
) -> None:
    """Opens the index and archive (with its blob store: local or S3) once per worker process.

    `parent`: the pool's process, which this worker ends with.
    """
    from workers.app import blob_store, setup_logging

    global _process_env
    _die_with_parent(parent or os.getppid())
    setup_logging(log_level)
    archive = Archive(config.storage.archive_dir, store=blob_store(config))
    _process_env = JobEnv(Database(config.storage.database_url), archive, settings, config.limits)


def _die_with_parent(parent: int) -> None:
    """Ends this worker process within a second of its parent's death, however it died.

    A worker waits for its next job on a pipe from the parent; after `kill -9` of the
    parent the pipe's other end may stay open (a sibling holds it), so the worker and
    the resource tracker, which waits for all of them, would block for ever. Not
    PR_SET_PDEATHSIG: it fires when the parent *thread* that started the worker ends,
    and the pool starts workers from lane threads that come and go.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGKILL)  # run_command's children get SIGKILL too

    if os.getppid() != parent:  # it died while this worker was still starting up
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _run_in_worker_process(job_id: int) -> str:
    assert _process_env is not None, "the pool's initializer opens the worker's index first"
    return run_job(_process_env, job_id)


def _run_batch_in_worker_process(job_ids: list[int]) -> list[str]:
    assert _process_env is not None, "the pool's initializer opens the worker's index first"
    return run_jobs(_process_env, job_ids)


class LocalPool:
    """Worker processes in two lanes, fed by priority; started on the first submit."""

    def __init__(self, ctx: AppContext, settings: MediaSettings | None = None):
        self.ctx = ctx
        self.settings = settings or ctx.config.media
        self.sizes = {"general": self.settings.workers, "video": self.settings.video_workers}
        self._queues: dict[str, list[JobRef]] = {lane: [] for lane in self.sizes}
        self._executors: dict[str, ProcessPoolExecutor] = {}
        self._threads: list[threading.Thread] = []
        self._cond = threading.Condition()
        self._known: set[int] = set()  # submitted and not finished
        self._submitted: set[int] = set()  # every job submitted here, for _settle()
        self._waiting: set[int] = set()  # put back by a machine failure: not waited for
        self._closing = False

    def submit(self, job: JobRef) -> None:
        self.submit_all([job])

    def submit_all(self, jobs: list[JobRef]) -> None:
        """Queues jobs together: the lanes see them all at once and take them in batches."""
        with self._cond:
            if self._closing:
                return
            if not self._threads:
                self._start()
            for job in jobs:
                self._waiting.discard(job.id)
                if job.id not in self._known:
                    self._known.add(job.id)
                    self._submitted.add(job.id)
                    heapq.heappush(self._queues[job.lane], job)
            self._cond.notify_all()

    def submit_pending(self) -> int:
        """Requeues what died with an earlier process and submits every pending row."""
        with self.ctx.db.session() as session:
            recover_stale(session)
            jobs = pending(session)
        self.submit_all(jobs)
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
        A job a machine failure put back (a full disk) is not waited for: it stays
        pending, with its reason, for the next run.
        """
        while True:
            self.wait()
            with self._cond:
                settled = self._submitted - self._waiting
            with self.ctx.db.session() as session:
                open_rows = session.execute(
                    select(
                        MediaJob.priority,
                        MediaJob.id,
                        MediaJob.kind,
                        MediaJob.state,
                        MediaJob.worker,
                    ).where(MediaJob.id.in_(settled), MediaJob.state.in_(("pending", "running")))
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

    def worker_pids(self) -> list[int]:
        """Returns the pids of this pool's worker processes."""
        return self._pids()

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
                    requeue(job, "its result could not be saved")
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
            initializer=_init_worker_process,
            initargs=(
                cfg,
                self.settings,
                logging.getLevelName(logging.getLogger().level),
                os.getpid(),
            ),
        )

    def _lane_loop(self, lane: str) -> None:
        while True:
            with self._cond:
                while not self._queues[lane] and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
                batch = self._take(lane)
                executor = self._executors[lane]
            try:
                results = self._run(batch, executor)
                waiting = [j.id for j, r in zip(batch, results, strict=True) if r == "waiting"]
                if waiting:  # a machine failure: the next sweep brings them back
                    with self._cond:
                        self._waiting.update(waiting)
            except BrokenProcessPool:
                self._replace_broken(lane, executor)
            except KeyboardInterrupt:  # raised in the worker by close(finish=False)
                log.info("media jobs %s interrupted; they stay queued", [j.id for j in batch])
            except Exception:  # the job's own errors are recorded by run_job; this is ours
                log.exception("media jobs %s could not be run", [j.id for j in batch])
                self._release([j.id for j in batch])
            finally:
                with self._cond:
                    self._known.difference_update(j.id for j in batch)
                    self._cond.notify_all()

    def _take(self, lane: str) -> list[JobRef]:
        """Pops the next job, and more of the same lane while the queue is long.

        Never more than a fair share, so a few photos still go to every worker at once.
        An expand job goes alone: it runs in this process (it needs the context).
        """
        queue = self._queues[lane]
        batch = [heapq.heappop(queue)]
        if lane == "video" or batch[0].kind == EXPAND:
            return batch
        share = min(MEDIA_BATCH, -(-(len(queue) + 1) // max(1, self.sizes[lane])))
        while queue and len(batch) < share and queue[0].kind != EXPAND:
            batch.append(heapq.heappop(queue))
        return batch

    def _run(self, batch: list[JobRef], executor: ProcessPoolExecutor) -> list[str]:
        """Runs a batch; returns each job's result."""
        if batch[0].kind == EXPAND:  # adds rows and jobs through the context: here
            return [run_expand(self.ctx, batch[0].id)]
        if len(batch) == 1:
            return [executor.submit(_run_in_worker_process, batch[0].id).result()]
        return executor.submit(_run_batch_in_worker_process, [j.id for j in batch]).result()

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
    jobs = ctx.jobs
    pool, previous = LocalPool(ctx), getattr(jobs, "pool", None)
    jobs.pool = pool  # InProcessJobs sends media jobs to the pool attached here
    try:
        pool.submit_pending()
        yield pool
    finally:
        try:  # still attached while it finishes: an archive opened now submits its members' jobs
            pool.close(finish=finish)
        finally:
            jobs.pool = previous
