"""Runs every benchmark in turn (`make bench`); each prints its own table with ratios.

Each script also runs alone, e.g. `.venv/bin/python bench/bench_media.py --photos 5`.
Benchmarks measure mailroom against a reference in the same run, because these
machines are shared and absolute times drift; they are not part of `make test`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = [
    "bench_media.py",
    "bench_imap.py",
    "bench_web.py",
    "bench_scale.py",
    "bench_campaign.py",
    "bench_archives.py",
    "bench_limits.py",
]


def main() -> int:
    failed = []
    for name in sys.argv[1:] or SCRIPTS:
        print(f"\n=== {name} ===", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)]).returncode != 0:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
