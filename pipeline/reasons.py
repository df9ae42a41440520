"""Why a message is not material: the reason codes, in one table, with the words staff see.

The code is what the index, exports and logs keep (`decisions.evidence.not_material`);
the label is what the web UI and reports show. Deciding a reason is done elsewhere
(pipeline/classify.py::message_verdict and the modules it calls, or a clerk who marks a
message 不是材料 with one of `DISMISS_REASONS`); a new reason is a new row here, so every
page and report can name it.
"""

from __future__ import annotations

# code -> what staff read under 非材料
NOT_MATERIAL_REASONS: dict[str, str] = {
    "bounce": "退信（投递失败通知）",
    "auto_reply": "自动回复",
    "spam": "垃圾邮件或群发广告",
    "own_mail": "本处自己发出的邮件",
    "inquiry": "询问或回执，没有材料",
    "newsletter": "订阅的通讯或群发通知",
    "other_business": "其他业务来信",
}
# the same, in a word or two, where a report lists them in one line
SHORT_LABELS: dict[str, str] = {
    "bounce": "退信",
    "auto_reply": "自动回复",
    "spam": "垃圾邮件",
    "own_mail": "本处发出",
    "inquiry": "询问或回执",
    "newsletter": "群发通知",
    "other_business": "其他业务",
}
# what a clerk may choose when dismissing a message from triage (不是材料)
DISMISS_REASONS = ("spam", "newsletter", "other_business", "inquiry")
# Before reason codes existed the evidence held these sentences; old rows still do.
_LEGACY = {
    "a delivery failure report": "bounce",
    "an automatic reply": "auto_reply",
    "bulk or list mail": "spam",
    "sent by the department itself": "own_mail",
}
# Signals of spam that are not words of the mail itself (headers), in staff's words.
SIGNAL_LABELS: dict[str, str] = {
    "header:list-unsubscribe": "群发退订信头",
    "header:precedence": "群发信头",
    "header:x-spam-flag": "邮件服务器标记为垃圾邮件",
}


def reason_code(value: str | None) -> str | None:
    """Returns the reason code of a stored value (a code, or an old English sentence)."""
    if not value:
        return None
    return value if value in NOT_MATERIAL_REASONS else _LEGACY.get(value, value)


def reason_label(value: str | None) -> str:
    """Returns the Chinese label of a stored reason; unknown codes get a generic label."""
    code = reason_code(value)
    if code is None:
        return ""
    return NOT_MATERIAL_REASONS.get(code, "其他原因")


def short_label(value: str | None) -> str:
    """Returns a reason in a word or two (the daily report's one-line breakdown)."""
    code = reason_code(value)
    return SHORT_LABELS.get(code or "", "其他原因")


def signal_label(signal: str) -> str:
    """Returns how a spam signal is shown: its words, or the label of a header signal."""
    return SIGNAL_LABELS.get(signal, signal)
