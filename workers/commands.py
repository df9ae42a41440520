"""Imports the modules that add commands to `mailroom` (one line per module)."""
from workers import imap_commands  # noqa: F401  (mailroom poll; IMAP jobs for mailroom run)
