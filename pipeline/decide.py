"""Every decision about one parsed message, in one place: who sent it, which campaign (if
any) it belongs to, is it material, what each part is, which flags it carries.

Ingestion files what `decide_message` returns; triage re-decides the unit with
`decide_unit` after a sender address is learned. Both read the same rules, so a
message re-decided in triage is judged exactly as it was when it arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from pipeline.budget import Deadline
from pipeline.campaign import Campaign, Kind
from pipeline.campaign_match import (
    CAMPAIGN,
    OTHER,
    TRIAGE,
    CampaignBook,
    CampaignMatch,
    decide_campaign,
)
from pipeline.classify import (
    ItemPlan,
    MessageVerdict,
    classify_kind,
    message_flags,
    message_verdict,
    plan_items,
)
from pipeline.doctext import document_texts
from pipeline.evidence import Decision
from pipeline.identify import Sender, UnitMatch, identify_unit
from pipeline.inquiry import inquiry_sentence
from pipeline.message import ParsedMessage
from pipeline.units import UnitDirectory

# Kinds are a campaign's: mail of no campaign (其他来件) is planned with this one kind.
NO_CAMPAIGN = Campaign("", "其他来件", date.min, date.min, "Asia/Shanghai",
                       (Kind("other", "其他", required=False),))  # fmt: skip


@dataclass(frozen=True)
class Rules:
    """What deciding needs besides the message and the unit registry."""

    campaign: Campaign  # the first campaign (config's): the only open one unless told more
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
    campaign: CampaignMatch

    @property
    def unit(self) -> str | None:
        """The unit the message is filed under: None for triage and for non-material mail.

        An inquiry keeps its unit: the 待回复 list says who asked.
        """
        keep = self.verdict.is_material or self.verdict.reason == "inquiry"
        return self.match.value if keep else None

    @property
    def status(self) -> str:
        """filed, triage or not_material."""
        if not self.verdict.is_material:
            return "not_material"
        if self.unit is None or self.campaign.outcome == TRIAGE:
            return "triage"
        return "filed"

    @property
    def campaign_code(self) -> str | None:
        """The campaign whose kinds and folders it uses (decided, or the top candidate)."""
        return self.campaign.planning

    @property
    def campaign_status(self) -> str:
        """assigned (counted by that campaign), other (其他来件) or triage."""
        return {CAMPAIGN: "assigned", OTHER: "other", TRIAGE: "triage"}[self.campaign.outcome]


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
    parsed: ParsedMessage,
    directory: UnitDirectory,
    rules: Rules,
    received: datetime,
    book: CampaignBook | None = None,
    deadline: Deadline | None = None,
) -> MessageDecision:
    """Returns every decision about a message received at `received`.

    `book`: the open campaigns with the threads and history the caller found in the
    index; without it the rules' campaign is the only one, as when nothing else exists.
    `deadline`: the message's time budget (shared with parsing), checked between the
    documents, the unit, the campaign and each part; LimitExceeded past it.
    """
    deadline = deadline or Deadline.none()
    documents = document_texts(parsed.parts, deadline)
    match = decide_unit(parsed, directory, rules, documents)
    deadline.check("identifying the sending unit")
    verdict = message_verdict(parsed, match.from_department, known_sender(parsed, directory))
    book = book if book is not None else CampaignBook((rules.campaign,))
    campaign = decide_campaign(
        parsed,
        book,
        received,
        units=directory,
        unit=directory.get(match.value),
        documents=documents,
        threshold=rules.threshold,
    )
    deadline.check("deciding the campaign")
    planned = next((c for c in book.campaigns if c.code == campaign.planning), None)
    plans = plan_items(
        parsed,
        planned or NO_CAMPAIGN,
        received,
        documents=documents,
        decorative_max_bytes=rules.decorative_max_bytes,
        decorative_max_pixels=rules.decorative_max_pixels,
        deadline=deadline,
    )
    if planned is None:
        plans = [no_kind(p) for p in plans]
    if verdict.is_material and campaign.outcome != OTHER:
        verdict, plans = _inquiry(parsed, verdict, plans)
    flags = list(verdict.flags)
    if verdict.is_material:
        # late and early are a campaign's: not judged before a person decides the campaign
        decided = planned if campaign.outcome == CAMPAIGN else None
        flags += message_flags(plans, decided or NO_CAMPAIGN, received)
    if match.forwarded_by:
        flags.append("forwarded")
    return MessageDecision(match, verdict, plans, flags, campaign)


NO_KIND = "belongs to no campaign (其他来件): no kinds"


def no_kind(plan: ItemPlan) -> ItemPlan:
    """Returns the plan without a kind: mail of no campaign (其他来件) has none."""
    return replace(plan, kind=Decision(None, 0.0, "none", [], {}, NO_KIND))


def member_kind(
    name: str, media: str, subject: str, campaign: Campaign | None, received: datetime
) -> Decision:
    """Returns an archive member's kind under its message's campaign (None: no kind)."""
    if campaign is None:
        return Decision(None, 0.0, "none", [], {}, NO_KIND)
    return classify_kind(name, media, subject, "", campaign, received)


def _inquiry(
    parsed: ParsedMessage, verdict: MessageVerdict, plans: list[ItemPlan]
) -> tuple[MessageVerdict, list[ItemPlan]]:
    """Returns the verdict `inquiry` (not material) for a question or acknowledgement without
    material; a short body taken for an article (正文.txt) is then no item either."""
    files = [p for p in plans if p.role == "material" and p.part_index is not None]
    links = [p for p in plans if p.status == "external_link"]
    if files or links:
        return verdict, plans
    sentence = inquiry_sentence(parsed)
    if sentence is None:
        return verdict, plans
    kept = [p for p in plans if p.role != "material"]
    return MessageVerdict(False, ["inquiry"], "inquiry", question=sentence), kept
