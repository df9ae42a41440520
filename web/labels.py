"""The template filters and globals: every code a page shows goes through a Chinese label.

The wording itself lives in pipeline/wording.py (the daily report uses it too);
this module hands it to Jinja with the campaign's time zone and unit names.
"""

from __future__ import annotations

from urllib.parse import quote

from jinja2 import pass_context

from pipeline import wording
from pipeline.reasons import DISMISS_REASONS, NOT_MATERIAL_REASONS, reason_label, signal_label
from pipeline.tracker_sheets import colours
from storage.models import Message

CAMPAIGN_STATUS_LABELS = {
    "assigned": "已归入",
    "other": "其他来件（不属于任何活动）",
    "triage": "待确认活动",
    "none": "未判断",
}


def install_filters(env, ctx) -> None:
    """Adds the filters and globals templates use (labels in Chinese, local times)."""
    campaign = ctx.campaign
    unit_names = {u.code: u.name for u in ctx.config.units}

    def unit_name(code: str | None) -> str:
        return unit_names.get(code, code) if code else "待分拣"

    env.filters["localtime"] = lambda dt: (
        dt.astimezone(campaign.tz).strftime("%Y-%m-%d %H:%M") if dt else ""
    )
    env.filters["kind_label"] = kind_label
    env.filters["campaign_status_label"] = lambda s: CAMPAIGN_STATUS_LABELS.get(s, "未判断")
    env.filters["reply_link"] = reply_link
    env.filters["unit_name"] = unit_name
    env.filters["file_type"] = lambda item: wording.file_type_label(
        item.media, item.name, item.mime
    )
    env.filters["media_label"] = lambda m: wording.MEDIA_LABELS.get(m, "其他文件")
    env.filters["status_label"] = lambda s: wording.MESSAGE_STATUS_LABELS.get(s, "其他")
    env.filters["item_status_label"] = lambda s: wording.ITEM_STATUS_LABELS.get(s, "其他")
    env.filters["flag_label"] = lambda f: wording.FLAG_LABELS.get(f, "其他标记")
    env.filters["clue_source"] = lambda s: wording.CLUE_SOURCES.get(s, "其他线索")
    env.filters["clue_value"] = lambda clue: wording.clue_value(clue["source"], clue["value"])
    env.filters["level_label"] = lambda s: wording.LEVELS.get(s, "无")
    env.filters["role_label"] = lambda s: wording.ROLES.get(s, "查看者")
    env.filters["reason"] = lambda text: wording.reason_text(text, unit_name)
    env.filters["not_material"] = reason_label
    env.filters["reason_label"] = reason_label  # why a message is not material, in Chinese
    env.filters["signal_label"] = signal_label
    env.filters["item_problem"] = lambda item: wording.item_problem(
        item.status,
        item.error,
        bool((item.meta or {}).get("limit")) and item.status == "ok",
        "unpack" in (item.meta or {}),
    )
    env.filters["message_problem"] = lambda m: wording.message_problem(
        m.status, m.error, "over_limit" in (m.flags or [])
    )
    env.filters["stage_label"] = wording.stage_label
    env.filters["filesize"] = filesize
    env.filters["cell_colours"] = colours
    env.globals["campaign"] = campaign
    env.globals["units"] = list(ctx.config.units)
    env.globals["unit_names"] = unit_names
    env.globals["dismiss_reasons"] = {code: NOT_MATERIAL_REASONS[code] for code in DISMISS_REASONS}


def reply_link(message: Message) -> str:
    """Returns a mailto: link answering the message: its sender, subject 回复：theirs."""
    subject = message.subject or ""
    if not subject.startswith(("回复", "Re:", "RE:")):
        subject = f"回复：{subject}"
    return f"mailto:{quote(message.from_addr, safe='@')}?subject={quote(subject)}"


@pass_context
def kind_label(context, code: str | None, campaign_code: str | None = None) -> str:
    """Returns a kind's label in the item's campaign (or the page's), 未定 when it has none."""
    if not code:
        return "未定"
    by_code = context.get("campaign_map") or {}
    for campaign in (by_code.get(campaign_code), context.get("campaign"), *by_code.values()):
        if campaign is not None and code in campaign.kind_codes():
            return campaign.label(code)
    return "其他类别"  # a kind of no campaign known here: its code is for the exports


def filesize(n: int | None) -> str:
    """Returns a size as 12 KB, 3.4 MB (units are shown to staff as they are)."""
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} 字节" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""
