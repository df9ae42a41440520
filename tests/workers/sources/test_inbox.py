"""The inbox folder on a full disk: the pass stops with one line, and the file is read again."""

from __future__ import annotations

import logging

from storage.health import SourceStatus
from tests.support import media_files as files
from tests.support.disks import fill, tmpfs
from workers.sources.inbox import poll_inbox


def test_a_full_disk_stops_the_pass_and_the_file_is_read_again_once_there_is_room(
    tmp_path, make_app, caplog
):
    with tmpfs(tmp_path / "site" / "archive", "1m") as disk:
        app = make_app("[limits]\nmin_free_bytes = 0\n", folder=tmp_path / "site")
        inbox = app.config.source.inbox_dir
        inbox.mkdir(parents=True)
        raw = files.message("大连市活动周照片", [("合影.jpg", files.jpeg(), "image/jpeg")])
        (inbox / "photo.eml").write_bytes(raw)
        filler = fill(disk)
        caplog.set_level(logging.WARNING)
        assert poll_inbox(app) is None
        [line] = [r.getMessage() for r in caplog.records if r.name == "workers.sources.inbox"]
        assert line.startswith(f"inbox {inbox}: waiting, read again on the next pass: ")
        assert "Traceback" not in caplog.text
        with app.db.session() as session:
            assert session.get(SourceStatus, "folder:inbox").reason == "archive"

        filler.unlink()
        result = poll_inbox(app)
        assert [o.status for o in result.outcomes] == ["filed"]
        with app.db.session() as session:
            assert session.get(SourceStatus, "folder:inbox").problem is None
