"""Is there room to take mail? The free space of the archive's disk and the index's.

Below `[limits] min_free_bytes` the sources stop fetching (the IMAP poller and the
inbox folder), say so once, and start again by themselves once there is room: a
message fetched onto a disk about to fill would only wait, and a disk filled to
the last byte can break the index too. Reported before the disk is full, not after.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workers.app import AppContext


@dataclass(frozen=True)
class Disk:
    """One disk mailroom writes to: what it holds, where, and its free bytes (None: unknown)."""

    what: str  # archive | index
    path: Path | None
    free: int | None


def disks(ctx: AppContext) -> list[Disk]:
    """Returns the archive's disk and, for a SQLite index, the index's (PostgreSQL: its own)."""
    found = [Disk("archive", ctx.config.storage.archive_dir, _free(ctx.config.storage.archive_dir))]
    url = ctx.config.storage.database_url
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        folder = Path(url.removeprefix("sqlite:///")).parent
        found.append(Disk("index", folder, _free(folder)))
    return found


def low_disk(ctx: AppContext) -> str | None:
    """Returns one line saying which disk is below min_free_bytes, or None when all have room."""
    floor = ctx.config.limits.min_free_bytes
    if floor == 0:
        return None
    for disk in disks(ctx):
        if disk.free is not None and disk.free < floor:
            return (
                f"not fetching mail: the {disk.what} disk at {disk.path} has {human_size(disk.free)} "
                f"free, below [limits] min_free_bytes ({human_size(floor)}); fetching starts again by "
                "itself once there is room"
            )
    return None


def _free(path: Path) -> int | None:
    """Returns the free bytes of the disk holding path (its nearest existing folder)."""
    for candidate in (path, *path.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def human_size(n: int) -> str:
    """Returns a byte count as 1.5 GB, 300.0 MB, 12.0 KB or 80 bytes."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
