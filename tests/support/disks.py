"""Real small disks for tests: a tmpfs mounted for the test (as root), filled on demand."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def tmpfs(mount: Path, size: str = "1m") -> Iterator[Path]:
    """Mounts a tmpfs of `size` at mount (made if missing) and unmounts it afterwards."""
    mount.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fills the disk with one file until about `leave` bytes are free; returns the file."""
    filler = disk / "filler"
    stat = os.statvfs(disk)
    room = stat.f_bavail * stat.f_frsize - leave
    with open(filler, "wb") as handle:
        try:
            while room > 0:
                handle.write(b"\0" * min(65536, room))
                handle.flush()
                room -= 65536
        except OSError:  # full: what the test wanted
            pass
    return filler
