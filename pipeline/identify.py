"""identify_unit: which unit sent a message, with every clue and a confidence.

Clues are weighed by where they were seen, strongest first: a known sender
address (configured or learned), the sender's domain, a tag or alias in the
subject, the signature block, the display name, attachment file names, the
text inside documents, and last the rest of the sender's own words. Each
source counts once per unit and sources combine as a noisy-or. Quoted replies
and list footers are never read. Conflicting strong clues, or weak ones only,
leave the unit empty for a person to decide, with the candidates listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.evidence import Clue, Decision, combine, level_of
from pipeline.message import Forwarded, ParsedMessage
from pipeline.textparts import is_forward, is_reply, own_text, signature_block
from pipeline.units import UnitDirectory

# Weight of a clue by source: (a name of the unit itself, a bare place name such as
# 沈阳 or 沈阳市). Alone, anything from the display name up names a unit confidently
# at the default threshold 0.75; document text and the body never do.
WEIGHTS: dict[str, tuple[float, float]] = {
    "address": (0.97, 0.97),
    "learned_address": (0.95, 0.95),
    "domain": (0.92, 0.92),
    "subject": (0.90, 0.85),
    "signature": (0.88, 0.80),
    "display_name": (0.86, 0.78),
    "filename": (0.84, 0.78),
    "document": (0.80, 0.45),  # the heading or closing lines of an attached document
    "document_text": (0.55, 0.25),  # anywhere else in it
    "reply_subject": (0.50, 0.30),  # the subject of a reply quotes the department's subject
    "body": (0.50, 0.30),
}
# Sources that are one piece of evidence however many times they occur.
_SAME_SOURCE = {
    "learned_address": "address",
    "reply_subject": "subject",
    "document_text": "document",
}
# A rival this sure of itself means the clues disagree: triage, not a guess.
CONFLICT_WEIGHT = 0.7
DOCUMENT_EDGE_LINES = 3


@dataclass(frozen=True)
class Sender:
    """Who the department is, so its own mail and forwards are recognised."""

    addresses: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()

    def owns(self, address: str) -> bool:
        address = address.lower()
        domain = address.rpartition("@")[2]
        return address in self.addresses or any(
            domain == d or domain.endswith("." + d) for d in self.domains
        )


@dataclass
class UnitMatch(Decision):
    """The unit decision, plus who forwarded the material when it was forwarded."""

    forwarded_by: str | None = None
    from_department: bool = False
    clues_by_origin: dict[str, list[Clue]] = field(default_factory=dict)

    def evidence(self) -> dict:
        data = super().evidence()
        if self.forwarded_by:
            data["forwarded_by"] = self.forwarded_by
        return data


def identify_unit(
    msg: ParsedMessage,
    units: UnitDirectory,
    *,
    department: Sender = Sender(),
    threshold: float = 0.75,
    documents: dict[str, str] | None = None,
) -> UnitMatch:
    """Returns the unit that sent msg (or None for triage), with clues and confidence.

    `documents` maps attachment file names to the text extracted from them;
    `threshold` is the confidence from which a unit is decided (config
    `identify.confident_threshold`). Forwarded material is attributed to the
    original sender's unit when that is identifiable; `forwarded_by` then
    holds the forwarder's address.
    """
    documents = documents or {}
    from_dept = department.owns(msg.from_addr) if msg.from_addr else False
    forwards = _forwards(msg)
    outer_files = [p.filename for p in msg.parts if p.forwarded_index is None]
    if any(fwd.inline for _, fwd in forwards):
        outer_files = []  # an inline forward's files belong to the forwarded message
    outer = _clues_for(
        units,
        msg.from_addr,
        msg.from_name,
        msg.subject,
        msg.body_text,
        outer_files,
        documents,
        reply=is_reply(msg.subject),
    )
    if forwards:
        original = _forwarded_clues(msg, forwards, units, documents)
        decided = _decide(original, threshold)
        if decided.value is None and not from_dept:
            decided = _decide(outer + original, threshold)
        elif decided.value is None:
            decided = _undecided(
                original, "forwarded by the department; the original unit is unclear"
            )
        decided.forwarded_by = msg.from_addr or None
        decided.from_department = from_dept
        decided.clues_by_origin = {"forwarder": outer, "original": original}
        decided.reason = f"forwarded by {msg.from_addr or '?'}; " + decided.reason
        return decided
    if from_dept:
        result = _undecided(outer, "sent by the department itself")
        result.from_department = True
        return result
    return _decide(outer, threshold)


def _forwards(msg: ParsedMessage) -> list[tuple[int, Forwarded]]:
    """Returns the forwarded messages that carry material (a reply's quote is not one)."""
    forward = is_forward(msg.subject, msg.body_text)
    return [(i, fwd) for i, fwd in enumerate(msg.forwarded) if not fwd.inline or forward]


def _forwarded_clues(
    msg: ParsedMessage,
    forwards: list[tuple[int, Forwarded]],
    units: UnitDirectory,
    documents: dict[str, str],
) -> list[Clue]:
    clues: list[Clue] = []
    for index, fwd in forwards:
        names = [p.filename for p in msg.parts if p.forwarded_index == index]
        if fwd.inline:  # an inline forward: the outer message's files are the forwarded ones
            names = [p.filename for p in msg.parts]
        clues += _clues_for(
            units,
            fwd.from_addr,
            fwd.from_name,
            fwd.subject,
            fwd.body_text,
            names,
            documents,
            reply=False,
        )
    return clues


def _clues_for(
    units: UnitDirectory,
    address: str,
    display: str,
    subject: str,
    body: str,
    filenames: list[str],
    documents: dict[str, str],
    *,
    reply: bool,
) -> list[Clue]:
    """Returns every clue in one message's (or one forwarded message's) fields."""
    clues = _address_clues(units, address)
    own = own_text(body or "")
    signature = signature_block(body or "")
    rest = own[: max(0, len(own) - len(signature))] if own.endswith(signature) else own
    texts = [
        ("reply_subject" if reply else "subject", subject),
        ("signature", signature),
        ("display_name", display),
        ("body", rest),
    ]
    texts += [("filename", name) for name in filenames]
    for name in filenames:
        edge, middle = _document_zones(documents.get(name, ""))
        texts += [("document", edge), ("document_text", middle)]
    for source, text in texts:
        for hit in units.find_names(text or ""):
            full, bare = WEIGHTS[source]
            clues.append(Clue(source, hit.matched, hit.unit, full if hit.full_name else bare))
    return clues


def _address_clues(units: UnitDirectory, address: str) -> list[Clue]:
    if not address:
        return []
    clues = []
    known = units.by_address(address)
    if known:
        source = "address" if known[1] == "configured" else "learned_address"
        clues.append(Clue(source, address, known[0], WEIGHTS[source][0]))
    domain_unit = units.by_domain(address)
    if domain_unit:
        clues.append(Clue("domain", address.rpartition("@")[2], domain_unit, WEIGHTS["domain"][0]))
    return clues


def _document_zones(text: str) -> tuple[str, str]:
    """Returns (heading and closing lines, the rest) of a document's text.

    The issuer is named in the heading (阜新市教育局 / …方案) or the closing
    落款; a name in the middle is usually a place or a partner.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    n = DOCUMENT_EDGE_LINES
    if len(lines) <= 2 * n:
        return "\n".join(lines), ""
    return "\n".join(lines[:n] + lines[-n:]), "\n".join(lines[n:-n])


def _decide(clues: list[Clue], threshold: float) -> UnitMatch:
    if not clues:
        return UnitMatch(None, 0.0, "none", [], {}, reason="no clue names a unit")
    best: dict[tuple[str, str], float] = {}
    for clue in clues:
        key = (clue.target, _SAME_SOURCE.get(clue.source, clue.source))
        best[key] = max(best.get(key, 0.0), clue.weight)
    scores = {
        unit: combine([w for (u, _), w in best.items() if u == unit])
        for unit in {unit for unit, _ in best}
    }
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    top, confidence = ranked[0]
    rival = ranked[1] if len(ranked) > 1 else None
    candidates = {code: round(score, 3) for code, score in ranked}
    if rival and rival[1] >= CONFLICT_WEIGHT:
        # Both are likely; how sure we are of the top one is what the rival leaves over.
        doubt = round(min(confidence, 1.0 - rival[1]), 3)
        return UnitMatch(
            None,
            doubt,
            "weak",
            clues,
            candidates,
            reason=f"clues disagree: {top} ({confidence:.2f}) vs {rival[0]} ({rival[1]:.2f})",
        )
    level = level_of(confidence, threshold)
    if confidence < threshold:
        return UnitMatch(
            None,
            round(confidence, 3),
            level,
            clues,
            candidates,
            reason=f"only weak clues ({confidence:.2f} < {threshold:.2f})",
        )
    return UnitMatch(top, round(confidence, 3), level, clues, candidates, reason="clues agree")


def _undecided(clues: list[Clue], reason: str) -> UnitMatch:
    return UnitMatch(None, 0.0, "none", clues, {}, reason=reason)
