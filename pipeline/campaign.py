"""A campaign: one notice's collection — its dates, the units it addresses, its kinds of
material with their deadlines, and the words that name it.

Campaigns are data: the index holds any number of them (storage/campaigns.py),
the first seeded from config ([campaign]/[[kinds]] or the shipped notice), others
proposed from a notice (pipeline/notice.py) and confirmed by a person. Several can
be open at once; `pipeline/campaign_match.py` decides which one a message belongs to.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.dates import resolve

STATES = ("draft", "open", "closed")
OTHER_FOLDER = "其他来件"  # mail that belongs to no campaign
# How long before its first day and after its last deadline mail may still be about it.
WINDOW_BEFORE = timedelta(days=30)
WINDOW_AFTER = timedelta(days=30)
# Words a campaign's name starts with that say nothing about which campaign it is.
_NAME_PREFIX = re.compile(
    r"^(?:(?:19|20)\d{2}\s*年(?:度)?)?(?:[\u4e00-\u9fff]{2,3}省|全省|全市|全国|省)?"
)
ABBREVIATIONS = {"职业教育": "职教", "高等职业": "高职", "中等职业": "中职"}
# Names of events that end a campaign's name: its short name (活动周, 宣传月, 技能大赛).
EVENT_NOUNS = (
    "活动周", "宣传周", "活动月", "宣传月", "开放周", "开放日", "技能大赛", "大赛", "竞赛",
    "展演", "论坛", "评选", "征集", "培训",
)  # fmt: skip


@dataclass(frozen=True)
class Kind:
    """One kind of material the notice asks for (活动周方案, 照片, ...)."""

    code: str
    label: str
    due: date | None = None  # last day (inclusive, local time) it is expected
    required: bool = True  # counted by the submission tracker
    keywords: tuple[str, ...] = ()  # words in subject, file name or text pointing at it
    media: tuple[str, ...] = ()  # media types that default to this kind (image, video)
    window: str = ""  # before | during | after: when it is usually sent
    due_rule: str = ""  # end+7d, issued+10wd: `due` follows the campaign's dates


@dataclass(frozen=True)
class Campaign:
    """A collection campaign: name, notice, dates, addressees, kinds, words, state."""

    code: str
    name: str
    start: date
    end: date
    timezone: str
    kinds: tuple[Kind, ...] = field(default_factory=tuple)
    fallback_kind: str = "other"
    doc_number: str = ""  # 辽教通〔2023〕106号
    title: str = ""  # the notice's title (replies quote it in their subject)
    issued: date | None = None  # the day the notice was issued
    theme: str = ""  # 活动主题
    words: tuple[str, ...] = ()  # words that name this campaign (decide it in a subject)
    related: tuple[str, ...] = ()  # its events (技能大赛, 启动仪式): support, never decide
    addressees: tuple[str, ...] = ()  # as the notice writes them: 各市教育局, ...
    unit_types: tuple[str, ...] = ()  # the unit types addressed (none: every unit)
    unit_codes: tuple[str, ...] = ()  # or the units addressed by code
    mailbox: str = ""  # where the notice asks for the material
    state: str = "open"  # draft | open | closed

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    def kind(self, code: str) -> Kind:
        """Returns the kind with this code; KeyError when unknown."""
        for kind in self.kinds:
            if kind.code == code:
                return kind
        raise KeyError(code)

    def kind_codes(self) -> list[str]:
        return [k.code for k in self.kinds]

    def label(self, code: str | None) -> str:
        """Returns the Chinese label of a kind code, or the code itself when unknown."""
        if code is None:
            return ""
        try:
            return self.kind(code).label
        except KeyError:
            return code

    def local_day(self, moment: datetime) -> date:
        """Returns the calendar day of `moment` in the campaign's time zone."""
        return moment.astimezone(self.tz).date()

    def due_end(self, kind: Kind) -> datetime | None:
        """Returns the first instant after the kind's deadline day, or None."""
        if kind.due is None:
            return None
        return datetime.combine(kind.due + timedelta(days=1), time(0), tzinfo=self.tz)

    def is_late(self, kind_code: str, received: datetime) -> bool:
        """True when material of this kind arrived after its deadline day."""
        try:
            end = self.due_end(self.kind(kind_code))
        except KeyError:
            return False
        return end is not None and received >= end

    def phase(self, received: datetime) -> str:
        """Returns 'before', 'during' or 'after' the campaign week for a moment."""
        day = self.local_day(received)
        if day < self.start:
            return "before"
        if day > self.end:
            return "after"
        return "during"

    def window(self) -> tuple[date, date]:
        """Returns the first and last day on which mail is likely to be about this campaign."""
        first = min(self.issued or self.start, self.start - WINDOW_BEFORE)
        last = max([self.end, *(k.due for k in self.kinds if k.due)]) + WINDOW_AFTER
        return first, last

    def in_window(self, received: datetime) -> bool:
        first, last = self.window()
        return first <= self.local_day(received) <= last

    def addresses(self, unit_code: str, unit_type: str) -> bool:
        """True when the notice is addressed to this unit (by code, or by its type)."""
        if self.unit_codes and unit_code in self.unit_codes:
            return True
        if self.unit_types:
            return unit_type in self.unit_types
        return not self.unit_codes

    def with_dates(self, start: date, end: date, issued: date | None = None) -> Campaign:
        """Returns the campaign with new dates; relative deadlines (end+7d) follow them."""
        issued = issued if issued is not None else self.issued
        kinds = tuple(
            replace(k, due=resolve(k.due_rule, start, end, issued) or k.due) if k.due_rule else k
            for k in self.kinds
        )
        return replace(self, start=start, end=end, issued=issued, kinds=kinds)

    def to_dict(self) -> dict[str, Any]:
        """Returns the campaign as JSON-ready data (days as ISO strings)."""
        data = asdict(self)
        for key in ("start", "end", "issued"):
            data[key] = data[key].isoformat() if data[key] else None
        data["kinds"] = [
            {**k, "due": k["due"].isoformat() if k["due"] else None} for k in data["kinds"]
        ]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Campaign:
        """Returns the campaign `to_dict` wrote (unknown keys are ignored)."""
        known = set(cls.__dataclass_fields__)
        fields = {k: v for k, v in data.items() if k in known}
        for key in ("start", "end", "issued"):
            fields[key] = date.fromisoformat(fields[key]) if fields.get(key) else None
        for key in ("words", "related", "addressees", "unit_types", "unit_codes"):
            fields[key] = tuple(fields.get(key) or ())
        kind_fields = set(Kind.__dataclass_fields__)
        fields["kinds"] = tuple(
            Kind(
                **{
                    **{k: v for k, v in kind.items() if k in kind_fields},
                    "due": date.fromisoformat(kind["due"]) if kind.get("due") else None,
                    "keywords": tuple(kind.get("keywords") or ()),
                    "media": tuple(kind.get("media") or ()),
                }
            )
            for kind in data.get("kinds", ())
        )
        return cls(**fields)


def topic_of(name: str) -> str:
    """Returns a campaign name without its year and region: 2023年辽宁省职业教育活动周 → 职业教育活动周."""
    return _NAME_PREFIX.sub("", re.sub(r"\s+", "", name)) or name


def default_words(name: str, theme: str = "", doc_number: str = "") -> tuple[str, ...]:
    """Returns the words that name a campaign: its topic, the topic's common short form,
    the slogan quoted in its name, its event noun, its theme and document number.

    2023年辽宁省职业教育活动周 → 职业教育活动周, 职教活动周, 活动周;
    2023年全省职业院校“技能成才 强国有我”主题宣传月活动 → …, 技能成才强国有我, 宣传月.
    """
    topic = topic_of(name)
    if topic.endswith("活动") and len(topic) > 5:
        topic = topic[: -len("活动")]
    words = [topic] if len(topic) >= 3 else []
    for long, short in ABBREVIATIONS.items():
        if long in topic:
            words.append(topic.replace(long, short))
    words += [q for q in re.findall(r"[“\"「]([^”\"」]{3,20})[”\"」]", topic)]
    event = next((noun for noun in EVENT_NOUNS if topic.endswith(noun)), "")
    if event and event != topic and len(event) >= 3:
        words.append(event)
    if theme:
        words.append(theme)
    if doc_number:
        words.append(doc_number)
    return tuple(dict.fromkeys(w for w in words if w))
