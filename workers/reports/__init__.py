"""Daily reports, the submission tracker, receipts and reminders (issue 6).

tracker.py is pure; daily.py gathers from the index; render.py and xlsx.py
turn data into files; mailer.py sends through an outbox that retries;
receipts.py and reminders.py decide who is written to; jobs.py holds the
tiny scheduled jobs.
"""
