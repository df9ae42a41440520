"""Ingestion within its budgets: hostile bodies file in a moment, and a message over
`[limits] message_seconds` is recorded with its raw copy and a reason while the next goes on."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from storage.models import IngestError, Item, Message
from tests.support.hostile_media import HOSTILE_BODIES, many_parts_message, message_with_body
from workers.ingest import Ingestor
from workers.ingest_result import SourceRef


@pytest.mark.parametrize("shape", sorted(HOSTILE_BODIES))
def test_a_hostile_body_is_filed_in_a_moment(app, shape):
    """100,000 lines of "From: x" (800 KB) were still being processed after 5 minutes."""
    ingestor = Ingestor(app, "test")
    started = time.process_time()
    outcome = ingestor.ingest(message_with_body(HOSTILE_BODIES[shape]), SourceRef("file", shape))
    assert time.process_time() - started < 10  # CPU seconds: minutes before, ~0.2 s now
    assert outcome.status in ("filed", "triage"), outcome.error
    with app.db.session() as session:
        message = session.get(Message, outcome.message_pk)
        assert message.unit_code in ("dalian", None) and message.error is None
        links = session.scalars(select(Item).where(Item.status == "external_link")).all()
        assert len(links) <= 50  # a body of links is not 20,000 items to fetch


def test_a_message_over_the_time_budget_is_kept_raw_with_a_reason_and_the_next_goes_on(
    make_app,
):
    app = make_app("[limits]\nmessage_seconds = 0.5\n")
    ingestor = Ingestor(app, "test")
    warm = ingestor.ingest(message_with_body("您好，附件请查收。", message_id="warm"), SourceRef())
    assert warm.status in ("filed", "triage")  # loads the parser's lazy imports first
    hostile = many_parts_message(50_000)  # 8 MB: the MIME parse alone takes longer
    started = time.monotonic()
    outcome = ingestor.ingest(hostile, SourceRef("file", "parts.eml"))
    assert time.monotonic() - started < 30
    assert outcome.status == "error"
    after = ingestor.ingest(message_with_body("您好，请查收。", message_id="next"), SourceRef())
    assert after.status in ("filed", "triage")
    with app.db.session() as session:
        message = session.get(Message, outcome.message_pk)
        assert message.status == "error" and message.flags == ["over_limit"]
        assert message.error.startswith(
            "邮件解析和识别超过0.5 秒的处理时限，已停止处理；原始邮件已保存"
        )
        assert app.archive.abspath(message.raw_path).read_bytes() == hostile
        error = session.scalars(
            select(IngestError).where(IngestError.message_pk == message.id)
        ).one()
        assert error.stage == "limit" and "(limits.message_seconds)" in error.error
        assert session.scalars(select(Item).where(Item.message_pk == message.id)).all() == []
