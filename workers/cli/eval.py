"""`mailroom eval LABELS.json PATH`: the accuracy of identification and kinds on labelled mail."""

from __future__ import annotations

from pathlib import Path

import click

from workers.cli.state import State


@click.command("eval")
@click.argument("labels", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--units",
    "units_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Unit registry to use instead of the config's (a units_file).",
)
@click.option(
    "--notice",
    "notices",
    multiple=True,
    metavar="FILE[=CODE]",
    help="Also open the campaign this notice proposes (code CODE); repeatable.",
)
@click.pass_obj
def eval_(
    state: State, labels: Path, path: Path, units_file: Path | None, notices: tuple[str, ...]
) -> None:
    """Ingest labelled mail into a throwaway index and print the accuracy table.

    PATH is a folder of .eml files or a Maildir; LABELS is a labels.json (see
    README). Your index and archive are not touched. Exits 1 when any unit is
    confidently wrong, or any message is counted for a campaign it does not belong to.

    Example: mailroom eval tests/data/mixed/labels.json tests/data/mixed --notice
    tests/data/notices/notice-2023-skills-month.md=2023-skills-month
    """
    from workers.app import setup_logging
    from workers.evaluate import evaluate, load_labels, open_notices, throwaway_context

    config = state.config()
    setup_logging("DEBUG" if state.debug else "ERROR")
    expected = load_labels(labels)
    with throwaway_context(config, units_file) as ctx:
        open_notices(ctx, notices)
        report = evaluate(ctx, expected, path)
    click.echo(report.table())
    if report.confident_wrong or report.campaign_wrong:
        raise SystemExit(1)
