"""7z archives through py7zr, passwords included (also when the names are encrypted)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import ArchiveError, ArchiveUnavailable
from pipeline.media.archive_formats import (
    Entry,
    Outcome,
    Password,
    Refused,
    Sink,
    SinkOpener,
)


class SevenZipReader:
    """py7zr, whose extraction is told to write each chosen entry into our sinks.

    py7zr names its outputs after the member names (and renames repeats `name_0`),
    so before extracting, every chosen entry is given a synthetic name of its index:
    repeated, very long or very deep names then never reach py7zr's path handling.
    The archive is opened from a file object, which makes py7zr read its folders one
    after another instead of in threads: an error then stops at the member it hit.
    """

    kind = "7z"

    def __init__(self, path: Path, passwords: Sequence[Password]):
        import py7zr

        self.py7zr, self.path = py7zr, path
        self.names_encrypted, self.names_password = False, None
        self.handles: list = []
        try:
            self.szf = self._open(None)
        except py7zr.PasswordRequired:
            self.szf = self._open_with(passwords)

    def _open(self, password: str | None):
        handle = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        self.handles.append(handle)
        return self.py7zr.SevenZipFile(handle, password=password)

    def _open_with(self, passwords: Sequence[Password]):
        for pw in passwords:
            try:
                szf = self._open(pw.text)
            except Exception:  # noqa: BLE001,S112 - a wrong password fails in many ways
                continue
            self.names_password = pw
            return szf
        self.names_encrypted = True
        return None

    def entries(self) -> list[Entry]:
        if self.szf is None:
            return []
        encrypted = self.szf.needs_password()
        return [
            Entry(
                n,
                f.filename or "",
                f.uncompressed or 0,
                f.compressed or None,
                is_dir=f.is_directory,
                is_link=f.is_symlink or f.is_junction,
                is_special=f.is_socket,
                encrypted=encrypted and not f.emptystream,
                handle=f,
            )
            for n, f in enumerate(self.szf.files)
        ]

    def extract(
        self,
        todo: list[Entry],
        open_sink: SinkOpener,
        passwords: Sequence[Password],
        max_skipped: int,
    ) -> dict[int, Outcome]:
        late = self._behind_too_much(todo, max_skipped)
        outcomes = {index: Outcome("failed", _behind_refusal(max_skipped)) for index in late}
        todo = [e for e in todo if e.index not in late]
        if not todo:
            return outcomes
        if not any(e.encrypted for e in todo):
            return {**outcomes, **self._run(self.szf, todo, open_sink, None).results()}
        known = [self.names_password] if self.names_password else list(passwords)
        for pw in known:
            writers = self._run(self._open(pw.text), todo, open_sink, pw)
            if any(writers.outcomes.get(e.index, _NONE).state == "ok" for e in todo if e.encrypted):
                return {**outcomes, **writers.results()}
            writers.discard_closed()  # a wrong password: what it made is not the member
        return {**outcomes, **{e.index: Outcome("locked", tried=len(known)) for e in todo}}

    def _behind_too_much(self, todo: list[Entry], max_skipped: int) -> set[int]:
        """Returns the chosen entries py7zr could reach only by decompressing more than
        max_skipped bytes of entries not chosen before them in the same solid block
        (it decompresses those to check their CRC, and nothing of ours sees it)."""
        chosen = {e.index for e in todo}
        skipped: dict[int, int] = {}
        late: set[int] = set()
        for n, f in enumerate(self.szf.files):
            folder = f.folder
            if folder is None:
                continue
            key = id(folder)
            if n in chosen and skipped.get(key, 0) <= max_skipped:
                continue
            if n in chosen:
                late.add(n)
            skipped[key] = skipped.get(key, 0) + (f.uncompressed or 0)
        return late

    def _run(self, szf, todo, open_sink, pw: Password | None) -> _SevenZipWriters:
        writers = _SevenZipWriters(todo, open_sink, szf.files, pw)
        try:
            szf.extract(path=None, targets=writers.targets, factory=writers)
        except ArchiveUnavailable:
            writers.discard_open()
            raise
        except Exception as exc:  # noqa: BLE001 - py7zr raises many types; all mean "this failed"
            writers.discard_open()
            writers.fail_unfinished(exc)
        finally:
            szf.close()
        return writers

    def close(self) -> None:
        for handle in self.handles:
            handle.close()


_NONE = Outcome("failed")


def _behind_refusal(max_skipped: int) -> Refused:
    reason = (
        "在固实压缩包中排在过大的文件之后，解开它须先解压超过上限的数据"
        f"（{max_skipped // (1 << 20)} MB），未解压"
    )
    return Refused("too_large", "max_archive_total_bytes", reason)


class _SevenZipWriters:
    """py7zr writer factory: each chosen entry streams into a sink of ours.

    A sink that refuses (a limit) becomes a null writer, so py7zr goes on with the
    next member instead of stopping the whole archive.
    """

    def __init__(self, todo: list[Entry], open_sink: SinkOpener, files, pw: Password | None):
        self.open_sink, self.password = open_sink, pw
        self.by_name: dict[str, Entry] = {}
        for entry in todo:
            name = f"mailroom-member-{entry.index}"
            files[entry.index]._file_info["filename"] = name  # see SevenZipReader
            self.by_name[name] = entry
        self.targets = list(self.by_name)
        self.outcomes: dict[int, Outcome] = {}
        self.open: dict[int, _SevenZipWriter] = {}
        self.closed: dict[int, Sink] = {}

    def create(self, filename: str) -> _SevenZipWriter:
        entry = self.by_name[filename.rsplit("/", 1)[-1]]
        writer = _SevenZipWriter(self, entry)
        self.open[entry.index] = writer
        return writer

    def results(self) -> dict[int, Outcome]:
        for entry in self.by_name.values():  # a target py7zr never opened
            self.outcomes.setdefault(entry.index, Outcome("failed", ArchiveError("not found")))
        return {
            index: Outcome(o.state, o.error, self.password if o.state == "ok" else None)
            for index, o in self.outcomes.items()
        }

    def discard_open(self) -> None:
        for writer in list(self.open.values()):
            writer.abandon()

    def discard_closed(self) -> None:
        for sink in self.closed.values():
            sink.discard()
        self.closed.clear()

    def fail_unfinished(self, exc: Exception) -> None:
        """The archive stopped: the entry being read failed, those after it were never read."""
        # py7zr checks a member's CRC after closing its writer: undo that member
        failed = self.by_name.get(str(exc.args[2])) if len(exc.args) == 3 else None
        if failed is not None and failed.index in self.closed:
            self.closed.pop(failed.index).discard()
            self.outcomes[failed.index] = Outcome("failed", exc)
        stopped = ArchiveError(f"not read: the archive stopped at an earlier error ({exc})")
        for entry in self.by_name.values():
            if entry.index not in self.outcomes:
                self.outcomes[entry.index] = Outcome("failed", stopped)


class _SevenZipWriter:
    """The file-like object py7zr pushes one member's bytes into."""

    def __init__(self, factory: _SevenZipWriters, entry: Entry):
        self.factory, self.entry, self.size_ = factory, entry, 0
        try:
            self.sink: Sink | None = factory.open_sink(entry)
        except Refused as refusal:
            self.sink = None
            factory.outcomes[entry.index] = Outcome("failed", refusal)

    def write(self, data) -> int:
        if self.sink is not None:
            try:
                self.sink.write(bytes(data))
            except Refused as refusal:
                self.abandon()
                self.factory.outcomes[self.entry.index] = Outcome("failed", refusal)
            except BaseException as exc:
                self.factory.outcomes[self.entry.index] = Outcome("failed", exc)
                raise
        self.size_ += len(data)
        return len(data)

    def abandon(self) -> None:
        if self.sink is not None:
            self.sink.discard()
            self.sink = None
        self.factory.open.pop(self.entry.index, None)

    def read(self, size=None) -> bytes:
        return b""

    def seek(self, offset, whence=0) -> int:
        return 0

    def flush(self) -> None:
        pass

    def size(self) -> int:
        return self.size_

    def close(self) -> None:
        if self.sink is not None:
            self.sink.close()
            self.factory.closed[self.entry.index] = self.sink
            self.sink = None
            self.factory.outcomes.setdefault(self.entry.index, Outcome("ok"))
        self.factory.open.pop(self.entry.index, None)
