"""The key that signs the web UI's cookies: from the environment, or a file made on first start."""

from __future__ import annotations

import os
import secrets

from pipeline.errors import ConfigError
from workers.config import WebSettings

SECRET_ENV = "MAILROOM_WEB_SECRET"


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
