"""The `[[mailbox]]` tables: IMAP accounts and how to poll them.

Passwords never live in config.toml: a table names an environment variable
(`password_env`) or a file (`password_file`) and `resolve_password` reads it
when the poller needs it. Nothing here logs a password.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from workers.config.reader import Reader, is_loopback

SECURITIES = ("ssl", "starttls", "none")
DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
# keywords are IMAP atoms: no spaces, parentheses, quotes, wildcards or backslash
KEYWORD_RE = re.compile(r"^[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|}~]+$")
NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]+$")
DEFAULT_MAX_ATTEMPTS = 3


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
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    ca_file: Path | None = None  # extra CA to trust (a private or self-signed server)

    def describe(self) -> str:
        """Return 'user@host:port' for log lines (never the password)."""
        return f"{self.username}@{self.host}:{self.port}"


KNOWN_KEYS = frozenset({
    "name", "host", "port", "security", "username", "password_env", "password_file",
    "folders", "after", "poll_interval_seconds", "batch_size", "idle", "timeout_seconds",
    "max_attempts", "ca_file",
})  # fmt: skip


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


def parse_mailboxes(tables: Any, *, file: str, base_dir: Path) -> tuple[MailboxConfig, ...]:
    """Return the validated `[[mailbox]]` tables; raise ConfigError naming the first bad key."""
    if tables is None:
        return ()
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
    return tuple(configs)


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
    r = Reader(table, file, base_dir, key)
    host = _required_text(r, "host")
    security = r.choice("security", SECURITIES, "ssl")
    if security == "none" and not is_loopback(host):
        raise r.fail(
            "security",
            f"'none' sends the password in clear text and is allowed only for a loopback host "
            f"(127.0.0.1, ::1, localhost), not {host!r}: use ssl or starttls",
        )
    password_env = _optional_text(r, "password_env")
    password_file = _optional_text(r, "password_file")
    if bool(password_env) == bool(password_file):
        raise r.fail(
            "password_env",
            "give exactly one of password_env (an environment variable) or password_file",
        )
    folders = _folders(r)
    try:
        after = parse_after(_optional_text(r, "after") or "none")
    except ValueError as exc:
        raise r.fail("after", str(exc)) from None
    if after.kind == "move" and after.argument in folders:
        raise r.fail("after", "cannot move messages into a folder that is watched")
    ca_file = _optional_text(r, "ca_file")
    return MailboxConfig(
        name=_name(r),
        host=host,
        port=_whole(r, "port", DEFAULT_PORTS[security], 1, 65535),
        security=security,
        username=_required_text(r, "username"),
        password_env=password_env or None,
        password_file=_beside(base_dir, password_file) if password_file else None,
        folders=folders,
        after=after,
        poll_interval_seconds=_whole(r, "poll_interval_seconds", 300, 5, 7 * 86400),
        batch_size=_whole(r, "batch_size", 50, 1, 5000),
        idle=r.boolean("idle", False),
        timeout_seconds=_whole(r, "timeout_seconds", 60, 1, 3600),
        max_attempts=_whole(r, "max_attempts", DEFAULT_MAX_ATTEMPTS, 1, 100),
        ca_file=_beside(base_dir, ca_file) if ca_file else None,
    )


def _beside(base_dir: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (Path(base_dir) / path)


def _optional_text(r: Reader, name: str) -> str:
    value = r.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise r.fail(name, "must be a non-empty string")
    return value.strip()


def _required_text(r: Reader, name: str) -> str:
    value = r.get(name)
    if value is None:
        raise r.fail(name, "is required")
    if not isinstance(value, str) or not value.strip():
        raise r.fail(name, "must be a non-empty string")
    return value.strip()


def _name(r: Reader) -> str:
    value = _optional_text(r, "name") or "default"
    if not NAME_RE.match(value):
        raise r.fail("name", "use letters, digits, '.', '_', '-' or '@' only")
    return value


def _whole(r: Reader, name: str, default: int, low: int, high: int) -> int:
    value = r.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise r.fail(name, f"must be a whole number from {low} to {high}, not {value!r}")
    return value


def _folders(r: Reader) -> tuple[str, ...]:
    value = r.get("folders", ["INBOX"])
    if (not isinstance(value, list) or not value
            or not all(isinstance(f, str) and f.strip() for f in value)):  # fmt: skip
        raise r.fail("folders", 'must be a non-empty list of folder names, e.g. ["INBOX"]')
    if len(set(value)) != len(value):
        raise r.fail("folders", "lists a folder twice")
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
