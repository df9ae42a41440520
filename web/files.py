"""Serving files: originals, thumbnails, previews, web video (with Range) and photo zips.

A file is found by item id only; its path comes from the index, never from the
request, and goes through Archive.abspath, which refuses anything outside the
archive. With [web] accel_redirect set (nginx in front, local archive) the
answer is headers only, and nginx sends the file named in X-Accel-Redirect. A
browser shows inline only types that cannot run script; every other file (HTML,
SVG, XML, JS, PDF ...) is a download, with nosniff and a sandbox CSP. Zips are
streamed by web/zips.py, which any selection of archive files can use.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from pipeline.errors import StorageError
from pipeline.outlook import is_compound_file
from storage.models import Item, Message, utcnow
from web.common import db, form_ids, get_or_404, parse_int, path_id
from web.media import PLACEHOLDER, playable_video, showable_image
from web.security import FILE_CSP, INLINE_TYPES, checked_form, content_disposition
from web.zips import ZipEntry, zip_name, zip_response


def _load(request: Request) -> Item:
    with db(request) as session:
        item = get_or_404(session, Item, path_id(request, "item_id"))
        session.expunge(item)
        return item


def send_file(
    request: Request, rel: str | None, name: str, mime: str | None, inline: bool
) -> Response:
    """Returns the archive file at rel (from the index) as inline or download."""
    if not rel:
        raise HTTPException(404, "这个文件还没有生成或没有保存。")
    try:
        path = request.app.state.ctx.archive.abspath(rel)
    except StorageError:
        raise HTTPException(404, "没有这个文件。") from None
    if not path.is_file():
        raise HTTPException(404, "文件不在归档里（可能已被移走）。")
    mime = (mime or "").split(";")[0].strip().lower() or "application/octet-stream"
    inline = inline and mime in INLINE_TYPES
    if not inline and mime not in INLINE_TYPES:
        mime = "application/octet-stream"  # never let a browser render it
    headers = {
        "Content-Disposition": content_disposition(name, inline=inline),
        "Content-Security-Policy": FILE_CSP,
        # not even a file stays in the browser's cache after sign-out; Range still works
        "Cache-Control": "private, no-store",
    }
    internal = _nginx_uri(request, path)
    if internal is not None:  # nginx sends the bytes (and answers Range) from its location
        return Response(b"", media_type=mime, headers={**headers, "X-Accel-Redirect": internal})
    return FileResponse(path, media_type=mime, headers=headers)


def _nginx_uri(request: Request, path: Path) -> str | None:
    prefix = request.app.state.settings.accel_redirect
    archive = request.app.state.ctx.archive
    if not prefix or archive.remote:  # an S3 archive's cache is streamed by the app
        return None
    return accel_redirect_uri(prefix, path.relative_to(archive.root.resolve()).as_posix())


def accel_redirect_uri(prefix: str, rel: str) -> str | None:
    """Returns nginx's internal URI for an archive-relative path, or None to stream it here.

    nginx percent-decodes an X-Accel-Redirect URI and then parses it again, so a
    name holding '%' or '?' would be decoded twice or cut at the '?'; such a file
    (archive paths never have one today) is sent by the app instead.
    """
    if not rel.isprintable() or any(c in rel for c in "%?#\\"):
        return None
    return prefix + quote(rel, safe="/")


def _derived_type(rel: str) -> str | None:
    return mimetypes.guess_type(PurePosixPath(rel).name)[0]


def item_file(request: Request) -> Response:
    """The original bytes; ?inline=1 shows safe types in the page, others always download."""
    item = _load(request)
    inline = request.query_params.get("inline") == "1"
    return send_file(request, item.blob_path, item.name, item.mime, inline)


def item_thumb(request: Request) -> Response:
    item = _load(request)
    if item.thumbnail:
        return send_file(
            request,
            item.thumbnail,
            f"thumb-{item.id}.jpg",
            _derived_type(item.thumbnail) or "image/jpeg",
            True,
        )
    if showable_image(item) and item.size <= 5 * 1024 * 1024:
        return send_file(request, item.blob_path, item.name, item.mime, True)
    return Response(status_code=307, headers={"Location": PLACEHOLDER})


def item_preview(request: Request) -> Response:
    item = _load(request)
    if item.preview:
        kind = _derived_type(item.preview) or "application/octet-stream"
        return send_file(
            request,
            item.preview,
            f"preview-{item.id}{PurePosixPath(item.preview).suffix}",
            kind,
            True,
        )
    if showable_image(item):
        return send_file(request, item.blob_path, item.name, item.mime, True)
    raise HTTPException(404, "这个文件还没有预览。")


def item_page_image(request: Request) -> Response:
    """Page n of a PDF, as the picture the media stage drew (by number, never a path)."""
    item = _load(request)
    pages = (item.meta or {}).get("pages") or []
    number = parse_int(request.path_params["number"], 1, len(pages))
    if number is None:
        raise HTTPException(404, "这一页还没有生成图片，请下载原件查看。")
    return send_file(request, pages[number - 1], f"page-{item.id}-{number}.jpg", "image/jpeg", True)


def item_video(request: Request) -> Response:
    """The browser-playable video (web copy, else a playable original); honours Range."""
    item = _load(request)
    if item.web_video:
        return send_file(
            request,
            item.web_video,
            PurePosixPath(item.name).stem + ".mp4",
            _derived_type(item.web_video) or "video/mp4",
            True,
        )
    if playable_video(item):
        return send_file(request, item.blob_path, item.name, item.mime, True)
    raise HTTPException(404, "这个视频还没有可在浏览器播放的版本。")


def message_raw(request: Request) -> Response:
    with db(request) as session:
        message = get_or_404(session, Message, path_id(request, "message_id"))
        rel, name = message.raw_path, f"message-{message.id}.eml"
    if _is_outlook_file(request, rel):  # kept as it came: Outlook opens it, a mail reader not
        name = f"message-{message.id}.msg"
    return send_file(request, rel, name, "message/rfc822", False)


def _is_outlook_file(request: Request, rel: str | None) -> bool:
    try:
        with request.app.state.ctx.archive.open(rel) as handle:
            return is_compound_file(handle.read(8))
    except (OSError, StorageError, TypeError):
        return False  # send_file says what is missing


async def photos_zip(request: Request) -> Response:
    """A streamed zip of the selected photos (ids posted from the grid), named <unit>/<file>.

    Only images: any other id posted (a video, a web page, a PDF) is left out.
    """
    form = await checked_form(request)
    ids = form_ids(form.getlist("item"))
    settings = request.app.state.settings
    if not ids:
        raise HTTPException(400, "请先勾选要下载的照片。")
    if len(ids) > settings.max_zip_files:
        raise HTTPException(413, f"一次最多打包 {settings.max_zip_files} 张照片，请少选一些。")
    return await run_in_threadpool(_photos_zip, request, ids, settings.max_zip_bytes)


def _photos_zip(request: Request, ids: list[int], max_bytes: int) -> Response:
    names = request.app.state.templates.env.globals["unit_names"]
    with db(request) as session:
        rows = session.execute(
            select(Item.name, Item.blob_path, Message.unit_code)
            .join(Message, Message.id == Item.message_pk)
            .where(Item.id.in_(ids), Item.media == "image", Item.blob_path.is_not(None))
            .order_by(Item.id)
        ).all()
    if not rows:
        raise HTTPException(400, "所选的项目里没有照片。")
    used: set[str] = set()
    entries = [
        ZipEntry(zip_name(names.get(unit, "待分拣"), name, used), rel) for name, rel, unit in rows
    ]
    day = request.app.state.ctx.campaign.local_day(utcnow()).isoformat()
    name = f"照片-{day}-{len(entries)}张.zip"  # several downloads a day keep apart
    return zip_response(request.app.state.ctx.archive, entries, name, max_bytes)
