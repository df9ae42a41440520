"""The [web] section of config.toml, validated once at start-up."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

SECRET_ENV = "MAILROOM_WEB_SECRET"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
ACCEL_PREFIX = re.compile(r"/(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*/)+")  # no "." or ".." parts


@dataclass(frozen=True)
class WebSettings:
    """How the web UI is served and how it protects sign-in."""

    enabled: bool = False  # `mailroom run` serves the UI too
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key_file: Path | None = None  # signing key for cookies; made on first run
    session_hours: int = 12
    cookie_secure: bool = True  # off only for plain http on loopback (dev, tests)
    login_max_failures: int = 5  # failed sign-ins per name or client ...
    login_window_minutes: int = 15  # ... within this many minutes, then refused
    max_zip_files: int = 500  # photos in one zip download
    accel_redirect: str = ""  # nginx internal location of the archive; "" = the app sends files


def load_web_settings(raw: dict[str, Any], file: str, base_dir: Path) -> WebSettings:
    """Returns the [web] settings from parsed TOML; raises ConfigError naming the key."""
    web = raw.get("web", {})
    if not isinstance(web, dict):
        raise ConfigError(file, "web", "must be a table ([web])")
    defaults = WebSettings()
    values: dict[str, Any] = {}
    for name, default in defaults.__dict__.items():
        if name not in web:
            continue
        value = web[name]
        expected = bool if isinstance(default, bool) else int if isinstance(default, int) else str
        if name == "secret_key_file":
            expected = str
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(file, f"web.{name}", f"must be {expected.__name__}, not {value!r}")
        if expected is int and value < (0 if name == "port" else 1):
            raise ConfigError(file, f"web.{name}", f"must be positive, not {value}")
        values[name] = value
    unknown = sorted(set(web) - set(defaults.__dict__))
    if unknown:
        raise ConfigError(file, f"web.{unknown[0]}", "is not a [web] setting")
    key_file = Path(os.path.expanduser(values.pop("secret_key_file", "data/web-secret.key")))
    settings = WebSettings(
        **values,
        secret_key_file=key_file if key_file.is_absolute() else (base_dir / key_file).resolve(),
    )
    _check_accel_redirect(raw, file, settings.accel_redirect)
    if not settings.cookie_secure and settings.host not in LOOPBACK:
        raise ConfigError(
            file,
            "web.cookie_secure",
            "may be false only when web.host is "
            "127.0.0.1 or localhost (serve other hosts over https)",
        )
    return settings


def _check_accel_redirect(raw: dict[str, Any], file: str, prefix: str) -> None:
    if not prefix:
        return
    if not ACCEL_PREFIX.fullmatch(prefix):
        raise ConfigError(
            file,
            "web.accel_redirect",
            f'must be a URL path starting and ending with "/", such as '
            f'"/_mailroom_archive/" (nginx\'s internal location), not {prefix!r}',
        )
    storage = raw.get("storage", {})
    if isinstance(storage, dict) and storage.get("backend", "local") != "local":
        raise ConfigError(
            file,
            "web.accel_redirect",
            'works only with [storage] backend = "local"; with S3 the app streams '
            "files from its local cache: remove accel_redirect",
        )


def secret_key(settings: WebSettings) -> str:
    """Returns the cookie signing key: $MAILROOM_WEB_SECRET, else the key file (made if absent)."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV]
    path = settings.secret_key_file
    if path is None:
        return secrets.token_urlsafe(48)  # a key for this process only
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    key = path.read_text().strip()
    if len(key) < 32:
        raise ConfigError(str(path), "web.secret_key_file", "holds fewer than 32 characters")
    return key
