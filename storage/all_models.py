"""Imports every module that defines tables, so Base.metadata knows them all.

Add a line here when a new module defines models (migrations read this).
"""

from storage import mailbox_state, models  # noqa: F401
from storage import media_models  # noqa: F401,E402  (media: derivative job queue)
from storage import search, web_models  # noqa: F401  (web UI: users, sessions, search index)
from storage import report_models  # noqa: F401,E402  (reports: outbox, receipts, reminders)
