"""Chinese substring search: two-character words, long words, filters, page and reindex."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from storage.models import Item, Message
from storage.search import (
    SearchFilters,
    fts_query,
    index_message,
    search,
    snippet,
    snippets,
    spaced,
)
from workers.cli import cli


def _message(
    session,
    subject: str,
    body: str = "",
    unit: str | None = None,
    files: tuple[tuple[str, str, str], ...] = (),
) -> Message:
    message = Message(
        raw_sha256=f"{abs(hash((subject, body))):064d}"[:64],
        raw_path="raw/x",
        raw_size=1,
        received_at=datetime(2023, 5, 15, 2, tzinfo=UTC),
        subject=subject,
        body_text=body,
        unit_code=unit,
        status="filed",
    )
    for seq, (name, kind, text) in enumerate(files):
        message.items.append(Item(seq=seq, name=name, media="document", kind=kind, text=text))
    session.add(message)
    session.flush()
    index_message(session, message.id)
    return message


@pytest.fixture
def indexed(app):
    with app.db.session() as session:
        _message(session, "北京来信", "关于报告的说明", unit="shenyang")
        _message(
            session, "活动周视频", "见附件", unit="dalian", files=(("宣传片.mp4", "video", ""),)
        )
        _message(
            session,
            "工作总结",
            "",
            unit="dalian",
            files=(("总结.docx", "summary", "辽宁省卫生健康委员会与教育厅联合开展活动"),),
        )
        _message(session, "Weekly Report", "english body text")
    return app


@pytest.mark.parametrize(
    "query, count",
    [
        ("北京", 1),
        ("报告", 1),
        ("视频", 1),
        ("卫生健康委", 1),
        ("健康委员会", 1),
        ("总结", 2),
        ("卫生 健康委", 1),
        ("ＲＥＰＯＲＴ", 1),
        ("repo", 1),
        ("健委", 0),
        ("上海", 0),
        ("的", 1),
    ],
)
def test_chinese_words_match_as_substrings(indexed, query, count):
    with indexed.db.session() as session:
        hits, total = search(session, query)
    assert total == count, (query, hits)


def test_file_names_and_document_text_are_found_as_items(indexed):
    with indexed.db.session() as session:
        hits, _ = search(session, "卫生健康委")
        item = session.get(Item, hits[0].item_id)
        assert item.name == "总结.docx"
        hits, _ = search(session, "宣传片")
        assert hits[0].item_id is not None


def test_filters_narrow_by_unit_kind_status_and_date(indexed):
    with indexed.db.session() as session:
        assert search(session, "活动", SearchFilters(unit="dalian"))[1] == 2
        assert search(session, "活动", SearchFilters(unit="shenyang"))[1] == 0
        assert search(session, "卫生", SearchFilters(kind="summary"))[1] == 1
        assert search(session, "卫生", SearchFilters(kind="plan"))[1] == 0
        assert search(session, "北京", SearchFilters(status="triage"))[1] == 0
        late = SearchFilters(since=datetime(2023, 6, 1, tzinfo=UTC))
        assert search(session, "北京", late)[1] == 0


def test_reindexing_a_message_replaces_its_old_text(indexed):
    with indexed.db.session() as session:
        message = session.scalars(select(Message).where(Message.subject == "北京来信")).one()
        message.subject = "上海来信"
        index_message(session, message.id)
        assert search(session, "北京")[1] == 0
        assert search(session, "上海")[1] == 1


def test_query_syntax_characters_are_plain_text(indexed):
    with indexed.db.session() as session:
        for query in ('"', "AND", "*", "北京 OR", "NEAR(", "-", "'"):
            search(session, query)  # never an FTS5 syntax error


def test_han_characters_become_single_tokens():
    assert spaced("卫生健康委员会abc") == "卫 生 健 康 委 员 会 abc"
    assert fts_query("北京") == '"北 京"'


def test_search_page_finds_a_word_inside_a_document(corpus_site, client_for):
    with corpus_site.db.session() as session:
        item = session.scalars(
            select(Item).where(Item.media == "document", Item.text != "").order_by(Item.id)
        ).first()
        word = next(w for w in ("辽宁", "职业", "活动", "学校") if w in item.text)
    html = client_for(corpus_site).get("/search", params={"q": word}).text
    assert f"/items/{item.id}" in html


def test_search_reindex_command_rebuilds_the_index(indexed):
    result = CliRunner().invoke(cli, ["--config", str(indexed.config.path), "search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "indexed 6 documents" in result.output  # 4 messages, 2 items
    with indexed.db.session() as session:
        assert search(session, "卫生健康委")[1] == 1


@pytest.mark.both_databases
def test_several_words_must_all_be_in_the_same_text(indexed):
    with indexed.db.session() as session:
        assert search(session, "卫生 活动")[1] == 1  # both in the document's text
        assert search(session, "北京 报告")[1] == 1  # subject and body of one message
        assert search(session, "北京 视频")[1] == 0  # in two different messages
        assert search(session, "  总结   卫生 ")[1] == 1
    assert fts_query("大连 方案") == '"大 连" AND "方 案"'


@pytest.mark.both_databases
def test_a_snippet_marks_every_word_found(indexed):
    with indexed.db.session() as session:
        hits, _ = search(session, "卫生 活动")
        pieces = snippets(session, hits, "卫生 活动")[hits[0].doc_id]
    assert ("卫生", True) in pieces and ("活动", True) in pieces
    assert (
        "".join(text for text, _ in pieces).replace("…", "")
        in "总结.docx 辽宁省卫生健康委员会与教育厅联合开展活动"
    )


def test_a_long_text_is_cut_around_the_first_match():
    body = "甲" * 500 + "大连方案" + "乙" * 500
    pieces = snippet(body, ["大连", "方案"], width=40)
    assert pieces[0] == ("…", False) and pieces[-1] == ("…", False)
    assert ("大连", True) in pieces and ("方案", True) in pieces
    assert sum(len(t) for t, _ in pieces) <= 42


def test_the_results_page_highlights_the_words(corpus_site, client_for):
    html = client_for(corpus_site).get("/search", params={"q": "大连 方案"}).text
    assert "找到 0 条" not in html and "同时包含每个词" in html
    assert "<mark>大连</mark>" in html and "<mark>方案</mark>" in html
