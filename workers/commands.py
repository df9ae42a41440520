"""The commands of `mailroom` defined outside workers/cli.py, loaded when used.

Each entry is the command's name, where it lives ("module:attribute") and its
one-line summary: the first sentence of its docstring, which `mailroom --help`
shows without importing the module. tests/foundation/test_cli_startup.py checks
the table against the real commands, so the two cannot drift apart.
"""

from __future__ import annotations

COMMANDS: dict[str, tuple[str, str]] = {
    "archive": (
        "workers.scale_commands:archive_group",
        "The archive's files and its readable folder view.",
    ),
    "eval": (
        "workers.eval_commands:eval_",
        "Ingest labelled mail into a throwaway index and print the accuracy table.",
    ),
    "media": (
        "workers.media_commands:media",
        "Thumbnails, previews and web videos: the derivative job queue.",
    ),
    "poll": (
        "workers.imap_commands:poll",
        "Fetch new mail from the [[mailbox]] accounts in config and file it.",
    ),
    "queue": (
        "workers.scale_commands:queue_group",
        "The background job queue of a multi-machine set-up.",
    ),
    "report": (
        "workers.report_commands:report",
        "Daily reports, the submission tracker, receipts and reminders.",
    ),
    "scheduler": (
        "workers.scale_commands:scheduler",
        "Run the one scheduler of a multi-machine set-up: polls and reports, no web UI.",
    ),
    "search": ("workers.web_commands:search", "Maintain the search index."),
    "serve": (
        "workers.web_commands:serve",
        "Serve the web UI only (no polling or scheduled jobs; `mailroom run` does those).",
    ),
    "triage": (
        "workers.triage_commands:triage",
        "Messages whose unit is unclear: list them, assign a unit, undo an assignment.",
    ),
    "user": ("workers.web_commands:user", "Manage who may sign in to the web UI."),
    "worker": (
        "workers.scale_commands:worker",
        "Run background jobs from the broker ([queue] broker_url) until stopped.",
    ),
}
