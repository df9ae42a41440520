"""External programs never outlive the process that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def _alive(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_program_dies_with_its_killed_parent():
    code = "from pipeline.externals import run_command; run_command(['sleep', '30'], timeout=60)"
    parent = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 20
    children: list[str] = []
    while not children and time.monotonic() < deadline:
        time.sleep(0.1)
        children = subprocess.run(
            ["pgrep", "-P", str(parent.pid)], capture_output=True, text=True
        ).stdout.split()
    assert children, "the parent never started its program"
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in children)
