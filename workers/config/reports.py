"""The [report], [smtp], [receipts] and [reminders] sections.

Every key has a default, so a config file without these sections works (nothing
is sent, reports are saved).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

from workers.config.reader import Reader, is_loopback

SECURITY = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""  # empty: nothing is sent, files are still saved
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none (none only on loopback)
    username: str = ""
    password_env: str = "MAILROOM_SMTP_PASSWORD"
    password_file: Path | None = None
    from_addr: str = ""  # default: the department's first address
    from_name: str = ""
    timeout_seconds: int = 30
    retry_minutes: int = 5  # first wait after a failure; doubles each time
    retry_max_minutes: int = 240
    max_attempts: int = 12

    @property
    def configured(self) -> bool:
        return bool(self.host)

    def password(self) -> str | None:
        """Returns the SMTP password from the environment or the file, or None."""
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        return os.environ.get(self.password_env) or None


@dataclass(frozen=True)
class ReportSettings:
    enabled: bool = True  # the scheduled daily report
    time: time = time(8, 0)  # local time (campaign time zone)
    recipients: tuple[str, ...] = ()
    send: bool = True  # send when recipients and [smtp] host are set


@dataclass(frozen=True)
class ReceiptSettings:
    enabled: bool = False
    interval_minutes: int = 60  # at most one receipt per sender per interval
    max_age_hours: int = 72  # older messages are never acknowledged
    dry_run_dir: Path | None = None  # write .eml files here instead of sending
    template: Path | None = None  # staff-editable Jinja2 text template


@dataclass(frozen=True)
class ReminderSettings:
    enabled: bool = False
    days_before: tuple[int, ...] = (3, 1)
    send: bool = False  # false: drafts only, for staff to review
    drafts_dir: Path = Path("reminders")
    template: Path | None = None


@dataclass(frozen=True)
class ReportConfig:
    """Everything the reports package needs from config, validated."""

    report: ReportSettings = field(default_factory=ReportSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    receipts: ReceiptSettings = field(default_factory=ReceiptSettings)
    reminders: ReminderSettings = field(default_factory=ReminderSettings)
    own_addresses: tuple[str, ...] = ()  # never send a receipt to these


_KEYS = {
    "report": {"enabled", "time", "recipients", "send"},
    "smtp": {
        "host", "port", "security", "username", "password_env", "password_file", "from",
        "from_name", "timeout_seconds", "retry_minutes", "retry_max_minutes", "max_attempts",
    },
    "receipts": {"enabled", "interval_minutes", "max_age_hours", "dry_run_dir", "template"},
    "reminders": {"enabled", "days_before", "send", "drafts_dir", "template"},
}  # fmt: skip


def parse_reports(
    r: Reader, department_name: str, department_addresses: tuple[str, ...]
) -> ReportConfig:
    """Returns the validated report settings; raises ConfigError naming the key."""
    for name, keys in _KEYS.items():
        r.table(name).only(keys)
    smtp = _smtp(r, department_name, department_addresses)
    report = ReportSettings(
        enabled=r.boolean("report.enabled", True),
        time=r.clock("report.time", "08:00"),
        recipients=r.addresses("report.recipients"),
        send=r.boolean("report.send", True),
    )
    receipts = ReceiptSettings(
        enabled=r.boolean("receipts.enabled", False),
        interval_minutes=r.integer("receipts.interval_minutes", 60, 0),
        max_age_hours=r.integer("receipts.max_age_hours", 72, 1),
        dry_run_dir=r.optional_path("receipts.dry_run_dir"),
        template=r.optional_path("receipts.template", must_exist=True),
    )
    days = r.get("reminders.days_before", [3, 1])
    if not isinstance(days, list) or not all(type(d) is int and d >= 0 for d in days):
        raise r.fail("reminders.days_before", "must be a list of whole days like [3, 1]")
    reminders = ReminderSettings(
        enabled=r.boolean("reminders.enabled", False),
        days_before=tuple(sorted(set(days), reverse=True)),
        send=r.boolean("reminders.send", False),
        drafts_dir=r.optional_path("reminders.drafts_dir") or r.base_dir / "reminders",
        template=r.optional_path("reminders.template", must_exist=True),
    )
    if receipts.enabled and not smtp.configured and receipts.dry_run_dir is None:
        raise r.fail(
            "receipts.enabled", "is true but neither [smtp] host nor receipts.dry_run_dir is set"
        )
    if reminders.send and not smtp.configured:
        raise r.fail("reminders.send", "is true but [smtp] host is not set")
    own = {a.lower() for a in department_addresses}
    if smtp.from_addr:
        own.add(smtp.from_addr.lower())
    return ReportConfig(
        report=report,
        smtp=smtp,
        receipts=receipts,
        reminders=reminders,
        own_addresses=tuple(sorted(own)),
    )


def _smtp(r: Reader, department_name: str, department_addresses: tuple[str, ...]) -> SmtpSettings:
    host = r.text("smtp.host", "")
    security = r.text("smtp.security", "starttls")
    if security not in SECURITY:
        raise r.fail("smtp.security", f"{security!r} is not starttls, ssl or none")
    if security == "none" and host and not is_loopback(host):
        raise r.fail(
            "smtp.security",
            f"'none' sends the password in clear; it is "
            f"allowed only for a relay on this machine, not {host!r}",
        )
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
    from_addr = r.address("smtp.from", department_addresses[0] if department_addresses else "")
    if host and not from_addr:
        raise r.fail("smtp.from", "is required when smtp.host is set")
    return SmtpSettings(
        host=host,
        port=r.integer("smtp.port", default_port, 1),
        security=security,
        username=r.text("smtp.username", ""),
        password_env=r.text("smtp.password_env", "MAILROOM_SMTP_PASSWORD"),
        password_file=r.optional_path("smtp.password_file", must_exist=True),
        from_addr=from_addr,
        from_name=r.text("smtp.from_name", department_name),
        timeout_seconds=r.integer("smtp.timeout_seconds", 30, 1),
        retry_minutes=r.integer("smtp.retry_minutes", 5, 1),
        retry_max_minutes=r.integer("smtp.retry_max_minutes", 240, 1),
        max_attempts=r.integer("smtp.max_attempts", 12, 1),
    )
