"""Triage (editors and admins change things here) and the reports page."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pipeline.cells import csv_row
from storage import layout, triage
from storage.models import DecisionRecord, Item
from web import queries
from web.auth import require_editor
from web.common import MAX_ID, chosen_campaign, db, form_ids, get_or_404, parse_int, path_id, render
from web.files import send_file
from web.security import checked_form, content_disposition

MAX_REPORTS = 300


def queue(request: Request) -> Response:
    """The triage queue: each message with its candidate units and the clues behind them."""
    with db(request) as session:
        messages = session.scalars(triage.queued(limit=200)).all()
        pks = [m.id for m in messages]
        decisions: dict[int, DecisionRecord] = {}
        campaign_decisions: dict[int, DecisionRecord] = {}
        for d in session.scalars(
            select(DecisionRecord)
            .where(
                DecisionRecord.message_pk.in_(pks),
                DecisionRecord.subject.in_(("unit", "campaign")),
            )
            .order_by(DecisionRecord.id)
        ):
            (decisions if d.subject == "unit" else campaign_decisions)[d.message_pk] = d
        return render(
            request,
            "triage.html",
            nav="triage",
            messages=messages,
            decisions=decisions,
            campaign_decisions=campaign_decisions,
            total=queries.triage_count(session),
        )


async def assign(request: Request) -> Response:
    """Assigns one or several messages to a unit; per-item kinds come as kind_<item id>."""
    user = require_editor(request)
    form = await checked_form(request)
    unit = str(form.get("unit", ""))
    pks = form_ids(form.getlist("message"))
    if not pks or not unit:
        raise HTTPException(400, "请选择邮件和单位。")
    kinds = {}
    for key, value in form.multi_items():
        if key.startswith("kind_") and value:
            item_id = parse_int(key[5:], 1, MAX_ID)
            if item_id is None:
                raise HTTPException(400, "提交的编号无效，请刷新页面后重试。")
            kinds[item_id] = str(value)
    campaign = str(form.get("campaign", "")) or triage.CANDIDATE
    ctx = request.app.state.ctx

    def _do() -> None:
        for pk in pks:
            chosen = campaign
            if kinds and chosen not in (triage.CANDIDATE, _campaign_of(ctx, pk)):
                # the kinds were shown for the campaign the message had: re-plan them instead
                triage.assign_unit(ctx, pk, unit, user.name, campaign=chosen)
            else:
                triage.assign_unit(ctx, pk, unit, user.name, kinds=kinds or None, campaign=chosen)

    await run_in_threadpool(_do)
    back = str(form.get("back", ""))
    target = f"/messages/{pks[0]}" if back == "message" and len(pks) == 1 else "/triage"
    return RedirectResponse(target + "?done=" + str(len(pks)), status_code=303)


def _campaign_of(ctx, pk: int) -> str | None:
    from storage.models import Message

    with ctx.db.session() as session:
        message = session.get(Message, pk)
        if message is None or message.campaign_status == "other":
            return triage.OTHER_CHOICE
        return message.campaign_code


async def set_kind(request: Request) -> Response:
    user = require_editor(request)
    form = await checked_form(request)
    item_id = path_id(request, "item_id")
    kind = str(form.get("kind", ""))
    with db(request) as session:
        get_or_404(session, Item, item_id)
    await run_in_threadpool(triage.set_item_kind, request.app.state.ctx, item_id, kind, user.name)
    return RedirectResponse(f"/items/{item_id}", status_code=303)


# -- reports -------------------------------------------------------------------------


def report_files(archive_root: Path) -> list[tuple[str, float, int]]:
    """Returns saved report files under <archive>/reports/ as (relative path, mtime, size)."""
    root = archive_root / layout.REPORTS
    found = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if name.startswith("."):
                continue
            path = Path(folder) / name
            stat = path.stat()
            found.append((str(path.relative_to(archive_root)), stat.st_mtime, stat.st_size))
    found.sort(key=lambda f: (-f[1], f[0]))
    return found[:MAX_REPORTS]


def reports(request: Request) -> Response:
    files = report_files(request.app.state.ctx.archive.root)
    rows = [
        (n, rel, datetime.fromtimestamp(mtime, UTC), size)
        for n, (rel, mtime, size) in enumerate(files)
    ]
    return render(request, "reports.html", nav="reports", files=rows)


def report_file(request: Request) -> Response:
    """A saved report, by its number in the listing (never a path from the request)."""
    files = report_files(request.app.state.ctx.archive.root)
    number = parse_int(request.path_params["number"], 0, len(files) - 1)
    if number is None:
        raise HTTPException(404, "没有这份报告（列表可能已更新，请刷新）。")
    rel = files[number][0]
    return send_file(request, rel, rel.rsplit("/", 1)[-1], None, False)


def tracker_csv(request: Request) -> Response:
    """The campaign tracker (units × kinds) as CSV with a BOM, so Excel shows the Chinese."""
    campaign = chosen_campaign(request) or request.app.state.ctx.campaign
    with db(request) as session:
        rows = queries.tracker(session, campaign)
    kinds = [k for k in campaign.kinds if k.required]
    states = {"ok": "已报送", "late": "逾期", "missing": "未报送", "pending": "未到期"}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(csv_row(["单位代码", "单位", *[k.label for k in kinds]]))
    for row in rows:
        writer.writerow(
            csv_row(
                [
                    row.unit.code,
                    row.unit.name,
                    *[
                        f"{states[row.cells[k.code].state]}（{row.cells[k.code].count}）"
                        for k in kinds
                    ],
                ]
            )
        )
    name = f"报送情况-{campaign.name}-{campaign.local_day(datetime.now(UTC)).isoformat()}.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition(name)},
    )
