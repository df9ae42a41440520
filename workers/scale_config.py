"""The [queue] and [storage] backend settings: validated once from config.raw.

With no `[queue] broker_url` everything runs in the mailroom process itself (the
default, no broker). With one, Celery workers on any machine run the jobs.
Secrets (a broker password, S3 keys) come from environment variables named here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pipeline.errors import ConfigError
from storage.blobstore import BlobStore, LocalBlobStore, S3BlobStore, S3Settings
from workers.config import Config

QUEUES = ("ingest", "media")


@dataclass(frozen=True)
class QueueSettings:
    """How background jobs are distributed; broker_url None means in-process."""

    broker_url: str | None = None
    ingest_concurrency: int = 2
    media_concurrency: int = 1  # one transcode per worker machine by default
    visibility_timeout: int = 3600  # Redis re-delivers an unacknowledged task after this
    soft_time_limit: int = 3000  # the task is asked to stop (SoftTimeLimitExceeded)
    time_limit: int = 3300  # the worker process is killed
    resubmit_after_minutes: int = 10  # pending rows older than this are sent again

    @property
    def distributed(self) -> bool:
        return self.broker_url is not None


def queue_settings(config: Config) -> QueueSettings:
    """Returns the validated [queue] settings; raises ConfigError naming the key."""
    section = _section(config, "queue")
    file = config.label
    known = {
        "broker_url",
        "broker_url_env",
        "ingest_concurrency",
        "media_concurrency",
        "visibility_timeout",
        "soft_time_limit",
        "time_limit",
        "resubmit_after_minutes",
    }
    _no_unknown(file, "queue", section, known)
    url = section.get("broker_url")
    env = section.get("broker_url_env", "MAILROOM_BROKER_URL")
    if not isinstance(env, str):
        raise ConfigError(
            file, "queue.broker_url_env", "must be the name of an environment variable"
        )
    url = os.environ.get(env) or url
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("redis://", "rediss://"))
    ):
        raise ConfigError(
            file,
            "queue.broker_url",
            f"must be a Redis URL such as redis://localhost:6379/0, not {url!r}",
        )
    ints = {
        key: _positive(file, section, key, getattr(QueueSettings, key))
        for key in known - {"broker_url", "broker_url_env"}
    }
    settings = QueueSettings(broker_url=url or None, **ints)
    if not settings.soft_time_limit < settings.time_limit < settings.visibility_timeout:
        raise ConfigError(
            file,
            "queue.time_limit",
            "need soft_time_limit < time_limit < "
            "visibility_timeout, or Redis hands a running task to a second worker",
        )
    return settings


def blob_store(config: Config) -> BlobStore:
    """Returns the archive's object store chosen by [storage] backend (local or s3)."""
    storage = _section(config, "storage")
    backend = storage.get("backend", "local")
    file = config.label
    if backend == "local":
        return LocalBlobStore(config.storage.archive_dir)
    if backend != "s3":
        raise ConfigError(file, "storage.backend", f"{backend!r} is not local or s3")
    return S3BlobStore(s3_settings(config))


def s3_settings(config: Config) -> S3Settings:
    """Returns [storage.s3]; the access keys come from the environment variables it names."""
    s3 = _section(config, "storage").get("s3", {})
    file = config.label
    if not isinstance(s3, dict):
        raise ConfigError(file, "storage.s3", "must be a table")
    known = {
        "endpoint_url",
        "bucket",
        "region",
        "prefix",
        "access_key_env",
        "secret_key_env",
        "addressing_style",
    }
    _no_unknown(file, "storage.s3", s3, known)
    bucket = s3.get("bucket")
    if not isinstance(bucket, str) or not bucket:
        raise ConfigError(file, "storage.s3.bucket", 'is required when storage.backend = "s3"')
    key_env = s3.get("access_key_env", "MAILROOM_S3_ACCESS_KEY")
    secret_env = s3.get("secret_key_env", "MAILROOM_S3_SECRET_KEY")
    for key, name in (("access_key_env", key_env), ("secret_key_env", secret_env)):
        if not isinstance(name, str) or not os.environ.get(name):
            raise ConfigError(
                file,
                f"storage.s3.{key}",
                f"set the environment variable {name} (the S3 credentials never go in config.toml)",
            )
    style = s3.get("addressing_style", "path")
    if style not in ("path", "virtual"):
        raise ConfigError(file, "storage.s3.addressing_style", f"{style!r} is not path or virtual")
    prefix = str(s3.get("prefix", ""))
    return S3Settings(
        bucket=bucket,
        endpoint_url=s3.get("endpoint_url") or None,
        region=str(s3.get("region", "us-east-1")),
        prefix=prefix if not prefix or prefix.endswith("/") else prefix + "/",
        access_key=os.environ[key_env],
        secret_key=os.environ[secret_env],
        addressing_style=style,
    )


def _section(config: Config, name: str) -> dict[str, Any]:
    section = config.raw.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(config.label, name, "must be a table")
    return section


def _no_unknown(file: str, prefix: str, section: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(file, f"{prefix}.{unknown[0]}", "is not a known key")


def _positive(file: str, section: dict[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            file, f"queue.{key}", f"must be a whole number of at least 1, not {value!r}"
        )
    return value
