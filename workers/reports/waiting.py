"""What waits and why, in Chinese, for the daily report: mail not filed yet, paused sources,
media jobs put back by the machine, a disk running low.

Each line says what is waiting, since when, why, and whether anyone has to act: a
full disk or a locked index is retried by itself (nothing to do unless it lasts),
a quarantined message needs a person. No English, no paths, no exception names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from storage import health
from storage.mailbox_state import ARCHIVE_DOWN, INDEX_DOWN, OWN_FAILURE, WORKER_DIED
from workers.sources.space import disks

if TYPE_CHECKING:
    from workers.app import AppContext

# Why, by reason code (storage/mailbox_state.py, storage/health.py).
WHY = {
    ARCHIVE_DOWN: "归档磁盘已满或暂时无法写入",
    INDEX_DOWN: "索引数据库被占用或暂时无法连接",
    OWN_FAILURE: "邮件本身处理出错",
    WORKER_DIED: "处理它的后台任务多次中断",
    health.LOW_DISK: "磁盘剩余空间低于设定值，已暂停收取",
    health.MAILBOX: "无法连接邮件服务器或登录失败",
    None: "等待后台处理",
}
# What a state means for whoever reads the report.
STATES = {
    "waiting": (
        "等待重试",
        "系统会自动重试，无需处理；如持续超过一天，请联系管理员检查磁盘和数据库。",
    ),
    "retry": ("等待再次处理", "系统会自动再试，同样的错误多次出现后会隔离。"),
    "queued": ("排队中", "无需处理。"),
    "ingesting": ("处理中", "无需处理。"),
    "quarantined": ("已隔离", "原始邮件已保存：请在邮箱中查看该邮件并手工登记，或联系管理员。"),
}


@dataclass(frozen=True)
class WaitingLine:
    """One line of the report's system section."""

    text: str
    needs_action: bool


def waiting_lines(ctx: AppContext, session: Session, local) -> list[WaitingLine]:
    """Returns the system section's lines (empty when nothing waits); `local` formats a time."""
    lines = [_source_line(s, local) for s in health.sources(session) if s.problem]
    for backlog in health.mail_backlog(session):
        label, todo = STATES[backlog.status]
        why = WHY.get(backlog.reason, WHY[None])
        since = f"，最早的一封自 {local(backlog.oldest)} 起" if backlog.oldest else ""
        lines.append(
            WaitingLine(
                f"邮件{label} {backlog.count} 封（{why}{since}）：{todo}",
                backlog.status == "quarantined",
            )
        )
    media = health.media_backlog(session)
    if media.get("waiting"):
        lines.append(
            WaitingLine(
                f"预览/转码等任务 {media['waiting']} 个因磁盘或数据库暂时不可用而等待：系统会自动重试。",
                False,
            )
        )
    if media.get("expand"):
        lines.append(WaitingLine(f"压缩包 {media['expand']} 个尚待解开：系统会自动处理。", False))
    lines += _disk_lines(ctx)
    return lines


def _source_line(status: health.SourceStatus, local) -> WaitingLine:
    kind, _, name = status.source.partition(":")
    what = f"邮箱 {name}" if kind == "imap" else "收件文件夹"
    ok = f"上次成功收取于 {local(status.last_ok_at)}" if status.last_ok_at else "尚未成功收取过"
    why = WHY.get(status.reason, "收取时出错")
    return WaitingLine(
        f"{what}：{why}（最近一次尝试 {local(status.last_poll_at)}，{ok}）。系统会自动重试；"
        "如持续超过一天，请联系管理员。",
        status.reason == health.MAILBOX,
    )


def _disk_lines(ctx: AppContext) -> list[WaitingLine]:
    floor = ctx.config.limits.min_free_bytes
    lines = []
    for disk in disks(ctx):
        if disk.free is not None and floor and disk.free < floor:
            what = "归档" if disk.what == "archive" else "索引数据库"
            lines.append(
                WaitingLine(
                    f"{what}所在磁盘只剩 {_size(disk.free)}，低于设定的 {_size(floor)}："
                    "已暂停收取邮件，请联系管理员腾出空间，之后会自动恢复。",
                    True,
                )
            )
    return lines


def _size(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GB"
    return f"{n / (1 << 20):.0f} MB"


def local_formatter(tz) -> object:
    """Returns a function formatting an aware time as local YYYY-MM-DD HH:MM."""

    def local(moment: datetime | None) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""

    return local
