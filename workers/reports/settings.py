"""The [report], [smtp], [receipts] and [reminders] sections of config.toml.

Parsed from `config.raw` once at start-up; every key has a default, so a
config file without these sections works (nothing is sent, reports are saved).
Errors name the file and the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from workers.config import Config

SECURITY = ("starttls", "ssl", "none")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


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


def report_config(config: Config) -> ReportConfig:
    """Returns the validated report settings from config.raw; raises ConfigError."""
    r = _Reader(config.raw, config.label, config.base_dir)
    smtp = _smtp(r, config)
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
        raise ConfigError(
            r.file, "reminders.days_before", "must be a list of whole days like [3, 1]"
        )
    reminders = ReminderSettings(
        enabled=r.boolean("reminders.enabled", False),
        days_before=tuple(sorted(set(days), reverse=True)),
        send=r.boolean("reminders.send", False),
        drafts_dir=r.optional_path("reminders.drafts_dir") or config.base_dir / "reminders",
        template=r.optional_path("reminders.template", must_exist=True),
    )
    if receipts.enabled and not smtp.configured and receipts.dry_run_dir is None:
        raise ConfigError(
            r.file,
            "receipts.enabled",
            "is true but neither [smtp] host nor receipts.dry_run_dir is set",
        )
    if reminders.send and not smtp.configured:
        raise ConfigError(r.file, "reminders.send", "is true but [smtp] host is not set")
    own = {a.lower() for a in config.department.addresses}
    if smtp.from_addr:
        own.add(smtp.from_addr.lower())
    return ReportConfig(
        report=report,
        smtp=smtp,
        receipts=receipts,
        reminders=reminders,
        own_addresses=tuple(sorted(own)),
    )


def _smtp(r: _Reader, config: Config) -> SmtpSettings:
    host = r.string("smtp.host", "")
    security = r.string("smtp.security", "starttls")
    if security not in SECURITY:
        raise ConfigError(r.file, "smtp.security", f"{security!r} is not starttls, ssl or none")
    if security == "none" and host and not _is_loopback(host):
        raise ConfigError(
            r.file,
            "smtp.security",
            f"'none' sends the password in clear; it is "
            f"allowed only for a relay on this machine, not {host!r}",
        )
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
    from_addr = r.string(
        "smtp.from", config.department.addresses[0] if config.department.addresses else ""
    )
    if from_addr and not _ADDRESS.match(from_addr):
        raise ConfigError(r.file, "smtp.from", f"{from_addr!r} is not an email address")
    if host and not from_addr:
        raise ConfigError(r.file, "smtp.from", "is required when smtp.host is set")
    return SmtpSettings(
        host=host,
        port=r.integer("smtp.port", default_port, 1),
        security=security,
        username=r.string("smtp.username", ""),
        password_env=r.string("smtp.password_env", "MAILROOM_SMTP_PASSWORD"),
        password_file=r.optional_path("smtp.password_file", must_exist=True),
        from_addr=from_addr,
        from_name=r.string("smtp.from_name", config.department.name),
        timeout_seconds=r.integer("smtp.timeout_seconds", 30, 1),
        retry_minutes=r.integer("smtp.retry_minutes", 5, 1),
        retry_max_minutes=r.integer("smtp.retry_max_minutes", 240, 1),
        max_attempts=r.integer("smtp.max_attempts", 12, 1),
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Reader:
    """Typed access to dotted keys of the raw TOML, raising ConfigError(file, key, ...)."""

    _MISSING = object()

    def __init__(self, data: dict[str, Any], file: str, base_dir: Path):
        self.data, self.file, self.base_dir = data, file, base_dir

    def get(self, key: str, default: Any = None) -> Any:
        section, _, name = key.partition(".")
        table = self.data.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(self.file, section, f"must be a [{section}] table")
        return table.get(name, default)

    def _typed(self, key: str, default: Any, types: tuple[type, ...], what: str) -> Any:
        value = self.get(key, self._MISSING)
        if value is self._MISSING:
            return default
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ConfigError(self.file, key, f"must be {what}, not {value!r}")
        return value

    def string(self, key: str, default: str) -> str:
        return self._typed(key, default, (str,), "a string").strip()

    def boolean(self, key: str, default: bool) -> bool:
        return self._typed(key, default, (bool,), "true or false")

    def integer(self, key: str, default: int, minimum: int) -> int:
        value = self._typed(key, default, (int,), "a whole number")
        if value < minimum:
            raise ConfigError(self.file, key, f"must be at least {minimum}, not {value}")
        return value

    def clock(self, key: str, default: str) -> time:
        value = self._typed(key, default, (str, time), 'a time like "08:00"')
        if isinstance(value, time):
            return value
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ConfigError(self.file, key, f'{value!r} is not a time like "08:00"')
        return time(int(match[1]), int(match[2]))

    def addresses(self, key: str) -> tuple[str, ...]:
        value = self._typed(key, [], (list,), "a list of email addresses")
        for item in value:
            if not isinstance(item, str) or not _ADDRESS.match(item.strip()):
                raise ConfigError(self.file, key, f"{item!r} is not an email address")
        return tuple(v.strip() for v in value)

    def optional_path(self, key: str, must_exist: bool = False) -> Path | None:
        value = self.string(key, "")
        if not value:
            return None
        path = Path(os.path.expanduser(value))
        path = path if path.is_absolute() else (self.base_dir / path).resolve()
        if must_exist and not path.exists():
            raise ConfigError(self.file, key, f"{path} not found")
        return path
