"""A PDF's pages as pictures: how the web UI shows a PDF without opening it in a viewer.

A mailed PDF can carry JavaScript (/OpenAction, app.alert, app.response) that the
browser's PDF viewer runs on opening, sandbox CSP or not; a JPEG of each page runs
nothing. poppler's `pdftoppm` draws the pages (it runs no JavaScript); `pdfinfo`
counts them, so the page can say how many were left out.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.budget import Deadline
from pipeline.errors import ExternalProgramError, MediaError
from pipeline.externals import run_command
from pipeline.media._files import atomic_output
from pipeline.media.documents import run_pdftoppm

TOOL_TIMEOUT = 120.0


@dataclass(frozen=True)
class PdfPages:
    """The page pictures written (in page order) and how many pages the PDF has."""

    files: list[Path]
    page_count: int


def page_count(path: str | Path, deadline: Deadline | None = None) -> int:
    """Returns the number of pages `pdfinfo` reports; MediaError when it cannot read the PDF."""
    try:
        out = run_command(["pdfinfo", str(path)], timeout=TOOL_TIMEOUT, deadline=deadline)
    except ExternalProgramError as exc:
        if exc.problem.startswith("exited"):
            raise MediaError(f"cannot read PDF {Path(path).name}: {exc.stderr.strip()}") from exc
        raise
    found = re.search(rb"^Pages:\s+(\d+)\s*$", out, flags=re.M)
    return int(found[1]) if found else 0


def render_pages(
    path: str | Path,
    dst_dir: str | Path,
    *,
    size: int,
    max_pages: int,
    quality: int = 80,
    deadline: Deadline | None = None,
) -> PdfPages:
    """Writes pages 1..max_pages as dst_dir/001.jpg, 002.jpg ... (long side `size` px).

    Each file is moved into place whole; pages already there (the same bytes came
    before: the folder is named by content) are not drawn again.
    """
    dst_dir = Path(dst_dir)
    count = page_count(path, deadline)
    wanted = min(count, max_pages)
    files = [dst_dir / f"{n:03d}.jpg" for n in range(1, wanted + 1)]
    if wanted and not all(f.exists() for f in files):
        dst_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dst_dir, prefix=".pages-") as work:
            prefix = Path(work) / "p"
            cmd = ["pdftoppm", "-f", "1", "-l", str(wanted), "-jpeg"]
            cmd += [
                "-jpegopt",
                f"quality={quality}",
                "-scale-to",
                str(size),
                str(path),
                str(prefix),
            ]
            run_pdftoppm(cmd, path, TOOL_TIMEOUT, deadline)
            # pdftoppm numbers pages p-1.jpg or p-01.jpg ... as wide as the last page number
            drawn = sorted(Path(work).glob("p-*.jpg"), key=lambda p: int(p.stem.split("-")[-1]))
            for source, target in zip(drawn, files, strict=False):
                with atomic_output(target) as tmp:
                    tmp.write_bytes(source.read_bytes())
    return PdfPages([f for f in files if f.exists()], count)
