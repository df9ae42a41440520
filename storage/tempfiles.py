"""Sweeping the temporary files a crash left in the archive.

Temporary names say whose they are (pipeline/tempnames.py). One is a leftover when
the process that made it has ended (on this host), or when it has not changed for
longer than any live job has been running (another host's, or a name from before
owners were recorded): writers touch their file as they go, so a file older than
every running job and than STALE belongs to nobody. Names from before the owner
mark (`.tmp-…`, `.<name>.….part`, `.tmp/unpack-…`) are swept by age alone.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.tempnames import MARK, temp_owner
from storage.locks import process_gone

log = logging.getLogger(__name__)
STALE = timedelta(hours=1)  # untouched this long, a temporary file has no writer left
UNPACK_FOLDER = ".tmp"  # where archives are unpacked, inside the archive root


@dataclass
class Swept:
    """What a sweep found and removed."""

    removed: list[str] = field(default_factory=list)  # relative paths
    kept: int = 0  # temporary files of live processes
    failed: list[str] = field(default_factory=list)


def is_temporary(name: str, parent: str) -> bool:
    """Returns True for the name of a temporary file or folder (ours, or an older form)."""
    if name.startswith((MARK, ".tmp-")):
        return True
    if name.startswith(".") and name.endswith(".part"):
        return True
    return parent == UNPACK_FOLDER and name.startswith("unpack-")


def sweep(
    root: Path,
    *,
    live_since: datetime | None = None,
    owners: set[str] | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> Swept:
    """Removes leftover temporary files under root; returns what it did.

    `live_since`: when the oldest job still running started (None: none runs).
    `owners`: pids of this host whose files go whatever their age (a stop that
    killed its workers sweeps theirs). A file of a live process here is kept.
    """
    now = now or datetime.now(UTC)
    cutoff = now - STALE
    if live_since is not None:
        cutoff = min(cutoff, live_since)
    host, result = socket.gethostname(), Swept()
    for folder, dirs, files in os.walk(root):
        parent = Path(folder)
        where = parent.name if parent != root else ""
        for name in [*files, *dirs]:
            if not is_temporary(name, where):
                continue
            path = parent / name
            if _leftover(path, name, host, owners or set(), cutoff):
                _remove(path, root, result, dry_run)
            else:
                result.kept += 1
        dirs[:] = [d for d in dirs if not is_temporary(d, where)]
    if result.removed:
        log.info("removed %d temporary files left by crashed processes", len(result.removed))
    return result


def _leftover(path: Path, name: str, host: str, owners: set[str], cutoff: datetime) -> bool:
    owner = temp_owner(name)
    if owner is not None and owner[0] == host:
        if owner[1] in owners:
            return True
        gone = process_gone(*owner)
        if gone is not None:
            return gone
    return _newest_change(path) < cutoff


def _newest_change(path: Path) -> datetime:
    """Returns when path (or, for a folder, anything inside it) last changed."""
    try:
        newest = path.lstat().st_mtime
        if path.is_dir():
            for folder, _, files in os.walk(path):
                for name in files:
                    newest = max(newest, (Path(folder) / name).lstat().st_mtime)
    except FileNotFoundError:  # its writer just renamed or removed it
        return datetime.max.replace(tzinfo=UTC)
    return datetime.fromtimestamp(newest, UTC)


def _remove(path: Path, root: Path, result: Swept, dry_run: bool) -> None:
    rel = str(path.relative_to(root))
    if dry_run:
        result.removed.append(rel)
        return
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        result.removed.append(rel)
    except OSError as exc:
        log.warning("cannot remove the temporary file %s: %s", rel, exc)
        result.failed.append(rel)
