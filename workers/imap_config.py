"""The `[[mailbox]]` tables of config.toml, parsed and validated into MailboxConfig.

Passwords never live in config.toml: a table names an environment variable
(`password_env`) or a file (`password_file`) and `resolve_password` reads it
when the poller needs it. Nothing here logs a password.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

SECURITIES = ("ssl", "starttls", "none")
DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
# keywords are IMAP atoms: no spaces, parentheses, quotes, wildcards or backslash
KEYWORD_RE = re.compile(r"^[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|}~]+$")
NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]+$")


@dataclass(frozen=True)
class AfterAction:
    """What to do with a message once it is safely filed: none, seen, flag or move."""

    kind: str  # none | seen | flag | move
    argument: str = ""  # the keyword for flag, the folder for move

    def __str__(self) -> str:
        return f"{self.kind}:{self.argument}" if self.argument else self.kind


@dataclass(frozen=True)
class MailboxConfig:
    """One `[[mailbox]]` table: where the account is and how to poll it."""

    name: str
    host: str
    username: str
    port: int = 993
    security: str = "ssl"
    password_env: str | None = None
    password_file: Path | None = None
    folders: tuple[str, ...] = ("INBOX",)
    after: AfterAction = field(default_factory=lambda: AfterAction("none"))
    poll_interval_seconds: int = 300
    batch_size: int = 50
    idle: bool = False
    timeout_seconds: float = 60
    max_attempts: int = 3
    ca_file: Path | None = None  # extra CA to trust (a private or self-signed server)

    def describe(self) -> str:
        """Return 'user@host:port' for log lines (never the password)."""
        return f"{self.username}@{self.host}:{self.port}"


KNOWN_KEYS = {
    "name", "host", "port", "security", "username", "password_env", "password_file",
    "folders", "after", "poll_interval_seconds", "batch_size", "idle", "timeout_seconds",
    "max_attempts", "ca_file",
}  # fmt: skip


def is_loopback(host: str) -> bool:
    """Return whether host is this machine: localhost, 127.0.0.0/8 or ::1."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_after(value: str) -> AfterAction:
    """Return the AfterAction that `after = "..."` names; raise ValueError if it names none."""
    if value in ("none", "seen"):
        return AfterAction(value)
    kind, sep, argument = value.partition(":")
    if not sep or kind not in ("flag", "move") or not argument:
        raise ValueError(
            f"unknown action {value!r}: use none, seen, flag:<keyword> or move:<folder>"
        )
    if kind == "flag" and not KEYWORD_RE.match(argument):
        raise ValueError(f"{argument!r} is not a valid IMAP keyword (letters, digits, $_-. only)")
    return AfterAction(kind, argument)


def parse_mailboxes(tables: Any, *, file: str, base_dir: Path) -> list[MailboxConfig]:
    """Return the validated `[[mailbox]]` tables; raise ConfigError naming the first bad key."""
    if tables is None:
        return []
    if not isinstance(tables, list):
        raise ConfigError(
            file, "mailbox", "must be a list of tables: write [[mailbox]], not [mailbox]"
        )
    configs = [parse_mailbox(t, file=file, key=f"mailbox[{i}]", base_dir=base_dir)
               for i, t in enumerate(tables)]  # fmt: skip
    seen: set[str] = set()
    for i, cfg in enumerate(configs):
        if cfg.name in seen:
            raise ConfigError(file, f"mailbox[{i}].name", f"{cfg.name!r} is used twice")
        seen.add(cfg.name)
    return configs


def parse_mailbox(table: Any, *, file: str, key: str, base_dir: Path) -> MailboxConfig:
    """Return one validated MailboxConfig from a TOML table (a dict)."""
    if not isinstance(table, dict):
        raise ConfigError(file, key, "must be a table")
    if "password" in table:
        raise ConfigError(
            file, f"{key}.password",
            "passwords do not belong in config.toml: use password_env or password_file",
        )  # fmt: skip
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        known = ", ".join(sorted(KNOWN_KEYS))
        raise ConfigError(file, f"{key}.{unknown[0]}", f"unknown key (known: {known})")
    get = _Getter(table, file, key)
    host = get.text("host", required=True)
    security = get.choice("security", SECURITIES, "ssl")
    if security == "none" and not is_loopback(host):
        raise ConfigError(
            file, f"{key}.security",
            f"'none' sends the password in clear text and is allowed only for a loopback host "
            f"(127.0.0.1, ::1, localhost), not {host!r}: use ssl or starttls",
        )  # fmt: skip
    password_env = get.text("password_env")
    password_file = get.text("password_file")
    if bool(password_env) == bool(password_file):
        raise ConfigError(
            file, f"{key}.password_env",
            "give exactly one of password_env (an environment variable) or password_file",
        )  # fmt: skip
    folders = get.folders()
    try:
        after = parse_after(get.text("after") or "none")
    except ValueError as exc:
        raise ConfigError(file, f"{key}.after", str(exc)) from None
    if after.kind == "move" and after.argument in folders:
        raise ConfigError(
            file, f"{key}.after", "cannot move messages into a folder that is watched"
        )
    ca_file = get.text("ca_file")
    return MailboxConfig(
        name=get.name(),
        host=host,
        port=get.integer("port", DEFAULT_PORTS[security], 1, 65535),
        security=security,
        username=get.text("username", required=True),
        password_env=password_env or None,
        password_file=_resolve(base_dir, password_file) if password_file else None,
        folders=folders,
        after=after,
        poll_interval_seconds=get.integer("poll_interval_seconds", 300, 5, 7 * 86400),
        batch_size=get.integer("batch_size", 50, 1, 5000),
        idle=get.boolean("idle", False),
        timeout_seconds=get.integer("timeout_seconds", 60, 1, 3600),
        max_attempts=get.integer("max_attempts", 3, 1, 100),
        ca_file=_resolve(base_dir, ca_file) if ca_file else None,
    )


def _resolve(base_dir: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (Path(base_dir) / path)


class _Getter:
    """Reads typed values from one table and raises ConfigError naming the key."""

    def __init__(self, table: dict, file: str, key: str):
        self.table, self.file, self.key = table, file, key

    def fail(self, name: str, problem: str) -> ConfigError:
        return ConfigError(self.file, f"{self.key}.{name}", problem)

    def text(self, name: str, *, required: bool = False) -> str:
        value = self.table.get(name)
        if value is None:
            if required:
                raise self.fail(name, "is required")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(name, "must be a non-empty string")
        return value.strip()

    def name(self) -> str:
        value = self.text("name") or "default"
        if not NAME_RE.match(value):
            raise self.fail("name", "use letters, digits, '.', '_', '-' or '@' only")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.table.get(name, default)
        if value not in choices:
            raise self.fail(name, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.table.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(name, f"must be a whole number from {low} to {high}, not {value!r}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.table.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(name, f"must be true or false, not {value!r}")
        return value

    def folders(self) -> tuple[str, ...]:
        value = self.table.get("folders", ["INBOX"])
        if (not isinstance(value, list) or not value
                or not all(isinstance(f, str) and f.strip() for f in value)):  # fmt: skip
            raise self.fail("folders", 'must be a non-empty list of folder names, e.g. ["INBOX"]')
        if len(set(value)) != len(value):
            raise self.fail("folders", "lists a folder twice")
        return tuple(f.strip() for f in value)


def resolve_password(cfg: MailboxConfig) -> str:
    """Return the account's password from its environment variable or file.

    Raises ConfigError naming the variable or file when it is missing or empty.
    """
    if cfg.password_env:
        value = os.environ.get(cfg.password_env, "")
        if not value:
            raise ConfigError(
                "environment", cfg.password_env,
                f"is not set: export {cfg.password_env}=... with the password (or "
                f"authorisation code) of {cfg.username} for mailbox {cfg.name!r}",
            )  # fmt: skip
        return value
    path = cfg.password_file
    assert path is not None  # parse_mailbox guarantees one of the two
    try:
        value = path.read_text(encoding="utf-8").strip("\r\n")
    except OSError as exc:
        raise ConfigError(
            str(path), "password_file",
            f"cannot read the password of mailbox {cfg.name!r}: {exc.strerror}",
        ) from None  # fmt: skip
    if not value:
        raise ConfigError(str(path), "password_file", f"is empty (mailbox {cfg.name!r})")
    return value
