"""Imports every module that defines tables, so Base.metadata knows them all.

Add a line here when a new module defines models (migrations read this).
"""

from storage import (  # noqa: F401
    archive_passwords,  # archives: passwords staff give
    health,  # the last poll of each mail source
    leases,  # who polls an account, who is the scheduler
    mailbox_state,  # IMAP: records per (account, folder, UIDVALIDITY, UID)
    media_models,  # media: derivative job queue
    models,  # messages, items, units, decisions, runs, errors, audit log
    report_models,  # reports: outbox, receipts, reminders
    search,  # web UI: search index
    web_models,  # web UI: users, sessions, sign-in attempts
)
