"""Finding the open campaigns' words in a message's text, and what is left when they are gone.

One `Vocabulary` per set of open campaigns: every campaign word (职业教育活动周, 活动周,
the theme, the document number), related word (技能大赛) and kind keyword (方案, 照片),
matched after normalisation, longest first and never overlapping, so 科技活动周 is never
read as 活动周. `topic_left` strips the words of every campaign, unit names, dates and
the usual filler of a subject (关于报送…的函, 请查收) from a subject or file name: what
remains names some other matter (高职扩招专项, 招生计划请示).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pipeline.campaign import Campaign
from pipeline.units import UnitDirectory, normalise

WORD, SHORT, RELATED, KIND = "word", "short", "related", "kind"
SHORT_LEN = 3  # 活动周, 宣传月: names the campaign, but also a sibling campaign of next year
_YEAR = re.compile(r"((?:19|20)\d{2})年?(?:度)?[^\d]{0,6}$")
# The words of a subject or file name that say nothing about which matter it is.
_FILLER = re.compile(
    "|".join(
        (
            r"(?:19|20)\d{2}年?度?", r"\d{1,2}月\d{1,2}[日号]?", r"\d+", r"[a-z_\-.]+",
            r"第[一二三四五六七八九十\d]+[期批次篇]", r"[一二三四五六七八九十]+[、.]",
            "关于", "报送", "上报", "提交", "发送", "呈报", "补报", "重发", "再发", "转发", "回复",
            "答复", "的函", "函", "的", "请查收", "请审阅", "请审核", "查收", "审阅", "附件",
            "材料", "资料", "文件", "汇总", "相关", "有关", "我市", "我区", "我县", "我院", "我校",
            "我局", "我单位", "本市", "全市", "全省", "各校", "及", "和", "与", "等", "版",
            "最终", "终稿", "修改", "修订", "盖章", "扫描件", "扫描", "电子", "纸质", "word",
            "pdf", "初稿", "定稿", "新版", "一", "二", "三", "四", "五", "微信图片", "现场",
            "活动", "工作", "情况", "内容", "一篇", "一份", "两篇", "一组", "若干", "附", "件",
            "教育局", "职成处", "职成科", "学院", "学校", "省教育厅", "教育厅", "省厅", "处",
        )
    )
)  # fmt: skip
_HAN = re.compile(r"[\u4e00-\u9fff]")
TOPIC_MIN_CHARS = 2  # two Han characters left over name a matter (扩招, 招生计划)
# Kinds whose name is preceded by what they show, not by the matter they belong to:
# 产教融合助力乡村振兴典型案例 is a case about something; 高职扩招专项工作总结 is another
# matter's summary. A subject naming content is doubtful, never "another matter".
CONTENT_WORDS = ("案例", "稿", "报道", "通讯", "简报", "照片", "图片", "相片", "配图", "视频",
                 "录像", "短片", "宣传片", "事迹", "故事")  # fmt: skip


@dataclass(frozen=True)
class Hit:
    """A word found in a text: the word, where, and the (campaign code, class) it belongs to."""

    word: str
    start: int
    end: int
    owners: tuple[tuple[str, str], ...]


class Vocabulary:
    """The words of a set of open campaigns, ready to be found in text."""

    def __init__(self, campaigns: tuple[Campaign, ...]):
        owners: dict[str, list[tuple[str, str]]] = {}
        for campaign in campaigns:
            # A reply's subject quotes the notice's title: it names the campaign as a whole.
            title = normalise(campaign.title)
            title = title[title.find("关于") :] if "关于" in title else title
            for word in (*campaign.words, *([title] if len(title) >= 8 else [])):
                cls = SHORT if len(normalise(word)) <= SHORT_LEN else WORD
                owners.setdefault(normalise(word), []).append((campaign.code, cls))
            for word in campaign.related:
                owners.setdefault(normalise(word), []).append((campaign.code, RELATED))
            for kind in campaign.kinds:
                for keyword in kind.keywords:
                    owners.setdefault(normalise(keyword), []).append((campaign.code, KIND))
        for campaign in campaigns:  # 活动周方案 is a kind keyword and names the campaign too
            names = {normalise(w): SHORT if len(normalise(w)) <= SHORT_LEN else WORD
                     for w in campaign.words}  # fmt: skip
            for text, found in owners.items():
                if any(o == (campaign.code, KIND) or o == (campaign.code, RELATED) for o in found):
                    cls = next((c for name, c in names.items() if name and name in text), None)
                    if cls is not None:
                        found.append((campaign.code, cls))
        self.owners = {w: tuple(dict.fromkeys(o)) for w, o in owners.items() if w}
        ordered = sorted(self.owners, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self.years = {c.code: {c.start.year, c.end.year} for c in campaigns}

    def hits(self, text: str) -> list[Hit]:
        """Returns the words in text (normalised), longest first, never overlapping."""
        if not text or self.pattern is None:
            return []
        folded = normalise(text)
        found = []
        for match in self.pattern.finditer(folded):
            owners = tuple(
                (code, cls)
                for code, cls in self.owners[match.group()]
                if not self._other_year(folded, match.start(), code)
            )
            found.append(Hit(match.group(), match.start(), match.end(), owners))
        return found

    def _other_year(self, folded: str, start: int, code: str) -> bool:
        """True when a year written just before the word is not the campaign's (2024年…活动周)."""
        year = _YEAR.search(folded[max(0, start - 12) : start])
        return year is not None and int(year[1]) not in self.years[code]


@lru_cache(maxsize=16)
def vocabulary(campaigns: tuple[Campaign, ...]) -> Vocabulary:
    """Returns the (cached) vocabulary of these campaigns: they change rarely, mail often."""
    return Vocabulary(campaigns)


def topic_left(text: str, vocab: Vocabulary, units: UnitDirectory) -> str:
    """Returns the Han characters of text that are no campaign's word, unit name or filler."""
    folded = normalise(text or "")
    spans = [(h.start, h.end) for h in vocab.hits(text)]
    spans += [(n.start, n.start + len(n.matched)) for n in units.find_names(text)]
    kept = list(folded)
    for start, end in spans:
        kept[start:end] = [" "] * (end - start)
    rest = _FILLER.sub(" ", "".join(kept))
    left = "".join(_HAN.findall(rest))
    return left if len(left) >= TOPIC_MIN_CHARS else ""


def topics_left(
    texts: Iterable[str], vocab: Vocabulary, units: UnitDirectory
) -> tuple[list[str], list[str]]:
    """Returns (other matters named, content named) by what is left of each text."""
    matters, content = [], []
    for text in texts:
        left = topic_left(text, vocab, units)
        if left:
            (content if any(w in normalise(text) for w in CONTENT_WORDS) else matters).append(left)
    return matters, content
