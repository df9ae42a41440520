"""Peak memory of one call, measured in a fresh interpreter (the test process's own high-water
mark holds whatever earlier tests used)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# VmHWM, not getrusage().ru_maxrss: Linux carries ru_maxrss over exec from the process that
# forked the child, so a child of a large test process would start "at" the parent's peak.
_HIGH_WATER = (
    "def high_water():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            return int(line.split()[1])\n"
)


def measured(call: str, *, setup: str = "", timeout: float = 300) -> dict:
    """Runs `setup`, then evaluates `call` in a fresh Python; returns its result and costs.

    The result is {"value": repr of what the call returned, "grown_mib": how far the
    peak resident size rose during the call, "seconds": its wall time}.
    """
    code = "\n".join(
        [
            "import json, sys, time",
            _HIGH_WATER,
            setup,
            "before = high_water()",
            "started = time.monotonic()",
            f"value = {call}",
            "seconds = time.monotonic() - started",
            "after = high_water()",
            "print(json.dumps({'value': repr(value), 'grown_mib': (after - before) / 1024,"
            " 'seconds': seconds}))",
        ]
    )
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    if out.returncode != 0:
        raise AssertionError(f"measured call failed after {time.monotonic() - started:.1f} s:\n"
                             f"{out.stderr[-3000:]}")  # fmt: skip
    return json.loads(out.stdout.splitlines()[-1])
