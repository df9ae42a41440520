"""The triage queue: newest first, filters (candidate, reason, sender, files, dates), counts."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from storage.triage_queue import QueueFilter, count, matching_ids, page, triage_queue
from tests.conftest import LABELLED
from workers.ingest import Ingestor, SourceRef

TZ = ZoneInfo("Asia/Shanghai")
NAMES = {
    "no_clue": "049-no-clue-at-all.eml",  # photos from a QQ address, nothing names a unit
    "conflict": "047-conflict-subject-dalian-address-shenyang.eml",
    "weak": "048-weak-clue-venue-only.eml",
}
BARE = (  # a question with no file and no clue of its unit
    "From: someone@example.org\r\nTo: zcc1.sjyt@ln.gov.cn\r\nSubject: 请问截止时间\r\n"
    "Date: Tue, 16 May 2023 09:00:00 +0800\r\nMessage-ID: <bare@example.org>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n请问方案什么时候截止？\r\n"
).encode()


@pytest.fixture
def queued(app) -> dict[str, int]:
    ingestor = Ingestor(app, "test")
    pks = {
        key: ingestor.ingest((LABELLED / name).read_bytes(), SourceRef("file", name)).message_pk
        for key, name in NAMES.items()
    }
    pks["reply"] = ingestor.ingest(BARE, SourceRef("file", "bare")).message_pk
    ingestor.finish()
    return pks


def ids(app, flt: QueueFilter) -> list[int]:
    with app.db.session() as session:
        return [m.id for m in page(session, flt, 1, 50)]


@pytest.mark.both_databases
def test_filters_narrow_the_queue_and_counts_agree(app, queued):
    everything = ids(app, QueueFilter())
    assert set(everything) == set(queued.values())
    with app.db.session() as session:
        assert count(session) == len(queued)
        received = {m.id: m.received_at for m in page(session, QueueFilter(), 1, 50)}
    assert everything == sorted(everything, key=lambda pk: received[pk], reverse=True)
    assert ids(app, QueueFilter(oldest_first=True)) == everything[::-1]

    assert ids(app, QueueFilter(candidate="dalian")) == [queued["conflict"]]
    assert ids(app, QueueFilter(reason="conflict")) == [queued["conflict"]]
    assert queued["no_clue"] in ids(app, QueueFilter(reason="none"))
    assert ids(app, QueueFilter(sender="1355826610")) == [queued["no_clue"]]
    assert queued["reply"] not in ids(app, QueueFilter(has_files=True))
    assert ids(app, QueueFilter(has_files=False)) == [queued["reply"]]
    newest = max(received.values())
    assert ids(app, QueueFilter(since=newest)) == [everything[0]]
    assert everything[0] not in ids(app, QueueFilter(until=newest))
    with app.db.session() as session:
        assert count(session, QueueFilter(candidate="dalian")) == 1
        assert matching_ids(session, QueueFilter(has_files=True)) == [
            pk for pk in everything if pk != queued["reply"]
        ]


def test_a_filter_value_with_like_wildcards_is_plain_text(app, queued):
    assert ids(app, QueueFilter(sender="%")) == []
    assert ids(app, QueueFilter(candidate='dalian": %')) == []


def test_paging_reaches_every_message_once(app, queued):
    with app.db.session() as session:
        pages = [[m.id for m in page(session, QueueFilter(), n, 3)] for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [3, 1, 0]
    assert sorted(pages[0] + pages[1]) == sorted(queued.values())


def test_rows_carry_what_the_json_listing_prints(app, queued):
    (row,) = [r for r in triage_queue(app) if r.message_pk == queued["conflict"]]
    data = row.to_json(TZ)
    assert data["id"] == queued["conflict"] and data["message_id"]
    assert set(data["candidates"]) == {"shenyang", "dalian"}
    assert datetime.fromisoformat(data["date"]).utcoffset().total_seconds() == 8 * 3600
    assert data["from"] == "syjyj_zcc@163.com" and data["subject"]


def test_the_campaign_filter_keeps_its_mail_and_mail_whose_campaign_waits(app, queued):
    with app.db.session() as session:
        states = {
            m.id: (m.campaign_code, m.campaign_status) for m in page(session, QueueFilter(), 1, 50)
        }
    code = app.campaign.code
    mine = {pk for pk, (c, s) in states.items() if c == code or s == "triage"}
    waiting = {pk for pk, (_, s) in states.items() if s == "triage"}
    assert waiting and mine - waiting  # filed under the week, or its campaign waits
    assert set(ids(app, QueueFilter(campaign=code))) == mine
    assert set(ids(app, QueueFilter(campaign="another-week"))) == waiting
