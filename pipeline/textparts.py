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
_FIELD = re.compile(r"^\s*(发件人|From|主题|Subject|日期|Date|发送时间|Sent|时间)\s*[:：]\s*(.*)$",
                    re.IGNORECASE)
_FOOTER = re.compile(r"^\s*(?:-- ?$|_{10,}|退订|取消订阅|unsubscribe|本邮件由.*(?:发送|群发)|"
                     r"此邮件由.*自动发送|This email was sent to)", re.IGNORECASE | re.MULTILINE)
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
    """Returns the last few non-empty lines of the sender's own words (the signature)."""
    own = [line.strip() for line in own_text(body).splitlines() if line.strip()]
    return "\n".join(own[-lines:])


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


def _field_name(label: str) -> str:
    label = label.lower()
    if label in ("发件人", "from"):
        return "from"
    if label in ("主题", "subject"):
        return "subject"
    return "date"
