"""Typed access to parsed TOML: the one reader every section of config.toml goes through.

Keys are dotted paths with [i] indexes (`kinds[2].due`); every error names the
file and the key, so a clerk's typo is reported as `config.toml: smtp.port: …`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import date, time
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
UNKNOWN = "unknown setting; check the spelling against config.toml"


def is_loopback(host: str) -> bool:
    """Returns whether host is this machine: localhost, 127.0.0.0/8 or ::1."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Reader:
    """Reads typed values from TOML data; `prefix` names a nested table in errors."""

    MISSING: Any = object()

    def __init__(self, data: dict[str, Any], file: str, base_dir: Path, prefix: str = ""):
        self.data, self.file, self.base_dir, self.prefix = data, file, base_dir, prefix

    def key(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.file, self.key(key), problem)

    def get(self, key: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in key.replace("[", ".").replace("]", "").split("."):
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return default
        return node

    def table(self, key: str) -> Reader:
        """Returns a reader of the table at key (an empty one when absent)."""
        value = self.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table ([{key}])")
        return Reader(value, self.file, self.base_dir, self.key(key))

    def only(self, known: set[str] | frozenset[str]) -> None:
        """Raises ConfigError for a key of this table that is not in known (a typo)."""
        unknown = sorted(set(self.data) - set(known))
        if unknown:
            raise self.fail(unknown[0], UNKNOWN)

    def _typed(self, key: str, default: Any, types: tuple[type, ...], what: str) -> Any:
        value = self.get(key, self.MISSING)
        if value is self.MISSING:
            if default is self.MISSING:
                raise self.fail(key, "is required")
            return default
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise self.fail(key, f"must be {what}, not {value!r}")
        return value

    def string(self, key: str, default: Any = MISSING) -> str:
        return self._typed(key, default, (str,), "a string")

    def text(self, key: str, default: str = "") -> str:
        """Returns a string with surrounding blanks removed."""
        return self.string(key, default).strip()

    def slug(self, key: str) -> str:
        value = self.string(key)
        if not value or not all(c.isascii() and (c.isalnum() or c in "-_") for c in value):
            raise self.fail(key, f"{value!r} must be ASCII letters, digits, - or _")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, default)
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def integer(
        self,
        key: str,
        default: Any = MISSING,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        value = self._typed(key, default, (int,), "a whole number")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum}, not {value}")
        if maximum is not None and value > maximum:
            raise self.fail(key, f"must be at most {maximum}, not {value}")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = float(self._typed(key, default, (int, float), "a number"))
        if not low <= value <= high:
            raise self.fail(key, f"must be between {low} and {high}, not {value}")
        return value

    def boolean(self, key: str, default: Any = MISSING) -> bool:
        return self._typed(key, default, (bool,), "true or false")

    def day(self, key: str, default: Any = MISSING) -> date:
        return self._typed(key, default, (date,), "a date like 2023-05-14")

    def clock(self, key: str, default: str) -> time:
        value = self._typed(key, default, (str, time), 'a time like "08:00"')
        if isinstance(value, time):
            return value
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise self.fail(key, f'{value!r} is not a time like "08:00"')
        return time(int(match[1]), int(match[2]))

    def strings(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self._typed(key, list(default), (list,), "a list of strings")
        if not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)

    def addresses(self, key: str) -> tuple[str, ...]:
        value = self._typed(key, [], (list,), "a list of email addresses")
        for item in value:
            if not isinstance(item, str) or not _ADDRESS.match(item.strip()):
                raise self.fail(key, f"{item!r} is not an email address")
        return tuple(v.strip() for v in value)

    def address(self, key: str, default: str) -> str:
        value = self.text(key, default)
        if value and not _ADDRESS.match(value):
            raise self.fail(key, f"{value!r} is not an email address")
        return value

    def table_list(self, key: str) -> list[dict[str, Any]]:
        value = self._typed(key, [], (list,), "a list of tables ([[" + key + "]])")
        if not all(isinstance(v, dict) for v in value):
            raise self.fail(key, "must be [[" + key + "]] tables")
        return value

    def resolve(self, value: str) -> Path:
        """Returns a path from config: ~ expanded, relative to the config file's folder."""
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def path(self, key: str, default: str) -> Path:
        return self.resolve(self.string(key, default))

    def optional_path(self, key: str, must_exist: bool = False) -> Path | None:
        value = self.text(key, "")
        if not value:
            return None
        path = self.resolve(value)
        if must_exist and not path.exists():
            raise self.fail(key, f"{path} not found")
        return path

    def database_url(self, key: str, default_file: str) -> str:
        value = self.get(key)
        if value is None:
            return f"sqlite:///{(self.base_dir / default_file).resolve()}"
        if not isinstance(value, str) or "://" not in value:
            raise self.fail(
                key,
                "must be a SQLAlchemy URL such as "
                "sqlite:///data/mailroom.db or postgresql+psycopg://user@host/db",
            )
        prefix = "sqlite:///"
        if value.startswith(prefix) and not value.startswith(prefix + "/") and value != "sqlite://":
            rel = value[len(prefix) :]
            if rel and rel != ":memory:":
                return prefix + str((self.base_dir / rel).resolve())
        return value
