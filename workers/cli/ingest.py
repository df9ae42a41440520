"""`mailroom ingest` (local mail files, once) and `mailroom export` (JSON Lines)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline.errors import MailroomError
from workers.cli.state import State

if TYPE_CHECKING:
    from workers.app import AppContext


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--no-wait",
    is_flag=True,
    help="Exit without making thumbnails and web videos; `mailroom run` makes them.",
)
@click.pass_obj
def ingest(state: State, paths: tuple[Path, ...], no_wait: bool) -> None:
    """Ingest .eml files, folders of them, Maildir folders and mbox files, once.

    Thumbnails, previews and web videos are made before it exits (unless --no-wait).

    Example: mailroom ingest ~/Downloads/mails/ archive.mbox
    """
    from contextlib import nullcontext

    from workers.cli.media import media_summary
    from workers.media.pool import serve_media
    from workers.sources.inbox import ingest_paths
    from workers.upkeep.sweep import swept_run

    ctx = state.app()
    with swept_run(ctx), nullcontext() if no_wait else serve_media(ctx, finish=True):
        run = ingest_paths(ctx, list(paths), label="cli:" + " ".join(map(str, paths)))
    click.echo(summary_text(run.outcomes, ctx))
    click.echo(media_summary(ctx))
    if not run.outcomes:
        raise MailroomError("no mail found in " + ", ".join(map(str, paths)))


def summary_text(outcomes, ctx: AppContext) -> str:
    """Returns the human summary of an ingestion: messages, items by kind, problems."""
    statuses = Counter(o.status for o in outcomes)
    kinds: Counter[str] = Counter()
    for outcome in outcomes:
        kinds.update(outcome.kinds)
    lines = [
        f"messages: {len(outcomes)} read, {statuses['filed']} filed, "
        f"{statuses['triage']} to triage, {statuses['not_material']} not material, "
        f"{statuses['duplicate']} already ingested, {statuses['error']} failed"
    ]
    if kinds:
        labels = {k.code: k.label for c in reversed(ctx.campaigns()) for k in c.kinds}
        labels[""] = "其他来件"  # no campaign, no kind
        parts = [f"{labels.get(k, k)}({k or '-'}) {n}" for k, n in sorted(kinds.items())]
        lines.append(f"items: {sum(kinds.values())} — " + ", ".join(parts))
    for outcome in outcomes:
        if outcome.status == "error":
            lines.append(f"problem: {outcome.error}")
    return "\n".join(lines)


@click.command()
@click.argument("what", type=click.Choice(["messages", "items"]))
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First day (local), inclusive.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day (local), inclusive.")
@click.option("--unit", help="Only this unit code.")
@click.option(
    "--campaign",
    metavar="CODE",
    help="Only mail filed under this campaign ('_other': mail of no campaign, 其他来件).",
)
@click.pass_obj
def export(state: State, what: str, since, until, unit: str | None, campaign: str | None) -> None:
    """Print messages or items as JSON Lines (one object per line; see README).

    Example: mailroom export items --since 2023-05-14 --unit dalian
    """
    from workers.export import export_items, export_messages

    ctx = state.app()
    rows = (export_messages if what == "messages" else export_items)(
        ctx, _day(since), _day(until), unit, campaign
    )
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False))


def _day(value) -> date | None:
    return value.date() if value else None
