"""Receipts: an acknowledgement to the sender of filed mail, following RFC 3834.

Who gets one is decided by pure functions (suppression_reason, plan_batches);
send_receipts() reads the index, writes one receipt per sender per interval
(listing every message since the last one) and records each message's fate in
the receipts table, so nothing is acknowledged twice.
"""

from __future__ import annotations

import html
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from storage import layout
from storage.models import Message
from storage.report_models import Receipt
from workers.config.reports import ReportConfig
from workers.reports.mailer import compose, flush_outbox, hand_over, queue
from workers.reports.render import environment, render_template_text

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)

QUEUED, DRY_RUN, SUPPRESSED, SKIPPED = "queued", "dry_run", "suppressed", "skipped"
_MACHINE_LOCALPART = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|notifications?)([+\-.].*)?$",
    re.IGNORECASE,
)
LOCKED_ARCHIVE = "压缩包设有密码，我们无法打开。请回信告知解压密码，或发送不加密的文件。"
UNIT_ACTIONS = {
    "corrupt": "文件已损坏、无法打开，请重新发送原文件。",
    "encrypted": "文件设有密码，我们无法打开，请发送不加密的文件，或回信告知密码。",
    "rejected_unsafe": "压缩包无法安全解压，请不要打包，直接以附件发送其中的文件。",
    "too_large": "文件超过大小限制，未能保存，请改用网盘或超大附件发送。",
}


@dataclass(frozen=True)
class Candidate:
    """A message that may be acknowledged, with the headers RFC 3834 looks at."""

    pk: int
    address: str
    received_at: datetime
    flags: tuple[str, ...]
    is_material: bool
    headers: Mapping[str, str]
    other_business: bool = False  # 其他来件: the department answers it in its own way


@dataclass
class ReceiptPlan:
    """What to do now: batches to send, messages never to acknowledge, and those to wait."""

    batches: dict[str, list[int]] = field(default_factory=dict)
    suppressed: list[tuple[int, str, str]] = field(default_factory=list)  # pk, address, reason
    skipped: list[tuple[int, str, str]] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)


def suppression_reason(
    c: Candidate, own_addresses: Iterable[str], own_domains: Iterable[str]
) -> str | None:
    """Returns why no receipt may go to this message's sender (RFC 3834 §2), or None."""
    if not c.address or "@" not in c.address:
        return "no sender address"
    for flag, reason in (
        ("bounce", "a bounce"),
        ("auto_reply", "an automatic reply"),
        ("spam", "bulk mail"),
    ):
        if flag in c.flags:
            return reason
    local, _, domain = c.address.lower().rpartition("@")
    if c.address.lower() in {a.lower() for a in own_addresses} or domain in {
        d.lower() for d in own_domains
    }:
        return "our own address"
    if _MACHINE_LOCALPART.match(local):
        return "a machine address"
    h = {k.lower(): v for k, v in c.headers.items()}
    auto = h.get("auto-submitted", "").strip().lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    if h.get("precedence", "").strip().lower() in ("bulk", "list", "junk"):
        return "Precedence: " + h["precedence"].strip().lower()
    if any(k.startswith("list-") for k in h):
        return "mailing-list mail"
    if "x-autoreply" in h or "x-autorespond" in h or h.get("return-path", "").strip() == "<>":
        return "an automatic message"
    if not c.is_material:
        return "not material"
    if c.other_business:
        return "belongs to no campaign"
    return None


def plan_batches(
    candidates: Sequence[Candidate],
    last_sent: Mapping[str, datetime],
    now: datetime,
    interval: timedelta,
    max_age: timedelta,
    own_addresses: Iterable[str] = (),
    own_domains: Iterable[str] = (),
) -> ReceiptPlan:
    """Returns who gets a receipt now: one batch per sender not written to within `interval`."""
    plan = ReceiptPlan()
    own_addresses, own_domains = list(own_addresses), list(own_domains)
    for c in sorted(candidates, key=lambda c: (c.received_at, c.pk)):
        reason = suppression_reason(c, own_addresses, own_domains)
        if reason:
            plan.suppressed.append((c.pk, c.address.lower(), reason))
        elif now - c.received_at > max_age:
            plan.skipped.append((c.pk, c.address.lower(), "too old to acknowledge"))
        elif c.address.lower() in last_sent and now - last_sent[c.address.lower()] < interval:
            plan.waiting.append(c.pk)
        else:
            plan.batches.setdefault(c.address.lower(), []).append(c.pk)
    return plan


def send_receipts(
    ctx: AppContext, rc: ReportConfig, now: datetime, since: datetime | None = None
) -> ReceiptPlan:
    """Acknowledges filed messages not acknowledged yet (received since `since`); returns the plan.

    With receipts.dry_run_dir set, receipts are written there as .eml files instead.
    """
    settings = rc.receipts
    candidates = _candidates(ctx, since)
    plan = plan_batches(
        candidates,
        _last_sent(ctx),
        now,
        timedelta(minutes=settings.interval_minutes),
        timedelta(hours=settings.max_age_hours),
        rc.own_addresses,
        ctx.config.department.domains,
    )
    _record_unsent(ctx, plan, now)
    for address, pks in plan.batches.items():
        try:
            _send_batch(ctx, rc, address, pks, now)
        except Exception:  # one sender's receipt failing must not stop the others
            log.exception(
                "cannot write a receipt to %s; it is tried again on the next tick", address
            )
    if plan.batches and settings.dry_run_dir is None:
        flush_outbox(ctx.db, rc.smtp, now, hand_over(ctx))
    return plan


def _candidates(ctx: AppContext, since: datetime | None) -> list[Candidate]:
    query = (
        select(Message)
        .outerjoin(Receipt, Receipt.message_pk == Message.id)
        .where(Receipt.id.is_(None), Message.status.in_(("filed", "triage", "not_material")))
    )
    if since is not None:
        query = query.where(Message.received_at >= since)
    with ctx.db.session() as session:
        messages = list(session.scalars(query.order_by(Message.received_at)))
    return [
        Candidate(
            m.id,
            m.from_addr or "",
            m.received_at,
            tuple(m.flags or ()),
            m.is_material,
            _raw_headers(ctx, m.raw_path),
            m.campaign_status == "other",
        )
        for m in messages
    ]


def _raw_headers(ctx: AppContext, raw_path: str) -> dict[str, str]:
    try:
        with ctx.archive.open(raw_path) as handle:
            parsed = BytesHeaderParser(policy=default_policy).parse(handle)
    except Exception:  # no raw copy: the flags from ingestion still apply
        return {}
    return {k: str(v) for k, v in parsed.items()}


def _last_sent(ctx: AppContext) -> dict[str, datetime]:
    with ctx.db.session() as session:
        rows = session.execute(
            select(Receipt.address, func.max(Receipt.created_at))
            .where(Receipt.status.in_((QUEUED, DRY_RUN)))
            .group_by(Receipt.address)
        ).all()
    return {address: when if when.tzinfo else when.replace(tzinfo=UTC) for address, when in rows}


def _record_unsent(ctx: AppContext, plan: ReceiptPlan, now: datetime) -> None:
    with ctx.db.session() as session:
        for status, rows in ((SUPPRESSED, plan.suppressed), (SKIPPED, plan.skipped)):
            for pk, address, reason in rows:
                session.add(
                    Receipt(
                        message_pk=pk,
                        address=address[:320],
                        status=status,
                        reason=reason,
                        created_at=now,
                    )
                )
    for pk, address, reason in plan.suppressed:
        log.info("no receipt for message %d from %s: %s", pk, address or "?", reason)


def _send_batch(
    ctx: AppContext, rc: ReportConfig, address: str, pks: list[int], now: datetime
) -> None:
    with ctx.db.session() as session:
        messages = list(
            session.scalars(
                select(Message)
                .where(Message.id.in_(pks))
                .options(selectinload(Message.items))
                .order_by(Message.received_at)
            )
        )
    msg = receipt_message(ctx, rc, address, messages, now)
    batch = uuid.uuid4().hex
    path, outbox_id = None, None
    if rc.receipts.dry_run_dir is not None:
        path = _write_dry_run(rc, address, msg, now)
    else:
        outbox_id = queue(ctx.db, "receipt", msg, [address], now)
    with ctx.db.session() as session:
        for m in messages:
            session.add(
                Receipt(
                    message_pk=m.id,
                    address=address[:320],
                    status=DRY_RUN if path else QUEUED,
                    batch=batch,
                    outbox_id=outbox_id,
                    path=path,
                    created_at=now,
                )
            )
    log.info(
        "receipt for %d message(s) to %s %s",
        len(messages),
        address,
        f"written to {path}" if path else f"queued as #{outbox_id}",
    )


def _write_dry_run(rc: ReportConfig, address: str, msg: EmailMessage, now: datetime) -> str:
    folder = rc.receipts.dry_run_dir / now.strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    name = layout.safe_component(f"{now.strftime('%H%M%S')}-{address}.eml")
    target = folder / name
    tmp = folder / f".tmp-{name}"
    tmp.write_bytes(msg.as_bytes())
    tmp.replace(target)
    return str(target)


def receipt_message(
    ctx: AppContext, rc: ReportConfig, address: str, messages: Sequence[Message], now: datetime
) -> EmailMessage:
    """Returns the receipt email for one sender's messages, with RFC 3834 headers."""
    campaigns = [ctx.campaign_by_code(m.campaign_code) or ctx.campaign for m in messages]
    names = {u.code: u.name for u in ctx.config.units}
    entries = [_entry(m, names, c) for m, c in zip(messages, campaigns, strict=True)]
    env = environment(ctx.campaign.tz)
    text = render_template_text(
        env,
        "receipt.txt",
        rc.receipts.template,
        {
            "sender_name": messages[-1].from_name or address,
            "address": address,
            "department": ctx.config.department.name,
            "campaign": "、".join(dict.fromkeys(c.name for c in campaigns)),
            "messages": entries,
            "now": now,
            "problems": sum(len(e["problems"]) for e in entries),
        },
    )
    first = messages[0].subject or "（无主题）"
    subject = (
        f"回执：已收到《{first}》"
        if len(messages) == 1
        else f"回执：已收到您的 {len(messages)} 封邮件"
    )
    ids = [m.message_id for m in messages if m.message_id]
    headers = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
    if ids:
        headers["In-Reply-To"] = ids[-1]
        headers["References"] = " ".join(ids)
    return compose(rc.smtp, [address], subject, text, headers=headers, now=now)


def _held(item) -> str:
    unpacked = (item.meta or {}).get("unpack")
    return f"（内含 {unpacked['members']} 个文件）" if unpacked and unpacked.get("members") else ""


def _entry(m: Message, names: dict[str, str], campaign) -> dict:
    files, problems, links, locked = [], [], set(), set()
    by_id = {i.id: i for i in m.items}
    for item in m.items:
        if item.role != "material":
            continue
        label = campaign.label(item.kind) or "未分类"
        if item.status == "external_link":
            url = html.unescape(item.url or "")
            if url in links:  # the same link from the text and the HTML body
                continue
            links.add(url)
            expiry = f"，有效期至 {item.url_expiry}" if item.url_expiry else ""
            files.append(
                f"下载链接 {url} → {label}（我们会尽快下载{expiry}；如链接失效请重新分享）"
            )
            continue
        if item.container_id is None:  # an archive's members are counted on it, not listed
            files.append(f"{item.name} → {label}{_held(item)}")
        if item.container_id and item.status == "encrypted":
            locked.add(by_id[item.container_id].name if item.container_id in by_id else item.name)
        elif item.status in UNIT_ACTIONS:
            problems.append(f"{item.name}：{UNIT_ACTIONS[item.status]}")
    problems += [f"{name}：{LOCKED_ARCHIVE}" for name in sorted(locked)]
    return {
        "subject": m.subject or "（无主题）",
        "received_at": m.received_at,
        "unit_name": names.get(m.unit_code or "") if m.status == "filed" else None,
        "files": files,
        "problems": problems,
    }
