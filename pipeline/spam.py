"""Spam: well-known signals of advertising and fraud mail, weighed into one confidence.

A signal alone is rarely enough (a unit may well write 请加微信 under a large video),
so signals add up as independent clues; mail from a known unit's address or domain
is never spam, whatever it says (message_verdict checks that before asking here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.evidence import Clue, combine
from pipeline.message import ParsedMessage
from pipeline.textparts import own_text
from pipeline.units import normalise

SPAM_THRESHOLD = 0.8
# (pattern over the folded subject and the sender's own text, what staff see, weight)
_WORDS: list[tuple[re.Pattern[str], str, float]] = [
    (re.compile(r"代开.{0,12}发票|发票.{0,6}代开|代办发票|开具?各类.{0,8}发票"), "代开发票", 0.9),
    (re.compile(r"增值税.{0,4}(?:专用|普通)?发票|普票|专票"), "增值税发票", 0.45),
    (re.compile(r"诚信合作|长期合作|税点|点数优惠"), "诚信合作", 0.45),
    (re.compile(r"加(?:我)?(?:微信|薇信|威信|v信|vx|wx|扣扣)|\+\s*(?:v|vx|微信)"), "加微信", 0.6),
    (re.compile(r"刷单|兼职日结|日赚|网赚|返利|博彩|赌场|娱乐城|彩票"), "刷单博彩", 0.7),
    (re.compile(r"贷款|无抵押|信用卡套现|套现"), "贷款套现", 0.6),
    (re.compile(r"退订回复|回复td退订|回td退订|退订请回复"), "退订回复", 0.6),
]
_HEADER_WEIGHTS = {
    "header:list-unsubscribe": 0.9,  # a newsletter: List-Unsubscribe without Precedence: list
    "header:precedence": 0.9,  # Precedence: bulk or junk
    "header:x-spam-flag": 0.9,  # the receiving server's filter said so
}


@dataclass
class SpamJudgement:
    """The spam signals found and their combined confidence."""

    clues: list[Clue] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        return combine([c.weight for c in self.clues])

    @property
    def is_spam(self) -> bool:
        return self.confidence >= SPAM_THRESHOLD

    @property
    def signals(self) -> list[str]:
        return [c.value for c in self.clues]


def spam_signals(msg: ParsedMessage) -> SpamJudgement:
    """Returns the spam signals of a message: its headers, its subject and its own text.

    Quoted text never counts (a unit quoting a scam it received is not sending one).
    """
    found = SpamJudgement()
    for signal in _header_signals(msg):
        found.clues.append(Clue("header", signal, "spam", _HEADER_WEIGHTS[signal]))
    text = normalise(msg.subject + "\n" + own_text(msg.body_text[:50_000]))
    for pattern, label, weight in _WORDS:
        if pattern.search(text):
            found.clues.append(Clue("keyword", label, "spam", weight))
    return found


def _header_signals(msg: ParsedMessage) -> list[str]:
    """Returns the bulk-mail headers present; a person writing through a list is not bulk."""
    signals = []
    precedence = msg.header("precedence").strip().lower()
    if precedence in ("bulk", "junk"):
        signals.append("header:precedence")
    # Mailing-list software adds List-Unsubscribe to a member's post too, with
    # Precedence: list; a newsletter sends it without.
    if msg.header("list-unsubscribe") and precedence != "list":
        signals.append("header:list-unsubscribe")
    if msg.header("x-spam-flag").strip().lower().startswith("yes"):
        signals.append("header:x-spam-flag")
    return signals
