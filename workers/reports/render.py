"""Rendering the daily report, receipts and reminders from Jinja2 templates.

The HTML uses tables and inline styles only (no <style> block, no classes):
Outlook's Word engine and QQ Mail's web view both drop or rewrite those.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from pipeline.tracker import LATE, MISSING, PENDING, TrackerRow, state_counts
from pipeline.tracker_sheets import colours
from workers.reports.daily import DailyData

WEEKDAYS = "一二三四五六日"


def environment(tz: ZoneInfo) -> Environment:
    """Returns the Jinja2 environment with the date filters the templates use."""
    env = Environment(
        loader=PackageLoader("workers.reports", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["local"] = lambda d: _local(d, tz, "%Y-%m-%d %H:%M")
    env.filters["md"] = lambda d: _local(d, tz, "%-m月%-d日")
    env.filters["weekday"] = lambda d: "星期" + WEEKDAYS[d.weekday()]
    env.filters["days_phrase"] = days_phrase
    env.filters["tz_label"] = tz_label
    return env


def _local(value: datetime | date | None, tz: ZoneInfo, fmt: str) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(tz)
    return value.strftime(fmt)


TZ_LABELS = {
    "Asia/Shanghai": "北京时间",
    "Asia/Chongqing": "北京时间",
    "Asia/Urumqi": "乌鲁木齐时间",
}


def tz_label(tz: ZoneInfo) -> str:
    """Returns the time zone as staff name it (北京时间), else its UTC offset."""
    if tz.key in TZ_LABELS:
        return TZ_LABELS[tz.key]
    offset = datetime.now(tz).utcoffset()
    hours = offset.total_seconds() / 3600 if offset else 0
    return f"协调世界时{hours:+g}小时"


def days_phrase(days_left: int | None) -> str:
    """Returns 还剩 N 天 / 今天截止 / 已过 N 天 for a deadline."""
    if days_left is None:
        return "无截止日期"
    if days_left > 0:
        return f"还剩 {days_left} 天"
    return "今天截止" if days_left == 0 else f"已过 {-days_left} 天"


def render_template_text(
    env: Environment, name: str, override: Path | None, context: dict[str, Any]
) -> str:
    """Renders a packaged template, or the staff-edited file named in config instead."""
    if override is not None:
        template = env.from_string(override.read_text(encoding="utf-8"))
    else:
        template = env.get_template(name)
    return template.render(**context)


def daily_context(data: DailyData, tz: ZoneInfo) -> dict[str, Any]:
    """Returns what the daily templates need, pre-grouped so templates stay simple."""
    return {
        "d": data,
        "tz": tz,
        "sections": [
            section_context(s.name, s.tracker, s.deadlines, s.messages)
            | {"archives": s.archives, "refusals": s.refusals, "locked": _locked(s.archives)}
            for s in data.sections
        ],
        "colours": colours,
        "media": media_summary(data.media),
        # counted to the report's day, so a report made later for an old day reads the same
        "triage_days": (data.day - data.triage_oldest.astimezone(tz).date()).days
        if data.triage_oldest
        else 0,
    }


def section_context(
    name: str, tracker: list[TrackerRow], deadlines: list, messages: int = 0
) -> dict[str, Any]:
    """Returns one campaign's tracker grouped for the templates: kinds, grid, units, by kind."""
    kinds: list[tuple[str, str]] = []
    for row in tracker:
        if (row.kind, row.kind_label) not in kinds:
            kinds.append((row.kind, row.kind_label))
    grid: dict[str, dict[str, TrackerRow]] = {}
    for row in tracker:
        grid.setdefault(row.unit, {})[row.kind] = row
    units = (
        [
            (code, cells[kinds[0][0]].unit_name, any(c.silent for c in cells.values()))
            for code, cells in grid.items()
        ]
        if kinds
        else []
    )
    by_kind = []
    counts = state_counts(tracker)
    for code, label in kinds:
        rows = [r for r in tracker if r.kind == code]
        by_kind.append(
            {
                "code": code,
                "label": label,
                "due": rows[0].due,
                "days_left": rows[0].days_left,
                "counts": counts[code],
                "late": [r for r in rows if r.state == LATE],
                "missing": [r for r in rows if r.state == MISSING],
                "pending": [r for r in rows if r.state == PENDING],
            }
        )
    return {
        "name": name,
        "messages": messages,
        "deadlines": deadlines,
        "kinds": kinds,
        "grid": grid,
        "units": units,
        "by_kind": by_kind,
        "silent": [(code, unit) for code, unit, is_silent in units if is_silent],
        "resend": [r for r in tracker if r.needs_resend],
    }


def _locked(problems: list) -> bool:
    """True when a section's archive problems include one that needs a password."""
    return any(p.category == "encrypted" for p in problems)


def media_summary(media: Counter) -> list[tuple[str, int]]:
    """Returns (label, count) for new items: photos, videos, documents, then the rest."""
    return [
        ("照片/图片", media["image"]),
        ("视频", media["video"]),
        ("文档", media["document"] + media["text"]),
        ("压缩包", media["archive"]),
        ("其他文件", media["other"]),
        ("网盘/超大附件链接", media["link"]),
    ]


def daily_subject(data: DailyData) -> str:
    """Returns the daily report's email subject with the numbers that matter most."""
    missing = sum(1 for r in data.tracker if r.state == MISSING)
    waiting = f"，待回复 {len(data.inquiries)} 封" if data.inquiries else ""
    return (
        f"【每日报告】{data.campaign} {data.day.isoformat()}：来件 {data.total_messages} 封，"
        f"问题 {len(data.problems)} 项，待分拣 {data.triage_count} 封{waiting}，"
        f"逾期未报 {missing} 项"
    )


def render_daily(data: DailyData, tz: ZoneInfo) -> tuple[str, str]:
    """Returns (html, text) of the daily report."""
    env = environment(tz)
    context = daily_context(data, tz)
    return (
        env.get_template("daily.html").render(**context),
        env.get_template("daily.txt").render(**context),
    )
