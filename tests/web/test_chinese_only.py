"""Staff read Chinese: a walk over every page and every report finds no English word.

The walker signs in as an editor (who sees the most), follows every link of the UI
from the dashboard, and collects what a person reads: text, titles, placeholders,
image descriptions. What came in the mail (subjects, names, addresses, file names,
links, the mail body and snippets of it) is data, taken out first; what is left may
hold ASCII letters only in the allow-list (file formats and size units).
"""

from __future__ import annotations

import re
from collections import Counter, deque
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from storage.dismiss import dismiss
from storage.models import AuditEntry, DecisionRecord, Item, Message
from storage.search import normalise
from storage.triage import assign_unit, set_item_kind, undo
from storage.web_models import User
from tests.conftest import LABELLED, MAIL
from tests.web.conftest import open_site
from tests.web.test_one_tracker import corrupt_plan
from workers.reports.outputs import make_daily_report

ALLOWED = {"KB", "MB", "GB", "PDF", "Word", "Excel", "WPS", "PPT", "CSV", "RTF"}
SKIP_CLASSES = {"mailbody", "mailtext", "snippet"}  # the mail itself, shown as it came
READ_ATTRIBUTES = ("title", "placeholder", "alt", "aria-label")
# downloads and files: not pages
NOT_PAGES = re.compile(
    r"^/(static/|logout|items/\d+/(file|thumb|preview|video)|messages/\d+/(raw|zip)|"
    r"units/[^/]+/zip|reports/(tracker\.|file/|daily/[^/]+/))"
)
PER_ROUTE = 8  # pages of one route (messages/N, items/N, ...) walked at most
LABELLED_MAIL = [
    "003-jinzhou-photos-subject-tag.eml",
    "025-lnvc-video-mov-display-name.eml",
    "026-lncc-photos-zip-utf8.eml",
    "028-lnpc-mixed-materials.eml",
    "036-jinzhou-report-pdf.eml",
    "043-jinzhou-photos-resent.eml",
    "045-reply-quotes-notice-no-clue.eml",
    "047-conflict-subject-dalian-address-shenyang.eml",
    "049-no-clue-at-all.eml",
    "050-benxi-forwarded-as-attachment.eml",
    "053-auto-reply.eml",
    "054-bounce.eml",
    "055-bulk-newsletter.eml",
    "058-bhcc-photos-baidu-pan.eml",
]


class Reader(HTMLParser):
    """Collects what a person reads on a page, and the page's links."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[str] = []
        self.stack: list[bool] = []  # per open element: inside a skipped one?

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        skipped = bool(self.stack and self.stack[-1]) or tag in ("script", "style")
        skipped = skipped or bool(SKIP_CLASSES & set((attrs.get("class") or "").split()))
        if not skipped:
            self.text += [attrs[a] for a in READ_ATTRIBUTES if attrs.get(a)]
            if tag == "input" and attrs.get("type") in ("submit", "button"):
                self.text.append(attrs.get("value") or "")
        if tag == "a" and attrs.get("href", "").startswith("/"):
            self.links.append(attrs["href"])
        if tag == "iframe" and attrs.get("src", "").startswith("/"):
            self.links.append(attrs["src"])
        if tag not in self.VOID:
            self.stack.append(skipped)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not (self.stack and self.stack[-1]):
            self.text.append(data)


def mail_data(ctx) -> list[str]:
    """Returns every string that came from mail or from people (names), and the codes
    (units, kinds) a spreadsheet keeps in columns of their own, longest first."""
    found: set[str] = {u.code for u in ctx.config.units}
    for campaign in ctx.campaigns():  # a campaign's code and its kinds' codes are codes
        found |= {campaign.code, *campaign.kind_codes()}
    with ctx.db.session() as session:
        for m in session.scalars(select(Message)):
            found.update([m.subject, m.from_name, m.from_addr, m.message_id, *m.to_addrs])
            found.update([m.forwarded_from or "", m.forwarded_by or ""])
        for i in session.scalars(select(Item)):
            found.update([i.name, i.url or "", i.url_expiry or ""])
        for d in session.scalars(select(DecisionRecord)):
            found.update(str(c.get("value", "")) for c in d.evidence.get("clues", []))
            found.update(s for s in d.evidence.get("signals", []) if ":" not in s)  # mail words
            found.add(d.decided_by)
        found.update(session.scalars(select(AuditEntry.actor)))
        found.update(session.scalars(select(User.name)))
    found |= {normalise(s) for s in found}
    return sorted((s for s in found if s and s.strip()), key=len, reverse=True)


FILE_NAME = re.compile(r"[\w\-（）()]+\.[A-Za-z0-9]{2,5}\b")
# a deadline typed as a rule in the campaign form (end+7d, issued+5wd): a code, like a date
DUE_RULE = re.compile(r"\b(start|end|issued)[+-]\d+w?d\b")


def english_words(text: str, data: list[str]) -> list[str]:
    """Returns the ASCII-letter words of text outside the data, file names and allow-list."""
    lowered = text.lower()
    for value in data:  # lower-cased on both sides: snippets and file names change case
        lowered = lowered.replace(value.lower(), " ")
    lowered = DUE_RULE.sub(" ", FILE_NAME.sub(" ", lowered))
    return [w for w in re.findall(r"[A-Za-z]+", lowered) if w.upper() not in ALLOWED_UPPER]


ALLOWED_UPPER = {a.upper() for a in ALLOWED}


@pytest.fixture(scope="module")
def busy_site(tmp_path_factory):
    """Mail of every sort, with the changes a clerk makes, and a daily report."""
    folder = tmp_path_factory.mktemp("chinese-only")
    bad = folder / "corrupt-plan.eml"
    bad.write_bytes(corrupt_plan())
    mail = [LABELLED / n for n in LABELLED_MAIL]
    mail += [MAIL / "damaged-attachment.eml", MAIL / "gbk-rfc2047-filename.eml", bad]
    ctx = open_site(folder / "site", mail)
    with ctx.db.session() as session:
        queued = session.scalars(
            select(Message.id).where(Message.status == "triage").order_by(Message.id)
        ).all()
        item = session.scalars(
            select(Item.id).where(Item.role == "material", Item.path.is_not(None))
        ).first()
    assign_unit(ctx, queued[0], "panjin", "韩健")
    undone = dismiss(ctx, queued[1], "spam", "韩健")
    undo(ctx, undone, "韩健")
    dismiss(ctx, queued[1], "other_business", "韩健")
    set_item_kind(ctx, item, "summary", "韩健")
    for day in (6, 16, 20):
        now = datetime(2023, 5, day + 1, 8, tzinfo=ctx.campaign.tz)
        make_daily_report(ctx, ctx.config.reports, now.date().replace(day=day), now, send=False)
    yield ctx
    ctx.close()


def test_no_page_shows_an_english_word(busy_site, client_for):
    client = client_for(busy_site, "editor")
    data = mail_data(busy_site)
    seen, routes, queue = set(), Counter(), deque(["/", "/triage?order=old", "/search?q=活动"])
    queue += ["/messages/99999999", "/reports?day=2023-13-01", "/search?q=jinzhou 照片"]
    found: dict[str, list[str]] = {}
    while queue:
        url = queue.popleft()
        route = re.sub(r"\d+", "N", urlsplit(url).path)
        if url in seen or NOT_PAGES.match(url) or routes[route] >= PER_ROUTE:
            continue
        seen.add(url)
        routes[route] += 1
        response = client.get(url)
        assert response.status_code in (200, 400, 404), url
        reader = Reader()
        reader.feed(response.text)
        words = english_words(" ".join(reader.text), data)
        if words:
            found[url] = sorted(set(words))
        queue += reader.links
    assert len(seen) > 40 and routes["/messages/N"] == PER_ROUTE
    assert routes["/reports/daily/N-N-N"] >= 1  # the saved reports, as framed in the page
    assert found == {}, "\n".join(f"{u}: {w}" for u, w in found.items())


def test_no_report_has_an_english_word(busy_site):
    data = mail_data(busy_site)
    reports = sorted((busy_site.archive.root / "reports" / "daily").glob("*/*"))
    assert {p.suffix for p in reports} == {".html", ".txt", ".xlsx"}
    for path in reports:
        if path.suffix == ".html":
            reader = Reader()
            reader.feed(path.read_text(encoding="utf-8"))
            text = " ".join(reader.text)
        elif path.suffix == ".txt":
            text = path.read_text(encoding="utf-8")
        else:
            from openpyxl import load_workbook

            book = load_workbook(path)
            # the detail sheet's last column is the archive path: data a clerk opens
            text = " ".join(
                str(c.value)
                for sheet in book.worksheets
                for row in sheet.iter_rows()
                for c in row[: 10 if sheet.title == "当日来件明细" else None]
                if c.value is not None and not isinstance(c.value, int | float | datetime)
            )
        text = re.sub(r"https?://\S+", " ", text)
        assert english_words(text, data) == [], path.name
