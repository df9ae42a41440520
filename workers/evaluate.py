"""Scoring mailroom's decisions against a labelled folder of mail.

`evaluate(ctx, labels, path)` ingests every message under `path` through the
real ingestion path into `ctx` (a throwaway index and archive), then compares
the index with the labels: unit, confident-wrong units, triage, item kinds,
is_material, flags, forwarded_by and, when labelled, the campaign (a code, or
null for mail of no campaign: 其他来件). The labels format is described in
`load_labels` and in README ("Checking accuracy on your own mail").
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.errors import MailroomError
from storage import campaigns as campaign_store
from storage.models import Item, Message
from workers.app import AppContext, open_context
from workers.config import Config, load_units_file
from workers.ingest import Ingestor
from workers.sources.files import mail_files, read_messages

KIND_CODE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")  # a campaign's kind code
MESSAGE_FIELDS = ("unit", "is_material", "flags", "forwarded_by", "items")
UNLABELLED = object()  # no "campaign" key: the campaign is not scored


@dataclass(frozen=True)
class Label:
    """The expected answer for one message (see load_labels for the JSON form)."""

    key: str
    unit: str | None
    is_material: bool
    flags: frozenset[str]
    forwarded_by: str | None
    items: dict[str, str]
    decorative: tuple[str, ...] = ()
    received: str | None = None
    note: str = ""
    campaign: object = UNLABELLED  # a campaign code, None (其他来件), or not labelled
    statuses: dict[str, str] = field(default_factory=dict)  # item key -> status when not ok
    password_from: dict[str, str] = field(default_factory=dict)  # archive member -> body|staff
    junk: tuple[str, ...] = ()  # archive members that must not become items


@dataclass
class Miss:
    """One disagreement between the index and the labels."""

    key: str
    what: str  # unit | confident_wrong | kind | missing_item | extra_item | ...
    expected: Any
    got: Any
    detail: str = ""

    def line(self) -> str:
        text = f"{self.key}: {self.what} expected {self.expected!r}, got {self.got!r}"
        return text + (f" ({self.detail})" if self.detail else "")


@dataclass
class Score:
    """A count of correct answers out of a total."""

    correct: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.total += 1
        self.correct += int(ok)

    @property
    def rate(self) -> float:
        return self.correct / self.total if self.total else 1.0

    def text(self) -> str:
        return f"{self.correct}/{self.total} ({self.rate:.1%})"


@dataclass
class EvalReport:
    """The accuracy figures and every miss of one evaluation."""

    messages: int = 0
    unit: Score = field(default_factory=Score)  # on identifiable messages
    unidentifiable_left: Score = field(default_factory=Score)  # label null -> unit null
    confident_wrong: int = 0
    triage: int = 0
    kind: Score = field(default_factory=Score)
    is_material: Score = field(default_factory=Score)
    flags: Score = field(default_factory=Score)
    forwarded_by: Score = field(default_factory=Score)
    received: Score = field(default_factory=Score)
    decorative: Score = field(default_factory=Score)
    extra_items: int = 0  # material items the labels do not have (a covering note, junk)
    campaign: Score = field(default_factory=Score)  # on messages with a campaign label
    campaign_wrong: int = 0  # counted for a campaign it does not belong to
    other_counted: int = 0  # ... of which mail of no campaign (其他来件)
    campaign_triage: int = 0  # left for a person to decide the campaign
    archive: Score = field(default_factory=Score)  # archive members: status, password, junk
    misses: list[Miss] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    not_unpacked: list[str] = field(default_factory=list)  # members of unopened archives

    def table(self) -> str:
        """Returns the accuracy table and the list of misses as plain text."""
        rows = [
            ("messages evaluated", str(self.messages)),
            ("unit correct (identifiable messages)", self.unit.text()),
            ("unidentifiable left for triage", self.unidentifiable_left.text()),
            ("confident wrong units", str(self.confident_wrong)),
            ("sent to triage", str(self.triage)),
            ("item kind correct", self.kind.text()),
            ("archive members not unpacked (not scored)", str(len(self.not_unpacked))),
            ("decorative images kept out", self.decorative.text()),
            ("items filed that are not material", str(self.extra_items)),
            ("archive members: status, password, junk", self.archive.text()),
            ("is_material correct", self.is_material.text()),
            ("flags correct", self.flags.text()),
            ("forwarded_by correct", self.forwarded_by.text()),
            ("received time correct", self.received.text()),
            ("campaign correct (labelled messages)", self.campaign.text()),
            ("counted for a wrong campaign", str(self.campaign_wrong)),
            ("other business counted by a tracker", str(self.other_counted)),
            ("campaign left for triage", str(self.campaign_triage)),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        if self.misses:
            lines.append(f"misses ({len(self.misses)}):")
            lines += ["  " + miss.line() for miss in self.misses]
        else:
            lines.append("misses: none")
        if self.not_unpacked:
            lines.append(
                "archive members not unpacked at ingestion (not scored): "
                + ", ".join(self.not_unpacked)
            )
        if self.unlabelled:
            lines.append("mail files without a label (not ingested): " + ", ".join(self.unlabelled))
        return "\n".join(lines)


def load_labels(path: Path) -> dict[str, Label]:
    """Returns the labels in a labels.json file, keyed by mail file name.

    Form: {"version": 1, "messages": {"<file name>": {"unit": code|null,
    "is_material": bool, "flags": [...], "forwarded_by": address|null,
    "items": {"<item key>": kind}, "decorative": [...], "received": ISO time,
    "note": text, "campaign": code|null}}}, and for archives optionally "statuses":
    {"<item key>": status other than ok}, "password_from": {"<member key>": "body"|"staff"}
    and "junk": [member keys that must not be items]. Item keys are attachment file names,
    "zip/member" for archive members, the URL of an external link, or "正文.txt" for
    the body; an item's kind is null when its message belongs to no campaign.
    Without "campaign" the campaign decision is not scored.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MailroomError(f"cannot read labels {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("messages"), dict):
        raise MailroomError(f'labels {path}: expected an object with a "messages" object')
    labels = {}
    for key, entry in data["messages"].items():
        missing = [name for name in MESSAGE_FIELDS if name not in entry]
        if missing:
            raise MailroomError(f"labels {path}: {key} lacks {', '.join(missing)}")
        bad = sorted(k for k in entry["items"].values() if k is not None and not KIND_CODE.match(k))
        if bad:
            raise MailroomError(f"labels {path}: {key} has a bad kind code {bad[0]!r}")
        labels[key] = Label(
            key=key,
            unit=entry["unit"],
            is_material=bool(entry["is_material"]),
            flags=frozenset(entry["flags"]),
            forwarded_by=entry["forwarded_by"],
            items=dict(entry["items"]),
            decorative=tuple(entry.get("decorative", ())),
            received=entry.get("received"),
            note=entry.get("note", ""),
            campaign=entry.get("campaign", UNLABELLED),
            statuses=dict(entry.get("statuses", {})),
            password_from=dict(entry.get("password_from", {})),
            junk=tuple(entry.get("junk", ())),
        )
    return labels


@contextmanager
def throwaway_context(config: Config, units_file: Path | None = None) -> Iterator[AppContext]:
    """Yields an AppContext with config's campaign and units on a temporary index and archive."""
    folder = Path(tempfile.mkdtemp(prefix="mailroom-eval-"))
    storage = replace(
        config.storage,
        archive_dir=folder / "archive",
        database_url=f"sqlite:///{folder / 'index.db'}",
        backend="local",
        s3=None,
    )
    config = replace(config, storage=storage)
    if units_file is not None:
        config = replace(config, units=load_units_file(units_file))
    ctx = open_context(config)
    try:
        yield ctx
    finally:
        ctx.close()
        shutil.rmtree(folder, ignore_errors=True)


def open_notices(ctx: AppContext, notices: tuple[str, ...] | list[str]) -> None:
    """Opens in ctx the campaign each notice proposes ("FILE" or "FILE=CODE")."""
    from dataclasses import replace as with_fields

    from pipeline.notice import propose, read_notice

    for spec in notices:
        path, _, code = spec.partition("=")
        campaign = propose(read_notice(Path(path)), code or None).campaign
        with ctx.db.session() as session:
            campaign_store.save_campaign(session, with_fields(campaign, state="open"), actor="eval")


def ingest_labelled(
    ctx: AppContext, path: Path, wanted: set[str]
) -> tuple[dict[str, int], list[str]]:
    """Ingests the labelled messages under path; returns ({file name: message pk}, unlabelled).

    A message's key is its file name (for Maildir, its unique name before ":2,").
    """
    ingestor = Ingestor(ctx, f"eval:{path}")
    keys: dict[str, int] = {}
    unlabelled: list[str] = []
    for mail_path in mail_files(Path(path)):
        if mail_path.is_file() and mail_path.name not in wanted:
            unlabelled.append(mail_path.name)
            continue
        for raw, source in read_messages(mail_path):
            name = Path(source.location.split("#")[0]).name.split(":2,")[0]
            if name not in wanted:
                unlabelled.append(name)
                continue
            outcome = ingestor.ingest(raw, source)
            if outcome.message_pk is not None:
                keys.setdefault(name, outcome.message_pk)
    ingestor.finish()
    return keys, unlabelled


def evaluate(ctx: AppContext, labels: dict[str, Label], path: Path) -> EvalReport:
    """Ingests the labelled mail under path into ctx and returns the scored report."""
    keys, unlabelled = ingest_labelled(ctx, path, set(labels))
    report = EvalReport(unlabelled=sorted(unlabelled))
    with ctx.db.session() as session:
        for key, label in sorted(labels.items()):
            pk = keys.get(key)
            message = session.get(Message, pk) if pk is not None else None
            if message is None:
                report.misses.append(Miss(key, "message", "ingested", "not found"))
                continue
            report.messages += 1
            _score_message(report, label, message, ctx.config.identify.confident_threshold)
            _score_campaign(report, label, message)
            _score_items(report, label, message, session)
    return report


def _score_message(report: EvalReport, label: Label, message: Message, threshold: float) -> None:
    got = message.unit_code
    if label.unit is not None:
        report.unit.add(got == label.unit)
    else:
        report.unidentifiable_left.add(got is None)
    if got is not None and got != label.unit:
        report.confident_wrong += 1
        report.misses.append(
            Miss(
                label.key,
                "confident_wrong",
                label.unit,
                got,
                f"confidence {message.confidence:.2f}",
            )
        )
    elif got != label.unit:
        report.misses.append(Miss(label.key, "unit", label.unit, got, _top_candidates(message)))
    if message.status == "triage":
        report.triage += 1
    _compare(
        report, report.is_material, label.key, "is_material", label.is_material, message.is_material
    )
    _compare(
        report,
        report.flags,
        label.key,
        "flags",
        sorted(label.flags),
        sorted(set(message.flags or [])),
    )
    _compare(
        report,
        report.forwarded_by,
        label.key,
        "forwarded_by",
        label.forwarded_by,
        message.forwarded_by,
    )
    if label.received:
        expected = datetime.fromisoformat(label.received)
        _compare(
            report,
            report.received,
            label.key,
            "received",
            label.received,
            message.received_at.astimezone(expected.tzinfo).isoformat(),
        )


def _score_campaign(report: EvalReport, label: Label, message: Message) -> None:
    """Scores the campaign: the message counted for its campaign, 其他来件 for none, and
    never counted for a campaign it does not belong to (triage is a miss, not a wrong)."""
    if label.campaign is UNLABELLED or not label.is_material:
        return
    status = message.campaign_status
    got = message.campaign_code if status == campaign_store.ASSIGNED else None
    ok = got == label.campaign and (got is not None or status == campaign_store.OTHER)
    report.campaign.add(ok)
    if status == campaign_store.TRIAGE:
        report.campaign_triage += 1
    if ok:
        return
    if got is not None:  # counted for a campaign it does not belong to
        report.campaign_wrong += 1
        report.other_counted += int(label.campaign is None)
        what = "campaign_wrong"
    else:
        what = "campaign"
    shown = got if got is not None else ("triage" if status == campaign_store.TRIAGE else None)
    report.misses.append(Miss(label.key, what, label.campaign, shown))


def _compare(report: EvalReport, score: Score, key: str, what: str, expected, got) -> None:
    score.add(expected == got)
    if expected != got:
        report.misses.append(Miss(key, what, expected, got))


def _top_candidates(message: Message) -> str:
    for decision in message.decisions:
        if decision.subject == "unit" and decision.decided_by == "auto":
            candidates = decision.evidence.get("candidates", {})
            return ", ".join(f"{k} {v:.2f}" for k, v in list(candidates.items())[:3])
    return ""


def _score_items(report: EvalReport, label: Label, message: Message, session) -> None:
    items = list(message.items)
    by_key = {_item_key(item, session): item for item in items}
    for name in label.decorative:
        item = by_key.get(name)
        ok = item is None or item.role == "decorative"
        report.decorative.add(ok)
        if not ok:
            report.misses.append(Miss(label.key, "decorative", name, "filed as material"))
    unpacked = {item.container_id for item in items if item.container_id is not None}
    for key, kind in label.items.items():
        item = by_key.get(key)
        container = by_key.get(key.rsplit("/", 1)[0]) if "/" in key and "://" not in key else None
        if item is None and container is not None and container.id not in unpacked:
            report.not_unpacked.append(f"{label.key}: {key}")
            continue
        if item is None or item.role != "material":
            report.kind.add(False)
            report.misses.append(Miss(label.key, "missing_item", f"{key} ({kind})", None))
            continue
        _compare(report, report.kind, label.key, f"kind of {key}", kind, item.kind)
    material = {k for k, item in by_key.items() if item.role == "material"}
    for extra in sorted(material - set(label.items) - set(label.decorative)):
        if label.is_material:
            report.extra_items += 1
            report.misses.append(Miss(label.key, "extra_item", None, extra))
    _score_archives(report, label, by_key)


def _score_archives(report: EvalReport, label: Label, by_key: dict[str, Item]) -> None:
    """Scores archive members: their status (ok unless labelled), the password that
    opened them, and junk kept out."""
    for key in label.items:
        item = by_key.get(key)
        if item is None or (item.container_id is None and key not in label.statuses):
            continue
        expected = (label.statuses.get(key, "ok"), label.password_from.get(key))
        got = (item.status, (item.meta or {}).get("password_from"))
        _compare(report, report.archive, label.key, f"status and password of {key}", expected, got)
    for key in label.junk:
        _compare(
            report,
            report.archive,
            label.key,
            f"junk {key}",
            "not an item",
            "not an item" if key not in by_key else "an item",
        )


def _item_key(item: Item, session) -> str:
    if item.status == "external_link" and item.url:
        return item.url
    if item.container_id is not None:
        container = session.get(Item, item.container_id)
        return f"{container.name}/{item.name}"
    return item.name
