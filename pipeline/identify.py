"""identify_unit: which unit sent a message, with every clue and a confidence.

Clues are weighed by where they were seen (a known address outweighs a name
in a file name); each source counts once per unit and sources combine as a
noisy-or. Conflicting strong clues, or weak ones only, leave the unit empty
for a person to decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.evidence import Clue, Decision, combine, level_of
from pipeline.message import ParsedMessage
from pipeline.textparts import own_text, signature_block
from pipeline.units import UnitDirectory

# Weight of a clue by source: (a full name or long alias, a bare place name).
WEIGHTS: dict[str, tuple[float, float]] = {
    "address": (0.97, 0.97),
    "learned_address": (0.93, 0.93),
    "domain": (0.88, 0.88),
    "subject": (0.85, 0.78),
    "signature": (0.78, 0.6),
    "display_name": (0.72, 0.55),
    "filename": (0.72, 0.6),
    "document": (0.65, 0.45),
    "body": (0.45, 0.25),
}
# A rival this sure of itself means the clues disagree.
CONFLICT_WEIGHT = 0.6


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


def identify_unit(
    msg: ParsedMessage,
    units: UnitDirectory,
    *,
    department: Sender = Sender(),
    threshold: float = 0.75,
    documents: dict[str, str] | None = None,
) -> UnitMatch:
    """Returns the unit that sent msg (or None for triage), with clues and confidence.

    `documents` maps attachment file names to the text extracted from them.
    """
    documents = documents or {}
    outer = _clues_for(
        units, msg.from_addr, msg.from_name, msg.subject, msg.body_text,
        [p.filename for p in msg.parts if p.forwarded_index is None], documents,
    )
    from_dept = department.owns(msg.from_addr) if msg.from_addr else False
    if msg.forwarded:
        original = _forwarded_clues(msg, units, documents)
        decided = _decide(original, threshold)
        if decided.value is not None:
            decided.forwarded_by = msg.from_addr or None
            decided.from_department = from_dept
            decided.reason = f"forwarded by {msg.from_addr}; " + decided.reason
            return decided
        if not from_dept:
            merged = _decide(outer + original, threshold)
            merged.from_department = from_dept
            return merged
        return _undecided(original, "forwarded by the department; the original unit is unclear")
    if from_dept:
        result = _undecided(outer, "sent by the department itself")
        result.from_department = True
        return result
    return _decide(outer, threshold)


def _forwarded_clues(msg: ParsedMessage, units: UnitDirectory, documents: dict[str, str]):
    clues: list[Clue] = []
    for index, fwd in enumerate(msg.forwarded):
        names = [p.filename for p in msg.parts if p.forwarded_index == index]
        if fwd.inline:   # an inline forward: the outer message's files are the forwarded ones
            names = [p.filename for p in msg.parts]
        clues += _clues_for(units, fwd.from_addr, fwd.from_name, fwd.subject, fwd.body_text,
                            names, documents)
    return clues


def _clues_for(units, address, display, subject, body, filenames, documents) -> list[Clue]:
    clues: list[Clue] = []
    if address:
        known = units.by_address(address)
        if known:
            source = "address" if known[1] == "configured" else "learned_address"
            clues.append(Clue(source, address, known[0], WEIGHTS[source][0]))
        domain_unit = units.by_domain(address)
        if domain_unit:
            clues.append(Clue("domain", address.rpartition("@")[2], domain_unit,
                              WEIGHTS["domain"][0]))
    own = own_text(body)
    signature = signature_block(body)
    rest = own[: max(0, len(own) - len(signature))] if own.endswith(signature) else own
    texts = [("subject", subject), ("signature", signature), ("display_name", display),
             ("body", rest)]
    texts += [("filename", name) for name in filenames]
    texts += [("document", text[:3000]) for name, text in documents.items() if name in filenames]
    for source, text in texts:
        for hit in units.find_names(text or ""):
            full, bare = WEIGHTS[source]
            clues.append(Clue(source, hit.matched, hit.unit, full if hit.full_name else bare))
    return clues


def _decide(clues: list[Clue], threshold: float) -> UnitMatch:
    if not clues:
        return UnitMatch(None, 0.0, "none", [], {}, reason="no clue names a unit")
    best_per_source: dict[tuple[str, str], float] = {}
    for clue in clues:
        source = "address" if clue.source in ("address", "learned_address") else clue.source
        key = (clue.target, source)
        best_per_source[key] = max(best_per_source.get(key, 0.0), clue.weight)
    scores: dict[str, float] = {}
    for unit in {unit for unit, _ in best_per_source}:
        scores[unit] = combine([w for (u, _), w in best_per_source.items() if u == unit])
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    top, confidence = ranked[0]
    rival = ranked[1] if len(ranked) > 1 else None
    match = UnitMatch(None, round(confidence, 3), level_of(confidence, threshold), clues,
                      dict(ranked))
    if rival and rival[1] >= CONFLICT_WEIGHT:
        match.level = "weak"
        match.reason = f"clues disagree: {top} ({confidence:.2f}) vs {rival[0]} ({rival[1]:.2f})"
        return match
    if confidence < threshold:
        match.reason = f"only weak clues ({confidence:.2f} < {threshold:.2f})"
        return match
    match.value = top
    match.reason = "clues agree"
    return match


def _undecided(clues: list[Clue], reason: str) -> UnitMatch:
    return UnitMatch(None, 0.0, "none", clues, {}, reason=reason)
