"""[campaign], [[kinds]] and the unit registry (`units_file` or [[units]]).

Without them the shipped notice and registry (workers/shipped/) apply, so next
year's notice is a change to config.toml, not to the code.
"""

from __future__ import annotations

import tomllib
from datetime import date
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.campaign import Campaign, Kind, default_words
from pipeline.dates import resolve, valid_rule
from pipeline.errors import ConfigError
from pipeline.units import UNIT_TYPES, Unit
from workers.config.reader import Reader

CAMPAIGN_KEYS = {
    "code", "name", "start", "end", "timezone", "fallback_kind", "doc_number", "title",
    "issued", "theme", "words", "related", "addressees", "unit_types", "unit_codes", "mailbox",
}  # fmt: skip


def shipped(name: str) -> dict[str, Any]:
    text = resources.files("workers.shipped").joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def parse_campaign(r: Reader) -> Campaign:
    """Returns the campaign of [campaign] and [[kinds]], or the shipped one when neither is given."""
    data = r.data
    if "campaign" not in data and "kinds" not in data:
        r = Reader(shipped("campaign.toml"), "campaign.toml (shipped)", r.base_dir)
    elif "kinds" not in data or "campaign" not in data:
        missing = "kinds" if "kinds" not in data else "campaign"
        raise r.fail(missing, "give [campaign] and [[kinds]] together (or neither)")
    r.table("campaign").only(CAMPAIGN_KEYS)
    start, end = r.day("campaign.start"), r.day("campaign.end")
    if end < start:
        raise r.fail("campaign.end", f"{end} is before campaign.start {start}")
    tz = r.string("campaign.timezone", "Asia/Shanghai")
    try:
        ZoneInfo(tz)
    except Exception:
        raise r.fail("campaign.timezone", f"unknown time zone {tz!r}") from None
    issued = r.get("campaign.issued")
    if issued is not None and not isinstance(issued, date):
        raise r.fail("campaign.issued", "must be a date like 2023-04-24")
    kinds = tuple(_kind(r, i, start, end, issued) for i in range(len(r.table_list("kinds"))))
    codes = [k.code for k in kinds]
    fallback = r.string("campaign.fallback_kind", "other")
    if fallback not in codes:
        raise r.fail("campaign.fallback_kind", f"{fallback!r} is not a [[kinds]] code")
    if len(set(codes)) != len(codes):
        raise r.fail("kinds", "two kinds share one code")
    unit_types = r.strings("campaign.unit_types", ())
    bad = sorted(set(unit_types) - set(UNIT_TYPES))
    if bad:
        raise r.fail("campaign.unit_types", f"{bad[0]!r} is not one of {', '.join(UNIT_TYPES)}")
    name, theme = r.string("campaign.name"), r.string("campaign.theme", "")
    doc_number = r.string("campaign.doc_number", "")
    return Campaign(
        code=r.slug("campaign.code"),
        name=name,
        start=start,
        end=end,
        timezone=tz,
        kinds=kinds,
        fallback_kind=fallback,
        doc_number=doc_number,
        title=r.string("campaign.title", ""),
        issued=issued,
        theme=theme,
        # Without words of its own a campaign is named by its topic (职业教育活动周, 活动周).
        words=r.strings("campaign.words", ()) or default_words(name, theme, doc_number),
        related=r.strings("campaign.related", ()),
        addressees=r.strings("campaign.addressees", ()),
        unit_types=unit_types,
        unit_codes=r.strings("campaign.unit_codes", ()),
        mailbox=r.string("campaign.mailbox", "").lower(),
    )


def _kind(r: Reader, i: int, start: date, end: date, issued: date | None) -> Kind:
    key = f"kinds[{i}]"
    due = r.get(f"{key}.due")
    if due is not None and not isinstance(due, date):
        raise r.fail(f"{key}.due", "must be a date like 2023-05-08")
    rule = r.string(f"{key}.due_rule", "")
    if rule and not valid_rule(rule):
        raise r.fail(f"{key}.due_rule", "must be like end+7d, start-3d or issued+10wd")
    if rule and due is None:
        due = resolve(rule, start, end, issued)
    window = r.string(f"{key}.window", "")
    if window not in ("", "before", "during", "after"):
        raise r.fail(f"{key}.window", "must be before, during or after")
    return Kind(
        code=r.slug(f"{key}.code"),
        label=r.string(f"{key}.label"),
        due=due,
        required=r.boolean(f"{key}.required", True),
        keywords=r.strings(f"{key}.keywords", ()),
        media=r.strings(f"{key}.media", ()),
        window=window,
        due_rule=rule,
    )


def parse_units(r: Reader) -> tuple[Unit, ...]:
    """Returns the unit registry: units_file, [[units]], or the shipped list."""
    if "units" in r.data and "units_file" in r.data:
        raise r.fail("units_file", "give units_file or [[units]], not both")
    if "units_file" in r.data:
        upath = r.path("units_file", "")
        if not upath.exists():
            raise r.fail("units_file", f"{upath} not found")
        try:
            data = tomllib.loads(upath.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(str(upath), "(syntax)", str(exc)) from None
        r = Reader(data, str(upath), upath.parent)
    elif "units" not in r.data:
        r = Reader(shipped("units.toml"), "units.toml (shipped)", r.base_dir)
    units = []
    for i in range(len(r.table_list("units"))):
        key = f"units[{i}]"
        utype = r.string(f"{key}.type", "other")
        if utype not in UNIT_TYPES:
            raise r.fail(f"{key}.type", f"{utype!r} is not one of {', '.join(UNIT_TYPES)}")
        units.append(
            Unit(
                code=r.slug(f"{key}.code"),
                name=r.string(f"{key}.name"),
                type=utype,
                aliases=r.strings(f"{key}.aliases", ()),
                domains=tuple(d.lower().lstrip("@") for d in r.strings(f"{key}.domains", ())),
                addresses=tuple(a.lower() for a in r.strings(f"{key}.addresses", ())),
            )
        )
    codes = [u.code for u in units]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise r.fail("units", f"unit code {dupes[0]!r} is used twice")
    return tuple(units)
