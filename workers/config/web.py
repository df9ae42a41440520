"""The [web] section: how the staff UI is served and how it protects sign-in."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.config.reader import Reader

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
    login_max_failures: int = 5  # failed sign-ins of one name from one client ...
    login_window_minutes: int = 15  # ... within this many minutes, then that pair waits
    login_client_max_failures: int = 20  # failures from one client, any names, in the window
    login_name_max_failures: int = 10  # failures of one name from clients that signed in before
    login_name_lock_minutes: int = 2  # ... lock that name this long (not on its own clients)
    login_hash_concurrency: int = 2  # password hashes at once (64 MiB each); the rest queue
    trusted_proxies: tuple[str, ...] = ()  # proxies whose X-Forwarded-For names the client
    max_zip_files: int = 500  # photos in one zip download
    max_zip_bytes: int = 2 * 1024**3  # bytes of files in one zip download
    accel_redirect: str = ""  # nginx internal location of the archive; "" = the app sends files


def parse_web(r: Reader, storage_backend: str) -> WebSettings:
    """Returns the [web] settings; raises ConfigError naming the key."""
    web = r.table("web")
    defaults = WebSettings()
    web.only(defaults.__dict__.keys())
    values: dict[str, Any] = {}
    for name, default in defaults.__dict__.items():
        if name not in web.data:
            continue
        value = web.data[name]
        if name == "trusted_proxies":
            values[name] = _trusted_proxies(web)
            continue
        expected = bool if isinstance(default, bool) else int if isinstance(default, int) else str
        if name == "secret_key_file":
            expected = str
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise web.fail(name, f"must be {expected.__name__}, not {value!r}")
        if expected is int and value < (0 if name == "port" else 1):
            raise web.fail(name, f"must be positive, not {value}")
        values[name] = value
    key_file = web.resolve(values.pop("secret_key_file", "data/web-secret.key"))
    settings = WebSettings(**values, secret_key_file=key_file)
    _check_accel_redirect(web, settings.accel_redirect, storage_backend)
    if not settings.cookie_secure and settings.host not in LOOPBACK:
        raise web.fail(
            "cookie_secure",
            "may be false only when web.host is "
            "127.0.0.1 or localhost (serve other hosts over https)",
        )
    return settings


def _trusted_proxies(web: Reader) -> tuple[str, ...]:
    """Returns the proxies' addresses or networks, each checked by ipaddress."""
    values = web.strings("trusted_proxies")
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise web.fail(
                "trusted_proxies",
                f'{value!r} is not an IP address or network such as "127.0.0.1" or "10.0.0.0/24"',
            ) from None
    return values


def _check_accel_redirect(web: Reader, prefix: str, storage_backend: str) -> None:
    if not prefix:
        return
    if not ACCEL_PREFIX.fullmatch(prefix):
        raise web.fail(
            "accel_redirect",
            f'must be a URL path starting and ending with "/", such as '
            f'"/_mailroom_archive/" (nginx\'s internal location), not {prefix!r}',
        )
    if storage_backend != "local":
        raise web.fail(
            "accel_redirect",
            'works only with [storage] backend = "local"; with S3 the app streams '
            "files from its local cache: remove accel_redirect",
        )
