"""Celery, configured from [queue]: a Redis broker and the tasks behind workers.queue.

Settings for long jobs on a broker that only redelivers after a timeout:
- `task_acks_late` and `worker_prefetch_multiplier = 1`: a task is acknowledged
  when it ends, and a worker holds one task at a time, so a machine that dies
  takes no other work down with it;
- `task_reject_on_worker_lost`: a worker process killed mid-transcode puts its
  task back on the queue, where another worker picks it up;
- soft and hard time limits below Redis' `visibility_timeout`, so a task is never
  still running when Redis hands it to a second worker.
Tasks take ids and hashes only and are idempotent: the job's row in the index is
claimed before work starts (workers/queue.py), so a duplicate delivery is skipped.
No result backend: results live in the index.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any

from celery import Celery

from workers.scale_config import QueueSettings

log = logging.getLogger(__name__)
SENT_MARK = "mailroom:sent:{kind}:{id}"  # Redis key: sent recently, the sweep leaves it


def make_celery(settings: QueueSettings) -> Celery:
    """Returns a Celery app for the broker in settings, with mailroom's tasks registered."""
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
    _register_tasks(app)
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


# -- the tasks: each opens the worker process's context once, then calls workers.queue ---

_context: tuple[int, Any] | None = None  # (pid, AppContext): never shared across a fork


def worker_context():
    """Returns this worker process's AppContext, opened from $MAILROOM_CONFIG on first use."""
    global _context
    if _context is None or _context[0] != os.getpid():
        from workers.cli import setup_logging
        from workers.config import find_config_path, load_config
        from workers.context import open_context
        from workers.queue import configure
        from workers.scale_config import queue_settings

        config = load_config(find_config_path(None))
        setup_logging(config.log_level)
        ctx = open_context(config, migrate=False)
        configure(ctx, queue_settings(config))  # jobs a task queues go to the broker too
        _context = (os.getpid(), ctx)
    return _context[1]


def _register_tasks(app: Celery) -> None:
    @app.task(name="mailroom.ingest", bind=True)
    def ingest_task(self, **ids: Any) -> str:
        from workers.queue import run_ingest

        return run_ingest(worker_context(), **ids).status

    @app.task(name="mailroom.media", bind=True)
    def media_task(self, job_id: int) -> str:
        from workers.queue import run_media

        redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
        return run_media(worker_context(), job_id, redelivered=redelivered)

    @app.task(name="mailroom.report", bind=True)
    def report_task(self, outbox_id: int) -> str:
        from workers.queue import run_report

        return run_report(worker_context(), outbox_id)


# -- the sending side -------------------------------------------------------------------


class CeleryBackend:
    """workers.queue's backend when a broker is configured."""

    def __init__(self, app: Celery, settings: QueueSettings):
        self.app, self.settings = app, settings
        self._redis = None

    def send(self, kind: str, ids: dict[str, Any]) -> None:
        from workers.queue import QUEUE_OF, TASK_OF

        if kind == "media":
            self._mark(kind, ids["job_id"], nx=False)
        self.app.send_task(TASK_OF[kind], kwargs=ids, queue=QUEUE_OF[kind])

    def send_if_stale(self, kind: str, ids: dict[str, Any], mark: str | None = None) -> int:
        """Sends unless the same job was sent within resubmit_after_minutes; returns 0 or 1.

        `mark` names "the same job" (default: the media job id).
        """
        from workers.queue import QUEUE_OF, TASK_OF

        if not self._mark(kind, mark or ids["job_id"], nx=True):
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

    def media(self) -> _MediaAdapter:
        return _MediaAdapter(self)

    def queue_lengths(self) -> dict[str, int]:
        """Returns the number of tasks waiting in each broker queue."""
        with self.app.connection_for_read() as conn:
            client = conn.default_channel.client
            return {name: int(client.llen(name)) for name in ("ingest", "media")}


class _MediaAdapter:
    """The media_jobs.JobBackend face of the Celery backend (submit(JobRef))."""

    def __init__(self, backend: CeleryBackend):
        self.backend = backend

    def submit(self, job) -> None:
        self.backend.send("media", {"job_id": job.id})
