"""The archive on disk: content-addressed objects plus a readable folder tree.

Every file's bytes live once under .objects/ (named by SHA-256); the tree a
person browses (<campaign>/<unit>/<kind>/<date subject>/<file>) is made of hard
links to them, so duplicates cost nothing and re-filing is a rename. Writes
are atomic: temporary file in the destination folder, fsync, os.replace.

The objects, raw messages and derivatives (.objects/, raw/, .derived/) go through
a blob store (storage/blobstore.py). With the default local store they are the
files under the root, exactly as before. With an S3 store the bucket holds the
primary copy and the files under the root are a cache of it that `abspath()`
fills on demand (callers keep working on local paths); the readable tree stays a
local view of hard links into that cache, which `mailroom archive rebuild-view`
recreates from the index on any machine.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from pipeline.errors import ArchiveUnavailable, StorageError
from pipeline.tempnames import temp_prefix
from storage import layout
from storage.blobstore import BlobStore, LocalBlobStore, atomic_write, is_store_key, temp_beside

# What a disk says when it cannot take a write now; each is the machine's fault, not the mail's.
_WHAT_TO_DO = {
    errno.ENOSPC: "the disk is full — free space there or move [storage] archive_dir",
    errno.EDQUOT: "the disk quota is used up — free space there or move [storage] archive_dir",
    errno.EROFS: "the disk is read-only — remount it writable or move [storage] archive_dir",
    errno.EACCES: "permission denied — let the user running mailroom write there",
    errno.EPERM: "permission denied — let the user running mailroom write there",
    errno.EIO: "the disk reports an I/O error — check the disk",
}


@contextmanager
def translated_os_errors(root: Path) -> Iterator[None]:
    """Turns an OSError of a full, read-only or failing disk into ArchiveUnavailable."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _WHAT_TO_DO:
            raise
        raise ArchiveUnavailable(
            f"cannot write to the archive at {root}: {_WHAT_TO_DO[exc.errno]}"
        ) from exc


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Archive:
    """The archive rooted at one folder."""

    def __init__(self, root: Path, store: BlobStore | None = None):
        self.root = Path(root)
        self._resolved_root: Path | None = None
        self.store = store if store is not None else LocalBlobStore(self.root)
        self.remote = not isinstance(self.store, LocalBlobStore)

    def abspath(self, rel: str) -> Path:
        """Returns the absolute path of a relative archive path, refusing escapes.

        With a remote store, an object not yet cached here is downloaded first.
        """
        path = self._local(rel)
        if self.remote and is_store_key(rel) and not path.exists():
            self.store.fetch(rel, path)
        return path

    def _local(self, rel: str) -> Path:
        # Lexical check, not Path.resolve(): this runs for every file of every message, and
        # resolve() stats each component. The archive itself holds no symbolic links.
        clean = os.path.normpath(rel)
        if os.path.isabs(clean) or clean == ".." or clean.startswith("../"):
            raise StorageError(f"refusing a path outside the archive: {rel}")
        return self._root / clean if clean != "." else self._root

    @property
    def _root(self) -> Path:
        if self._resolved_root is None:
            self._resolved_root = self.root.resolve()
        return self._resolved_root

    def exists(self, rel: str) -> bool:
        if self.remote and is_store_key(rel):
            return self._local(rel).exists() or self.store.exists(rel)
        return self.abspath(rel).exists()

    @contextmanager
    def open(self, rel: str) -> Iterator[BinaryIO]:
        with open(self.abspath(rel), "rb") as handle:
            yield handle

    def publish(self, rel: str) -> None:
        """Copies a file made in place under the root (a derivative) to a remote store."""
        if self.remote and is_store_key(rel) and self._local(rel).exists():
            self.store.put_file(rel, self._local(rel))

    def delete(self, rel: str) -> None:
        """Removes an object from the store and from the local cache."""
        if is_store_key(rel):
            self.store.delete(rel)
        self._local(rel).unlink(missing_ok=True)

    def writing(self):
        """A context in which a full or read-only disk raises ArchiveUnavailable."""
        return translated_os_errors(self.root)

    def put_bytes(self, rel: str, data: bytes) -> str:
        """Writes data atomically at rel (replacing what was there); returns rel."""
        with self.writing():
            atomic_write(self._local(rel), lambda handle: handle.write(data))
        self.publish(rel)
        return rel

    def put_blob(self, data: bytes, sha: str | None = None) -> tuple[str, str]:
        """Stores bytes by content (sha: their SHA-256, if known); returns (sha256, path)."""
        sha = sha or hashlib.sha256(data).hexdigest()
        rel = layout.blob_path(sha)
        if not self.exists(rel):
            self.put_bytes(rel, data)
        return sha, rel

    def put_blob_file(self, src: Path) -> tuple[str, str, int]:
        """Stores a file by content without reading it whole; returns (sha, rel, size)."""
        digest = hashlib.sha256()
        size = 0
        with open(src, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
        sha = digest.hexdigest()
        rel = layout.blob_path(sha)
        target = self._local(rel)
        if not self.exists(rel):
            with self.writing():
                fd, tmp = temp_beside(target)
                os.close(fd)
                try:
                    shutil.copyfile(src, tmp)
                    with open(tmp, "rb+") as handle:
                        os.fsync(handle.fileno())
                    os.replace(tmp, target)
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
            self.publish(rel)
        return sha, rel, size

    def adopt_blob_files(self, files: list[tuple[Path, str]]) -> list[str]:
        """Stores files already hashed, (path, sha256) each, by moving them in; returns the
        objects' paths. They must be on the archive's disk (unpacked archive members are).

        Their bytes are made durable first, many at once: fsync one file after another
        cost 7 ms each on a busy disk (14 s for a zip of 2,000 photos), in parallel the
        disk commits them together.
        """
        missing = [(src, sha) for src, sha in files if not self.exists(layout.blob_path(sha))]
        with self.writing(), ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(_fsync, {src for src, _ in missing}))
        rels = []
        for src, sha in files:
            rel = layout.blob_path(sha)
            if self.exists(rel):  # the same bytes came before (or twice in this archive)
                src.unlink(missing_ok=True)
            else:
                self._move_in(src, rel)
            rels.append(rel)
        return rels

    def _move_in(self, src: Path, rel: str) -> None:
        target = self._local(rel)
        with self.writing():
            try:
                os.replace(src, target)
            except FileNotFoundError:  # the object's folder is new
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, target)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                self.put_blob_file(src)  # another file system after all: copy
                return
        self.publish(rel)

    def put_raw(self, data: bytes, sha: str | None = None) -> tuple[str, str]:
        """Stores a raw message by content (sha: its SHA-256, if known); returns (sha256, path)."""
        sha = sha or hashlib.sha256(data).hexdigest()
        rel = layout.raw_path(sha)
        if not self.exists(rel):
            self.put_bytes(rel, data)
        return sha, rel

    def link(self, blob_rel: str, view_rel: str, made: list[str] | None = None) -> str:
        """Makes view_rel show the object at blob_rel; returns the path used.

        A different file already at view_rel keeps its name; ours gets ' (2)'. A new
        entry's path is added to `made` (for undoing it), one already there is not:
        it belongs to whoever made it.
        """
        source = self.abspath(blob_rel)
        with self.writing():
            return self._link(source, view_rel, made)

    def _link(self, source: Path, view_rel: str, made: list[str] | None) -> str:
        for n in range(1, 1000):
            candidate = view_rel if n == 1 else layout.with_number(view_rel, n)
            target = self.abspath(candidate)
            if target.exists():
                if os.path.samefile(source, target):
                    return candidate
                continue
            tmp = target.parent / f"{temp_prefix('link-')}{uuid.uuid4().hex[:12]}"
            tmp.unlink(missing_ok=True)
            try:
                os.link(source, tmp)
            except FileNotFoundError:  # the folder is made only when missing: a mkdir per
                target.parent.mkdir(parents=True, exist_ok=True)  # file is slow on a busy disk
                os.link(source, tmp)
            except OSError:  # another file system, or links not allowed: copy instead
                shutil.copyfile(source, tmp)
            os.replace(tmp, target)
            if made is not None:
                made.append(candidate)
            return candidate
        raise StorageError(f"too many files named like {view_rel}")

    def unlink_view(self, view_rel: str) -> None:
        """Removes a view entry and any folders it leaves empty (never the object)."""
        target = self.abspath(view_rel)
        target.unlink(missing_ok=True)
        parent = target.parent
        while parent != self._root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent

    def move_view(self, old_rel: str, blob_rel: str, new_rel: str) -> str:
        """Re-files a view entry: link at the new place, then drop the old; returns new path."""
        placed = self.link(blob_rel, new_rel)
        if placed != old_rel:
            self.unlink_view(old_rel)
        return placed
