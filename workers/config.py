"""Loading and validating config.toml, once, at start-up.

Every key has a default here, so a config file holding only what differs
works. Relative paths resolve against the folder of the file that names them.
Errors name the file, the key and what is wrong.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.campaign import Campaign, Kind
from pipeline.errors import ConfigError
from pipeline.units import UNIT_TYPES, Unit

ENV_VAR = "MAILROOM_CONFIG"
DEFAULT_NAME = "config.toml"


@dataclass(frozen=True)
class Department:
    """The department that runs the campaign; its own mail is no unit's material."""

    name: str = "辽宁省教育厅职业教育与成人教育处"
    domains: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ("zcc1.sjyt@ln.gov.cn",)


@dataclass(frozen=True)
class StorageConfig:
    archive_dir: Path
    database_url: str


@dataclass(frozen=True)
class SourceConfig:
    inbox_dir: Path
    poll_interval_seconds: int = 60


@dataclass(frozen=True)
class IdentifyConfig:
    confident_threshold: float = 0.75  # below: the message goes to triage
    decorative_max_bytes: int = 15_000  # inline images smaller than this are logos
    decorative_max_pixels: int = 200  # ... or with both sides at most this


@dataclass(frozen=True)
class LimitsConfig:
    max_message_bytes: int = 300 * 1024 * 1024
    max_archive_total_bytes: int = 2 * 1024**3
    max_archive_ratio: int = 100
    max_archive_members: int = 2000
    max_archive_depth: int = 2


@dataclass(frozen=True)
class Config:
    """The validated configuration, passed to whatever needs it."""

    path: Path | None
    base_dir: Path
    storage: StorageConfig
    source: SourceConfig
    campaign: Campaign
    units: tuple[Unit, ...]
    department: Department = field(default_factory=Department)
    identify: IdentifyConfig = field(default_factory=IdentifyConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    log_level: str = "INFO"
    raw: dict[str, Any] = field(default_factory=dict)  # whole file, for sections parsed elsewhere

    @property
    def label(self) -> str:
        return str(self.path) if self.path else "(built-in defaults)"


def find_config_path(explicit: str | None) -> Path | None:
    """Returns the config file to use: --config, then $MAILROOM_CONFIG, then ./config.toml."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    local = Path.cwd() / DEFAULT_NAME
    return local if local.exists() else None


def load_config(path: Path | None) -> Config:
    """Returns the validated config from a file (or the built-in defaults when None)."""
    if path is None:
        return build_config({}, None, Path.cwd())
    path = path.resolve() if path.exists() else path
    label = str(path)
    if not path.exists():
        raise ConfigError(label, "(file)", "not found; pass --config FILE or set MAILROOM_CONFIG")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(label, "(syntax)", str(exc)) from None
    return build_config(data, path, path.parent)


# Sections (and their keys) read here; the others belong to features that check their own.
_KNOWN = {
    "storage": {"archive_dir", "database_url", "backend", "s3"},
    "source": {"inbox_dir", "poll_interval_seconds"},
    "department": {"name", "domains", "addresses"},
    "identify": {"confident_threshold", "decorative_max_bytes", "decorative_max_pixels"},
    "limits": set(LimitsConfig.__dataclass_fields__),
    "log": {"level"},
    "campaign": {"code", "name", "start", "end", "timezone", "fallback_kind"},
}
_FEATURE_SECTIONS = {
    "mailbox",
    "media",
    "report",
    "smtp",
    "receipts",
    "reminders",
    "web",
    "queue",
    "kinds",
    "units",
    "units_file",
}


def _check_keys(data: dict[str, Any], file: str) -> None:
    """Raises ConfigError for a section or key mailroom does not know (usually a typo)."""
    for name, value in data.items():
        if name not in _KNOWN and name not in _FEATURE_SECTIONS:
            raise ConfigError(file, name, "unknown setting; check the spelling against config.toml")
        if name in _KNOWN and isinstance(value, dict):
            for key in value:
                if key not in _KNOWN[name]:
                    raise ConfigError(
                        file,
                        f"{name}.{key}",
                        "unknown setting; check the spelling against config.toml",
                    )


def build_config(data: dict[str, Any], path: Path | None, base_dir: Path) -> Config:
    """Returns a Config from parsed TOML data; raises ConfigError naming the bad key."""
    r = _Reader(data, str(path) if path else "(built-in defaults)", base_dir)
    _check_keys(data, r.file)
    storage = StorageConfig(
        archive_dir=r.path("storage.archive_dir", "archive"),
        database_url=r.database_url("storage.database_url", "data/mailroom.db"),
    )
    source = SourceConfig(
        inbox_dir=r.path("source.inbox_dir", "inbox"),
        poll_interval_seconds=r.integer("source.poll_interval_seconds", 60, minimum=1),
    )
    dept = Department(
        name=r.string("department.name", Department.name),
        domains=r.strings("department.domains", Department.domains),
        addresses=tuple(a.lower() for a in r.strings("department.addresses", Department.addresses)),
    )
    identify = IdentifyConfig(
        confident_threshold=r.number("identify.confident_threshold", 0.75, 0.0, 1.0),
        decorative_max_bytes=r.integer("identify.decorative_max_bytes", 15_000, minimum=0),
        decorative_max_pixels=r.integer("identify.decorative_max_pixels", 200, minimum=0),
    )
    limits = LimitsConfig(
        **{
            name: r.integer(f"limits.{name}", default, minimum=1)
            for name, default in LimitsConfig().__dict__.items()
        }
    )
    level = r.string("log.level", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(r.file, "log.level", f"{level!r} is not DEBUG, INFO, WARNING or ERROR")
    return Config(
        path=path,
        base_dir=base_dir,
        storage=storage,
        source=source,
        campaign=_campaign(r),
        units=_units(r),
        department=dept,
        identify=identify,
        limits=limits,
        log_level=level,
        raw=data,
    )


def load_units_file(path: Path) -> tuple[Unit, ...]:
    """Returns the validated units of a units file (the `units_file` form of config)."""
    path = Path(path).resolve()
    return _units(_Reader({"units_file": str(path)}, "--units", path.parent))


def _shipped(name: str) -> dict[str, Any]:
    text = resources.files("workers.shipped").joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _campaign(r: _Reader) -> Campaign:
    data = r.data
    if "campaign" not in data and "kinds" not in data:
        r = _Reader(_shipped("campaign.toml"), "campaign.toml (shipped)", r.base_dir)
    elif "kinds" not in data or "campaign" not in data:
        missing = "kinds" if "kinds" not in data else "campaign"
        raise ConfigError(r.file, missing, "give [campaign] and [[kinds]] together (or neither)")
    start, end = r.day("campaign.start"), r.day("campaign.end")
    if end < start:
        raise ConfigError(r.file, "campaign.end", f"{end} is before campaign.start {start}")
    tz = r.string("campaign.timezone", "Asia/Shanghai")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(tz)
    except Exception:
        raise ConfigError(r.file, "campaign.timezone", f"unknown time zone {tz!r}") from None
    kinds = tuple(_kind(r, i) for i in range(len(r.table_list("kinds"))))
    codes = [k.code for k in kinds]
    fallback = r.string("campaign.fallback_kind", "other")
    if fallback not in codes:
        raise ConfigError(r.file, "campaign.fallback_kind", f"{fallback!r} is not a [[kinds]] code")
    if len(set(codes)) != len(codes):
        raise ConfigError(r.file, "kinds", "two kinds share one code")
    return Campaign(
        code=r.slug("campaign.code"),
        name=r.string("campaign.name"),
        start=start,
        end=end,
        timezone=tz,
        kinds=kinds,
        fallback_kind=fallback,
    )


def _kind(r: _Reader, i: int) -> Kind:
    key = f"kinds[{i}]"
    due = r.get(f"{key}.due")
    if due is not None and not isinstance(due, date):
        raise ConfigError(r.file, f"{key}.due", "must be a date like 2023-05-08")
    window = r.string(f"{key}.window", "")
    if window not in ("", "before", "during", "after"):
        raise ConfigError(r.file, f"{key}.window", "must be before, during or after")
    return Kind(
        code=r.slug(f"{key}.code"),
        label=r.string(f"{key}.label"),
        due=due,
        required=r.boolean(f"{key}.required", True),
        keywords=r.strings(f"{key}.keywords", ()),
        media=r.strings(f"{key}.media", ()),
        window=window,
    )


def _units(r: _Reader) -> tuple[Unit, ...]:
    if "units" in r.data and "units_file" in r.data:
        raise ConfigError(r.file, "units_file", "give units_file or [[units]], not both")
    if "units_file" in r.data:
        upath = r.path("units_file", "")
        if not upath.exists():
            raise ConfigError(r.file, "units_file", f"{upath} not found")
        try:
            data = tomllib.loads(upath.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(str(upath), "(syntax)", str(exc)) from None
        r = _Reader(data, str(upath), upath.parent)
    elif "units" not in r.data:
        r = _Reader(_shipped("units.toml"), "units.toml (shipped)", r.base_dir)
    units = []
    for i in range(len(r.table_list("units"))):
        key = f"units[{i}]"
        utype = r.string(f"{key}.type", "other")
        if utype not in UNIT_TYPES:
            raise ConfigError(
                r.file, f"{key}.type", f"{utype!r} is not one of {', '.join(UNIT_TYPES)}"
            )
        units.append(
            Unit(
                code=r.slug(f"{key}.code"),
                name=r.string(f"{key}.name"),
                type=utype,
                aliases=r.strings(f"{key}.aliases", ()),
                domains=tuple(d.lower().lstrip("@") for d in r.strings(f"{key}.domains", ())),
                addresses=tuple(a.lower() for a in r.strings(f"{key}.addresses", ())),
            )
        )
    codes = [u.code for u in units]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise ConfigError(r.file, "units", f"unit code {dupes[0]!r} is used twice")
    return tuple(units)


class _Reader:
    """Typed access to nested TOML keys written as dotted paths with [i] indexes."""

    _MISSING = object()

    def __init__(self, data: dict[str, Any], file: str, base_dir: Path):
        self.data, self.file, self.base_dir = data, file, base_dir

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

    def _typed(self, key: str, default: Any, types: tuple[type, ...], what: str) -> Any:
        value = self.get(key, self._MISSING)
        if value is self._MISSING:
            if default is self._MISSING:
                raise ConfigError(self.file, key, "is required")
            return default
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ConfigError(self.file, key, f"must be {what}, not {value!r}")
        return value

    def string(self, key: str, default: Any = _MISSING) -> str:
        return self._typed(key, default, (str,), "a string")

    def slug(self, key: str) -> str:
        value = self.string(key)
        if not value or not all(c.isascii() and (c.isalnum() or c in "-_") for c in value):
            raise ConfigError(self.file, key, f"{value!r} must be ASCII letters, digits, - or _")
        return value

    def integer(self, key: str, default: Any = _MISSING, minimum: int | None = None) -> int:
        value = self._typed(key, default, (int,), "a whole number")
        if minimum is not None and value < minimum:
            raise ConfigError(self.file, key, f"must be at least {minimum}, not {value}")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = float(self._typed(key, default, (int, float), "a number"))
        if not low <= value <= high:
            raise ConfigError(self.file, key, f"must be between {low} and {high}, not {value}")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        return self._typed(key, default, (bool,), "true or false")

    def day(self, key: str) -> date:
        value = self._typed(key, self._MISSING, (date,), "a date like 2023-05-14")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._typed(key, list(default), (list,), "a list of strings")
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(self.file, key, "must be a list of strings")
        return tuple(value)

    def table_list(self, key: str) -> list[dict[str, Any]]:
        value = self._typed(key, [], (list,), "a list of tables ([[" + key + "]])")
        if not all(isinstance(v, dict) for v in value):
            raise ConfigError(self.file, key, "must be [[" + key + "]] tables")
        return value

    def path(self, key: str, default: str) -> Path:
        value = Path(os.path.expanduser(self.string(key, default)))
        return value if value.is_absolute() else (self.base_dir / value).resolve()

    def database_url(self, key: str, default_file: str) -> str:
        value = self.get(key)
        if value is None:
            return f"sqlite:///{(self.base_dir / default_file).resolve()}"
        if not isinstance(value, str) or "://" not in value:
            raise ConfigError(
                self.file,
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
