"""Atomic output files for the media stages."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pipeline.tempnames import temp_prefix


@contextlib.contextmanager
def atomic_output(dst: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `dst`; on success fsync it and move it onto `dst`.

    An error leaves neither a half-written `dst` nor the temporary file; a crash can
    leave the temporary file, named as this process's (pipeline/tempnames.py) for the sweep.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=temp_prefix(f"{dst.name}."), suffix=suffix or ".part", dir=dst.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
