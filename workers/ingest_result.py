"""Where a raw message came from, and what ingesting it did.

Plain records that pollers and queues pass around, apart from workers/ingest.py
so that using them does not load the parser and classifier (an unchanged mailbox
poll imports this module, not the ingestion code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workers.jobs import JobRef


@dataclass
class SourceRef:
    """Where a raw message came from."""

    kind: str = "file"  # file | maildir | mbox | imap
    location: str = ""  # path, or account/folder
    uidvalidity: int | None = None
    uid: int | None = None
    received_at: datetime | None = None  # IMAP INTERNALDATE, when known
    # the size the server announced (RFC822.SIZE) when it kept sending fewer bytes:
    # the message is filed flagged `truncated`, never silently short
    declared_size: int | None = None

    def label(self) -> str:
        if self.uid is not None:
            return f"{self.kind}:{self.location};uidvalidity={self.uidvalidity};uid={self.uid}"
        return f"{self.kind}:{self.location}"


@dataclass
class IngestOutcome:
    """What happened to one message."""

    status: str  # filed | triage | not_material | duplicate | error
    message_pk: int | None
    message_id: str = ""
    items: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    media: list[JobRef] | None = None  # derivative jobs queued with the filing
