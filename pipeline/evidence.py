"""Evidence records shared by the unit and kind decisions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

LEVELS = ("none", "weak", "strong")


@dataclass(frozen=True)
class Clue:
    """One piece of evidence: where it was seen, what was seen, what it points at, how much."""

    source: str  # address, domain, subject, signature, display_name, filename, document, body, ...
    value: str  # what was seen (the alias, the address, the keyword)
    target: str  # the unit code or kind code it points at
    weight: float  # 0..1, the confidence this clue alone would give

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Decision:
    """A decided value (or None), with the confidence, a named level and every clue."""

    value: str | None
    confidence: float
    level: str
    clues: list[Clue] = field(default_factory=list)
    candidates: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    def evidence(self) -> dict:
        return {
            "level": self.level,
            "reason": self.reason,
            "candidates": {k: round(v, 3) for k, v in self.candidates.items()},
            "clues": [c.to_dict() for c in self.clues],
        }


def combine(weights: list[float]) -> float:
    """Returns the noisy-or of independent clue weights: 1 - prod(1 - w)."""
    remaining = 1.0
    for w in weights:
        remaining *= 1.0 - max(0.0, min(w, 0.999))
    return 1.0 - remaining


def level_of(confidence: float, threshold: float) -> str:
    if confidence >= threshold:
        return "strong"
    return "weak" if confidence > 0 else "none"
