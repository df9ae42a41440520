"""Gathering the daily report's data from the index: what came in on one day, and the tracker.

The day is a calendar day in the campaign's time zone, by the mailbox's clock
(Message.received_at). The scheduled job reports on yesterday.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from pipeline import budget
from pipeline.campaign import Campaign
from pipeline.reasons import short_label
from pipeline.tracker import TrackerRow, required_kinds
from pipeline.wording import ProblemText, file_type_label, item_problem, message_problem
from storage.campaign_triage import pending_inquiries
from storage.mailbox_state import OWN_FAILURE, QUARANTINED, MailboxRecord
from storage.models import Item, Message
from storage.tracker import load_tracker
from workers.reports.archive_problems import (
    ArchiveTally,
    campaign_of,
    is_archive_item,
    locked_counts,
)
from workers.reports.waiting import WHY, WaitingLine, local_formatter, waiting_lines

if TYPE_CHECKING:
    from workers.app import AppContext

OTHER_KIND = "_other"  # the items of 其他来件, counted apart in 各单位来件

# What a clerk should do about each problem (shown in the report next to each one).
ACTIONS = {
    "corrupt": "文件损坏、无法打开：请联系该单位重新发送原文件。",
    "encrypted": "压缩包或文件有密码：请向该单位索取解压密码，在网页上该压缩包的页面填写后会自动解压；或请其发送不加密的文件。",
    "rejected_unsafe": "压缩包不安全（路径越界或解压后过大），已拒收：请联系该单位直接发送文件，不要打包。",
    "too_large": "文件过大或超过解压上限，未存入档案：请在邮箱中手工下载保存，或请对方改用网盘发送。",
    "pending": "归档磁盘空间不足，压缩包尚未解压：请管理员清理归档磁盘，系统会自动重新解压。",
    "derivative": "文件已存档，但预览/转码失败：请用本机软件打开原文件检查；打不开则请对方重发。",
    "error": "邮件无法解析，原始邮件已保存：请在邮箱中查看该邮件并手工登记。",
    "quarantined": "邮件多次处理失败已隔离：请在邮箱中查看该邮件，确认后手工处理。",
    "truncated": "邮件服务器多次只发来部分内容，已按收到的部分归档：请在邮箱中查看原邮件，必要时请对方重发。",
    "limit": "文件已存档，但超出处理上限，未生成预览或只处理了一部分（原因见上）：请下载原文件用本机软件查看。",
    "limit_message": "邮件超出处理上限，未能自动归档，原始邮件已保存：请在邮箱中查看该邮件并手工登记。",
}
PROBLEM_LABELS = {
    "corrupt": "文件损坏",
    "encrypted": "加密文件",
    "rejected_unsafe": "不安全压缩包",
    "too_large": "文件过大",
    "pending": "等待解压",
    "derivative": "预览/转码失败",
    "error": "邮件解析失败",
    "quarantined": "邮件被隔离",
    "truncated": "邮件内容不完整",
    "limit": "超出处理上限",
    "limit_message": "邮件超出处理上限",
}


@dataclass(frozen=True)
class Problem:
    """One thing a clerk must act on."""

    category: str
    received_at: datetime
    unit_name: str
    sender: str
    subject: str
    name: str  # the file, or "" for a whole message
    detail: str
    campaign: str = ""  # the code of the campaign its message is assigned to, if any
    archive: bool = False  # about an archive or one of its members

    @property
    def label(self) -> str:
        return PROBLEM_LABELS[self.category]

    @property
    def action(self) -> str:
        return ACTIONS[self.category]


@dataclass(frozen=True)
class LinkToFetch:
    received_at: datetime
    unit_name: str
    subject: str
    name: str
    url: str
    expiry: str | None


@dataclass(frozen=True)
class DetailRow:
    """One line of the detail sheet: an item, or a message that brought none."""

    received_at: datetime
    unit_name: str
    sender: str
    subject: str
    status: str
    name: str
    kind_label: str
    media_label: str
    item_status: str
    duplicate: bool
    path: str


@dataclass(frozen=True)
class Inquiry:
    """A unit's question or acknowledgement waiting for an answer (待回复)."""

    pk: int
    received_at: datetime
    unit_name: str
    sender: str
    subject: str
    question: str
    reply_to: str  # mailto: link answering the sender, subject Re: theirs


@dataclass
class CampaignSection:
    """One campaign's part of the daily report: its tracker, deadlines and inquiries."""

    code: str
    name: str
    messages: int = 0  # of the report's day, filed under this campaign
    tracker: list[TrackerRow] = field(default_factory=list)
    deadlines: list[tuple[str, date, int]] = field(default_factory=list)  # label, due, days left
    archives: list[Problem] = field(default_factory=list)  # its mail's archive problems
    refusals: Counter = field(default_factory=Counter)  # ... members refused, by limit


@dataclass
class DailyData:
    """Everything the daily report shows, for one local day."""

    day: date
    campaign: str  # the campaigns' names, joined
    department: str
    generated_at: datetime
    messages: Counter = field(default_factory=Counter)  # by status
    by_unit: list[tuple[str, int, dict[str, int]]] = field(default_factory=list)
    media: Counter = field(default_factory=Counter)  # new (non-duplicate) items
    problems: list[Problem] = field(default_factory=list)
    archive_tally: ArchiveTally = field(default_factory=ArchiveTally)
    limits: Counter = field(default_factory=Counter)  # refusals by the limit's Chinese name
    triage_count: int = 0
    triage_oldest: datetime | None = None
    links: list[LinkToFetch] = field(default_factory=list)
    duplicate_items: int = 0
    duplicate_messages: int = 0
    details: list[DetailRow] = field(default_factory=list)
    kind_labels: dict[str, str] = field(default_factory=dict)
    waiting: list[WaitingLine] = field(default_factory=list)  # what waits now, and why
    sections: list[CampaignSection] = field(default_factory=list)
    other_business: int = 0  # messages of the day that belong to no campaign (其他来件)
    not_material: Counter = field(default_factory=Counter)  # by reason code
    inquiries: list[Inquiry] = field(default_factory=list)

    @property
    def total_messages(self) -> int:
        return sum(self.messages.values())

    @property
    def not_material_text(self) -> str:
        """The day's not-material messages by reason: 自动回复 2、垃圾邮件 1."""
        return "、".join(f"{short_label(code)} {n}" for code, n in self.not_material.most_common())

    @property
    def refusals(self) -> Counter:
        """Archive members refused today, by the limit that refused them."""
        return self.archive_tally.refusals

    @property
    def tracker(self) -> list[TrackerRow]:
        """Every section's tracker rows (the workbook's sheet, the summary's counts)."""
        return [row for section in self.sections for row in section.tracker]


def day_bounds(ctx: AppContext, day: date) -> tuple[datetime, datetime]:
    """Returns [start, end) of a local calendar day as aware datetimes."""
    tz = ctx.campaign.tz
    return datetime.combine(day, time(0), tz), datetime.combine(
        day + timedelta(days=1), time(0), tz
    )


def gather_daily(
    ctx: AppContext, day: date, now: datetime, campaigns: list[Campaign] | None = None
) -> DailyData:
    """Returns the daily report's data for one local day, read from the index.

    `campaigns`: the campaigns with a section each (default: every open one).
    """
    campaigns = list(ctx.open_campaigns()) if campaigns is None else campaigns
    names = {u.code: u.name for u in ctx.config.units}
    data = DailyData(
        day=day,
        campaign="、".join(c.name for c in campaigns) or "（没有进行中的活动）",
        department=ctx.config.department.name,
        generated_at=now,
        kind_labels={OTHER_KIND: "其他来件"}
        | {k.code: k.label for c in reversed(campaigns) for k in c.kinds},
    )
    start, end = day_bounds(ctx, day)
    labels = {c.code: c for c in ctx.campaigns()}
    with ctx.db.session() as session:
        day_messages = list(
            session.scalars(
                select(Message)
                .where(Message.received_at >= start, Message.received_at < end)
                .options(selectinload(Message.items))
                .order_by(Message.received_at, Message.id)
            )
        )
        _count_day(data, day_messages, names, labels)
        _add_quarantined(data, session, start, end, {m.id for m in day_messages})
        _triage(data, session, end)
        data.links = _links(session, names, end)
        for campaign in campaigns:
            data.sections.append(_section(ctx, session, campaign, day, day_messages, data))
        data.inquiries = _inquiries(session, names, {c.code for c in campaigns}, end)
        data.waiting = waiting_lines(ctx, session, local_formatter(ctx.campaign.tz))
    return data


def _section(
    ctx: AppContext,
    session: Session,
    campaign: Campaign,
    day: date,
    messages: list[Message],
    data: DailyData,
) -> CampaignSection:
    return CampaignSection(
        campaign.code,
        campaign.name,
        sum(1 for m in messages if _counted(m) and m.campaign_code == campaign.code),
        load_tracker(session, campaign, ctx.config.units, day),
        [
            (k.label, k.due, (k.due - day).days)
            for k in required_kinds(campaign)
            if k.due is not None
        ],
        [p for p in data.problems if p.archive and p.campaign == campaign.code],
        data.archive_tally.by_campaign.get(campaign.code, Counter()),
    )


def _counted(m: Message) -> bool:
    return m.status == "filed" and m.campaign_status == "assigned"


def _inquiries(
    session: Session, names: dict[str, str], campaigns: set[str], end: datetime
) -> list[Inquiry]:
    """Returns the inquiries not answered yet that had come by `end`: of these campaigns,
    or of none decided yet."""
    rows = []
    for m in pending_inquiries(session):
        if m.received_at >= end or (m.campaign_code and m.campaign_code not in campaigns):
            continue
        question = next(
            (d.evidence.get("question", "") for d in m.decisions if d.subject == "unit"), ""
        )
        rows.append(
            Inquiry(
                m.id,
                m.received_at,
                names.get(m.unit_code or "", "单位未确认"),
                m.from_addr,
                m.subject,
                question,
                reply_link(m),
            )
        )
    return rows


def reply_link(m: Message) -> str:
    """Returns a mailto: link answering the message: to its sender, subject 回复：theirs."""
    from urllib.parse import quote

    subject = m.subject if m.subject.startswith(("回复", "Re:", "RE:")) else f"回复：{m.subject}"
    return f"mailto:{quote(m.from_addr, safe='@')}?subject={quote(subject)}"


def _count_day(
    data: DailyData, messages: list[Message], names: dict[str, str], campaigns: dict
) -> None:
    per_unit: dict[str, tuple[int, Counter]] = {}
    for m in messages:
        data.messages[m.status] += 1
        if m.status == "not_material":
            data.not_material[m.not_material_reason or ""] += 1
        if m.campaign_status == "other":
            data.other_business += 1
        campaign = campaigns.get(m.campaign_code) if m.campaign_status != "other" else None
        unit_name = names.get(m.unit_code or "", "") or ("待分拣" if m.status == "triage" else "")
        material = [i for i in m.items if i.role == "material"]
        if "duplicate" in (m.flags or []):
            data.duplicate_messages += 1
        if m.status in ("error", "quarantined"):
            data.problems.append(_message_problem(m, unit_name))
            if data.problems[-1].category == "limit_message":
                data.limits[budget.LABELS["message_seconds"]] += 1
        elif "truncated" in (m.flags or []):
            data.problems.append(
                Problem("truncated", m.received_at, unit_name, m.from_addr, m.subject, "", "")
            )
        if m.is_material and m.status in ("filed", "triage"):
            count, kinds = per_unit.get(unit_name or "待分拣", (0, Counter()))
            other = m.campaign_status == "other"
            kinds.update(OTHER_KIND if other else (i.kind or "") for i in material)
            per_unit[unit_name or "待分拣"] = (count + 1, kinds)
        locked = locked_counts(material)
        for item in material:
            _count_item(data, m, item, unit_name, campaign, locked)
        if not material:
            data.details.append(_detail(m, None, unit_name, campaign))
    data.by_unit = [(name, count, dict(kinds)) for name, (count, kinds) in per_unit.items()]


def _count_item(
    data: DailyData, m: Message, item: Item, unit_name: str, campaign, locked: Counter
) -> None:
    data.details.append(_detail(m, item, unit_name, campaign))
    if not m.is_material:
        return
    data.archive_tally.count(m, item)
    if item.duplicate_of_id is not None:
        data.duplicate_items += 1
    elif item.status == "external_link":
        data.media["link"] += 1
    elif item.status == "ok":
        data.media[item.media] += 1
    category, detail = _item_problem(item, locked[item.id])
    if category == "limit":  # a budget stopped its job: counted by the limit's Chinese name
        data.limits[budget.LABELS.get((item.meta or {}).get("limit", ""), "处理上限")] += 1
    if category:
        data.problems.append(
            Problem(
                category,
                m.received_at,
                unit_name,
                m.from_addr,
                m.subject,
                item.name,
                detail,
                campaign_of(m),
                is_archive_item(item),
            )
        )


def _item_problem(item: Item, locked_members: int) -> tuple[str | None, str]:
    """Returns the problem an item is for a clerk, and its detail; (None, "") for none.

    A locked archive is one problem however many members it holds; its members are not
    listed one by one. An archive with some members skipped is not a problem itself:
    each skipped member is. A job a budget stopped is a problem of its own (`limit`).
    """
    if item.container_id and item.status == "encrypted":
        return None, ""
    if locked_members:
        return "encrypted", f"压缩包内有 {locked_members} 个文件设有密码"
    meta = item.meta or {}
    if item.status in ("corrupt", "encrypted", "rejected_unsafe", "too_large", "pending"):
        if item.status == "too_large" and meta.get("limit") and item.error:
            return item.status, item.error  # an archive limit's own Chinese sentence
        return item.status, _what(item_problem(item.status, item.error))
    if item.status == "ok" and meta.get("limit") and "unpack" not in meta:
        return "limit", _what(item_problem(item.status, item.error, limited=True))
    if item.status == "ok" and item.error and "unpack" not in meta:
        # stored, but a thumbnail or transcode failed: the decoder's words stay in the log
        return "derivative", _what(item_problem(item.status, item.error))
    return None, ""


def _message_problem(m: Message, unit_name: str) -> Problem:
    # the English reason and the raw copy's path are in the log and the export, not here
    limited = "over_limit" in (m.flags or [])
    detail = _what(message_problem(m.status, m.error, limited))
    category = "limit_message" if limited else m.status
    return Problem(category, m.received_at, unit_name, m.from_addr, m.subject, "", detail)


def _what(problem: ProblemText | None) -> str:
    return problem.what if problem else ""


def _detail(m: Message, item: Item | None, unit_name: str, campaign) -> DetailRow:
    kind_label = campaign.label(item.kind) if item and campaign else ""
    if item and campaign is None and m.campaign_status == "other":
        kind_label = "其他来件"
    return DetailRow(
        received_at=m.received_at,
        unit_name=unit_name,
        sender=m.from_addr,
        subject=m.subject,
        status=m.status,
        name=item.name if item else "",
        kind_label=kind_label,
        media_label=file_type_label(item.media, item.name, item.mime) if item else "",
        item_status=item.status if item else "",
        duplicate=bool(item and item.duplicate_of_id),
        path=(item.path or "") if item else "",
    )


def _add_quarantined(
    data: DailyData, session: Session, start: datetime, end: datetime, known: set[int]
) -> None:
    """Adds messages the IMAP poller gave up on (they may have no message row)."""
    records = session.scalars(
        select(MailboxRecord).where(
            MailboxRecord.status == QUARANTINED,
            MailboxRecord.updated_at >= start,
            MailboxRecord.updated_at < end,
        )
    )
    for rec in records:
        if rec.message_pk in known:
            continue
        data.messages["quarantined"] += 1
        why = WHY.get(rec.reason, WHY[OWN_FAILURE])
        data.problems.append(
            Problem(
                "quarantined",
                rec.updated_at,
                "",
                "",
                "",
                "",
                f"邮箱 {rec.account} 的“{rec.folder}”文件夹，编号 {rec.uid}：{why}（原始邮件已保存）",
            )
        )


def _triage(data: DailyData, session: Session, end: datetime) -> None:
    """Counts messages waiting in triage now that had arrived by the end of the day."""
    data.triage_count, data.triage_oldest = session.execute(
        select(func.count(Message.id), func.min(Message.received_at)).where(
            Message.status == "triage", Message.received_at < end
        )
    ).one()
    if data.triage_oldest is not None:
        data.triage_oldest = _aware(data.triage_oldest)


def _links(session: Session, names: dict[str, str], end: datetime) -> list[LinkToFetch]:
    """Returns external links received by `end` whose file is not in the archive yet."""
    rows = session.execute(
        select(Item, Message)
        .join(Message, Item.message_pk == Message.id)
        .where(
            Item.status == "external_link",
            Item.blob_path.is_(None),
            Message.is_material.is_(True),
            Message.received_at < end,
        )
        .order_by(Message.received_at, Item.id)
    ).all()
    links: dict[tuple[int, str], LinkToFetch] = {}
    for item, m in rows:
        # The same link often comes from both the text and the HTML body (there as &amp;).
        url = html.unescape(item.url or "")
        links.setdefault(
            (m.id, url),
            LinkToFetch(
                m.received_at,
                names.get(m.unit_code or "", "待分拣"),
                m.subject,
                item.name,
                url,
                item.url_expiry,
            ),
        )
    return list(links.values())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
