"""What a notice asks units to send, read from its reporting sentences.

`requirements(sentence)` returns the nouns a sentence asks for (于5月8日前将活动周方案
发送到指定邮箱 → 活动周方案; 及时报送典型案例、稿件、照片、视频等资料 → four nouns).
`kind_for(noun)` turns a noun into a kind: its code, the keywords that point at it
in file names and subjects, and the media type that defaults to it. The lexicon
holds the materials Chinese notices usually ask for; any other noun becomes a kind
of its own, which a person names before the campaign opens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MANUSCRIPT = ("新闻稿", "宣传稿", "稿件", "通讯稿", "通讯", "报道", "简报", "投稿")
_PHOTO = ("照片", "图片", "相片")
_VIDEO = ("视频", "录像", "短片")
_PLAN = ("实施方案", "工作方案", "活动方案", "活动安排", "方案")
_FORM = ("统计表", "汇总表", "数据表", "报表", "信息表")
# noun ending -> (code, keywords, media); longer endings first.
LEXICON: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("典型案例", "case", ("典型案例", "案例"), ()),
    ("案例", "case", ("典型案例", "案例"), ()),
    ("方案", "plan", _PLAN, ()),
    ("活动安排", "plan", _PLAN, ()),
    ("总结", "summary", ("工作总结", "总结"), ()),
    ("稿件", "manuscript", _MANUSCRIPT, ()),
    ("新闻稿", "manuscript", _MANUSCRIPT, ()),
    ("宣传稿", "manuscript", _MANUSCRIPT, ()),
    ("信息", "manuscript", _MANUSCRIPT, ()),
    ("照片", "photo", _PHOTO, ("image",)),
    ("图片", "photo", _PHOTO, ("image",)),
    ("宣传片", "video", ("宣传片", *_VIDEO), ("video",)),
    ("视频", "video", _VIDEO, ("video",)),
    ("报告", "report", ("报告",), ()),
    ("名单", "roster", ("名单",), ()),
    ("事迹", "story", ("事迹",), ()),
    ("申报书", "application", ("申报书", "申报表"), ()),
    ("申报表", "application", ("申报书", "申报表"), ()),
    *((ending, "form", _FORM, ()) for ending in _FORM),
)
REPORT_VERBS = r"报送|发送|提交|上报|上传|报至|发至|寄送|报给"
_OBJECT_AFTER_JIANG = re.compile(rf"将(?P<obj>[^。；]+?)(?:{REPORT_VERBS}|报)(?:到|至|给)?")
_OBJECT_AFTER_VERB = re.compile(rf"(?:{REPORT_VERBS})(?P<obj>[^。；，,]+)")
_PAREN = re.compile(r"[（(][^（()）]*[)）]")
_LEADING = re.compile(
    r"^(?:要|须|需|应|及时|按时|通过邮箱|通过电子邮件|各自|本单位|本地区|有关|相关|的)+"
)
_TRAILING = re.compile(r"(?:等)?(?:资料|材料|内容|电子版|纸质版|扫描件|文件)*$")
_SPLIT = re.compile(r"、|，|,|以及|及|和|与")
_NOT_MATERIAL = re.compile(r"^(?:指定)?(?:邮箱|地址|省教育厅|教育厅|职成处|处室|电子邮件)")


@dataclass(frozen=True)
class KindSpec:
    """A kind proposed for a noun: code, the label as written, keywords, media."""

    code: str
    label: str
    keywords: tuple[str, ...]
    media: tuple[str, ...]


def requirements(sentence: str) -> list[str]:
    """Returns the material nouns a reporting sentence asks for, in order; [] if none."""
    if not re.search(REPORT_VERBS, sentence):
        return []
    match = _OBJECT_AFTER_JIANG.search(sentence) or _OBJECT_AFTER_VERB.search(sentence)
    if match is None:
        return []
    text = _PAREN.sub("", match["obj"])
    text = re.split(r"(?:到|至|给)(?:指定|省|我|市|各)", text)[0]
    nouns = []
    for piece in _SPLIT.split(text):
        noun = _TRAILING.sub("", _LEADING.sub("", piece.strip()))
        if len(noun) >= 2 and not _NOT_MATERIAL.match(noun) and noun not in nouns:
            nouns.append(noun)
    return [n for n in nouns if lexicon_entry(n) is not None or len(n) <= 12]


def lexicon_entry(noun: str):
    """Returns the lexicon row whose ending the noun has, or None."""
    return next((row for row in LEXICON if noun.endswith(row[0])), None)


def kind_for(noun: str, taken: set[str]) -> KindSpec:
    """Returns the kind for a noun; an unknown noun gets a numbered code (kind1, kind2, …)."""
    row = lexicon_entry(noun)
    if row is None:
        n = 1
        while f"kind{n}" in taken:
            n += 1
        return KindSpec(f"kind{n}", noun, (noun,), ())
    _, code, keywords, media = row
    base, n = code, 2
    while code in taken:
        code, n = f"{base}{n}", n + 1
    return KindSpec(code, noun, tuple(dict.fromkeys((noun, *keywords))), media)
