"""`mailroom campaign add | list | show | edit | open | close`: campaigns as data.

A notice becomes a campaign in two steps: `add --from-notice` reads it and saves the
proposal as a draft, showing the sentence each value came from; a person checks it,
corrects what is wrong with `edit` and opens it (`open`, or `add … --open` after a
`--dry-run`). Only open campaigns take mail; closing one keeps its mail and tracker.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from pipeline.errors import MailroomError
from workers.cli.state import State, by_option

DAY = click.DateTime(["%Y-%m-%d"])
STATE_LABELS = {"draft": "草稿", "open": "进行中", "closed": "已结束"}


_by = by_option("Who makes the change (kept in the index).")


@click.group()
def campaign() -> None:
    """Campaigns: add one from a notice, list, show, edit, open and close them.

    Example: mailroom campaign add --from-notice 通知.docx --dry-run
    """


@campaign.command()
@click.option(
    "--from-notice",
    "notice",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The notice: .txt, .md, .docx or .pdf.",
)
@click.option("--code", help="The campaign's code (default: from the document number).")
@click.option("--dry-run", is_flag=True, help="Only print the proposal; save nothing.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--open", "open_now", is_flag=True, help="Open it at once (you checked it).")
@_by
@click.pass_obj
def add(
    state: State,
    notice: Path,
    code: str | None,
    dry_run: bool,
    fmt: str,
    open_now: bool,
    actor: str,
) -> None:
    """Propose a campaign from a notice and save it as a draft (or open it).

    Every value is shown with the sentence of the notice it came from; check them,
    correct with `mailroom campaign edit`, then `mailroom campaign open CODE`.

    Example: mailroom campaign add --from-notice 辽教通〔2024〕41号.pdf --code 2024-week
    """
    from pipeline.campaign_edit import CODE
    from pipeline.notice import propose, read_notice

    if code is not None and not CODE.match(code):
        raise click.BadParameter("use lower-case letters, digits, - and _", param_hint="--code")
    proposal = propose(read_notice(notice), code)
    if dry_run:
        _print_proposal(proposal, fmt)
        return
    from storage import campaigns as store

    ctx = state.app()
    found = replace(proposal.campaign, state="open" if open_now else "draft")
    with ctx.db.session() as session:
        if session.get(store.CampaignRecord, found.code) is not None:
            raise MailroomError(f"campaign {found.code} exists; choose another --code")
        store.save_campaign(
            session,
            found,
            actor=actor,
            notice={
                "file": notice.name,
                "sources": proposal.sources,
                "problems": proposal.problems,
            },
        )
    _print_proposal(proposal, fmt)
    if fmt == "text":
        if open_now:
            click.echo(f"campaign {found.code} is open")
        else:
            click.echo(f"saved as a draft: check it, then: mailroom campaign open {found.code}")


def _print_proposal(proposal, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(proposal.to_json(), ensure_ascii=False, indent=2))
        return
    c, src = proposal.campaign, proposal.sources
    rows = [
        ("code", c.code, ""),
        ("name", c.name, src.get("name", "")),
        ("doc_number", c.doc_number, src.get("doc_number", "")),
        ("title", c.title, src.get("title", "")),
        ("dates", f"{c.start} – {c.end}", src.get("dates", "")),
        ("issued", c.issued or "", src.get("issued", "")),
        ("theme", c.theme, src.get("theme", "")),
        ("addressees", "、".join(c.addressees), src.get("addressees", "")),
        ("unit_types", ", ".join(c.unit_types), ""),
        ("mailbox", c.mailbox, src.get("mailbox", "")),
        ("words", "、".join(c.words), ""),
        ("related", "、".join(c.related), ""),
    ]
    for name, value, sentence in rows:
        click.echo(f"{name:<11} {value}")
        if sentence:
            click.echo(f"{'':<11} 「{sentence[:120]}」")
    for kind in c.kinds:
        due = f"{kind.due}" + (f" ({kind.due_rule})" if kind.due_rule else "") if kind.due else "-"
        flag = "" if kind.required else " (not tracked)"
        click.echo(f"kind {kind.code:<10} {kind.label}  due {due}{flag}")
        if src.get(f"kinds.{kind.code}"):
            click.echo(f"{'':<16} 「{src[f'kinds.{kind.code}'][:120]}」")
    for problem in proposal.problems:
        click.echo(f"not found: {problem} (give it with `mailroom campaign edit`)")


@campaign.command("list")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_obj
def list_(state: State, fmt: str) -> None:
    """List the campaigns: code, state, dates, name and the messages filed under each.

    Example: mailroom campaign list --format json
    """
    from sqlalchemy import func, select

    from storage.models import Message

    ctx = state.app()
    with ctx.db.session() as session:
        counts = dict(
            session.execute(
                select(Message.campaign_code, func.count())
                .where(Message.campaign_status == "assigned")
                .group_by(Message.campaign_code)
            ).all()
        )
    rows = ctx.campaigns()
    if fmt == "json":
        out = [{**c.to_dict(), "messages": counts.get(c.code, 0)} for c in rows]
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    for c in rows:
        click.echo(
            f"{c.code:<24} {c.state:<7} {c.start} – {c.end}  {c.name}  "
            f"({counts.get(c.code, 0)} messages)"
        )
    if not rows:
        click.echo("no campaigns: add one with mailroom campaign add --from-notice FILE")


@campaign.command()
@click.argument("code")
@click.pass_obj
def show(state: State, code: str) -> None:
    """Show a campaign with the sentences of its notice each value came from.

    Example: mailroom campaign show 2023-vocational-week
    """
    from pipeline.notice import Proposal
    from storage import campaigns as store

    ctx = state.app()
    with ctx.db.session() as session:
        row = store.record(session, code)
        found, notice = row.campaign(), dict(row.notice or {})
    click.echo(f"state       {found.state} ({STATE_LABELS.get(found.state, '')})")
    _print_proposal(Proposal(found, notice.get("sources", {}), []), "text")


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not KIND=VALUE", param_hint=option)
        out[key.strip()] = rest
    return out


def _words(value: str | None) -> list[str] | None:
    return None if value is None else [w for w in value.replace("，", ",").split(",")]


@campaign.command()
@click.argument("code")
@click.option("--name", help="The campaign's name (its folder in the archive).")
@click.option("--start", type=DAY, help="First day of the activity.")
@click.option("--end", type=DAY, help="Last day of the activity.")
@click.option("--issued", type=DAY, help="The day the notice was issued.")
@click.option("--timezone", help="Its time zone (Asia/Shanghai): local days of mail and deadlines.")
@click.option("--doc-number", help="The notice's document number.")
@click.option("--title", help="The notice's title (replies quote it).")
@click.option("--theme", help="The activity's theme.")
@click.option("--mailbox", help="Where the notice asks for the material.")
@click.option("--words", help="Words that name it, comma-separated (replaces them).")
@click.option("--related", help="Its events, comma-separated (replaces them).")
@click.option("--unit-types", help="Unit types addressed: city, zone, college, other.")
@click.option("--units", "unit_codes", help="Or the units addressed, by code.")
@click.option("--due", multiple=True, metavar="KIND=DAY|RULE", help="2023-05-08 or end+7d.")
@click.option("--label", multiple=True, metavar="KIND=LABEL", help="A kind's Chinese label.")
@click.option("--keywords", multiple=True, metavar="KIND=A,B", help="A kind's keywords.")
@click.option("--add-kind", multiple=True, metavar="CODE=LABEL", help="Add a kind.")
@click.option("--remove-kind", multiple=True, metavar="CODE", help="Remove a kind.")
@_by
@click.pass_obj
def edit(state: State, code: str, actor: str, **options) -> None:
    """Correct a campaign; files already filed under it move if its folders change.

    Example: mailroom campaign edit 2024-41 --end 2024-05-19 --due summary=end+10wd
    """
    changes = _changes(options)
    _apply_edit(state, code, changes, actor)


def _changes(options: dict) -> dict:
    changes: dict = {}
    for key in ("name", "doc_number", "title", "theme", "mailbox", "timezone"):
        if options.get(key) is not None:
            changes[key] = options[key]
    for key in ("start", "end", "issued"):
        if options.get(key) is not None:
            changes[key] = options[key].date()
    for key in ("words", "related", "unit_types", "unit_codes"):
        if options.get(key) is not None:
            changes[key] = _words(options[key])
    changes["dues"] = _pairs(options["due"], "--due")
    changes["labels"] = _pairs(options["label"], "--label")
    changes["keywords"] = _pairs(options["keywords"], "--keywords")
    changes["add_kinds"] = _pairs(options["add_kind"], "--add-kind")
    changes["remove_kinds"] = list(options["remove_kind"])
    return changes


def _apply_edit(state: State, code: str, changes: dict, actor: str) -> None:
    from pipeline.campaign_edit import edit as edit_campaign
    from storage import campaigns as store
    from storage.campaign_triage import refile_campaign

    ctx = state.app()
    with ctx.db.session() as session:
        row = store.record(session, code)
        if row.source == store.CONFIG and set(changes) - {"state"}:
            raise MailroomError(
                f"campaign {code} comes from config.toml ([campaign] and [[kinds]]): "
                "edit it there (only open and close work here)"
            )
        before = row.campaign()
        after = edit_campaign(before, {k: v for k, v in changes.items() if v not in ({}, [])})
        store.save_campaign(session, after, actor=actor)
    moved = refile_campaign(ctx, code) if _folders_changed(before, after) else 0
    click.echo(f"campaign {code} saved ({after.state}); {moved} file(s) moved")


def _folders_changed(before, after) -> bool:
    labels = lambda c: {k.code: k.label for k in c.kinds}  # noqa: E731
    return (
        before.name != after.name
        or labels(before) != labels(after)
        or before.timezone != after.timezone  # the day folders are local days
    )


@campaign.command("open")
@click.argument("code")
@_by
@click.pass_obj
def open_(state: State, code: str, actor: str) -> None:
    """Open a checked campaign: from now on mail is decided for it too.

    Example: mailroom campaign open 2024-41
    """
    _apply_edit(state, code, {"state": "open"}, actor)


@campaign.command()
@click.argument("code")
@_by
@click.pass_obj
def close(state: State, code: str, actor: str) -> None:
    """Close a campaign: new mail is no longer decided for it; its mail and tracker stay.

    Example: mailroom campaign close 2023-vocational-week
    """
    _apply_edit(state, code, {"state": "closed"}, actor)
