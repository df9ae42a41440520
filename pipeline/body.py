"""The sender's own text as material: an article, summary or plan written in the mail body.

Units paste their 活动周总结 into QQ Mail's editor and drop photos into the text, or
write a news item in Foxmail and attach the pictures. The body is then material of
its own, beside any attachments. A covering note ("韩老师，附件是我市的方案，请查收")
is not: it only points at the attachments.

`sender_text` keeps the sender's own words (quotes, forwarded blocks, client footers,
disclaimers, image placeholders and the signature removed); `body_substance` says
how much of it is more than a greeting and a covering note, with the clues that
decided it. Pure: text in, text and evidence out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.campaign import Campaign
from pipeline.textparts import own_text, signature_block
from pipeline.units import normalise

BODY_ITEM_NAME = "正文.txt"
ARTICLE_MIN_CHARS = 150  # prose that is material whatever its shape: not "请查收，谢谢"
TITLED_MIN_CHARS = 80  # with a title or subject naming a kind and two paragraphs or more
_MIN_PARAGRAPH = 15  # a paragraph of an article, not "谢谢！" on a line of its own
_TITLE_MAX = 40

# One-line footers that mail clients add under the sender's text.
_CLIENT_LINE = re.compile(
    r"^\s*(?:[-—–_]{0,4}\s*)?(?:"
    r"发自我的\S{0,16}|来自我的\S{0,16}|从我的\s?\S{0,12}\s?发送|"
    r"(?:发自|来自|发送自)\s?(?:网易邮箱大师|QQ邮箱|手机QQ邮箱|Foxmail|WPS\s?\S{0,8}|钉钉\S{0,8}|"
    r"阿里邮箱\S{0,10}|企业微信\S{0,6}|搜狐邮箱\S{0,6}|新浪邮箱\S{0,6}|139邮箱\S{0,6}|"
    r"Windows\s?\S{0,6}\s?版?邮件\S{0,4})|"
    r"Sent from (?:my \S+|Mail for Windows|Outlook\S*|Yahoo Mail\S*)\S*|"
    r"Get Outlook for \S+|"
    r"来自\S{0,12}的分享"
    r")\s*$",
    re.IGNORECASE,
)
# Where a confidentiality notice begins: it and everything below it are boilerplate.
# [^\S\n]: blanks, never a line feed (^\s* let each line start run over every blank line
# after it: 8,000 blank lines between two words took 8 s, 50,000 would take minutes).
_DISCLAIMER = re.compile(
    r"^[^\S\n]*(?:【?(?:免责声明|保密声明|法律声明|邮件声明)|"
    r"(?:本|此)(?:电子)?邮件(?:及其?(?:任何)?附件)?(?:可能)?(?:含有|包含|仅供|只供|所含|中的信息)|"
    r"(?:CONFIDENTIALITY|DISCLAIMER|IMPORTANT NOTICE)\b|"
    r"This (?:e-?mail|message)(?: and any (?:files|attachments)[^.]{0,40})? (?:is|are|may) )",
    re.IGNORECASE | re.MULTILINE,
)
# Where an inline picture was: Outlook writes [cid:image001.jpg@...], Gmail [image: x].
_IMAGE_PLACEHOLDER = re.compile(r"^\s*\[(?:cid:[^\]]*|image:[^\]]*|图片|表情|image)\]\s*$", re.I)
# A greeting line opening the mail: 韩老师：, 韩老师您好！, 省厅职成处：, 您好，
_SALUTATION = re.compile(r"老师|领导|同志|处长|科长|主任|处|科|您好|你好|大家好")
_GREETING_MAX = 20
# Sentences that only point at attachments or thank the reader.
_COVER_WORDS = re.compile(
    r"附件|见附|随附|附上|请查收|请收阅|请审阅|请查阅|请审核|请审定|请批评指正|请指正|请收|请参阅|"
    r"请下载|详见|谢谢|感谢|辛苦|如有问题|如有疑问|有问题请|随时联系|报送给您|发给您|转给您|如下|附图|附在"
)
_COVER_MAX = 60  # a covering sentence is short; a long one is part of the article
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]*")
_URL = re.compile(r"(?:https?|ftp)://\S+", re.I)


@dataclass
class BodySubstance:
    """How much of the body is material of its own, and why (clues for the kind decision)."""

    text: str  # the sender's own text, as filed in 正文.txt
    prose_chars: int  # characters beyond greeting, covering sentences and signature
    paragraphs: int
    article: str = (
        ""  # the text from its first line after the greeting (its head is read for the kind)
    )
    title: str = ""  # that first line, when it is a heading
    titled: str = ""  # the kind keyword of the title line or the subject, if any

    @property
    def shape(self) -> str:
        """Returns what was measured, in the words the evidence shows staff."""
        title = f"，标题“{self.title[:20]}”" if self.title else ""
        return f"正文{self.prose_chars}字，{self.paragraphs}段{title}"

    @property
    def is_material(self) -> bool:
        if self.prose_chars >= ARTICLE_MIN_CHARS:
            return True
        return bool(self.titled) and self.paragraphs >= 2 and self.prose_chars >= TITLED_MIN_CHARS


def sender_text(body: str) -> str:
    """Returns the sender's own words: no quotes, forwards, client footers, disclaimers,
    image placeholders or signature; the greeting stays (it is part of the letter)."""
    text = own_text(body)
    cut = _DISCLAIMER.search(text)
    if cut:
        text = text[: cut.start()]
    lines = [
        line.rstrip()
        for line in text.splitlines()
        if not _CLIENT_LINE.match(line) and not _IMAGE_PLACEHOLDER.match(line)
    ]
    text = _tidy("\n".join(lines))
    signature = signature_block(text)
    if signature and len(signature.splitlines()) < len(_nonempty(text)):
        kept = _nonempty(text)[: -len(signature.splitlines())]
        text = _tidy("\n".join(kept))
    return text


def body_substance(body: str, subject: str, campaign: Campaign) -> BodySubstance:
    """Returns the sender's own text and how much of it is an article by itself."""
    text = sender_text(body)
    lines = _nonempty(text)
    # The opening line goes when it is only a greeting and covering sentences
    # (韩老师您好！我市活动周总结如下，请审阅。): the article starts below it.
    start = 0
    while start < len(lines) and _opening_only(lines[start]):
        start += 1
    lines = lines[start:]
    title = lines[0].strip() if lines and _is_title(lines[0]) else ""
    kept = [_without_cover(line) for line in lines[1 if title else 0 :]]
    paragraphs = sum(1 for p in kept if len(_letters(p)) >= _MIN_PARAGRAPH)
    prose = sum(len(_letters(p)) for p in kept) + len(_letters(title))
    keyword = _document_keyword(title, campaign) or _document_keyword(subject, campaign)
    return BodySubstance(text, prose, paragraphs, "\n".join(lines), title, keyword)


def _opening_only(line: str) -> bool:
    """True for a line that is only a greeting and covering sentences."""
    rest = _without_cover(line)
    return _is_greeting(line) or _is_greeting(rest) or not _letters(rest)


def _is_greeting(line: str) -> bool:
    """True for 韩老师：, 韩老师您好！, 省厅职成处： — short, addressed to the reader."""
    line = line.strip()
    return (
        len(line) <= _GREETING_MAX
        and bool(_SALUTATION.search(line))
        and (line.endswith((":", "：", "，", ",", "!", "！")) or "好" in line)
    )


def _without_cover(line: str) -> str:
    """Returns the line without its short covering sentences (附件是…，请查收)."""
    sentences = _SENTENCE.findall(_URL.sub("", line))
    return "".join(
        s for s in sentences if not (_COVER_WORDS.search(s) and len(_letters(s)) <= _COVER_MAX)
    )


def _is_title(line: str) -> bool:
    """True for a heading line: short and not ending a sentence."""
    return len(line) <= _TITLE_MAX and not line.rstrip().endswith(
        ("。", "，", "；", "：", ":", ",")
    )


def _document_keyword(text: str, campaign: Campaign) -> str:
    """Returns the longest keyword of a document kind (not photo or video) in text."""
    folded = normalise(text or "")
    words = [
        normalise(word)
        for kind in campaign.kinds
        if not kind.media
        for word in kind.keywords
        if normalise(word) in folded
    ]
    return max(words, key=len, default="")


def _letters(text: str) -> str:
    return re.sub(r"[\s\W_]", "", text)


def _nonempty(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _tidy(text: str) -> str:
    """Returns text with runs of blank lines cut to one and no blank lines at its ends."""
    return re.sub(r"\n\s*\n(?:\s*\n)+", "\n\n", text).strip()
