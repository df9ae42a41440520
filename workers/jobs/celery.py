"""Celery, configured from [queue]: a Redis broker, the tasks, and the `CeleryJobs` dispatcher.

Settings for long jobs on a broker that only redelivers after a timeout:
- `task_acks_late` and `worker_prefetch_multiplier = 1`: a task is acknowledged
  when it ends, and a worker holds one task at a time, so a machine that dies
  takes no other work down with it;
- `task_reject_on_worker_lost`: a worker process killed mid-transcode puts its
  task back on the queue, where another worker picks it up;
- soft and hard time limits below Redis' `visibility_timeout`, so a task is never
  still running when Redis hands it to a second worker.
Tasks take ids and hashes only and are idempotent: the job's row in the index is
claimed before work starts (workers/jobs/runners.py), so a duplicate delivery is skipped.
No result backend: results live in the index.

A worker process gets its application context from the `open_worker_context`
function given to `make_celery` by `mailroom worker`, which built and checked the
whole config first; the prefork pool's processes inherit it and each opens its own
connections on first use.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from celery import Celery

from workers.config import QueueSettings
from workers.jobs import MEDIA_BATCH_TASK, QUEUE_OF, TASK_OF, JobRef, ingest_ids, media_batches

if TYPE_CHECKING:
    from workers.app import AppContext
    from workers.ingest_result import SourceRef

log = logging.getLogger(__name__)
SENT_MARK = "mailroom:sent:{kind}:{id}"  # Redis key: sent recently, the sweep leaves it


def make_celery(
    settings: QueueSettings, open_worker_context: Callable[[], AppContext] | None = None
) -> Celery:
    """Returns a Celery app for the broker in settings, with mailroom's tasks registered.

    `open_worker_context` opens a worker process's context (only workers run tasks;
    a process that only sends them leaves it out).
    """
    app = Celery("mailroom", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_soft_time_limit=settings.soft_time_limit,
        task_time_limit=settings.time_limit,
        broker_transport_options=transport_options(settings),
        broker_connection_retry_on_startup=True,
        task_default_queue="ingest",
        task_routes={
            "mailroom.media": {"queue": "media"},
            MEDIA_BATCH_TASK: {"queue": "media"},
            "mailroom.ingest": {"queue": "ingest"},
            "mailroom.report": {"queue": "ingest"},
        },
        worker_hijack_root_logger=False,
        # Celery's stderr proxy would swallow the lines setup_logging() writes to it
        # from a task process (it drops records that re-enter logging): keep stderr.
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        enable_utc=True,
    )
    _register_tasks(app, _ProcessContext(open_worker_context))
    return app


def transport_options(settings: QueueSettings) -> dict[str, int]:
    """Returns Redis transport options: the visibility timeout, and how often it is checked.

    kombu looks for unacknowledged tasks of dead workers about every interval x
    throttle seconds (100 s by default); a short timeout gets a matching short scan.
    """
    timeout = settings.visibility_timeout
    return {
        "visibility_timeout": timeout,
        "unacked_restore_interval": max(1, min(10, timeout // 10)),
        "unacked_restore_throttle": max(1, min(10, timeout // 60)),
    }


# -- the tasks: each uses the worker process's context, then a runner ----------------------


class _ProcessContext:
    """The AppContext of the current worker process, opened on first use (never across a fork)."""

    def __init__(self, opener: Callable[[], AppContext] | None):
        self.opener = opener
        self.pid: int | None = None
        self.ctx: AppContext | None = None

    def get(self) -> AppContext:
        if self.opener is None:
            raise RuntimeError("this Celery app only sends jobs; `mailroom worker` runs them")
        if self.ctx is None or self.pid != os.getpid():
            self.ctx, self.pid = self.opener(), os.getpid()
        return self.ctx


def _register_tasks(app: Celery, context: _ProcessContext) -> None:
    @app.task(name="mailroom.ingest", bind=True)
    def ingest_task(self, **ids: Any) -> str:
        from workers.jobs.runners import run_ingest

        return run_ingest(context.get(), **ids).status

    @app.task(name="mailroom.media", bind=True)
    def media_task(self, job_id: int) -> str:
        from workers.jobs.runners import run_media

        redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
        return run_media(context.get(), job_id, redelivered=redelivered)

    @app.task(name=MEDIA_BATCH_TASK, bind=True)
    def media_batch_task(self, job_ids: list[int]) -> list[str]:
        from workers.jobs.runners import run_media_batch

        redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
        return run_media_batch(context.get(), job_ids, redelivered=redelivered)

    @app.task(name="mailroom.report", bind=True)
    def report_task(self, outbox_id: int) -> str:
        from workers.jobs.runners import run_report

        return run_report(context.get(), outbox_id)


# -- the sending side -------------------------------------------------------------------


class CeleryJobs:
    """The dispatcher when a broker is configured: every job becomes a Celery task."""

    distributed = True

    def __init__(self, app: Celery, settings: QueueSettings):
        self.app, self.settings = app, settings
        self._redis = None

    def submit_ingest(self, raw_sha256: str, source: SourceRef, *, again: bool = False) -> int:
        ids = ingest_ids(raw_sha256, source)
        return self._send("ingest", ids, mark=raw_sha256 if again else None)

    def submit_media(self, jobs: Iterable[JobRef], *, again: bool = False) -> int:
        """Sends derivative jobs, batched (media_batches): the members of a zip of 2,000
        photos are 80 tasks, not 2,000. Returns how many jobs were sent."""
        ready = []
        for job in jobs:
            if again and not self._mark("media", job.id, nx=True):
                continue  # sent recently: the broker still has it
            if not again:
                self._mark("media", job.id, nx=False)
            ready.append(job)
        for batch in media_batches(ready):
            if len(batch) == 1:
                self._send("media", {"job_id": batch[0].id}, mark=None)
            else:
                ids = {"job_ids": [job.id for job in batch]}
                self.app.send_task(MEDIA_BATCH_TASK, kwargs=ids, queue=QUEUE_OF["media"])
        return len(ready)

    def submit_report(self, outbox_id: int, attempts: int) -> int:
        # Called by every scheduler tick for each due mail: the mark per attempt keeps a
        # slow or stopped worker from collecting a copy of the job every minute.
        return self._send("report", {"outbox_id": outbox_id}, mark=f"{outbox_id}.{attempts}")

    def _send(self, kind: str, ids: dict[str, Any], mark: str | int | None) -> int:
        """Sends a task; with a mark, only if the same job was not sent within
        resubmit_after_minutes. Returns 0 or 1."""
        if mark is not None and not self._mark(kind, mark, nx=True):
            return 0
        self.app.send_task(TASK_OF[kind], kwargs=ids, queue=QUEUE_OF[kind])
        return 1

    def _mark(self, kind: str, job_id: int | str, *, nx: bool) -> bool:
        # The mark lives in the broker's Redis: if Redis loses its data, the marks go
        # with the queued tasks, and the sweep sends every pending row again.
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self.settings.broker_url)
        key = SENT_MARK.format(kind=kind, id=job_id)
        ttl = self.settings.resubmit_after_minutes * 60
        return bool(self._redis.set(key, datetime.now(UTC).isoformat(), ex=ttl, nx=nx))

    def queue_lengths(self) -> dict[str, int]:
        """Returns the number of tasks waiting in each broker queue."""
        with self.app.connection_for_read() as conn:
            client = conn.default_channel.client
            return {name: int(client.llen(name)) for name in ("ingest", "media")}
