"""Real servers (Dovecot, PostgreSQL, Redis, nginx) started on loopback ports by fixtures."""

from __future__ import annotations

import subprocess


def end_process(proc: subprocess.Popen | None, timeout: float = 10) -> None:
    """Stops a server process: SIGTERM, then SIGKILL if it has not ended within timeout."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
