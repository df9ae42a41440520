"""Imports the modules that add commands to `mailroom` (one line per module)."""

from workers import (  # noqa: F401
    eval_commands,  # mailroom eval LABELS.json PATH
    imap_commands,  # mailroom poll; IMAP jobs for mailroom run
    media_commands,  # mailroom media; the media pool of mailroom run
    report_commands,  # mailroom report ...; report jobs for mailroom run
    scale_commands,  # mailroom worker, scheduler, queue, archive rebuild-view
    triage_commands,  # mailroom triage list/assign/kind/undo
    web_commands,  # mailroom user, serve, search; the UI in mailroom run
)
