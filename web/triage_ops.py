"""Changes staff make from the UI: assign a unit and kinds to a triaged message.

The rules (record who decided, move the files out of 待分拣, learn the sender
address, log it reversibly) live in `workers.triage`, shared with the
`mailroom triage` commands; the UI only calls them.
"""

from __future__ import annotations

from workers import triage


def assign(
    ctx, message_pk: int, unit_code: str, actor: str, kinds: dict[int, str] | None = None
) -> None:
    """Assigns a message to a unit (and items to kinds) as `actor`; re-files its files."""
    triage.assign_unit(ctx, message_pk, unit_code, actor, kinds=kinds)


def set_item_kind(ctx, item_id: int, kind: str, actor: str) -> None:
    """Sets one item's kind as `actor` and moves its file to that kind's folder."""
    triage.set_item_kind(ctx, item_id, kind, actor)
