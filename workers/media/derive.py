"""Derivatives for one item: decide by its media which pipeline stages to run, and run them.

`derive()` reads the original from the archive and writes thumbnails, previews and
web videos under `.derived/<sha>/` (named by content, so a duplicate reuses them);
it returns a `Derived` that `apply_derived()` copies onto the Item. A file the
decoder rejects is a result (`corrupt` with the decoder's reason), not a failure;
a missing program or a hung ffmpeg raises, and the job is recorded as failed.
Every stage gets the job's deadline and its [limits] caps (pixels, pages, characters,
bytes, video length); a job stopped by one is a result too (`refused`): the original
stays `ok`, and the item says in Chinese which limit it hit.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import budget
from pipeline.budget import Deadline
from pipeline.charsets import decode_bytes, without_nul
from pipeline.errors import LimitExceeded, MediaError
from pipeline.sniff import extension
from storage import layout
from storage.archive import Archive
from storage.models import Item
from workers.config import LimitsConfig, MediaSettings

# PIL and the media stages are imported by the functions that run them: the job
# queue, the poller and the config check import this module for its settings and
# job kinds, and should not pay for loading the decoders.
if TYPE_CHECKING:
    from pipeline.media import video
    from pipeline.media.docx import DocText

# Job kinds and the order they run in: thumbnails first, so a message's grid fills
# in before its videos finish transcoding.
PRIORITY = {"thumbs": 0, "document": 10, "video": 20}
_PDF, _DOCX, _LEGACY, _TEXT = "pdf", "docx", "legacy", "text"
_DOCUMENT_EXTS = {
    ".pdf": _PDF,
    ".docx": _DOCX,
    ".doc": _LEGACY,
    ".wps": _LEGACY,
    ".wpt": _LEGACY,
    ".txt": _TEXT,
}
NOT_PREVIEWABLE = "no program on this machine reads this format (antiword and catdoc tried)"


@dataclass
class Derived:
    """What the media stages made for an item (paths relative to the archive root)."""

    thumbnail: str | None = None
    preview: str | None = None
    web_video: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    status: str | None = None  # corrupt or encrypted when the decoder refused the file
    error: str | None = None


@dataclass(frozen=True)
class Source:
    """The item fields derive() needs, read before the (long) work so no session stays open."""

    name: str
    media: str
    sha256: str
    blob_path: str


def job_kinds(item: Item) -> list[str]:
    """Returns the jobs an item needs: thumbs, video, document, or none."""
    if item.status != "ok" or item.blob_path is None or not item.sha256:
        return []
    if item.media == "image":
        return ["thumbs"]
    if item.media == "video":
        return ["thumbs", "video"]
    if item.media == "text" or (item.media == "document" and _doc_type(item.name, None)):
        return ["document"]
    return []


@dataclass(frozen=True)
class Job:
    """What a stage needs besides the item: the archive, [media], [limits] and the deadline."""

    archive: Archive
    settings: MediaSettings
    limits: LimitsConfig
    deadline: Deadline


def job_deadline(kind: str, limits: LimitsConfig) -> Deadline:
    """Returns the wall-clock budget of one job of this kind, starting now."""
    if kind == "video":
        return Deadline("video_job_seconds", limits.video_job_seconds)
    return Deadline("media_job_seconds", limits.media_job_seconds)


def derive(
    kind: str,
    src: Source,
    archive: Archive,
    settings: MediaSettings,
    limits: LimitsConfig | None = None,
    deadline: Deadline | None = None,
) -> Derived:
    """Returns the derivatives of one kind for one item, after writing their files.

    Raises LimitExceeded when the deadline passes (see `refused` for the result).
    """
    limits = limits or LimitsConfig()
    job = Job(archive, settings, limits, deadline or job_deadline(kind, limits))
    path = archive.abspath(src.blob_path)
    try:
        if kind == "thumbs" and src.media == "image":
            return _image(path, src, job)
        if kind == "thumbs" and src.media == "video":
            return _poster(path, src, job)
        if kind == "video":
            return _web_video(path, src, job)
        if kind == "document":
            return _document(path, src, job)
    except MediaError as exc:
        reason = str(exc)
        status = "encrypted" if "password protected" in reason else "corrupt"
        return Derived(status=status, error=reason)
    raise MediaError(f"no {kind} job for {src.media} items")


def refused(exc: LimitExceeded) -> Derived:
    """Returns the result of a job a budget stopped: the original stays `ok`, and the item
    says in Chinese which limit it hit (meta `limit` keeps the key for reports)."""
    return Derived(error=exc.staff, meta={"limit": exc.limit, "limit_detail": exc.detail})


def apply_derived(item: Item, result: Derived) -> None:
    """Copies what derive() made onto the item (the original is never touched)."""
    for name in ("thumbnail", "preview", "web_video"):
        if getattr(result, name) is not None:
            setattr(item, name, getattr(result, name))
    if result.meta:  # a new dict, so the JSON is saved
        item.meta = {**(item.meta or {}), **_without_nul(result.meta)}
    if result.text is not None:
        item.text = without_nul(result.text)
    if result.status is not None:
        item.status, item.error = result.status, result.error
    elif result.error is not None:  # stored and usable, but a limit stopped a derivative
        item.error = result.error


def _without_nul(value: Any) -> Any:
    """Returns meta with NUL taken out of its strings (EXIF fields and PDF text carry them)."""
    if isinstance(value, str):
        return without_nul(value)
    if isinstance(value, dict):
        return {key: _without_nul(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_without_nul(inner) for inner in value]
    return value


def _out(archive: Archive, src: Source, name: str) -> tuple[str, Path]:
    rel = layout.derived_path(src.sha256, name)
    return rel, archive.abspath(rel)


# -- images and video -------------------------------------------------------------


def _image(path: Path, src: Source, job: Job) -> Derived:
    from pipeline.media.images import make_image_derivatives

    s = job.settings
    thumb_rel, thumb = _out(job.archive, src, "thumb.jpg")
    preview_rel, preview = _out(job.archive, src, "preview.jpg")
    info = make_image_derivatives(
        path,
        thumb,
        preview,
        thumb_size=s.thumb_size,
        preview_size=s.preview_size,
        quality=s.jpeg_quality,
        max_pixels=job.limits.image_max_pixels,
    )
    meta = {
        "width": info.width,
        "height": info.height,
        "format": info.format,
        "taken_at": info.taken_at,
        "camera": info.camera,
        "orientation": info.orientation,
    }
    return Derived(thumbnail=thumb_rel, preview=preview_rel, meta=meta)


def _video_meta(info: video.VideoInfo) -> dict[str, Any]:
    width, height = info.display_size
    return {
        "codec": info.codec,
        "profile": info.profile,
        "pix_fmt": info.pix_fmt,
        "bit_depth": info.bit_depth,
        "hdr": info.is_hdr,
        "width": width,
        "height": height,
        "rotation": info.rotation,
        "duration": info.duration,
        "audio_codec": info.audio_codec,
    }


def _poster(path: Path, src: Source, job: Job) -> Derived:
    """Probes the video and makes its poster (preview size) and a thumbnail from it."""
    from PIL import Image

    from pipeline.media import video

    s = job.settings
    info = video.probe(path, deadline=job.deadline)
    preview_rel, preview = _out(job.archive, src, "poster.jpg")
    thumb_rel, _ = _out(job.archive, src, "thumb.jpg")
    if not preview.exists():
        video.make_poster(path, preview, info, size=s.preview_size, deadline=job.deadline)
    with Image.open(preview) as im:
        im.thumbnail((s.thumb_size, s.thumb_size), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        im.convert("RGB").save(buffer, "JPEG", quality=s.jpeg_quality)
    job.archive.put_bytes(thumb_rel, buffer.getvalue())
    return Derived(thumbnail=thumb_rel, preview=preview_rel, meta=_video_meta(info))


def _web_video(path: Path, src: Source, job: Job) -> Derived:
    """Makes the browser-playable MP4 (remux when possible, else H.264 transcode).

    A clip longer than video_max_seconds (or whose timestamps only claim to be) gets a
    web version of its first video_max_seconds, and the item says so.
    """
    from pipeline.media import video

    s, cap = job.settings, job.limits.video_max_seconds
    info = video.probe(path, deadline=job.deadline)
    plan = video.plan_web_video(info, short_side=s.video_short_side, max_seconds=cap)
    rel, dst = _out(job.archive, src, "web.mp4")
    if not dst.exists():  # the same bytes came before: its web version is ours
        video.make_web_video(
            path, dst, plan, info, crf=s.crf, preset=s.preset,
            timeout_factor=s.timeout_factor, deadline=job.deadline,
        )  # fmt: skip
    meta = {
        **_video_meta(info),
        "web_action": plan.action,
        "web_reasons": plan.reasons,
        "web_width": plan.width,
        "web_height": plan.height,
    }
    if plan.max_seconds is None:
        return Derived(web_video=rel, meta=meta)
    claimed = budget.seconds_zh(round(info.duration or 0))
    note = (
        f"视频声称时长{claimed}，超过{budget.seconds_zh(cap)}的网页视频时长上限："
        f"网页版只有前{budget.seconds_zh(cap)}；原视频已保存，可下载查看。"
    )
    meta |= {"limit": "video_max_seconds", "limit_detail": plan.reasons[-1]}
    return Derived(web_video=rel, meta=meta, error=note)


# -- documents and text -----------------------------------------------------------


def _doc_type(name: str, path: Path | None) -> str | None:
    """Returns pdf, docx or legacy from the bytes when given, else from the name."""
    if path is not None:
        with open(path, "rb") as handle:
            head = handle.read(8)
        if head.startswith(b"%PDF"):
            return _PDF
        from pipeline.media import documents

        if head == documents.OLE2_MAGIC:
            return _LEGACY
    return _DOCUMENT_EXTS.get(extension(name))


def _document(path: Path, src: Source, job: Job) -> Derived:
    from pipeline.media import documents

    limits = job.limits
    kind = _TEXT if src.media == "text" else _doc_type(src.name, path)
    if kind == _TEXT:
        return _text_result(_text_file(path, 4 * limits.document_max_chars), limits)
    if kind == _PDF:
        return _pdf(path, src, job)
    if kind == _DOCX:
        return _docx(path, src, job)
    if kind == _LEGACY:
        max_bytes = 4 * limits.document_max_chars + 4
        text = documents.legacy_doc_text(path, max_bytes=max_bytes, deadline=job.deadline)
        if text is None:
            return Derived(meta={"previewable": False, "preview_note": NOT_PREVIEWABLE})
        return _text_result(documents.DocText(text), limits)
    return Derived(meta={"previewable": False, "preview_note": "not a PDF, DOCX or Word file"})


def _text_file(path: Path, max_bytes: int) -> DocText:
    """Returns a .txt's text from at most max_bytes of it (UTF-8 has up to 4 bytes a character).

    The 正文.txt body item is UTF-8; attached .txt manuscripts are often GBK.
    """
    from pipeline.media import documents

    with open(path, "rb") as handle:
        raw = handle.read(max_bytes + 1)
    if len(raw) <= max_bytes:
        return documents.DocText(decode_bytes(raw, None))
    raw = raw[:max_bytes]
    for trim in range(4):  # do not let a character cut in two make UTF-8 look like GBK
        try:
            return documents.DocText(raw[: len(raw) - trim].decode("utf-8"), "document_max_chars")
        except UnicodeDecodeError as exc:
            if exc.start < len(raw) - 4:
                break
    return documents.DocText(decode_bytes(raw, None), "document_max_chars")


def _text_result(found: DocText, limits: LimitsConfig, **fields: Any) -> Derived:
    """Returns the text (within document_max_chars) with its preview, and what cut it short."""
    from pipeline.media import documents

    text, cut = found.text, found.cut
    if len(text) > limits.document_max_chars:
        text, cut = text[: limits.document_max_chars], "document_max_chars"
    meta = {"text_preview": documents.text_preview(text), **fields.pop("meta", {})}
    if cut:  # not a refusal: the text is there, only not all of it
        meta["text_cut"] = cut
    return Derived(text=text, meta=meta, **fields)


def _pdf(path: Path, src: Source, job: Job) -> Derived:
    from pipeline.media import documents

    limits, deadline = job.limits, job.deadline
    found = documents.pdf_text(
        path,
        max_pages=limits.document_max_pages,
        max_chars=limits.document_max_chars,
        deadline=deadline,
    )
    thumb_rel, thumb = _out(job.archive, src, "thumb.jpg")
    preview_rel, preview = _out(job.archive, src, "preview.jpg")
    documents.pdf_first_page_image(path, thumb, size=job.settings.thumb_size, deadline=deadline)
    documents.pdf_first_page_image(path, preview, size=job.settings.preview_size, deadline=deadline)
    pages = _pdf_pages(path, src, job)
    return _text_result(found, limits, thumbnail=thumb_rel, preview=preview_rel, meta=pages)


def _pdf_pages(path: Path, src: Source, job: Job) -> dict[str, Any]:
    """Draws the PDF's pages for the web UI; returns meta "pages" (paths) and "page_count"."""
    from pipeline.media.pdfpages import render_pages

    archive, s = job.archive, job.settings
    folder_rel = layout.derived_path(src.sha256, "pages")
    # a folder, not an object: made under the root (abspath would fetch it from S3)
    drawn = render_pages(
        path,
        archive.root / folder_rel,
        size=s.preview_size,
        max_pages=s.pdf_pages,
        quality=s.jpeg_quality,
        deadline=job.deadline,
    )
    pages = [f"{folder_rel}/{f.name}" for f in drawn.files]
    for rel in pages:  # with an S3 store: uploaded before the index names them
        archive.publish(rel)
    return {"pages": pages, "page_count": drawn.page_count}


def _docx(path: Path, src: Source, job: Job) -> Derived:
    from pipeline.media import documents

    limits, deadline = job.limits, job.deadline
    found = documents.docx_text(
        path,
        max_chars=limits.document_max_chars,
        max_unpacked_bytes=limits.document_max_unpacked_bytes,
        deadline=deadline,
    )
    pictures = []
    images = documents.docx_images(
        path, max_bytes=limits.document_max_unpacked_bytes, deadline=deadline
    )
    for number, (name, data) in enumerate(images, start=1):
        rel, _ = _out(job.archive, src, f"pictures/{number:02d}-{layout.safe_component(name)}")
        pictures.append(job.archive.put_bytes(rel, data))
    return _text_result(found, limits, meta={"pictures": pictures})
