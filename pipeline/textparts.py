"""Splitting a message body into the sender's own words, quotes and forwarded blocks."""

from __future__ import annotations

import html
import re

import nh3

# Lines that start quoted or forwarded material in Chinese and Western clients.
_QUOTE_START = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:原始邮件|转发的邮件|转发邮件|Original Message|Forwarded message|邮件原文)\s*-{2,}"
    r"|-{2,}\s*(?:原始邮件|转发的邮件|Original Message|Forwarded message)"
    r"|在\s*.{0,60}写道\s*[:：]"
    r"|On\s.{0,120}wrote:"
    r"|_{5,}\s*$"
    r"|(?:发件人|From)\s*[:：].+$(?=[\s\S]*^\s*(?:主题|Subject|发送时间|Sent|日期|Date)\s*[:：])"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
_FORWARD_MARK = re.compile(
    r"^\s*-{2,}\s*(?:转发的邮件|转发邮件|Forwarded message|原始邮件|Original Message)\s*-{2,}\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_FIELD = re.compile(
    r"^\s*(发件人|From|主题|Subject|日期|Date|发送日期|发送时间|Sent|时间|收件人|To|"
    r"抄送|Cc)\s*[:：]\s*(.*)$",
    re.IGNORECASE,
)
# A subject that says the message is a forward, or a reply (whose quoted block never decides).
_FORWARD_SUBJECT = re.compile(r"^\s*(?:转发|fwd?|转)\s*[:：]", re.IGNORECASE)
_REPLY_SUBJECT = re.compile(r"^\s*(?:回复|答复|re)\s*[:：]", re.IGNORECASE)
_FORWARD_ONLY_MARK = re.compile(
    r"^\s*-{2,}\s*(?:转发的邮件|转发邮件|Forwarded message)\s*-{2,}", re.IGNORECASE | re.MULTILINE
)
# Where list footers, newsletter small print and large-attachment blocks begin: the
# text below them is the mail system's, never the sender's.
_FOOTER = re.compile(
    r"^\s*(?:-- ?$|_{10,}|退订|取消订阅|unsubscribe|本邮件由.*(?:发送|群发)|"
    r"此邮件由.*自动发送|This email was sent to|您收到此邮件是因为|本列表由|"
    r"从.{0,12}邮箱发来的超大附件|发自我的(?:iPhone|iPad|手机)|Sent from my)",
    re.IGNORECASE | re.MULTILINE,
)
_SENTENCE_ENDS = ("。", "！", "？", "，", "；", "：", ".", "!", "?", ",", ";", ":")
_SIGN_OFF_MAX = 40
_BLOCK_TAGS = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h[1-6]|p|div|tr|li)\b[^>]*>", re.IGNORECASE)


def html_to_text(markup: str) -> str:
    """Returns the readable text of an HTML body, one line per block."""
    if not markup:
        return ""
    marked = _BLOCK_TAGS.sub("\n", markup)
    stripped = nh3.clean(marked, tags=set(), attributes={})
    text = html.unescape(stripped).replace("\xa0", " ")
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def own_text(body: str) -> str:
    """Returns the sender's own words: the body above any quote, forward or list footer."""
    lines = [line for line in body.splitlines() if not line.lstrip().startswith(">")]
    text = "\n".join(lines)
    cut = len(text)
    for pattern in (_QUOTE_START, _FOOTER):
        match = pattern.search(text)
        if match:
            cut = min(cut, match.start())
    return text[:cut].strip()


def signature_block(body: str, lines: int = 6) -> str:
    """Returns the signature: the short closing lines of the sender's own words.

    Counted from the end while lines look like a sign-off (name, office, phone):
    short and not ending a sentence. "……拍的照片，请查收。" is the message, so a
    place named in it is not a signature however short the mail is.
    """
    own = [line.strip() for line in own_text(body).splitlines() if line.strip()]
    block: list[str] = []
    for line in reversed(own):
        if len(block) == lines or not _looks_like_sign_off(line):
            break
        block.append(line)
    return "\n".join(reversed(block))


def _looks_like_sign_off(line: str) -> bool:
    return len(line) <= _SIGN_OFF_MAX and not line.endswith(_SENTENCE_ENDS)


def inline_forwards(body: str) -> list[dict[str, str]]:
    """Returns the header fields of every inline forwarded block (发件人, 主题, ...) and its text."""
    blocks = []
    marks = list(_FORWARD_MARK.finditer(body))
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(body)
        chunk = body[mark.end() : end].strip("\n")
        fields: dict[str, str] = {}
        rest: list[str] = []
        in_header = True
        for line in chunk.splitlines():
            found = _FIELD.match(line) if in_header else None
            if found:
                fields[_field_name(found.group(1))] = found.group(2).strip()
            elif in_header and (line.strip() == "" and fields):
                in_header = False
            elif in_header and not fields and line.strip() == "":
                continue
            else:
                in_header = False if fields else in_header
                rest.append(line)
        fields["body"] = "\n".join(rest).strip()
        blocks.append(fields)
    return blocks


def is_forward(subject: str, body: str) -> bool:
    """True when an inline quoted block is forwarded material, not a quoted reply.

    QQ Mail writes the same 原始邮件 block for both; the subject tells them apart
    (转发：/Fw: forwards, 回复：/Re: replies). Without either, only a block marked
    转发的邮件 / Forwarded message counts as a forward.
    """
    if _FORWARD_SUBJECT.match(subject or ""):
        return True
    if _REPLY_SUBJECT.match(subject or ""):
        return False
    return bool(_FORWARD_ONLY_MARK.search(body or ""))


def is_reply(subject: str) -> bool:
    """True when the subject marks a reply (回复：, 答复：, Re:); its subject quotes ours."""
    return bool(_REPLY_SUBJECT.match(subject or ""))


def _field_name(label: str) -> str:
    label = label.lower()
    if label in ("发件人", "from"):
        return "from"
    if label in ("主题", "subject"):
        return "subject"
    if label in ("收件人", "to"):
        return "to"
    if label in ("抄送", "cc"):
        return "cc"
    return "date"
