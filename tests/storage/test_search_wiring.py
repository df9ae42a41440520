"""What ingestion and the media stage feed the search index, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from storage.models import Item
from storage.search import search
from tests.conftest import LABELLED
from workers.cli import cli

pytestmark = pytest.mark.both_databases  # ingestion and search behave the same on both


def test_words_from_subject_and_from_inside_a_document_are_found(app, tmp_path):
    inbox = tmp_path / "drop"
    inbox.mkdir()
    shutil.copy(LABELLED / "028-lnpc-mixed-materials.eml", inbox)
    result = CliRunner().invoke(
        cli, ["--config", str(app.config.path), "ingest", str(inbox)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    with app.db.session() as session:
        # Two characters, from the body of the attached case study only.
        hits, total = search(session, "仿真")
        names = {session.get(Item, h.item_id).name for h in hits if h.item_id}
        assert "辽宁石化职业技术学院典型案例.docx" in names and total >= 1
        # A long phrase a word segmenter would split differently.
        assert search(session, "虚拟仿真实训中心")[1] >= 1
        assert search(session, "没有这个词组")[1] == 0


def test_an_archive_member_is_found_by_two_characters_of_its_name_at_once(app):
    """A zip of photos has no document: nothing but its unpacking can index its members."""
    from tests.support import archive_files as af
    from tests.support import media_files as files
    from workers.ingest import Ingestor, SourceRef

    zipped = af.zip_bytes({"开幕式合影.jpg": files.jpeg(), "技能展示.jpg": files.jpeg(200, 150)})
    raw = files.message("活动周照片", [("照片.zip", zipped, "application/zip")])
    Ingestor(app, "test").ingest(raw, SourceRef("file", "photos.eml"))
    with app.db.session() as session:
        hits, total = search(session, "开幕")
        names = {session.get(Item, h.item_id).name for h in hits if h.item_id}
    assert names == {"开幕式合影.jpg"} and total == 1


def test_search_reindex_repairs_an_index_that_lost_archive_members(app):
    from sqlalchemy import delete, select, text

    from storage.search import SearchDoc
    from tests.support import archive_files as af
    from tests.support import media_files as files
    from workers.ingest import Ingestor, SourceRef

    zipped = af.zip_bytes({"闭幕式.jpg": files.jpeg()})
    raw = files.message("活动周照片", [("照片.zip", zipped, "application/zip")])
    Ingestor(app, "test").ingest(raw, SourceRef("file", "photos.eml"))
    with app.db.session() as session:  # an index filled before members were indexed
        member = session.scalar(select(Item.id).where(Item.name == "闭幕式.jpg"))
        if app.db.engine.dialect.name == "sqlite":
            session.execute(
                text(
                    "DELETE FROM search_fts WHERE rowid IN (SELECT id FROM search_docs WHERE item_id = :i)"
                ),
                {"i": member},
            )
        session.execute(delete(SearchDoc).where(SearchDoc.item_id == member))
    with app.db.session() as session:
        assert search(session, "闭幕")[1] == 0
    result = CliRunner().invoke(
        cli, ["--config", str(app.config.path), "search", "reindex"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    with app.db.session() as session:
        hits, total = search(session, "闭幕")
        assert total == 1 and hits[0].item_id == member
