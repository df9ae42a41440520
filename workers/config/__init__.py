"""Loading and validating config.toml, once, at start-up, into one typed Config.

`load_config` reads the file and builds every section (storage, source, the
campaign and units, [[mailbox]], [media], the report sections, [web], [queue],
[storage.s3]); nothing re-reads TOML afterwards. Every key has a default, so a
config file holding only what differs works. Relative paths resolve against the
folder of the file that names them. Errors name the file, the key and what is wrong.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.campaign import Campaign
from pipeline.errors import ConfigError
from pipeline.units import Unit
from storage.blobstore import S3Settings
from workers.config.campaign import parse_campaign, parse_units
from workers.config.mailboxes import MailboxConfig, parse_mailboxes
from workers.config.media import MediaSettings, parse_media
from workers.config.queue import QueueSettings, parse_queue, parse_s3
from workers.config.reader import UNKNOWN, Reader
from workers.config.reports import ReportConfig, parse_reports
from workers.config.web import WebSettings, parse_web

ENV_VAR = "MAILROOM_CONFIG"
DEFAULT_NAME = "config.toml"

__all__ = [
    "Config",
    "ConfigError",
    "Department",
    "IdentifyConfig",
    "LimitsConfig",
    "MailboxConfig",
    "MediaSettings",
    "QueueSettings",
    "ReportConfig",
    "ServiceConfig",
    "SourceConfig",
    "StorageConfig",
    "WebSettings",
    "build_config",
    "find_config_path",
    "load_config",
    "load_units_file",
]


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
    backend: str = "local"  # local | s3
    s3: S3Settings | None = None  # with backend = "s3"


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
    """[limits]: what one message or one job may cost. Each is enforced where the work
    runs (pipeline/budget.py); a float default makes the key a number of seconds."""

    max_message_bytes: int = 300 * 1024 * 1024
    max_archive_total_bytes: int = 2 * 1024**3  # unpacked, per archive with its nested ones
    max_archive_member_bytes: int = 1024**3  # one member, unpacked
    max_archive_ratio: int = 100
    max_archive_members: int = 2000
    max_archive_depth: int = 2
    max_archive_seconds: int = 600  # wall clock to unpack one archive
    max_message_unpack_bytes: int = 2 * 1024**3  # all archives of one message, unpacked
    # below this much free space on the archive's (or a SQLite index's) disk no mail is
    # fetched (0: fetch until the disk is full)
    min_free_bytes: int = 1024**3
    message_seconds: float = 60.0  # parse + decide of one message at ingest
    media_job_seconds: float = 600.0  # one thumbnail or document job
    video_job_seconds: float = 2700.0  # one web-video job (below [queue] soft_time_limit)
    video_max_seconds: float = 7200.0  # the web video stops here, whatever the clip claims
    job_memory_bytes: int = 2 * 1024**3  # address space a media job may add to its worker
    image_max_pixels: int = 150_000_000  # pixels decoded for one image (after JPEG draft)
    document_max_pages: int = 1000  # PDF pages read for text
    document_max_chars: int = 1_000_000  # characters of document text kept for search
    document_max_unpacked_bytes: int = 64 * 1024**2  # a DOCX's XML read, once inflated


@dataclass(frozen=True)
class ServiceConfig:
    # after SIGTERM, the job in hand is finished or handed back within this many seconds
    # (below systemd's TimeoutStopSec, 90 s by default, so systemd never has to kill)
    stop_timeout: int = 60


@dataclass(frozen=True)
class Config:
    """The validated configuration, built once and passed to whatever needs it."""

    path: Path | None
    base_dir: Path
    storage: StorageConfig
    source: SourceConfig
    campaign: Campaign
    units: tuple[Unit, ...]
    department: Department = field(default_factory=Department)
    identify: IdentifyConfig = field(default_factory=IdentifyConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    log_level: str = "INFO"
    mailboxes: tuple[MailboxConfig, ...] = ()
    media: MediaSettings = field(default_factory=MediaSettings)
    reports: ReportConfig = field(default_factory=ReportConfig)
    web: WebSettings = field(default_factory=WebSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)

    @property
    def label(self) -> str:
        return str(self.path) if self.path else "(built-in defaults)"

    def mailbox(self, name: str) -> MailboxConfig | None:
        """Returns the [[mailbox]] of this name, or None."""
        return next((m for m in self.mailboxes if m.name == name), None)


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


# The keys of the small sections read here; the feature sections check their own.
_KNOWN = {
    "storage": {"archive_dir", "database_url", "backend", "s3"},
    "source": {"inbox_dir", "poll_interval_seconds"},
    "department": {"name", "domains", "addresses"},
    "identify": set(IdentifyConfig.__dataclass_fields__),
    "limits": set(LimitsConfig.__dataclass_fields__),
    "service": set(ServiceConfig.__dataclass_fields__),
    "log": {"level"},
}
_FEATURES = {
    "campaign", "kinds", "units", "units_file", "mailbox", "media", "report", "smtp",
    "receipts", "reminders", "web", "queue",
}  # fmt: skip


def build_config(data: dict[str, Any], path: Path | None, base_dir: Path) -> Config:
    """Returns a Config from parsed TOML data; raises ConfigError naming the bad key."""
    r = Reader(data, str(path) if path else "(built-in defaults)", base_dir)
    for name in data:
        if name not in _KNOWN and name not in _FEATURES:
            raise r.fail(name, UNKNOWN)
    for name, keys in _KNOWN.items():
        r.table(name).only(keys)
    backend = r.choice("storage.backend", ("local", "s3"), "local")
    web = parse_web(r, backend)  # before [storage.s3]: its errors name web.* keys first
    storage = _storage(r, backend)
    dept = Department(
        name=r.string("department.name", Department.name),
        domains=r.strings("department.domains", Department.domains),
        addresses=tuple(a.lower() for a in r.strings("department.addresses", Department.addresses)),
    )
    level = r.string("log.level", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise r.fail("log.level", f"{level!r} is not DEBUG, INFO, WARNING or ERROR")
    return Config(
        path=path,
        base_dir=base_dir,
        storage=storage,
        source=SourceConfig(
            inbox_dir=r.path("source.inbox_dir", "inbox"),
            poll_interval_seconds=r.integer("source.poll_interval_seconds", 60, minimum=1),
        ),
        campaign=parse_campaign(r),
        units=parse_units(r),
        department=dept,
        identify=IdentifyConfig(
            confident_threshold=r.number("identify.confident_threshold", 0.75, 0.0, 1.0),
            decorative_max_bytes=r.integer("identify.decorative_max_bytes", 15_000, minimum=0),
            decorative_max_pixels=r.integer("identify.decorative_max_pixels", 200, minimum=0),
        ),
        limits=_limits(r),
        service=ServiceConfig(
            stop_timeout=r.integer("service.stop_timeout", ServiceConfig.stop_timeout, minimum=1)
        ),
        log_level=level,
        mailboxes=parse_mailboxes(data.get("mailbox"), file=r.file, base_dir=base_dir),
        media=parse_media(r),
        reports=parse_reports(r, dept.name, dept.addresses),
        web=web,
        queue=parse_queue(r),
    )


def _limits(r: Reader) -> LimitsConfig:
    values: dict[str, Any] = {}
    for name, default in LimitsConfig().__dict__.items():
        if isinstance(default, float):
            values[name] = r.number(f"limits.{name}", default, 0.001, 7 * 24 * 3600)
        else:  # min_free_bytes = 0 turns the floor off; every other limit is at least 1
            values[name] = r.integer(
                f"limits.{name}", default, minimum=int(name != "min_free_bytes")
            )
    return LimitsConfig(**values)


def _storage(r: Reader, backend: str) -> StorageConfig:
    return StorageConfig(
        archive_dir=r.path("storage.archive_dir", "archive"),
        database_url=r.database_url("storage.database_url", "data/mailroom.db"),
        backend=backend,
        s3=parse_s3(r) if backend == "s3" else None,
    )


def load_units_file(path: Path) -> tuple[Unit, ...]:
    """Returns the validated units of a units file (the `units_file` form of config)."""
    path = Path(path).resolve()
    return parse_units(Reader({"units_file": str(path)}, "--units", path.parent))
