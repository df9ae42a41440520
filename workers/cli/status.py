"""`mailroom status`: one screen of health for the administrator.

The last poll of each mail source, the mail not filed yet (waiting, retrying,
queued) or given up (quarantined) with the reason, the oldest one waiting, the
jobs after filing, and the free space of the archive's and the index's disks.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from workers.cli.state import State

REASONS = {
    "archive": "the archive's disk is full or cannot be written",
    "index": "the index is locked or cannot be reached",
    "message": "the message itself fails",
    "worker": "its ingest job never finished",
    "low_disk": "a disk is below [limits] min_free_bytes",
    "mailbox": "the mail server refused or could not be reached",
    None: "waiting for an ingest worker",
}


@click.command()
@click.pass_obj
def status(state: State) -> None:
    """One screen of health: polls, mail waiting and why, media jobs, free disk.

    Example: mailroom status
    """
    from storage import health
    from workers.sources.space import disks, human_size

    ctx = state.app()
    now = datetime.now(UTC)
    with ctx.db.session() as session:
        sources = health.sources(session)
        backlog = health.mail_backlog(session)
        oldest = health.oldest_pending(session)
        media = health.media_backlog(session)
    click.echo("mail sources:")
    for row in sources:
        ok = f"last success {_ago(row.last_ok_at, now)}" if row.last_ok_at else "never succeeded"
        line = f"ok, {row.fetched} taken" if row.problem is None else f"NOT OK: {row.problem}"
        click.echo(f"  {row.source}: polled {_ago(row.last_poll_at, now)}: {line} ({ok})")
    if not sources:
        click.echo("  (not polled yet)")
    click.echo("mail not filed yet:")
    for item in backlog:
        why = REASONS.get(item.reason, item.reason)
        click.echo(f"  {item.status} {item.count}: {why}; e.g. {(item.example or '-')[:150]}")
    if not backlog:
        click.echo("  none")
    if oldest is not None:
        click.echo(f"  oldest waiting since {_ago(oldest, now)}")
    click.echo(
        f"jobs after filing: {media.get('pending', 0)} pending ({media.get('waiting', 0)} waiting "
        f"for the machine, {media.get('expand', 0)} archives to open), "
        f"{media.get('running', 0)} running, {media.get('done', 0)} done, "
        f"{media.get('failed', 0)} failed"
    )
    floor = ctx.config.limits.min_free_bytes
    for disk in disks(ctx):
        free = "unknown" if disk.free is None else human_size(disk.free)
        low = " — LOW: not fetching" if disk.free is not None and disk.free < floor else ""
        click.echo(
            f"{disk.what} disk {disk.path}: {free} free (min_free_bytes {human_size(floor)}){low}"
        )


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{moment:%Y-%m-%d %H:%M} UTC ({seconds // size} {unit} ago)"
    return f"{moment:%Y-%m-%d %H:%M} UTC ({seconds} s ago)"
