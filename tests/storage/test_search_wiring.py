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
