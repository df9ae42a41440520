"""Every decision about one parsed message, in one place: who sent it, is it material,
what each part is, which flags it carries.

Ingestion files what `decide_message` returns; triage re-decides the unit with
`decide_unit` after a sender address is learned. Both read the same rules, so a
message re-decided in triage is judged exactly as it was when it arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipeline.campaign import Campaign
from pipeline.classify import ItemPlan, MessageVerdict, message_flags, message_verdict, plan_items
from pipeline.doctext import document_texts
from pipeline.identify import Sender, UnitMatch, identify_unit
from pipeline.message import ParsedMessage
from pipeline.units import UnitDirectory


@dataclass(frozen=True)
class Rules:
    """What deciding needs besides the message and the unit registry."""

    campaign: Campaign
    department: Sender = Sender()
    threshold: float = 0.75  # below it the unit is left to a person (triage)
    decorative_max_bytes: int = 15_000  # inline images smaller than this are logos
    decorative_max_pixels: int = 200  # ... or with both sides at most this


@dataclass
class MessageDecision:
    """What a message is, with the evidence of each decision."""

    match: UnitMatch
    verdict: MessageVerdict
    plans: list[ItemPlan]
    flags: list[str]

    @property
    def unit(self) -> str | None:
        """The unit the message is filed under: None for triage and for non-material mail."""
        return self.match.value if self.verdict.is_material else None

    @property
    def status(self) -> str:
        """filed, triage or not_material."""
        if not self.verdict.is_material:
            return "not_material"
        return "filed" if self.unit else "triage"


def decide_unit(
    parsed: ParsedMessage,
    directory: UnitDirectory,
    rules: Rules,
    documents: dict[str, str] | None = None,
) -> UnitMatch:
    """Returns which unit sent the message (None: a person decides), with its clues."""
    return identify_unit(
        parsed,
        directory,
        department=rules.department,
        threshold=rules.threshold,
        documents=document_texts(parsed.parts) if documents is None else documents,
    )


def known_sender(parsed: ParsedMessage, directory: UnitDirectory) -> bool:
    """True when the sender's address, or its domain, belongs to a unit (configured or learned)."""
    address = parsed.from_addr
    return bool(address) and bool(directory.by_address(address) or directory.by_domain(address))


def decide_message(
    parsed: ParsedMessage, directory: UnitDirectory, rules: Rules, received: datetime
) -> MessageDecision:
    """Returns every decision about a message received at `received`."""
    documents = document_texts(parsed.parts)
    match = decide_unit(parsed, directory, rules, documents)
    verdict = message_verdict(parsed, match.from_department, known_sender(parsed, directory))
    plans = plan_items(
        parsed,
        rules.campaign,
        received,
        documents=documents,
        decorative_max_bytes=rules.decorative_max_bytes,
        decorative_max_pixels=rules.decorative_max_pixels,
    )
    flags = list(verdict.flags)
    if verdict.is_material:
        flags += message_flags(plans, rules.campaign, received)
    if match.forwarded_by:
        flags.append("forwarded")
    return MessageDecision(match, verdict, plans, flags)
