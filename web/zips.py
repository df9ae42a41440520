"""Zip downloads, streamed: each file is read from the archive as the zip goes out.

Nothing is packed into a temporary file first (the photo zip used one that grew with
the selection: a viewer could fill the server's temp disk), and the total is checked
against `[web] max_zip_bytes` before a byte is sent, so a refusal is a clear page, not
a download that breaks off. Members are stored, not deflated: photos, videos and
documents are compressed already. Names are UTF-8 with the zip's UTF-8 flag set,
which Windows' own unzip and 7-Zip read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import zipstream
from starlette.exceptions import HTTPException
from starlette.responses import Response, StreamingResponse

from pipeline.errors import StorageError
from storage import layout
from storage.archive import Archive
from web.security import content_disposition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ZipEntry:
    """One file of a zip download: its name in the zip and where it is in the archive."""

    arcname: str
    rel: str  # archive-relative path, from the index (never from the request)


@dataclass(frozen=True)
class _Found:
    arcname: str
    path: Path
    size: int


def zip_name(folder: str, name: str, used: set[str]) -> str:
    """Returns "<folder>/<name>" made safe and unique among used (which it joins)."""
    base = f"{layout.safe_component(folder)}/{layout.safe_component(name)}"
    arcname, n = base, 1
    while arcname in used:
        n += 1
        arcname = layout.with_number(base, n)
    used.add(arcname)
    return arcname


def _find(archive: Archive, entries: list[ZipEntry]) -> list[_Found]:
    found = []
    for entry in entries:
        try:
            path = archive.abspath(entry.rel)
            found.append(_Found(entry.arcname, path, path.stat().st_size))
        except (StorageError, OSError) as exc:  # moved or lost since the page was shown
            log.warning("zip download skips %s: %s", entry.rel, exc)
    return found


def zip_response(
    archive: Archive, entries: list[ZipEntry], download_name: str, max_bytes: int
) -> Response:
    """Returns a streamed zip of the entries; 413 with a Chinese reason past max_bytes.

    Call it in a worker thread: it looks at every file (size, presence) first.
    """
    found = _find(archive, entries)
    if not found:
        raise HTTPException(404, "所选的文件都不在归档里了（可能已被移走），请刷新页面后重选。")
    total = sum(f.size for f in found)
    if total > max_bytes:
        raise HTTPException(
            413,
            f"所选文件共 {human_size(total)}，超过一次打包下载的上限 {human_size(max_bytes)}。"
            "请少选一些，分几次下载。",
        )
    stream = zipstream.ZipStream(sized=True)  # stored: the length is known before sending
    for f in found:
        stream.add_path(str(f.path), f.arcname)
    return StreamingResponse(
        stream,  # a plain iterator: Starlette reads it in a worker thread, chunk by chunk
        media_type="application/zip",
        headers={
            "Content-Length": str(len(stream)),
            "Content-Disposition": content_disposition(download_name),
        },
    )


def human_size(n: int) -> str:
    """Returns a size as staff read it: 1.5 GB, 320 MB, 12 KB."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
