"""A person's corrections to a campaign (the CLI's `campaign edit`, the web form): pure.

`edit(campaign, changes)` returns the corrected campaign or raises CampaignEditError
naming the field. Deadlines are a day (2023-05-08) or a rule relative to the
campaign's dates (end+7d, issued+10wd); rules follow corrected dates.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.campaign import STATES, Campaign, Kind
from pipeline.dates import resolve, valid_rule
from pipeline.errors import MailroomError
from pipeline.units import UNIT_TYPES

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TEXT = ("name", "doc_number", "title", "theme", "mailbox")
_LISTS = ("words", "related", "addressees", "unit_types", "unit_codes")


class CampaignEditError(MailroomError):
    """A correction that cannot be made: says which field and why."""


def edit(campaign: Campaign, changes: dict[str, Any]) -> Campaign:
    """Returns the campaign with `changes` made.

    Keys: name, doc_number, title, theme, mailbox (text); start, end, issued (days);
    words, related, addressees, unit_types, unit_codes (lists); state; timezone (an IANA
    name such as Asia/Shanghai: the local days of receipt and of deadlines); dues
    {kind: day or rule}; labels {kind: label}; keywords {kind: [words]};
    required {kind: bool}; media {kind: [image|video]}; add_kinds {code: label};
    remove_kinds [codes].
    """
    fields: dict[str, Any] = {}
    for key in _TEXT:
        if key in changes:
            fields[key] = str(changes[key]).strip()
    if "name" in fields and not fields["name"]:
        raise CampaignEditError("name: a campaign needs a name (it is its folder)")
    for key in _LISTS:
        if key in changes:
            fields[key] = tuple(dict.fromkeys(w.strip() for w in changes[key] if w.strip()))
    bad = sorted(set(fields.get("unit_types", ())) - set(UNIT_TYPES))
    if bad:
        raise CampaignEditError(f"unit_types: {bad[0]!r} is not one of {', '.join(UNIT_TYPES)}")
    if "state" in changes:
        if changes["state"] not in STATES:
            raise CampaignEditError(f"state: must be one of {', '.join(STATES)}")
        fields["state"] = changes["state"]
    if "timezone" in changes:
        fields["timezone"] = _timezone(str(changes["timezone"]).strip())
    campaign = replace(campaign, **fields)
    campaign = _kinds(campaign, changes)
    start = changes.get("start", campaign.start)
    end = changes.get("end", campaign.end)
    if end < start:
        raise CampaignEditError(f"end: {end} is before start {start}")
    return campaign.with_dates(start, end, changes.get("issued", campaign.issued))


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CampaignEditError(
            f"timezone: {name!r} is not a time zone name (such as Asia/Shanghai)"
        ) from None
    return name


def _kinds(campaign: Campaign, changes: dict[str, Any]) -> Campaign:
    kinds = {k.code: k for k in campaign.kinds}
    for code in changes.get("remove_kinds", ()):
        if code not in kinds:
            raise CampaignEditError(f"remove_kinds: no kind {code!r}")
        if code == campaign.fallback_kind:
            raise CampaignEditError(f"remove_kinds: {code!r} is the kind for what fits no other")
        del kinds[code]
    for code, label in changes.get("add_kinds", {}).items():
        if not CODE.match(code) or code in kinds:
            raise CampaignEditError(f"add_kinds: {code!r} must be a new lower-case ASCII code")
        kinds[code] = Kind(code, label.strip() or code, keywords=(label.strip(),))
    for key, apply in (
        ("labels", _label),
        ("keywords", _keywords),
        ("dues", _due),
        ("required", lambda _c, kind, value: replace(kind, required=bool(value))),
        ("media", lambda _c, kind, value: replace(kind, media=tuple(value))),
    ):
        for code, value in changes.get(key, {}).items():
            if code not in kinds:
                raise CampaignEditError(f"{key}: no kind {code!r}; kinds are {', '.join(kinds)}")
            kinds[code] = apply(campaign, kinds[code], value)
    ordered = [*(k for k in (kinds.get(c.code) for c in campaign.kinds) if k)]
    ordered += [k for code, k in kinds.items() if code not in campaign.kind_codes()]
    fallback = [k for k in ordered if k.code == campaign.fallback_kind]
    return replace(campaign, kinds=(*[k for k in ordered if k not in fallback], *fallback))


def _label(_campaign: Campaign, kind: Kind, value: str) -> Kind:
    if not value.strip():
        raise CampaignEditError(f"labels: kind {kind.code} needs a label (it is its folder)")
    return replace(kind, label=value.strip())


def _keywords(_campaign: Campaign, kind: Kind, value) -> Kind:
    words = value.split(",") if isinstance(value, str) else value
    return replace(kind, keywords=tuple(w.strip() for w in words if w.strip()))


def _due(campaign: Campaign, kind: Kind, value: str) -> Kind:
    """A day (2023-05-08), a rule (end+7d) or "" for no deadline."""
    value = value.strip()
    if not value:
        return replace(kind, due=None, due_rule="", window="")
    if valid_rule(value):
        due = resolve(value, campaign.start, campaign.end, campaign.issued)
        return replace(kind, due=due, due_rule=value, window=_window(due, campaign))
    try:
        due = date.fromisoformat(value)
    except ValueError:
        raise CampaignEditError(
            f"dues: {kind.code}: {value!r} is neither a day (2023-05-08) nor a rule (end+7d)"
        ) from None
    return replace(kind, due=due, due_rule="", window=_window(due, campaign))


def _window(due: date | None, campaign: Campaign) -> str:
    if due is None:
        return ""
    if due < campaign.start:
        return "before"
    return "during" if due <= campaign.end else "after"
