"""`mailroom triage list | assign | kind | undo`: staff decide what the machine could not."""

from __future__ import annotations

import json

import click

from pipeline.errors import MailroomError
from pipeline.reasons import DISMISS_REASONS
from workers.cli.state import State, by_option


@click.group()
def triage() -> None:
    """Messages whose unit is unclear: list, assign a unit, dismiss, undo.

    Example: mailroom triage list && mailroom triage assign 12 shenyang --by 韩健
    """


@triage.command("list")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one object per line (id, message_id, date, from, subject, candidates, ...).",
)
@click.pass_obj
def list_(state: State, fmt: str) -> None:
    """Show the triage queue: message, received, from, subject, candidates, top clues.

    Example: mailroom triage list --format json
    """
    from storage.triage_queue import triage_queue

    ctx = state.app()
    rows = triage_queue(ctx)
    tz = ctx.campaign.tz
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(row.to_json(tz), ensure_ascii=False))
        return
    if not rows:
        click.echo("triage is empty")
        return
    for row in rows:
        received = row.received_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        sender = f"{row.from_name} <{row.from_addr}>" if row.from_name else row.from_addr
        click.echo(f"{row.message_pk:>5}  {received}  {sender}  {row.subject}")
        candidates = ", ".join(f"{code} {score:.2f}" for code, score in row.candidates.items())
        if row.unit:
            click.echo(f"       unit: {row.unit} (decided)")
        else:
            click.echo(f"       candidates: {candidates or '-'}   ({row.reason})")
        if row.campaign_status == "triage":
            found = ", ".join(f"{c} {s:.2f}" for c, s in row.campaign_candidates.items())
            click.echo(f"       campaign undecided: {found or '-'}   ({row.campaign_reason})")
        for clue in row.clues[:3]:
            click.echo(
                f"       clue: {clue['source']} {clue['value']!r} -> {clue['target']} "
                f"{clue['weight']:.2f}"
            )
        for item_id, name, kind in row.items:
            click.echo(f"       item {item_id}: {name} [{kind}]")
    click.echo(
        f"{len(rows)} message(s) in triage; assign with: mailroom triage assign MESSAGE UNIT"
    )


def _parse_kinds(values: tuple[str, ...]) -> dict[str, str]:
    kinds = {}
    for value in values:
        item, sep, kind = value.partition("=")
        if not sep or not item or not kind:
            raise click.BadParameter(
                f"{value!r} is not ITEM=KIND (e.g. 31=plan)", param_hint="--kind"
            )
        kinds[item.strip()] = kind.strip()
    return kinds


def _item_ids(ctx, message_pk: int, kinds: dict[str, str]) -> dict[int, str]:
    """Returns kinds keyed by item id; ITEM may be an item id or the item's file name."""
    from storage.models import Message

    with ctx.db.session() as session:
        message = session.get(Message, message_pk)
        if message is None:
            raise MailroomError(f"no message {message_pk}: see `mailroom triage list`")
        by_name = {item.name: item.id for item in message.items}
    resolved = {}
    for key, kind in kinds.items():
        if key.isdigit():
            resolved[int(key)] = kind
        elif key in by_name:
            resolved[by_name[key]] = kind
        else:
            raise MailroomError(f"message {message_pk} has no item {key!r}")
    return resolved


@triage.command()
@click.argument("message", type=int)
@click.argument("unit")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    metavar="ITEM=KIND",
    help="Also set an item's kind (ITEM is its id or file name); repeatable.",
)
@click.option(
    "--campaign",
    metavar="CODE",
    help="Its campaign, or _other for 其他来件 (default: the campaign it shows).",
)
@by_option("Who decides (kept in the index and the audit log).")
@click.pass_obj
def assign(
    state: State,
    message: int,
    unit: str,
    kinds: tuple[str, ...],
    campaign: str | None,
    actor: str,
) -> None:
    """Assign MESSAGE to UNIT: re-file it, learn the sender, re-file its other mail.

    The message's campaign is confirmed as shown (its likeliest one, when that was left
    to a person) unless --campaign names another or _other (其他来件).

    Example: mailroom triage assign 12 shenyang --kind 31=plan --by 韩健
    """
    from storage.triage import CANDIDATE, assign_unit

    ctx = state.app()
    by_id = _item_ids(ctx, message, _parse_kinds(kinds))
    result = assign_unit(
        ctx, message, unit, actor, kinds=by_id or None, campaign=campaign or CANDIDATE
    )
    click.echo(f"message {result.message_pk} -> {unit}; {len(result.moved)} file(s) moved")
    for old, new in result.moved:
        click.echo(f"  {old or '-'} -> {new}")
    if result.learned_address:
        click.echo(f"learned {result.learned_address} as {unit}")
    if result.refiled:
        click.echo("also filed from the same sender: " + ", ".join(map(str, result.refiled)))
    if result.still_triage:
        click.echo("same sender, still unclear: " + ", ".join(map(str, result.still_triage)))
    click.echo(f"undo with: mailroom triage undo {result.audit_id}")


@triage.command("campaign")
@click.argument("message", type=int)
@click.argument("code")
@by_option("Who decides (kept in the index and the audit log).")
@click.pass_obj
def campaign_cmd(state: State, message: int, code: str, actor: str) -> None:
    """Put MESSAGE in campaign CODE, or in 其他来件 with _other: its kinds and files follow.

    Example: mailroom triage campaign 44 2023-skills-month --by 韩健
    """
    from storage.campaign_triage import assign_campaign

    result = assign_campaign(state.app(), message, code, actor)
    click.echo(
        f"message {message} -> {result.campaign or '其他来件'}; "
        f"{len(result.moved)} file(s) moved, {len(result.kinds)} kind(s) changed"
    )
    click.echo(f"undo with: mailroom triage undo {result.audit_id}")


@triage.command()
@click.argument("item", type=int)
@click.argument("kind")
@by_option("Who decides (kept in the index and the audit log).")
@click.pass_obj
def kind(state: State, item: int, kind: str, actor: str) -> None:
    """Set ITEM's kind and move its file to that kind's folder.

    Example: mailroom triage kind 31 summary --by 韩健
    """
    from storage.triage import set_item_kind

    audit_id = set_item_kind(state.app(), item, kind, actor)
    click.echo(f"item {item} -> {kind}; undo with: mailroom triage undo {audit_id}")


@triage.command()
@click.argument("message", type=int)
@by_option("Who decides (kept in the index and the audit log).")
@click.pass_obj
def material(state: State, message: int, actor: str) -> None:
    """Say MESSAGE is material after all (it was spam, an auto-reply...): it is filed when
    its unit is clear, else it waits in triage.

    Example: mailroom triage material 57 --by 韩健
    """
    from storage.material import mark_material

    result = mark_material(state.app(), message, actor)
    where = f"filed under {result.unit_code}" if result.unit_code else "in triage"
    click.echo(f"message {message} is material, {where}; undo with: mailroom triage undo "
               f"{result.audit_id}")  # fmt: skip


@triage.command()
@click.argument("audit_id", type=int)
@by_option("Who undoes it (kept in the audit log).")
@click.pass_obj
def undo(state: State, audit_id: int, actor: str) -> None:
    """Undo a triage action by its audit id: files move back, a learned address is forgotten.

    Example: mailroom triage undo 7
    """
    from storage.triage import undo as undo_action

    undone = undo_action(state.app(), audit_id, actor)
    click.echo("undone: " + ", ".join(f"audit {n}" for n in undone))


@triage.command()
@click.argument("messages", type=int, nargs=-1, required=True)
@click.option(
    "--reason",
    required=True,
    type=click.Choice(DISMISS_REASONS),
    help="Why it is not material.",
)
@by_option("Who decides (kept in the audit log).")
@click.pass_obj
def dismiss(state: State, messages: tuple[int, ...], reason: str, actor: str) -> None:
    """Mark MESSAGES not material (it leaves triage, stays in the index and search).

    Example: mailroom triage dismiss 12 13 --reason spam --by 韩健
    """
    from storage.dismiss import dismiss as dismiss_one
    from storage.dismiss import dismiss_many

    ctx = state.app()
    if len(messages) == 1:
        audit_id = dismiss_one(ctx, messages[0], reason, actor)
        click.echo(f"message {messages[0]} is not material ({reason})")
    else:
        result = dismiss_many(ctx, list(messages), reason, actor)
        for pk, why in result.refused.items():
            click.echo(f"message {pk} skipped: {why}", err=True)
        if result.audit_id is None:
            raise MailroomError("no message was dismissed")
        click.echo(f"{len(result.done)} message(s) are not material ({reason})")
        audit_id = result.audit_id
    click.echo(f"undo with: mailroom triage undo {audit_id}")


@triage.command()
@click.argument("message", type=int)
@click.pass_obj
def history(state: State, message: int) -> None:
    """List the changes made to MESSAGE and its files, with the audit ids undo takes.

    Example: mailroom triage history 12
    """
    from sqlalchemy import select

    from storage.models import AuditEntry, Message

    ctx = state.app()
    with ctx.db.session() as session:
        row = session.get(Message, message)
        if row is None:
            raise MailroomError(f"no message {message}: see `mailroom triage list`")
        targets = [f"message:{message}", *(f"item:{i.id}" for i in row.items)]
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.target.in_(targets)).order_by(AuditEntry.id)
        ).all()
        tz = ctx.campaign.tz
        for entry in entries:
            when = entry.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
            state_ = "undone" if entry.undone else "undo: mailroom triage undo " + str(entry.id)
            click.echo(
                f"{entry.id:>6}  {when}  {entry.actor}  {entry.action} {entry.target}  ({state_})"
            )
    if not entries:
        click.echo(f"message {message} has no changes")
