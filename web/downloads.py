"""Zip downloads of material: a unit's (all of it, or one kind) and a message's.

Both are streamed as the files are read (web/zips.py, as the photo grid's zip):
what goes in is read from the index in one short session, the total is checked
against [web] max_zip_bytes before the first byte, and a download that is too big
is refused with a page saying what to do instead.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from storage import layout
from storage.models import Item, Message, Unit
from web.common import db, get_or_404, path_id
from web.zips import ZipEntry, zip_name, zip_response


def _stored(stmt):
    return stmt.where(Item.role == "material", Item.blob_path.is_not(None))


async def unit_zip(request: Request) -> Response:
    """A unit's filed material laid out as in the archive: <unit>/<kind>/<day subject>/<file>.

    ?kind=CODE gives one kind only. A file the unit sent twice is in it once.
    """
    code = request.path_params["code"]
    kind = request.query_params.get("kind") or None
    campaign = request.app.state.ctx.campaign
    if kind is not None and kind not in campaign.kind_codes():
        raise HTTPException(400, "没有这个材料类别。")
    return await run_in_threadpool(_unit_zip, request, code, kind)


def _unit_zip(request: Request, code: str, kind: str | None) -> Response:
    campaign = request.app.state.ctx.campaign
    with db(request) as session:
        unit = session.get(Unit, code) if len(code) <= 64 else None
        if unit is None:
            raise HTTPException(404, "没有这个单位。")
        stmt = _stored(
            select(Item.path, Item.blob_path)
            .join(Message, Message.id == Item.message_pk)
            .where(
                Message.unit_code == code,
                Message.status == "filed",
                Item.path.is_not(None),
                Item.duplicate_of_id.is_(None),
            )
        ).order_by(Item.path)
        if kind:
            stmt = stmt.where(Item.kind == kind)
        rows = session.execute(stmt).all()
    if not rows:
        raise HTTPException(404, "这个单位还没有这类材料。")
    # the view path is <campaign>/<unit>/<kind>/<day subject>/<file>, each part made safe
    # and unique when it was filed; the zip keeps it from the unit down
    entries = [
        ZipEntry(str(PurePosixPath(*PurePosixPath(path).parts[1:])), rel) for path, rel in rows
    ]
    name = f"{unit.name}-{campaign.label(kind) if kind else '全部材料'}.zip"
    return zip_response(
        request.app.state.ctx.archive, entries, name, request.app.state.settings.max_zip_bytes
    )


async def message_zip(request: Request) -> Response:
    """Every file of one message; archive members in a folder named for their archive."""
    return await run_in_threadpool(_message_zip, request, path_id(request, "message_id"))


def _message_zip(request: Request, pk: int) -> Response:
    with db(request) as session:
        message = get_or_404(session, Message, pk)
        subject = layout.short_subject(message.subject)
        items = session.execute(
            _stored(
                select(Item.id, Item.name, Item.blob_path, Item.container_id).where(
                    Item.message_pk == pk
                )
            ).order_by(Item.seq)
        ).all()
    names = {item_id: name for item_id, name, _, _ in items}
    used: set[str] = set()
    entries = [
        ZipEntry(
            zip_name(
                PurePosixPath(names[container]).stem if container in names else subject,
                name,
                used,
            ),
            rel,
        )
        for _, name, rel, container in items
    ]
    if not entries:
        raise HTTPException(404, "这封邮件没有可以下载的附件。")
    return zip_response(
        request.app.state.ctx.archive,
        entries,
        layout.safe_component(subject) + ".zip",
        request.app.state.settings.max_zip_bytes,
    )
