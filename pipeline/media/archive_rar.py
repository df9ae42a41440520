"""RAR archives through rarfile, which parses RAR headers in Python and reads stored
members itself; for compressed members it needs an external tool. Debian's `7zip`
package is built without the non-free RAR codec and `unrar` is non-free, so rarfile is
pinned to `bsdtar` (libarchive-tools), which reads RAR 4 and 5 but not solid or
encrypted RAR: an encrypted RAR member stays `encrypted` whatever password is known.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from pipeline.errors import ArchiveUnavailable
from pipeline.media.archive_formats import CHUNK, Entry, Outcome, Password, SinkOpener, attempt

log = logging.getLogger(__name__)


@cache
def _pin_rar_tool() -> None:
    """Makes rarfile use bsdtar: the only free RAR decoder Debian packages (see module doc)."""
    import rarfile

    try:
        rarfile.tool_setup(unrar=False, unar=False, sevenzip=False, sevenzip2=False, force=True)
    except rarfile.RarCannotExec:
        log.warning(
            "bsdtar not found: compressed RAR members cannot be read (apt libarchive-tools)"
        )


class RarReader:
    kind = "rar"
    names_password = None

    def __init__(self, path: Path, passwords: Sequence[Password]):
        import rarfile

        _pin_rar_tool()
        self.names_encrypted = False
        try:
            self.rf = rarfile.RarFile(str(path), errors="strict")
        except rarfile.PasswordRequired:
            self.names_encrypted, self.rf = True, None
        if self.rf is not None and self.rf.needs_password() and not self.rf.infolist():
            self.names_encrypted = True

    def entries(self) -> list[Entry]:
        if self.rf is None:
            return []
        return [
            Entry(
                n,
                info.filename,
                info.file_size,
                info.compress_size,
                is_dir=info.is_dir(),
                is_link=info.is_symlink(),
                encrypted=info.needs_password(),
                handle=info,
            )
            for n, info in enumerate(self.rf.infolist())
        ]

    def extract(
        self,
        todo: list[Entry],
        open_sink: SinkOpener,
        passwords: Sequence[Password],
        max_skipped: int,
    ) -> dict[int, Outcome]:
        outcomes = {}
        for entry in todo:
            if entry.encrypted:  # bsdtar cannot decrypt RAR, whatever the password
                outcomes[entry.index] = Outcome("locked", tried=0)
                continue
            try:
                with attempt(open_sink, entry) as sink, self.rf.open(entry.handle) as src:
                    while chunk := src.read(CHUNK):
                        sink.write(chunk)
            except ArchiveUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - this entry only
                outcomes[entry.index] = Outcome("failed", exc)
            else:
                outcomes[entry.index] = Outcome("ok")
        return outcomes

    def close(self) -> None:
        if self.rf is not None:
            self.rf.close()
