"""What the daily report says about archives, for the day and for each campaign.

A locked archive is one problem however many members it holds (the clerk asks its unit
for one password); members refused by a [limits] limit are counted by that limit. Each
campaign's section repeats the archive problems of its own mail, so whoever follows a
campaign sees which of its units must be asked for a password, and why a unit whose
material is still locked shows as not submitted in that campaign's tracker.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from storage.models import Item, Message

# The [limits] an archive member can be refused by, as the report counts them.
LIMIT_LABELS = {
    "max_archive_member_bytes": "超过单个文件解压上限",
    "max_archive_total_bytes": "超过单个压缩包解压上限",
    "max_message_unpack_bytes": "超过单封邮件解压上限",
    "max_archive_ratio": "压缩比过高（疑似压缩炸弹）",
    "max_archive_members": "压缩包内文件过多",
    "max_archive_seconds": "解压超时",
}


@dataclass
class ArchiveTally:
    """The archive refusals of the day: in all, and by the campaign of their message."""

    refusals: Counter = field(default_factory=Counter)  # LIMIT_LABELS label -> members
    by_campaign: dict[str, Counter] = field(default_factory=dict)  # campaign code -> same

    def count(self, m: Message, item: Item) -> None:
        """Counts a member refused by a limit, for the day and for its message's campaign."""
        label = refusal_label(item)
        if label is None:
            return
        self.refusals[label] += 1
        code = campaign_of(m)
        if code:
            self.by_campaign.setdefault(code, Counter())[label] += 1


def refusal_label(item: Item) -> str | None:
    """Returns the label of the limit that refused an archive member, or None."""
    limit = (item.meta or {}).get("limit")
    return LIMIT_LABELS.get(limit) if item.status == "too_large" else None


def locked_counts(items: list[Item]) -> Counter:
    """Returns {archive item id: members still encrypted}: one problem per archive, not each."""
    return Counter(i.container_id for i in items if i.container_id and i.status == "encrypted")


def is_archive_item(item: Item) -> bool:
    """True for an archive or one of its members: their problems are archive problems."""
    return item.media == "archive" or item.container_id is not None


def campaign_of(m: Message) -> str:
    """Returns the code of the campaign a message is assigned to; "" for 其他来件 or one
    whose campaign is still undecided (they have no campaign section)."""
    return (m.campaign_code or "") if m.campaign_status == "assigned" else ""
