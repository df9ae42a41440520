"""The one interface in front of every background job.

A job is named by ids and hashes only, never bytes or paths, so any machine can
run it from the shared index and object store:

- `ingest`: one fetched message, by the SHA-256 of its raw bytes (already stored);
- `media`: one job row after filing (an archive to open, thumbnails, a web video, a
  document's text), or a batch of derivative jobs (`media_batches`: a zip's members);
- `report`: one outbox mail.

`AppContext.jobs` is set once when the context is opened: `InProcessJobs`
(workers/jobs/local.py) runs ingest and report jobs inline and media jobs in the
process's pool, `CeleryJobs` (workers/jobs/celery.py) hands them to a broker.
Either way the index is the truth: a media row is `pending` until a worker claims
it, an IMAP UID `queued` until its ingest job settles it, so a job sent twice runs
once, and the sweep (`workers.jobs.runners.resubmit_stale`) re-sends what a lost
broker forgot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from storage.media_models import EXPAND

if TYPE_CHECKING:
    from workers.ingest_result import SourceRef

KINDS = ("ingest", "media", "report")
QUEUE_OF = {"ingest": "ingest", "report": "ingest", "media": "media"}
TASK_OF = {"ingest": "mailroom.ingest", "media": "mailroom.media", "report": "mailroom.report"}
MEDIA_BATCH_TASK = "mailroom.media_batch"  # several derivative jobs in one task
MEDIA_BATCH = 25  # derivative jobs run together (the members of a zip of 2,000 photos)


@dataclass(frozen=True, order=True)
class JobRef:
    """A derivative job as a backend sees it: ids only (ordered by priority, then age)."""

    priority: int
    id: int
    kind: str = field(compare=False)

    @property
    def lane(self) -> str:
        return "video" if self.kind == "video" else "general"


class Jobs(Protocol):
    """Where this process's background jobs go.

    `again=True` is the sweep re-sending work the index says is still waiting: a broker
    backend then skips a job it sent recently, so a healthy queue is not flooded.
    Each method returns how many jobs it sent.
    """

    @property
    def distributed(self) -> bool:
        """True when jobs run on worker machines (a broker), not in this process."""
        ...

    def submit_ingest(self, raw_sha256: str, source: SourceRef, *, again: bool = False) -> int:
        """Files a message whose raw bytes are already in the store."""
        ...

    def submit_media(self, jobs: Iterable[JobRef], *, again: bool = False) -> int:
        """Runs derivative jobs whose rows are in the index."""
        ...

    def submit_report(self, outbox_id: int, attempts: int) -> int:
        """Hands one due outbox mail to a sender (at most once per attempt)."""
        ...


def media_batches(jobs: Iterable[JobRef]) -> list[list[JobRef]]:
    """Returns the jobs grouped to run together: thumbnails and documents MEDIA_BATCH at a
    time; a video transcode or an archive's expand job alone."""
    batches: list[list[JobRef]] = []
    open_batch: list[JobRef] = []
    for job in sorted(jobs):
        if job.lane == "video" or job.kind == EXPAND:
            batches.append([job])
            continue
        open_batch.append(job)
        if len(open_batch) == MEDIA_BATCH:
            batches.append(open_batch)
            open_batch = []
    return batches + ([open_batch] if open_batch else [])


def ingest_ids(raw_sha256: str, source: SourceRef) -> dict:
    """Returns the arguments of an ingest job: the raw hash and where the message came from."""
    received = source.received_at.isoformat() if source.received_at else None
    return {
        "raw_sha256": raw_sha256,
        "source_kind": source.kind,
        "location": source.location,
        "uidvalidity": source.uidvalidity,
        "uid": source.uid,
        "received_at": received,
        "declared_size": source.declared_size,
    }
