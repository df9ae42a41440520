"""Jobs in this process (no broker): ingest and reports inline, media in the local pool."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from workers.jobs import JobRef, ingest_ids

if TYPE_CHECKING:
    from workers.app import AppContext
    from workers.ingest_result import SourceRef
    from workers.media.pool import LocalPool

log = logging.getLogger(__name__)


class InProcessJobs:
    """The default dispatcher: work happens where it is submitted.

    Media jobs go to the pool that `serve_media` attaches while it runs (a poll, an
    ingest, the service); with no pool attached they wait in the index, as `pending`
    rows, until a command or the service runs them.
    """

    distributed = False

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self.pool: LocalPool | None = None

    def submit_ingest(self, raw_sha256: str, source: SourceRef, *, again: bool = False) -> int:
        from workers.jobs.runners import run_ingest

        run_ingest(self.ctx, **ingest_ids(raw_sha256, source))
        return 1

    def submit_media(self, jobs: Iterable[JobRef], *, again: bool = False) -> int:
        if self.pool is None:
            return 0
        jobs = list(jobs)
        self.pool.submit_all(jobs)  # together: a zip's 2,000 members go in batches
        return len(jobs)

    def submit_report(self, outbox_id: int, attempts: int) -> int:
        from workers.jobs.runners import run_report

        run_report(self.ctx, outbox_id)
        return 1
