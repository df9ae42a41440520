"""The registry of units that send material, and matching their names in text.

Names are matched after normalisation (full-width to half-width, traditional
to simplified, spaces removed), longest name first, so 大连职业技术学院 is
never read as 大连 (the city bureau).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

UNIT_TYPES = ("city", "zone", "college", "other")

# A bare place name followed by one of these (before any separator) names some
# other institution in that place: 大连XX职业学院 is not 大连市教育局.
_INSTITUTION_SUFFIX = re.compile(
    r"[^\s,，。;；:：、()（）【】\[\]<>《》\"'“”|/\\-]{0,12}?"
    r"(学院|学校|大学|职院|高专|中专|技校|专科|中学|小学|公司|医院|"
    r"职教中心|中心|集团|展览馆|体育馆|广场|(?<!教育)局)"
)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Unit:
    """One unit that submits material (a city bureau, the zone, a college)."""

    code: str
    name: str
    type: str = "other"
    aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class NameHit:
    """A unit's name found in a piece of text."""

    unit: str
    matched: str  # the normalised alias that matched
    start: int
    full_name: bool  # names the unit itself, not just its place (沈阳, 沈阳市)


def _fold(text: str) -> str:
    """Returns text folded for matching: NFKC, simplified Chinese, no spaces, lower case."""
    import zhconv  # here, not at the top: it imports pkg_resources (~0.15 s) on load

    folded = unicodedata.normalize("NFKC", text)
    folded = zhconv.convert(folded, "zh-cn")
    return _SPACES.sub("", folded).lower()


# Names, subjects and keywords repeat, so they are folded once and cached. Bodies and
# document texts are folded by find_names through _fold itself: caching them would keep
# thousands of them alive in a long-running worker.
normalise = lru_cache(maxsize=4096)(_fold)


@dataclass
class UnitDirectory:
    """All known units with lookups by code, address, domain and name."""

    units: tuple[Unit, ...]
    learned_addresses: dict[str, str] = field(default_factory=dict)  # address -> unit code

    def __post_init__(self) -> None:
        self._by_code = {u.code: u for u in self.units}
        self._addresses = {a.lower(): u.code for u in self.units for a in u.addresses}
        self._domains = {d.lower().lstrip("@"): u.code for u in self.units for d in u.domains}
        names = [(normalise(n), u.code) for u in self.units for n in u.names() if n.strip()]
        # Longest first: the regex alternation then prefers 大连职业技术学院 over 大连.
        names.sort(key=lambda pair: len(pair[0]), reverse=True)
        self._alias_owner: dict[str, str] = {}
        for alias, code in names:
            self._alias_owner.setdefault(alias, code)
        pattern = "|".join(re.escape(a) for a in self._alias_owner)
        self._alias_re = re.compile(pattern) if pattern else None

    def get(self, code: str | None) -> Unit | None:
        return self._by_code.get(code) if code else None

    def by_address(self, address: str) -> tuple[str, str] | None:
        """Returns (unit code, 'configured' | 'learned') for a known sender address."""
        address = address.lower()
        if address in self._addresses:
            return self._addresses[address], "configured"
        if address in self.learned_addresses:
            return self.learned_addresses[address], "learned"
        return None

    def by_domain(self, address: str) -> str | None:
        """Returns the unit owning the address's domain or a parent domain."""
        domain = address.rpartition("@")[2].lower()
        while domain:
            if domain in self._domains:
                return self._domains[domain]
            domain = domain.partition(".")[2]
        return None

    def find_names(self, text: str) -> list[NameHit]:
        """Returns every unit name in text, longest names first, never overlapping."""
        if not text or self._alias_re is None:
            return []
        folded = normalise(text) if len(text) <= 1000 else _fold(text)
        hits = []
        for match in self._alias_re.finditer(folded):
            code = self._alias_owner[match.group()]
            unit = self._by_code[code]
            if self._is_bare_place(match.group(), unit) and _INSTITUTION_SUFFIX.match(
                folded, match.end()
            ):
                continue
            full = not self._is_bare_place(match.group(), unit)
            hits.append(NameHit(code, match.group(), match.start(), full))
        return hits

    @staticmethod
    def _is_bare_place(alias: str, unit: Unit) -> bool:
        # Only city/zone place names can be the prefix of another institution's name.
        return unit.type in ("city", "zone") and not alias.endswith(("局", "处", "科", "委"))
