"""The campaign being collected: its dates, material kinds and deadlines.

Everything here comes from configuration, so next year's notice with other
kinds and deadlines is a config change, not a code change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


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


@dataclass(frozen=True)
class Campaign:
    """A collection campaign: name, the week, its kinds."""

    code: str
    name: str
    start: date
    end: date
    timezone: str
    kinds: tuple[Kind, ...] = field(default_factory=tuple)
    fallback_kind: str = "other"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

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
