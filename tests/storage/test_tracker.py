"""The tracker counted in the index: distinct files per unit and kind, unusable ones named."""

from __future__ import annotations

from datetime import date

import pytest

from storage.tracker import load_tracker
from tests.conftest import LABELLED
from tests.web.test_one_tracker import corrupt_plan
from workers.ingest import Ingestor, SourceRef

DALIAN_PLAN = LABELLED / "002-dalian-plan-unit-domain.eml"


@pytest.mark.both_databases
def test_files_sent_twice_count_once_and_unusable_ones_ask_for_a_resend(app):
    ingestor = Ingestor(app, "test")
    raw = DALIAN_PLAN.read_bytes()
    for name, data in (
        ("plan", raw),
        ("again", raw.replace(b"Message-ID: <", b"Message-ID: <again.")),
        ("corrupt", corrupt_plan()),
    ):
        ingestor.ingest(data, SourceRef("file", name))
    ingestor.finish()
    with app.db.session() as session:
        rows = load_tracker(session, app.campaign, app.config.units, date(2023, 5, 20))
        before = load_tracker(session, app.campaign, app.config.units, date(2023, 5, 1))
        one = load_tracker(session, app.campaign, app.config.units, date(2023, 5, 20), "shenyang")
    cells = {(r.unit, r.kind): r for r in rows}
    dalian = cells[("dalian", "plan")]
    assert (dalian.state, dalian.items, dalian.needs_resend) == ("submitted", 1, False)
    shenyang = cells[("shenyang", "plan")]
    assert (shenyang.state, shenyang.items, shenyang.resend_reason) == ("missing", 0, "corrupt")
    assert shenyang.resend == (("沈阳市活动周方案.docx", "corrupt"),)
    assert not shenyang.silent and cells[("anshan", "plan")].silent
    assert len(rows) == len(app.config.units) * 6
    # nothing had come by 05-01: every unit is silent, nothing to ask for yet
    assert all(r.silent and r.items == 0 and not r.needs_resend for r in before)
    assert [r.unit for r in one] == ["shenyang"] * 6 and one[0].needs_resend
