"""`mailroom media status|retry|run`: the derivative job queue."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click
from sqlalchemy import select

from storage.media_models import JOB_KINDS, JOB_STATES, MediaJob
from storage.models import Item
from workers.cli.state import State
from workers.media import jobs as media_jobs
from workers.media.pool import serve_media

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)


@click.group()
def media() -> None:
    """Thumbnails, previews and web videos: the derivative job queue.

    Example: mailroom media status
    """


@media.command()
@click.option(
    "--failed",
    "show_failed",
    type=int,
    default=20,
    show_default=True,
    metavar="N",
    help="List at most N failed jobs with their errors.",
)
@click.pass_obj
def status(state: State, show_failed: int) -> None:
    """Show the derivative job queue: jobs by kind and state, and the failed ones.

    Example: mailroom media status --failed 50
    """
    ctx = state.app()
    with ctx.db.session() as session:
        counts = media_jobs.queue_counts(session)
        failed = session.execute(
            select(MediaJob.id, MediaJob.kind, Item.name, MediaJob.error)
            .join(Item, Item.id == MediaJob.item_id)
            .where(MediaJob.state == "failed")
            .order_by(MediaJob.id)
            .limit(show_failed)
        ).all()
    click.echo(f"{'kind':10}" + "".join(f"{s:>9}" for s in JOB_STATES))
    for kind in JOB_KINDS:
        click.echo(f"{kind:10}" + "".join(f"{counts.get((kind, s), 0):>9}" for s in JOB_STATES))
    for job_id, kind, name, error in failed:
        first = (error or "").strip().splitlines()[0:1]
        click.echo(f"failed job {job_id} ({kind} of {name}): {first[0] if first else '?'}")
    if failed:
        click.echo("retry them with: mailroom media retry")


@media.command()
@click.argument("job_ids", nargs=-1, type=int)
@click.option("--no-wait", is_flag=True, help="Only mark them pending; `mailroom run` does them.")
@click.pass_obj
def retry(state: State, job_ids: tuple[int, ...], no_wait: bool) -> None:
    """Run failed derivative jobs again (all of them, or the JOB_IDS given).

    Example: mailroom media retry 12 13
    """
    ctx = state.app()
    with ctx.db.session() as session:
        jobs = media_jobs.retry_failed(session, list(job_ids))
    click.echo(f"{len(jobs)} failed jobs queued again")
    if jobs and not no_wait:
        _run_and_report(ctx)


@media.command(name="run")
@click.pass_obj
def run_now(state: State) -> None:
    """Run every pending derivative job now (also queues items that have none) and wait.

    Example: mailroom ingest --no-wait ./inbox && mailroom media run
    """
    ctx = state.app()
    with ctx.db.session() as session:
        added = media_jobs.backfill(session)
    if added:
        click.echo(f"{len(added)} jobs queued for items that had none")
    _run_and_report(ctx)


def _run_and_report(ctx: AppContext) -> None:
    with serve_media(ctx, finish=True):
        pass
    click.echo(media_summary(ctx))


def media_summary(ctx: AppContext) -> str:
    """Returns one line on the queue, e.g. `media: 12 done, 1 failed, 0 pending`."""
    with ctx.db.session() as session:
        counts = media_jobs.queue_counts(session)
    total = {s: sum(n for (_, state), n in counts.items() if state == s) for s in JOB_STATES}
    line = f"media: {total['done']} done, {total['failed']} failed, {total['pending']} pending"
    return line + (" (see: mailroom media status)" if total["failed"] else "")
