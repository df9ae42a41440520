"""Named points where a test can kill this process, to prove a crash there loses nothing.

`MAILROOM_CRASH_AT=after-filing` (a comma-separated list of names) makes the process
kill itself with SIGKILL when it reaches `crash_point("after-filing")`: no cleanup,
no `finally`, exactly like `kill -9` or a power cut at that moment, but at a chosen
line instead of after a race with a log line. `MAILROOM_STALL_AT=name` makes the
thread that reaches the point hang there instead (a disk or network that stopped
answering), to prove a stop still ends in time. Unset (always, outside tests) each
costs one set lookup.
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "MAILROOM_CRASH_AT"
STALL_ENV = "MAILROOM_STALL_AT"
_ARMED = frozenset(filter(None, os.environ.get(ENV, "").split(",")))
_STALLED = frozenset(filter(None, os.environ.get(STALL_ENV, "").split(",")))

# The points: each is named where it is called.
AFTER_FILING = "after-filing"  # a message is committed; its archives are not opened yet
MID_EXPANSION = "mid-expansion"  # an archive's members are on disk, not yet in the index
MID_WRITE = "mid-write"  # a temporary file is written, not yet renamed into place


def crash_point(name: str) -> None:
    """Kills this process now if the environment armed this point (tests only)."""
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
    if name in _STALLED:
        threading.Event().wait()  # hangs this thread for good
