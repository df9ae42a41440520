"""Dates as official notices write them: 2023年5月8日, 5月14日至25日, 二〇二三年四月二十四日,
and deadlines relative to an event: 活动周结束后一周内, 收到通知后10个工作日内.

Pure functions over text. A day without a year takes the year the caller says
(the notice's own year, from its document number or title). A relative deadline
is kept as a rule (`end+7d`, `issued+10wd`) so that it follows its basis when a
person corrects the campaign's dates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

_CN_DIGIT = {"〇": 0, "零": 0, "○": 0, "O": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_CN_DIGIT |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
NUM = r"[0-9０-９]{1,4}|[〇零○一二两三四五六七八九十]{1,4}"
_DAY = re.compile(rf"(?:(?P<y>{NUM})\s*年\s*)?(?P<m>{NUM})\s*月\s*(?P<d>{NUM})\s*(?:日|号)")
_RANGE_SEP = r"\s*(?:至|到|—{1,2}|–|-|－|~|～)\s*"
# 5月14日至25日 / 5月14日至6月2日 / 2023年5月14日—2023年5月25日 / 5月14—25日
_RANGE = re.compile(
    rf"(?:(?P<y>{NUM})\s*年\s*)?(?P<m>{NUM})\s*月\s*(?P<d>{NUM})\s*(?:日|号)?"
    rf"{_RANGE_SEP}"
    rf"(?:(?P<y2>{NUM})\s*年\s*)?(?:(?P<m2>{NUM})\s*月\s*)?(?P<d2>{NUM})\s*(?:日|号)"
)
_SPAN = {"天": 1, "日": 1, "周": 7, "星期": 7, "个星期": 7, "个月": 30, "月": 30}
_SPAN_WORD = r"个工作日|工作日|个星期|星期|个月|天|日|周"
# 活动周结束后一周内 / 活动结束后10个工作日内 / 宣传月开始前3天
_AFTER_EVENT = re.compile(
    rf"(?P<event>[\u4e00-\u9fff]{{0,8}}?)(?P<edge>结束|开始|启动)(?P<dir>后|前)\s*"
    rf"(?P<n>{NUM})\s*(?P<unit>{_SPAN_WORD})\s*(?:内|以内|之内)?"
)
# 收到通知后10个工作日内 / 本通知印发之日起20日内 / 自通知下发之日起一个月内
_AFTER_NOTICE = re.compile(
    rf"(?:收到(?:本)?通知|(?:本)?通知(?:印发|下发|发布)之日起|(?:自)?印发之日起|发文之日起)"
    rf"(?:后)?\s*(?P<n>{NUM})\s*(?P<unit>{_SPAN_WORD})\s*(?:内|以内|之内)?"
)
_DURING = re.compile(r"(?P<event>[\u4e00-\u9fff]{0,8}?)(?:期间|进行中|举办期间)")
_BEFORE = re.compile(r"^\s*(?:（含）|\(含\))?\s*(?:前|之前|以前|前后)")
_BY = re.compile(r"(?:截至|截止|不迟于|最迟)\s*$")
_RULE = re.compile(r"^(start|end|issued)([+-]\d+)(d|wd)$")


@dataclass(frozen=True)
class Found:
    """A date found in text, with where it starts and ends."""

    day: date
    start: int
    end: int


@dataclass(frozen=True)
class Deadline:
    """A reporting deadline: a day, or a rule relative to the campaign's dates."""

    due: date | None  # None when the rule's basis is not known yet
    rule: str  # "" for an absolute day; start|end|issued followed by +Nd or +Nwd
    text: str  # the words that said it


def cn_number(text: str) -> int | None:
    """Returns the value of 25, ２５, 二十五, 十, 二〇二三 or 一; None for anything else."""
    text = text.strip().translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _CN_DIGIT and ch != "十" for ch in text):
        return None
    if "十" not in text:  # 二〇二三: digit by digit
        return int("".join(str(_CN_DIGIT[ch]) for ch in text))
    tens, _, ones = text.partition("十")
    if "十" in ones or len(tens) > 1 or len(ones) > 1:
        return None
    return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[ones] if ones else 0)


def _day(year: int | None, month: str, day: str, default_year: int) -> date | None:
    y = year if year is not None else default_year
    m, d = cn_number(month), cn_number(day)
    if m is None or d is None or y is None:
        return None
    if y < 100:
        y += 2000
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _year(text: str | None) -> int | None:
    return cn_number(text) if text else None


def find_days(text: str, year: int) -> list[Found]:
    """Returns every single day written in text (年 optional: `year` fills it)."""
    found = []
    for match in _DAY.finditer(text):
        day = _day(_year(match["y"]), match["m"], match["d"], year)
        if day is not None:
            found.append(Found(day, match.start(), match.end()))
    return found


def find_range(text: str, year: int) -> tuple[date, date, str] | None:
    """Returns (first day, last day, the words) of the first date range in text."""
    for match in _RANGE.finditer(text):
        first_year = _year(match["y"])
        first = _day(first_year, match["m"], match["d"], year)
        if first is None:
            continue
        last = _day(
            _year(match["y2"]) or first.year, match["m2"] or match["m"], match["d2"], first.year
        )
        if last is not None and last >= first:
            return first, last, match.group()
    return None


def deadline(text: str, year: int) -> Deadline | None:
    """Returns the reporting deadline a sentence states, or None when it states none.

    于2023年5月8日前 → that day (a day "前" is inclusive, as the units read it);
    活动周期间 → the last day of the event; 活动周结束后一周内 → end+7d;
    收到通知后10个工作日内 → issued+10wd.
    """
    relative = _AFTER_EVENT.search(text)
    if relative is not None:
        n = cn_number(relative["n"])
        if n is not None:
            basis = "start" if relative["edge"] in ("开始", "启动") else "end"
            days, working = _span(n, relative["unit"])
            sign = "-" if relative["dir"] == "前" else "+"
            rule = f"{basis}{sign}{days}{'wd' if working else 'd'}"
            return Deadline(None, rule, relative.group())
    notice = _AFTER_NOTICE.search(text)
    if notice is not None:
        n = cn_number(notice["n"])
        if n is not None:
            days, working = _span(n, notice["unit"])
            return Deadline(None, f"issued+{days}{'wd' if working else 'd'}", notice.group())
    for found in find_days(text, year):
        after, before = text[found.end : found.end + 6], text[max(0, found.start - 6) : found.start]
        if _BEFORE.match(after) or _BY.search(before):
            return Deadline(found.day, "", text[max(0, found.start - 2) : found.end + 3])
    during = _DURING.search(text)
    if during is not None:
        return Deadline(None, "end+0d", during.group())
    return None


def _span(n: int, unit: str) -> tuple[int, bool]:
    """Returns (count, working days?) for N 天 / N周 / N个工作日."""
    if "工作日" in unit:
        return n, True
    return n * _SPAN.get(unit, 1), False


def resolve(rule: str, start: date, end: date, issued: date | None) -> date | None:
    """Returns the day a rule (end+7d, issued+10wd, start-3d) falls on; None if unknown."""
    match = _RULE.match(rule or "")
    if match is None:
        return None
    basis = {"start": start, "end": end, "issued": issued}[match[1]]
    if basis is None:
        return None
    n = int(match[2])
    if match[3] == "d":
        return basis + timedelta(days=n)
    return add_working_days(basis, n)


def valid_rule(rule: str) -> bool:
    return bool(_RULE.match(rule))


def add_working_days(day: date, n: int) -> date:
    """Returns the day n working days after `day` (before, for n < 0).

    Working days are China's: public holidays off, make-up working weekends (调休) on,
    as published by the State Council (chinese-calendar). For a year it does not know
    yet, Monday to Friday; a person checks the proposed day before the campaign opens.
    """
    step = 1 if n >= 0 else -1
    left = abs(n)
    while left:
        day += timedelta(days=step)
        if is_working_day(day):
            left -= 1
    return day


def is_working_day(day: date) -> bool:
    """True for a working day in China (Monday to Friday where the year is not known)."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # the package knows the years whose schedule is published
        return day.weekday() < 5
