"""Splitting a message body into the sender's own words, quotes and forwarded blocks."""

from __future__ import annotations

import html
import itertools
import re

import nh3

# Every pattern here is run over whole message bodies, which a sender controls, so each
# must be linear in its input: a line's leading space is `_SP` (blanks and the \r of a
# CRLF, never a line feed: `^\s*` let one line start swallow every blank line after
# it, which made 40,000 empty lines take 90 s), and no pattern looks ahead to the end.
_SP = r"[^\S\n]*"
# Lines that start quoted or forwarded material in Chinese and Western clients.
_QUOTE_START = re.compile(
    rf"^{_SP}(?:"
    rf"-{{2,}}{_SP}(?:原始邮件|转发的邮件|转发邮件|Original Message|Forwarded message|邮件原文)"
    rf"|在{_SP}[^\r\n]{{0,60}}写道{_SP}[:：]"
    r"|On[^\S\r\n][^\r\n]{0,120}wrote:"
    rf"|_{{5,}}{_SP}$"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
# A quoted header block: a 发件人/From line counts only when a 主题/Subject/日期 line
# follows it somewhere below. Found with two scans (the first From line, then any such
# field after it) instead of a look-ahead to the end of the text from every From line,
# which made 100,000 lines of "From: x" take minutes.
_QUOTED_FROM = re.compile(rf"^{_SP}(?:发件人|From){_SP}[:：][^\n]+", re.I | re.M)
_QUOTED_FIELD = re.compile(
    rf"^{_SP}(?:主题|Subject|发送时间|Sent|日期|Date){_SP}[:：]", re.I | re.M
)
_FORWARD_MARK = re.compile(
    rf"^{_SP}-{{2,}}{_SP}(?:转发的邮件|转发邮件|Forwarded message|原始邮件|Original Message)"
    rf"{_SP}-{{2,}}{_SP}$",
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
    rf"^{_SP}-{{2,}}{_SP}(?:转发的邮件|转发邮件|Forwarded message){_SP}-{{2,}}",
    re.IGNORECASE | re.MULTILINE,
)
# Where list footers, newsletter small print and large-attachment blocks begin: the
# text below them is the mail system's, never the sender's.
_FOOTER = re.compile(
    rf"^{_SP}(?:-- ?$"
    r"|_{10,}|退订|取消订阅|unsubscribe|本邮件由.*(?:发送|群发)|"
    r"此邮件由.*自动发送|This email was sent to|您收到此邮件是因为|本列表由|"
    r"从.{0,12}邮箱发来的超大附件|发自我的(?:iPhone|iPad|手机)|Sent from my)",
    re.IGNORECASE | re.MULTILINE,
)
_SENTENCE_ENDS = ("。", "！", "？", "，", "；", "：", ".", "!", "?", ",", ";", ":")
_SIGN_OFF_MAX = 40
# [^<>]: a tag left open by the next "<" ends there, so "<p<p<p…" is one pass, not n.
_BLOCK_TAGS = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h[1-6]|p|div|tr|li)\b[^<>]*>", re.IGNORECASE)
# The most of a body the scanners read: the sender's own words, signature and forwarded
# headers are at the top; an 800 KB body pasted full of text is not read to its end.
MAX_SCAN_CHARS = 100_000
MAX_INLINE_FORWARDS = 20  # "---- 转发的邮件 ----" blocks read from one body


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
    """Returns the sender's own words: the body above any quote, forward or list footer.

    Reads at most MAX_SCAN_CHARS of the body.
    """
    body = body[:MAX_SCAN_CHARS]
    lines = [line for line in body.splitlines() if not line.lstrip().startswith(">")]
    text = "\n".join(lines)
    cut = len(text)
    for pattern in (_QUOTE_START, _FOOTER):
        match = pattern.search(text)
        if match:
            cut = min(cut, match.start())
    quoted = _QUOTED_FROM.search(text, 0, cut)
    if quoted and _QUOTED_FIELD.search(text, quoted.end()):
        cut = quoted.start()
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
    body = body[:MAX_SCAN_CHARS]
    marks = list(itertools.islice(_FORWARD_MARK.finditer(body), MAX_INLINE_FORWARDS + 1))
    for i, mark in enumerate(marks[:MAX_INLINE_FORWARDS]):
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
