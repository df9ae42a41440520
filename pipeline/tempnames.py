"""Names of temporary files: recognisable, and saying which process on which host made them.

Every temporary file or folder mailroom makes in the archive (a raw copy or an
object being written, a link being placed, a derivative being encoded, an archive
being unpacked) is named `.tmp~<host>~<pid>~<label><random>`. A crash leaves it
behind; the sweep (storage/tempfiles.py) knows it for a temporary file by the mark,
and for an orphan when that process has ended. `~` never occurs in a host name.
"""

from __future__ import annotations

import os
import socket

MARK = ".tmp~"


def temp_prefix(label: str = "") -> str:
    """Returns the start of a temporary name owned by this process (tempfile adds the rest)."""
    return f"{MARK}{socket.gethostname()}~{os.getpid()}~{label}"


def temp_owner(name: str) -> tuple[str, str] | None:
    """Returns (host, pid) of the process that made a temporary name, or None if it is not one."""
    if not name.startswith(MARK):
        return None
    host, _, rest = name[len(MARK) :].partition("~")
    pid, sep, _ = rest.partition("~")
    return (host, pid) if sep and pid.isdigit() else None
