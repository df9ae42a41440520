"""What staff read: the Chinese wording of codes, decision reasons, problems and audit entries.

The index, exports and logs keep English codes and reasons (stable, greppable);
everything a clerk sees (web pages, the daily report) goes through here, so no
English word, path or exception name reaches them. Pure: text in, text out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

MEDIA_LABELS = {
    "image": "图片",
    "video": "视频",
    "document": "文档",
    "text": "正文",
    "archive": "压缩包",
    "other": "其他文件",
}
# Documents by extension, so a clerk reads "Word 文档" instead of a MIME type.
DOCUMENT_LABELS = {
    ".doc": "Word 文档",
    ".docx": "Word 文档",
    ".wps": "WPS 文档",
    ".pdf": "PDF",
    ".xls": "Excel 表格",
    ".xlsx": "Excel 表格",
    ".et": "WPS 表格",
    ".ppt": "PPT 演示文稿",
    ".pptx": "PPT 演示文稿",
    ".dps": "WPS 演示文稿",
    ".txt": "文本文件",
    ".rtf": "RTF 文档",
    ".odt": "文档",
}
MESSAGE_STATUS_LABELS = {
    "filed": "已归档",
    "triage": "待分拣",
    "not_material": "非材料",
    "error": "无法解析",
    "quarantined": "已隔离",
}
ITEM_STATUS_LABELS = {
    "ok": "正常",
    "corrupt": "文件损坏",
    "rejected_unsafe": "不安全，已拒收",
    "encrypted": "有密码",
    "too_large": "过大，未存档",
    "external_link": "外部链接，待下载",
    "pending": "等待解压",
}
FLAG_LABELS = {
    "late": "逾期",
    "early": "提前",
    "duplicate": "重复",
    "forwarded": "转发",
    "auto_reply": "自动回复",
    "bounce": "退信",
    "spam": "群发",
    "external_link": "外链",
    "truncated": "内容不完整",
    "inquiry": "咨询",
    "over_limit": "超出处理上限",
}
CLUE_SOURCES = {
    "address": "发件地址",
    "learned_address": "记住的发件地址",
    "domain": "发件域名",
    "subject": "主题",
    "reply_subject": "回复的主题",
    "signature": "签名",
    "display_name": "发件人名称",
    "filename": "文件名",
    "document": "文档开头或落款",
    "document_text": "文档内容",
    "body": "正文",
    "body_article": "正文文章",
    "media": "文件类型",
    "date": "收到日期",
    "keyword": "关键词",
    "context": "链接旁的文字",
    "header": "信头",
    "thread": "所回复的邮件",
    "reply_subject_": "回复的主题",
    "kind": "材料类别词",
    "related_subject": "主题中的相关活动",
    "related_filename": "文件名中的相关活动",
    "related_body": "正文中的相关活动",
    "related_document": "文档中的相关活动",
    "related_document_text": "文档中的相关活动",
}
LEVELS = {"strong": "强", "weak": "弱", "none": "无"}
ROLES = {"viewer": "查看者", "editor": "编辑", "admin": "管理员"}
_PHASES = {"before": "活动周之前", "during": "活动周期间", "after": "活动周之后"}


def file_type_label(media: str | None, name: str = "", mime: str = "") -> str:
    """Returns 图片, 视频, Word 文档, PDF, 压缩包 ... for an item."""
    if media == "document" or mime == "application/pdf":
        suffix = PurePosixPath(name.lower()).suffix
        if mime == "application/pdf":
            return "PDF"
        return DOCUMENT_LABELS.get(suffix, "文档")
    return MEDIA_LABELS.get(media or "", "其他文件")


def clue_value(source: str, value: str) -> str:
    """Returns what a clue saw, in Chinese where the machine wrote it (media, date)."""
    if source == "media":
        return MEDIA_LABELS.get(value, value)
    if source == "date":
        found = re.fullmatch(r"received (before|during|after) the week", value)
        return _PHASES[found.group(1)] + "收到" if found else "收到日期"
    return value


# -- decision reasons --------------------------------------------------------------

Namer = Callable[[str], str]  # a unit code -> its Chinese name


def _plain(code: str) -> str:
    return code


_REASONS: list[tuple[re.Pattern, Callable[[re.Match, Namer], str]]] = [
    (re.compile(r"clues agree"), lambda m, n: "线索一致"),
    (re.compile(r"no clue names a unit"), lambda m, n: "没有任何线索指向某个单位"),
    (
        re.compile(r"clues disagree: (\S+) \(([\d.]+)\) vs (\S+) \(([\d.]+)\)"),
        lambda m, n: f"线索互相矛盾：{n(m[1])}（{_pct(m[2])}）与 {n(m[3])}（{_pct(m[4])}）",
    ),
    (
        re.compile(r"only weak clues \(([\d.]+) < ([\d.]+)\)"),
        lambda m, n: f"只有较弱的线索（把握 {_pct(m[1])}，低于 {_pct(m[2])}）",
    ),
    (
        re.compile(r"an archive: its members carry the kinds"),
        lambda m, n: "压缩包：按其中的文件分别判断类别",
    ),
    (
        re.compile(r"no clear kind; filed as the fallback kind"),
        lambda m, n: "类别不明确，暂归入默认类别",
    ),
    (re.compile(r"assigned by (.+)"), lambda m, n: f"由 {m[1]} 人工指定"),
    (re.compile(r"set by (.+)"), lambda m, n: f"由 {m[1]} 人工设定"),
    (
        re.compile(r"re-decided after (.+) assigned a message from the same sender"),
        lambda m, n: f"{m[1]} 分拣了同一发件人的另一封邮件，记住发件地址后自动判断",
    ),
    (re.compile(r"undo of audit (\d+)"), lambda m, n: "撤销了之前的修改，恢复原状"),
    (re.compile(r"dismissed by (.+)"), lambda m, n: f"由 {m[1]} 标为不是材料"),
    (re.compile(r"moved back by (.+)"), lambda m, n: f"由 {m[1]} 移回待分拣"),
]


def _pct(value: str) -> str:
    return f"{float(value) * 100:.0f}%"


def reason_text(reason: str, unit_name: Namer = _plain) -> str:
    """Returns the Chinese wording of a decision's English reason ("" for none).

    A reason may be prefixed by "forwarded by X; "; a reason this table does not
    know is never shown as it is (it is in the export and the log).
    """
    reason = (reason or "").strip()
    if not reason:
        return ""
    forwarded = re.match(r"forwarded by ([^;]*); (.*)", reason, re.DOTALL)
    if forwarded:
        return f"由 {forwarded[1]} 转发；" + reason_text(forwarded[2], unit_name)
    for pattern, wording in _REASONS:
        found = pattern.fullmatch(reason)
        if found:
            return wording(found, unit_name)
    return "自动判断（详情见导出数据）"


# -- problems: what happened and what to do ------------------------------------------


@dataclass(frozen=True)
class ProblemText:
    """A problem as a clerk reads it: what happened, and what to do next."""

    what: str
    todo: str

    def __str__(self) -> str:
        return f"{self.what}。{self.todo}"


_DAMAGE = [
    (
        re.compile(r"damaged (base64|quoted-printable|uuencode|encoding)|Defect", re.I),
        "附件在传输中损坏，无法还原",
    ),
    (re.compile(r"docx|word", re.I), "Word 文档已损坏，无法打开"),
    (re.compile(r"pdf", re.I), "PDF 文件已损坏，无法打开"),
    (re.compile(r"image|pillow|jpeg|png|heif|heic", re.I), "图片已损坏，无法显示"),
    (re.compile(r"zip|7z|rar|archive", re.I), "压缩包已损坏，无法解开"),
    (re.compile(r"video|frame|ffmpeg|stream", re.I), "视频已损坏，无法播放"),
]
RESEND = "请联系该单位重新发送这个文件"


def item_problem(
    status: str, error: str | None, limited: bool = False, unpacked: bool = False
) -> ProblemText | None:
    """Returns what went wrong with an item and what to do, or None when nothing did.

    `limited`: a processing limit stopped its job; its error is then already the Chinese
    sentence staff read (pipeline/budget.py). `unpacked`: an archive that was opened; its
    error says (in Chinese) which members could not be taken out, each listed on its page.
    """
    error = error or ""
    if status == "pending":
        return ProblemText(
            "压缩包等待解压（磁盘空间不足，或刚收到密码）", "无需处理：条件满足后会自动解压"
        )
    if unpacked and status == "ok":
        return (
            ProblemText(error.rstrip("。"), "其余文件已存档；各文件的情况见压缩包内容")
            if error
            else None
        )
    if limited and error:
        return ProblemText(error.rstrip("。"), "原文件已保存，请下载后用本机软件查看")
    if status == "corrupt":
        what = next(
            (text for pattern, text in _DAMAGE if pattern.search(error)), "文件已损坏，无法打开"
        )
        return ProblemText(what, RESEND)
    if status == "encrypted":
        return ProblemText(
            "文件或压缩包有密码，无法打开", "请向该单位索取密码，或请对方发送不加密的文件"
        )
    if status == "too_large":
        return ProblemText("文件过大，未存入档案", "请在邮箱中手工下载保存，或请对方改用网盘发送")
    if status == "rejected_unsafe":
        return ProblemText(
            "压缩包不安全（路径越界或解压后过大），已拒收", "请联系该单位直接发送文件，不要打包"
        )
    if status == "external_link":
        return ProblemText(
            "文件在网盘或超大附件链接里，还没有下载", "请在有效期前打开链接下载，存入该单位的文件夹"
        )
    if error:  # stored fine, but a thumbnail, preview or web video could not be made
        return ProblemText(
            "文件已存档，但生成预览或网页视频失败",
            "请下载原件用本机软件打开检查；打不开则请对方重发",
        )
    return None


def message_problem(status: str, error: str | None, limited: bool = False) -> ProblemText | None:
    """Returns what went wrong with a whole message and what to do, or None.

    `limited`: a processing limit stopped it; its error is then staff's Chinese sentence.
    """
    if limited and error:
        return ProblemText("邮件超出处理上限，未能自动归档", error.rstrip("。"))
    if status == "error":
        return ProblemText("邮件无法解析，原始邮件已保存", "请在邮箱中查看这封邮件并手工登记")
    if status == "quarantined":
        return ProblemText("邮件多次处理失败，已隔离", "请在邮箱中查看这封邮件，确认后手工处理")
    if error:
        return ProblemText(
            "邮件格式有缺陷，部分内容可能不完整", "请核对附件是否齐全；缺少或打不开的，请对方重发"
        )
    return None


STAGE_LABELS = {"decode": "附件解码失败", "ingest": "邮件处理失败", "parse": "邮件解析失败"}


def stage_label(stage: str) -> str:
    return STAGE_LABELS.get(stage, "处理失败")
