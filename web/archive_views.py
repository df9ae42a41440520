"""Archives in the web UI: what an archive held, and the password form for a locked one.

An editor types the password an archive needs (the unit said it on the phone, or in
another mail); it is kept in the index and the archive's `expand` media job is put
back to pending to open it again, so the page answers at once. The password is
never logged or shown again.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from storage import archive_passwords
from storage.media_models import EXPAND, MediaJob
from storage.models import Item
from web.auth import require_editor
from web.common import get_or_404, path_id
from web.security import checked_form

# How an archive's expand job stands, for the item page: opened for the first time,
# or again with a password an editor gave.
UNPACK_STATES = {
    "pending": "正在排队解压，请稍后刷新本页。",
    "running": "正在解压，请稍后刷新本页。",
    "failed": "解压没有成功，请联系管理员。",
}
REOPEN_STATES = {
    "pending": "已收到密码，正在排队重新解压，请稍后刷新本页。",
    "running": "正在重新解压，请稍后刷新本页。",
    "failed": "重新解压没有成功，请联系管理员。",
}


MEMBERS_SHOWN = 200  # an archive of 2,000 photos is browsed through its folder, not here


def archive_context(session, item: Item) -> dict:
    """Returns what the item page shows about an archive: members, password form, progress."""
    if item.media != "archive":
        return {"members": [], "more_members": 0, "wants_password": False, "unpack_state": None}
    members = session.scalars(
        select(Item).where(Item.container_id == item.id).order_by(Item.seq).limit(MEMBERS_SHOWN + 1)
    ).all()
    total = (item.meta or {}).get("unpack", {}).get("members", len(members))
    return {
        "members": members[:MEMBERS_SHOWN],
        "more_members": max(0, total - MEMBERS_SHOWN),
        "wants_password": wants_password(item, members),
        "unpack_state": unpack_state(session, item),
    }


def wants_password(item: Item, members: list[Item]) -> bool:
    """True for an archive that is itself locked or holds locked members."""
    if item.media != "archive" or item.blob_path is None:  # a locked member: its outer archive
        return False
    return item.status == "encrypted" or any(m.status == "encrypted" for m in members)


def unpack_state(session, item: Item) -> str | None:
    """Returns what the page says about the archive's opening while it is not done, or None."""
    state = session.scalar(
        select(MediaJob.state).where(MediaJob.item_id == item.id, MediaJob.kind == EXPAND)
    )
    if state not in UNPACK_STATES:
        return None
    again = archive_passwords.password_given(session, item.id)
    return (REOPEN_STATES if again else UNPACK_STATES)[state]


async def give_password(request: Request) -> Response:
    """Keeps the password an editor typed for an archive and queues its unpacking."""
    user = require_editor(request)
    form = await checked_form(request)
    password = str(form.get("password", "")).strip()
    if not password or len(password) > archive_passwords.MAX_PASSWORD_CHARS:
        raise HTTPException(400, "请输入解压密码（不超过 200 个字符）。")
    ctx = request.app.state.ctx
    item_id = path_id(request, "item_id")

    def _keep() -> None:
        with ctx.db.session() as session:
            item = get_or_404(session, Item, item_id)
            if item.media != "archive":
                raise HTTPException(400, "这个文件不是压缩包，不需要解压密码。")
            if item.blob_path is None:
                raise HTTPException(
                    400, "这个压缩包在另一个加密的压缩包里，请在外层压缩包的页面填写密码。"
                )
            job_id = archive_passwords.give_password(session, item, password, user.name).id
        ctx.submit_queued_media([job_id])

    await run_in_threadpool(_keep)
    return RedirectResponse(f"/items/{item_id}", status_code=303)
