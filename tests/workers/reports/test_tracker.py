"""The tracker's states from rows (pure) and from the labelled corpus (through the CLI)."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from pipeline.campaign import Campaign, Kind
from pipeline.tracker import Submission, tracker_rows
from pipeline.tracker_sheets import CSV_HEADERS
from pipeline.units import Unit
from workers.cli import cli
from workers.export import export_items, export_messages

TZ = ZoneInfo("Asia/Shanghai")
CAMPAIGN = Campaign(
    code="c",
    name="活动周",
    start=date(2023, 5, 14),
    end=date(2023, 5, 25),
    timezone="Asia/Shanghai",
    kinds=(
        Kind("plan", "活动周方案", due=date(2023, 5, 8)),
        Kind("photo", "照片", due=date(2023, 5, 25)),
        Kind("other", "其他", required=False),
    ),
)
UNITS = (
    Unit("a", "甲市教育局", "city"),
    Unit("b", "乙市教育局", "city"),
    Unit("c", "丙学院", "college"),
)


def at(day: int, hour: int = 10, month: int = 5) -> datetime:
    return datetime(2023, month, day, hour, tzinfo=TZ)


def states(rows) -> dict[tuple[str, str], str]:
    return {(r.unit, r.kind): r.state for r in rows}


def test_states_submitted_late_missing_and_pending():
    subs = [
        Submission("a", "plan", at(8, 23), "x"),
        Submission("b", "plan", at(9, 0), "y"),
        Submission("a", "photo", at(16), "p1"),
    ]
    rows = tracker_rows(CAMPAIGN, UNITS, subs, date(2023, 5, 20))
    assert states(rows) == {
        ("a", "plan"): "submitted",
        ("a", "photo"): "submitted",
        ("b", "plan"): "late",
        ("b", "photo"): "pending",
        ("c", "plan"): "missing",
        ("c", "photo"): "pending",
    }


def test_optional_kinds_are_not_tracked():
    rows = tracker_rows(CAMPAIGN, UNITS, [], date(2023, 5, 20))
    assert {r.kind for r in rows} == {"plan", "photo"}
    assert len(rows) == len(UNITS) * 2


def test_mail_after_the_as_of_day_does_not_count():
    subs = [Submission("a", "photo", at(22), "p")]
    before = states(tracker_rows(CAMPAIGN, UNITS, subs, date(2023, 5, 21)))
    after = states(tracker_rows(CAMPAIGN, UNITS, subs, date(2023, 5, 22)))
    assert before[("a", "photo")] == "pending" and after[("a", "photo")] == "submitted"


def test_the_same_file_sent_twice_counts_once_and_first_receipt_wins():
    subs = [
        Submission("a", "photo", at(17), "same"),
        Submission("a", "photo", at(16), "same"),
        Submission("a", "photo", at(18), "other"),
    ]
    row = next(
        r
        for r in tracker_rows(CAMPAIGN, UNITS, subs, date(2023, 5, 20))
        if (r.unit, r.kind) == ("a", "photo")
    )
    assert row.items == 2 and row.first_received == at(16) and row.days_left == 5


def test_units_that_sent_nothing_are_marked_silent():
    subs = [Submission("a", "photo", at(16), "p")]
    rows = tracker_rows(CAMPAIGN, UNITS, subs, date(2023, 5, 20), active_units={"b"})
    silent = {r.unit for r in rows if r.silent}
    assert silent == {"c"}


def test_json_has_exactly_the_documented_keys():
    row = tracker_rows(CAMPAIGN, UNITS, [Submission("a", "plan", at(5), "x")], date(2023, 5, 20))[0]
    assert row.to_json(CAMPAIGN) == {
        "unit": "a",
        "unit_name": "甲市教育局",
        "kind": "plan",
        "state": "submitted",
        "first_received": "2023-05-05T10:00:00+08:00",
        "items": 1,
        "due": "2023-05-08",
        "needs_resend": False,
        "resend_reason": None,
    }


def test_a_kind_whose_files_are_all_unusable_is_missing_and_needs_a_resend():
    subs = [
        Submission("a", "plan", at(5), "bad", "corrupt", "方案.docx"),
        Submission("b", "plan", at(5), "bad2", "encrypted", "方案.zip"),
        Submission("b", "plan", at(6), "good", "ok", "方案.pdf"),
        Submission("c", "photo", at(16), "big", "too_large", "合影.jpg"),
    ]
    rows = {(r.unit, r.kind): r for r in tracker_rows(CAMPAIGN, UNITS, subs, date(2023, 5, 20))}
    plan = rows[("a", "plan")]
    assert (plan.state, plan.items, plan.first_received) == ("missing", 0, None)
    assert plan.to_json(CAMPAIGN)["needs_resend"] is True
    assert plan.to_json(CAMPAIGN)["resend_reason"] == "corrupt"
    assert plan.state_label == "需重发" and "方案.docx（文件损坏" in plan.ask
    assert not plan.silent  # it did send something
    # one usable copy is enough: submitted, nothing to ask for
    assert rows[("b", "plan")].state == "submitted" and not rows[("b", "plan")].needs_resend
    # before the deadline: still pending, but already worth asking again
    photo = rows[("c", "photo")]
    assert photo.state == "pending" and photo.resend_reason == "too_large"


def run_tracker(ctx, *args: str) -> str:
    result = CliRunner().invoke(
        cli, ["--config", str(ctx.config.path), "report", "tracker", *args], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.output


def expected_from_exports(ctx, as_of: date) -> dict[tuple[str, str], tuple[str, int]]:
    """Computes (first day, distinct files) per unit and kind from the stable exports."""
    messages = {m["message_id"]: m for m in export_messages(ctx, until=as_of)}
    first: dict[tuple[str, str], str] = {}
    files: dict[tuple[str, str], set] = {}
    for item in export_items(ctx, until=as_of):
        m = messages[item["message_id"]]
        counted = m["unit"] and m["is_material"] and m["campaign"] == ctx.campaign.code
        if not counted or item["status"] not in ("ok", "external_link"):
            continue
        key = (m["unit"], item["kind"])
        first[key] = min(first.get(key, m["date"]), m["date"])
        files.setdefault(key, set()).add(item["sha256"] or item["url"])
    return {k: (first[k], len(files[k])) for k in first}


def test_tracker_json_matches_the_index_for_the_labelled_corpus(corpus_app):
    ctx = corpus_app()
    rows = json.loads(run_tracker(ctx, "--date", "2023-05-20", "--format", "json"))
    assert len(rows) == len(ctx.config.units) * 6
    expected = expected_from_exports(ctx, date(2023, 5, 20))
    for row in rows:
        got = expected.get((row["unit"], row["kind"]))
        if got is None:
            assert row["state"] in ("missing", "pending") and row["items"] == 0
        else:
            assert row["first_received"] == got[0] and row["items"] == got[1]
    by_key = {(r["unit"], r["kind"]): r for r in rows}
    assert by_key[("fushun", "plan")]["state"] == "late"  # received 2023-05-10
    assert by_key[("shenyang", "plan")]["state"] == "submitted"
    assert by_key[("liaoyang", "summary")]["state"] == "pending"  # its summary came 05-22
    assert {r["state"] for r in rows if r["kind"] == "plan"} <= {"submitted", "late", "missing"}


def test_tracker_before_the_plan_deadline_shows_pending_not_missing(corpus_app):
    ctx = corpus_app()
    rows = json.loads(run_tracker(ctx, "--date", "2023-05-07"))
    plan = {r["unit"]: r["state"] for r in rows if r["kind"] == "plan"}
    assert plan["fushun"] == "pending" and "missing" not in plan.values()


def test_tracker_csv_and_xlsx_outputs(corpus_app, tmp_path):
    ctx = corpus_app()
    csv_text = run_tracker(ctx, "--date", "2023-05-20", "--format", "csv")
    assert csv_text.startswith("\ufeff")  # Excel reads the BOM and shows the Chinese
    lines = csv_text.strip().splitlines()
    assert lines[0] == "\ufeff" + ",".join(CSV_HEADERS)
    assert len(lines) == 1 + len(ctx.config.units) * 6
    out = tmp_path / "进度.xlsx"
    run_tracker(ctx, "--date", "2023-05-20", "--format", "xlsx", "--output", str(out))
    from openpyxl import load_workbook

    book = load_workbook(out)
    grid, detail = book.worksheets
    assert grid.title == "报送进度" and grid.freeze_panes == "B2"
    assert grid.max_row == 1 + len(ctx.config.units) and grid.max_column == 1 + 6
    assert grid["A2"].value == ctx.config.units[0].name
    assert detail.title == "进度明细" and detail.freeze_panes == "A2"
    assert detail.max_row == 1 + len(ctx.config.units) * 6


def test_a_summary_written_in_the_body_beside_photos_counts_as_submitted(corpus_app):
    """Issue 14: QQ Mail's summary typed into the body with photos dropped in (061) and
    Outlook's with inline photos (064) are the units' summaries, not missing ones."""
    rows = json.loads(run_tracker(corpus_app(), "--date", "2023-06-02", "--format", "json"))
    by_key = {(r["unit"], r["kind"]): r for r in rows}
    for unit in ("yingkou", "dalian"):
        assert by_key[(unit, "summary")]["state"] == "submitted", unit
        assert by_key[(unit, "summary")]["items"] == 1
