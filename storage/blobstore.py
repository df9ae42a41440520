"""Where the archive's objects live: a folder (default) or an S3-compatible bucket.

A blob store holds the archive's immutable, content-named files: `.objects/`
(attachments by SHA-256), `raw/` (whole messages) and `.derived/` (thumbnails,
previews, web videos). Four operations are the whole interface: put, open,
exists, delete. The readable tree of unit/kind folders is never in the store:
it is a local view of hard links (see storage/archive.py).

`LocalBlobStore` is safe on a shared file system (NFS) used by several machines:
it takes no file locks; every write goes to a uniquely named temporary file in
the destination folder and is published with one atomic rename, and because the
keys name their content, two machines writing the same key write the same bytes.

`S3BlobStore` speaks only the generic S3 API (PutObject, GetObject, HeadObject,
DeleteObject, multipart upload through boto3's transfer manager), so MinIO,
Ceph RGW, SeaweedFS, Garage or a cloud provider all work.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from pipeline.errors import StorageError
from pipeline.tempnames import temp_prefix
from storage.crashpoints import MID_WRITE, crash_point

# Key prefixes that live in the blob store; everything else in the archive is local.
STORE_PREFIXES = (".objects/", "raw/", ".derived/")


def is_store_key(rel: str) -> bool:
    """Returns True for an archive path that belongs in the blob store."""
    return rel.startswith(STORE_PREFIXES)


class BlobStore(Protocol):
    """Content-named files: put, open, exists, delete (keys are archive-relative paths)."""

    def put(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, src: Path) -> None: ...

    def open(self, key: str) -> BinaryIO: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def fetch(self, key: str, dest: Path) -> bool: ...


def temp_beside(target: Path) -> tuple[int, str]:
    """Opens a temp file in target's folder, made if missing; returns (fd, path).

    Its name says it is this process's (pipeline/tempnames.py), so one a crash left
    is swept. The folder is made only when the first try fails: a mkdir of an
    existing folder per stored file cost more than a millisecond a message.
    """
    try:
        return tempfile.mkstemp(dir=target.parent, prefix=temp_prefix())
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=target.parent, prefix=temp_prefix())


def atomic_write(target: Path, write) -> None:
    """Writes a file through write(handle) into a temp file beside target, fsyncs, renames."""
    fd, tmp = temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        crash_point(MID_WRITE)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LocalBlobStore:
    """Blobs as files under the archive root (the layout the archive always had)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        atomic_write(self.path(key), lambda handle: handle.write(data))

    def put_file(self, key: str, src: Path) -> None:
        def copy(handle: BinaryIO) -> None:
            with open(src, "rb") as source:
                shutil.copyfileobj(source, handle, 1 << 20)

        atomic_write(self.path(key), copy)

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def fetch(self, key: str, dest: Path) -> bool:
        """Local blobs are already where the archive looks for them."""
        return self.path(key).exists()


@dataclass(frozen=True)
class S3Settings:
    """Where the bucket is; the keys themselves come from the environment."""

    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    prefix: str = ""
    access_key: str | None = None
    secret_key: str | None = None
    addressing_style: str = "path"  # path works with every S3-compatible server


class S3BlobStore:
    """Blobs as objects in one bucket of an S3-compatible server."""

    def __init__(self, settings: S3Settings, client=None):
        self.settings = settings
        self.client = client or _s3_client(settings)
        self._errors = _client_errors()

    def _key(self, key: str) -> str:
        return self.settings.prefix + key

    @contextmanager
    def _translated(self, what: str, key: str) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            raise StorageError(
                f"object storage: cannot {what} {key} in bucket "
                f"{self.settings.bucket} at {self.settings.endpoint_url or 'AWS'}:"
                f" {exc}"
            ) from exc

    def put(self, key: str, data: bytes) -> None:
        with self._translated("write", key):
            self.client.put_object(Bucket=self.settings.bucket, Key=self._key(key), Body=data)

    def put_file(self, key: str, src: Path) -> None:
        # upload_file switches to multipart for large files (web videos, big attachments)
        with self._translated("upload", key):
            self.client.upload_file(str(src), self.settings.bucket, self._key(key))

    def open(self, key: str) -> BinaryIO:
        with self._translated("read", key):
            return self.client.get_object(Bucket=self.settings.bucket, Key=self._key(key))["Body"]

    def exists(self, key: str) -> bool:
        with self._translated("look up", key):
            try:
                self.client.head_object(Bucket=self.settings.bucket, Key=self._key(key))
            except self._errors[0] as exc:  # ClientError: 404 is an answer, not a failure
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
        return True

    def delete(self, key: str) -> None:
        with self._translated("delete", key):
            self.client.delete_object(Bucket=self.settings.bucket, Key=self._key(key))

    def fetch(self, key: str, dest: Path) -> bool:
        """Downloads key to dest atomically; returns False when there is no such object."""
        if not self.exists(key):
            return False
        with self._translated("download", key):
            body = self.client.get_object(Bucket=self.settings.bucket, Key=self._key(key))["Body"]
            atomic_write(dest, lambda handle: shutil.copyfileobj(body, handle, 1 << 20))
        return True


def _client_errors() -> tuple[type[Exception], ...]:
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError, Boto3Error)


def _s3_client(settings: S3Settings):
    try:
        import boto3
        from botocore.config import Config as BotoConfig
    except ImportError:
        raise StorageError(
            '[storage] backend = "s3" needs boto3: pip install boto3 (in mailroom\'s virtualenv)'
        ) from None
    return boto3.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key,
        config=BotoConfig(
            s3={"addressing_style": settings.addressing_style},
            retries={"max_attempts": 5, "mode": "standard"},
        ),
    )
