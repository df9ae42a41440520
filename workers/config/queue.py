"""The [queue] section and the object store of [storage] (backend, [storage.s3]).

With no `[queue] broker_url` everything runs in the mailroom process itself (the
default, no broker). With one, Celery workers on any machine run the jobs.
Secrets (a broker password, S3 keys) come from environment variables named here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from storage.blobstore import S3Settings
from workers.config.reader import Reader

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


_INTS = (
    "ingest_concurrency",
    "media_concurrency",
    "visibility_timeout",
    "soft_time_limit",
    "time_limit",
    "resubmit_after_minutes",
)


def parse_queue(r: Reader) -> QueueSettings:
    """Returns the validated [queue] settings; raises ConfigError naming the key."""
    q = r.table("queue")
    q.only({"broker_url", "broker_url_env", *_INTS})
    url = q.get("broker_url")
    env = q.get("broker_url_env", "MAILROOM_BROKER_URL")
    if not isinstance(env, str):
        raise q.fail("broker_url_env", "must be the name of an environment variable")
    url = os.environ.get(env) or url or None  # "" (the documented default) means no broker
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("redis://", "rediss://"))
    ):
        raise q.fail(
            "broker_url", f"must be a Redis URL such as redis://localhost:6379/0, not {url!r}"
        )
    ints = {}
    for key in _INTS:
        value = q.get(key, getattr(QueueSettings, key))
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise q.fail(key, f"must be a whole number of at least 1, not {value!r}")
        ints[key] = value
    settings = QueueSettings(broker_url=url or None, **ints)
    if not settings.soft_time_limit < settings.time_limit < settings.visibility_timeout:
        raise q.fail(
            "time_limit",
            "need soft_time_limit < time_limit < "
            "visibility_timeout, or Redis hands a running task to a second worker",
        )
    return settings


_S3_KEYS = {
    "endpoint_url",
    "bucket",
    "region",
    "prefix",
    "access_key_env",
    "secret_key_env",
    "addressing_style",
}


def parse_s3(r: Reader) -> S3Settings:
    """Returns [storage.s3]; the access keys come from the environment variables it names."""
    s3 = r.table("storage.s3")
    s3.only(_S3_KEYS)
    bucket = s3.get("bucket")
    if not isinstance(bucket, str) or not bucket:
        raise s3.fail("bucket", 'is required when storage.backend = "s3"')
    key_env = s3.get("access_key_env", "MAILROOM_S3_ACCESS_KEY")
    secret_env = s3.get("secret_key_env", "MAILROOM_S3_SECRET_KEY")
    for key, name in (("access_key_env", key_env), ("secret_key_env", secret_env)):
        if not isinstance(name, str) or not os.environ.get(name):
            raise s3.fail(
                key,
                f"set the environment variable {name} (the S3 credentials never go in config.toml)",
            )
    style = s3.get("addressing_style", "path")
    if style not in ("path", "virtual"):
        raise s3.fail("addressing_style", f"{style!r} is not path or virtual")
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
