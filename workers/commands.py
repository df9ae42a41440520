"""Imports the modules that add commands to `mailroom` (one line per module)."""
from workers import imap_commands  # noqa: F401  (mailroom poll; IMAP jobs for mailroom run)
from workers import media_commands  # noqa: F401  (mailroom media; the media pool of mailroom run)
from workers import web_commands  # noqa: F401  (mailroom user, serve, search; the UI in mailroom run)
from workers import triage_commands  # noqa: F401  (mailroom triage list/assign/kind/undo)
from workers import eval_commands  # noqa: F401  (mailroom eval LABELS.json PATH)
from workers import report_commands  # noqa: F401  (mailroom report ...; report jobs for mailroom run)
from workers import scale_commands  # noqa: F401  (mailroom worker, scheduler, queue, archive rebuild-view)
