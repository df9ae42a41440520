"""decide_campaign: which open campaign a message belongs to, if any, with clues and a confidence.

What decides, strongest first: a reply in a campaign's thread (In-Reply-To or
References naming a message already filed under it), a reply quoting the notice's
title (Re:/回复： + 关于做好…的通知), the campaign's own words (职业教育活动周, 活动周,
its theme, its document number) in the subject, a file name or a document's heading,
then in the sender's own words and inside documents. What only supports a campaign
that has such evidence: its events (技能大赛), its kinds' keywords (方案, 照片 — never
alone), the time window, and what the unit has already filed under it.

Three outcomes: a campaign; 其他来件 (no campaign's evidence, or the subject names
another matter: 高职扩招专项工作总结); or triage with the candidates, when the clues
disagree, are weak, or a campaign's kind of material arrives with nothing naming it.
A tracker that counts another matter's file as sent is worse than none, so every
doubt goes to a person.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.campaign import Campaign
from pipeline.campaign_words import KIND, RELATED, SHORT, Vocabulary, topics_left, vocabulary
from pipeline.evidence import Clue, Decision, combine
from pipeline.message import ParsedMessage
from pipeline.textparts import is_forward, is_reply, own_text, signature_block
from pipeline.units import Unit, UnitDirectory, normalise

CAMPAIGN, OTHER, TRIAGE = "campaign", "other", "triage"
# Weight of a campaign word by where it was seen: (a full word, a short one such as 活动周).
WEIGHTS: dict[str, tuple[float, float]] = {
    "subject": (0.90, 0.85),
    "filename": (0.85, 0.80),
    "document": (0.85, 0.75),  # the heading or closing lines of a document
    "body": (0.70, 0.60),  # the sender's own words, quotes left out
    "document_text": (0.60, 0.30),  # anywhere else in a document
}
THREAD_WEIGHT = 0.95
REPLY_WEIGHT = 0.90
RELATED_WEIGHT = 0.30
KIND_SUPPORT = 0.30  # a kind keyword next to the campaign's evidence
WINDOW_SUPPORT = 0.20
HISTORY_SUPPORT = 0.20
HISTORY_MATTERS = 0.75  # the default threshold: history can only lift a score up to it
OUT_OF_SEASON = 0.5  # words seen outside the campaign's window count half
NOT_ADDRESSED = 0.7  # the notice does not address the sender's unit
RIVAL_WEIGHT = 0.5  # a second campaign this likely means the clues disagree
STRONG_SOURCES = {"thread", "reply_subject", "subject", "filename", "document"}
EDGE_LINES = 3


@dataclass(frozen=True)
class CampaignBook:
    """What the campaign decision needs besides the message: the open campaigns, the
    campaigns of messages it may reply to, and what each unit has already filed."""

    campaigns: tuple[Campaign, ...]
    threads: Mapping[str, str | None] = field(default_factory=dict)  # Message-ID -> code | None
    history: Callable[[str], Iterable[str]] = lambda unit: ()  # unit code -> campaign codes


@dataclass
class CampaignMatch(Decision):
    """The campaign decision: outcome campaign | other | triage, and the topic left over."""

    outcome: str = OTHER
    topic: str = ""  # what the subject or file names say besides any campaign's words

    @property
    def planning(self) -> str | None:
        """The campaign whose kinds and folders the message uses (the top one in triage)."""
        if self.outcome == CAMPAIGN:
            return self.value
        if self.outcome == TRIAGE and self.candidates:
            return next(iter(self.candidates))
        return None

    def evidence(self) -> dict:
        data = super().evidence()
        data["outcome"] = self.outcome
        if self.topic:
            data["topic"] = self.topic
        return data


def decide_campaign(
    msg: ParsedMessage,
    book: CampaignBook,
    received: datetime,
    *,
    units: UnitDirectory,
    unit: Unit | None = None,
    documents: dict[str, str] | None = None,
    threshold: float = 0.75,
) -> CampaignMatch:
    """Returns the campaign msg belongs to (outcome campaign), 其他来件 (other) or triage."""
    campaigns = tuple(c for c in book.campaigns if c.is_open)
    if not campaigns:
        return CampaignMatch(None, 1.0, "strong", reason="no campaign is open", outcome=OTHER)
    vocab = vocabulary(campaigns)
    documents = documents or {}
    clues = _thread_clues(msg, book, campaigns) + _reply_clues(msg, campaigns)
    other_thread = not clues and _in_other_thread(msg, book)
    clues += _word_clues(msg, vocab, documents)
    # What the subject and file names say besides campaign words: another matter
    # (高职扩招专项工作总结) or what a case, a photo or an article shows.
    matters, content = topics_left([msg.subject, *(_stem(p.filename) for p in msg.parts)],
                                   vocab, units)  # fmt: skip
    if other_thread and not matters:
        matters = ["回复其他来件"]  # a reply in a thread of mail that belongs to no campaign
    topic = "；".join(dict.fromkeys(matters + content))
    by_code = {c.code: c for c in campaigns}
    scores = {
        code: _score(by_code[code], clues, received, unit, book, bool(topic), bool(matters))
        for code in by_code
    }
    scores = {code: s for code, s in scores.items() if s > 0}
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    candidates = {code: round(score, 3) for code, score in ranked}
    if not ranked:
        return _without_words(msg, campaigns, received, clues, topic, bool(matters))
    top, confidence = ranked[0]
    rivals = ranked[1:]
    if by_code[top].in_window(received):  # last year's campaign, out of season, is no rival
        rivals = [r for r in rivals if by_code[r[0]].in_window(received)]
    rival = rivals[0] if rivals else None
    if rival and rival[1] >= RIVAL_WEIGHT:
        reason = f"campaigns disagree: {top} ({confidence:.2f}) vs {rival[0]} ({rival[1]:.2f})"
        return CampaignMatch(None, round(confidence, 3), "weak", clues, candidates, reason,
                             outcome=TRIAGE, topic=topic)  # fmt: skip
    if confidence >= threshold:
        return CampaignMatch(top, round(confidence, 3), "strong", clues, candidates,
                             "clues agree", outcome=CAMPAIGN, topic=topic)  # fmt: skip
    why = f"only weak clues ({confidence:.2f} < {threshold:.2f})"
    if topic:
        why += f"; the subject or a file names another matter: {topic}"
    return CampaignMatch(None, round(confidence, 3), "weak", clues, candidates, why,
                         outcome=TRIAGE, topic=topic)  # fmt: skip


def _score(
    campaign: Campaign,
    clues: list[Clue],
    received: datetime,
    unit: Unit | None,
    book: CampaignBook,
    topic: bool,
    other_matter: bool,
) -> float:
    """Returns how likely the campaign is, from its clues; 0 when nothing names it."""
    mine = [c for c in clues if c.target == campaign.code]
    deciding = [c for c in mine if c.source != "kind" and not c.source.startswith("related")]
    related = [c for c in mine if c.source.startswith("related")]
    if not deciding and (not related or other_matter):
        return 0.0  # its events alone, in a subject about another matter: not this campaign
    seasonal = 1.0 if campaign.in_window(received) else OUT_OF_SEASON
    best: dict[str, float] = {}
    for clue in deciding:
        weight = (
            clue.weight if clue.source in ("thread", "reply_subject") else clue.weight * seasonal
        )
        best[clue.source] = max(best.get(clue.source, 0.0), weight)
    weights = list(best.values())
    weights += [RELATED_WEIGHT] if related else []
    if any(c.source == "kind" for c in mine):
        weights.append(KIND_SUPPORT)
    if campaign.in_window(received):
        weights.append(WINDOW_SUPPORT)
    score = combine(weights)
    # What the unit has filed only tips a near miss: asked of the index only then.
    near = combine([score, HISTORY_SUPPORT]) >= HISTORY_MATTERS and score < HISTORY_MATTERS
    if near and unit is not None and campaign.code in set(book.history(unit.code)):
        score = combine([score, HISTORY_SUPPORT])
    if unit is not None and not campaign.addresses(unit.code, unit.type):
        score *= NOT_ADDRESSED
    if topic and not (set(best) & STRONG_SOURCES):
        # The subject names something else and only the body or a document's middle
        # mentions this campaign: never enough to count the message for it.
        score = min(score, 0.6)
    return score


def _thread_clues(msg: ParsedMessage, book: CampaignBook, campaigns) -> list[Clue]:
    codes = {c.code for c in campaigns}
    clues = []
    for ref in _refs(msg):
        code = book.threads.get(ref)
        if code in codes:
            clues.append(Clue("thread", ref, code, THREAD_WEIGHT))
    return clues


def _refs(msg: ParsedMessage) -> list[str]:
    refs = [msg.in_reply_to, *msg.header("references").split()]
    return list(dict.fromkeys(r.strip() for r in refs if r and r.strip()))


def _in_other_thread(msg: ParsedMessage, book: CampaignBook) -> bool:
    return any(ref in book.threads and book.threads[ref] is None for ref in _refs(msg))


def _reply_clues(msg: ParsedMessage, campaigns) -> list[Clue]:
    if not (is_reply(msg.subject) or is_forward(msg.subject, "")):
        return []
    subject = normalise(msg.subject)
    clues = []
    for campaign in campaigns:
        core = _title_core(campaign.title)
        if core and core in subject:
            clues.append(Clue("reply_subject", campaign.title, campaign.code, REPLY_WEIGHT))
    return clues


def _title_core(title: str) -> str:
    """Returns the part of a notice title a reply's subject keeps: 关于…的通知."""
    folded = normalise(title or "")
    at = folded.find("关于")
    core = folded[at:] if at >= 0 else folded
    return core if len(core) >= 8 else ""


def _word_clues(msg: ParsedMessage, vocab: Vocabulary, documents: dict[str, str]) -> list[Clue]:
    # The body as the unit decision cut it (its signature, the rest): the same strings, so
    # their normalised form comes from normalise's cache instead of being made again.
    own = own_text(msg.body_text or "")
    signature = signature_block(msg.body_text or "")
    rest = own[: max(0, len(own) - len(signature))] if own.endswith(signature) else own
    texts = [("subject", msg.subject), ("body", rest), ("body", signature)]
    for part in msg.parts:
        texts.append(("filename", _stem(part.filename)))
        edge, middle = _zones(documents.get(part.filename, ""))
        texts += [("document", edge), ("document_text", middle)]
    clues = []
    for source, text in texts:
        for hit in vocab.hits(text):
            for code, cls in hit.owners:
                if cls == KIND:
                    clues.append(Clue("kind", hit.word, code, KIND_SUPPORT))
                elif cls == RELATED:
                    clues.append(Clue("related_" + source, hit.word, code, RELATED_WEIGHT))
                else:
                    full, short = WEIGHTS[source]
                    clues.append(Clue(source, hit.word, code, short if cls == SHORT else full))
    return clues


def _without_words(msg, campaigns, received, clues, topic, other_matter) -> CampaignMatch:
    """Returns the outcome when no campaign's words or thread name the message.

    Its kind of material alone (方案, 照片, a video) never decides a campaign; but when
    the subject and files name nothing else and a campaign is collecting such
    material right now, a person decides (triage), with those campaigns as candidates.
    """
    kinds = {c.target for c in clues if c.source == "kind"}
    if _pictures(msg):  # photos and videos are kinds of material without any word
        kinds |= {c.code for c in campaigns if any(k.media for k in c.kinds)}
    waiting = [c for c in campaigns if c.code in kinds and c.in_window(received)]
    if waiting and not other_matter:
        candidates = {c.code: 0.3 for c in waiting}
        reason = "only kinds of material (never enough alone); no campaign's words"
        return CampaignMatch(None, 0.3, "weak", clues, candidates, reason, outcome=TRIAGE)
    reason = "no open campaign's words, thread or notice"
    if topic:
        reason += f"; names another matter: {topic}"
    return CampaignMatch(None, 1.0, "strong", clues, {}, reason, outcome=OTHER, topic=topic)


_PICTURE_EXT = (".jpg", ".jpeg", ".png", ".heic", ".gif", ".bmp", ".webp", ".tif", ".tiff",
                ".mp4", ".mov", ".avi", ".wmv", ".mkv", ".3gp", ".m4v")  # fmt: skip


def _pictures(msg: ParsedMessage) -> bool:
    """True when the message carries photos or videos (the kinds that have no words)."""
    return any(p.filename.lower().endswith(_PICTURE_EXT) for p in msg.parts)


def _stem(filename: str) -> str:
    return filename.rsplit(".", 1)[0] if "." in filename else filename


def _zones(text: str) -> tuple[str, str]:
    """Returns (heading and closing lines, the rest) of a document's text."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) <= 2 * EDGE_LINES:
        return "\n".join(lines), ""
    return "\n".join(lines[:EDGE_LINES] + lines[-EDGE_LINES:]), "\n".join(
        lines[EDGE_LINES:-EDGE_LINES]
    )
