"""The mixed mailbox: the week's material, other business of the same units, inquiries and a
second campaign open at the same time — no other-business message is ever counted."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.campaign_triage import mark_answered, pending_inquiries
from storage.models import Message
from tests.conftest import DATA, LABELLED
from workers.evaluate import evaluate, load_labels, open_notices
from workers.reports.outputs import tracker

MIXED = DATA / "mixed"
WEEK, MONTH = "2023-vocational-week", "2023-skills-month"
SECOND_NOTICE = f"{DATA / 'notices' / 'notice-2023-skills-month.md'}={MONTH}"


def _file_name(message: Message) -> str:
    return Path(message.source.split("#")[0]).name


@pytest.mark.both_databases
def test_mixed_mailbox_counts_only_each_campaigns_own_mail(app, capsys):
    open_notices(app, [SECOND_NOTICE])
    week_labels = load_labels(LABELLED / "labels.json")
    mixed_labels = load_labels(MIXED / "labels.json")
    week = evaluate(app, week_labels, LABELLED)
    mixed = evaluate(app, mixed_labels, MIXED)
    with capsys.disabled():
        print("\nlabelled (the week):\n" + week.table() + "\n\nmixed mailbox:\n" + mixed.table())

    assert sum(1 for label in mixed_labels.values() if label.campaign is None) >= 30
    for report in (week, mixed):
        assert report.campaign_wrong == 0 and report.other_counted == 0, report.table()
        assert report.confident_wrong == 0, report.table()
    assert week.campaign.rate >= 0.9 and mixed.campaign.rate >= 0.8
    assert week.unit.rate >= 0.95 and week.kind.rate >= 0.95  # the week's accuracy holds

    labels = {**week_labels, **mixed_labels}
    with app.db.session() as session:
        counted = session.scalars(
            select(Message).where(Message.status == "filed", Message.campaign_status == "assigned")
        ).all()
        # Every message a tracker counts belongs to that campaign, by its label.
        for message in counted:
            assert labels[_file_name(message)].campaign == message.campaign_code, _file_name(
                message
            )
        # ... and every message of no campaign is 其他来件 or waits for a person.
        for message in session.scalars(select(Message)):
            if (
                labels[_file_name(message)].campaign is None
                and labels[_file_name(message)].is_material
            ):
                assert message.campaign_status in ("other", "triage"), _file_name(message)


@pytest.mark.both_databases
def test_two_campaigns_open_at_once_each_tracker_counts_only_its_own(app):
    open_notices(app, [SECOND_NOTICE])
    evaluate(app, load_labels(LABELLED / "labels.json"), LABELLED)
    evaluate(app, load_labels(MIXED / "labels.json"), MIXED)
    week_campaign, month_campaign = (app.campaign_by_code(WEEK), app.campaign_by_code(MONTH))
    week = {(r.unit, r.kind): r for r in tracker(app, date(2023, 6, 30), week_campaign)}
    month = {(r.unit, r.kind): r for r in tracker(app, date(2023, 6, 30), month_campaign)}

    # syvtc sent the month a 典型案例 during the week: the week's tracker does not count it.
    assert week[("syvtc", "case")].items == 0 and month[("syvtc", "case")].state == "submitted"
    # dalian sent the week two cases and the month its stories: each counts only its own.
    assert week[("dalian", "case")].items == 2 and month[("dalian", "case")].items == 0
    assert month[("dalian", "story")].state == "submitted"
    # anshan's 工作总结 of the month (06-25) is not the week's summary (its own came 05-31).
    assert week[("anshan", "summary")].items == 1
    assert month[("anshan", "summary")].state == "submitted"
    assert month[("jinzhou", "roster")].state == "submitted"  # due 5 working days after 05-09
    # the month addresses 各市教育局 and 各高职院校: the zone is not in its tracker
    assert not any(unit == "shenfu" for unit, _ in month)
    assert any(unit == "shenfu" for unit, _ in week)
    # the other business of the same units changes nothing: fushun's 学生资助工作总结 (05-26)
    assert week[("fushun", "summary")].items == 0


def test_inquiries_wait_for_an_answer_until_marked(app):
    open_notices(app, [SECOND_NOTICE])
    evaluate(app, load_labels(MIXED / "labels.json"), MIXED)
    with app.db.session() as session:
        waiting = pending_inquiries(session)
        by_subject = {m.subject: m for m in waiting}
        assert len(waiting) == 4
        assert {m.campaign_code for m in waiting} == {WEEK, MONTH}
        seals = next(
            m for s, m in by_subject.items() if "做好2023年" in s and m.unit_code == "shenyang"
        )
        assert (seals.is_material, seals.status, seals.not_material_reason) == (
            False,
            "not_material",
            "inquiry",
        )
        assert len(pending_inquiries(session, MONTH)) == 1
    mark_answered(app, seals.id, "韩健")
    with app.db.session() as session:
        assert seals.id not in {m.id for m in pending_inquiries(session)}
        answered = session.get(Message, seals.id)
        assert answered.answered_by == "韩健" and answered.answered_at is not None
