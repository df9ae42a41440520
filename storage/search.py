"""Full-text search over subjects, bodies, file names and extracted document text.

Chinese has no spaces, and a word segmenter splits the same word differently in
different sentences, so we match substrings instead:

- SQLite: an FTS5 table where each Han character is its own token (we insert
  the text with spaces between Han characters) and the query is one phrase.
  Two-character words (北京) match, which the trigram tokenizer cannot do, and
  Debian 12's SQLite 3.40.1 has a LIKE-on-trigram bug this avoids.
- PostgreSQL (and any other database): ILIKE on the same normalised text in
  `search_docs`; a pg_trgm GIN index makes it fast when the extension exists.

`search_docs` holds one row per message (subject, sender, body) and one per item
(file name, extracted text). Filters (unit, kind, date, status) are applied by
joining the live messages and items tables, so re-filing needs no re-indexing.
"""

from __future__ import annotations

import html
import re
import unicodedata
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Integer,
    Text,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.models import Base, Item, Message

MAX_DOC_CHARS = 200_000  # a huge document's tail adds little but costs index space

_CJK = (
    r"\u2e80-\u2fdf\u3005\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff"
    r"\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
)
_CJK_CHAR = re.compile(f"([{_CJK}])")
_TOKEN = re.compile(f"[{_CJK}]|[^\\W_]+", re.UNICODE)
_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"\s+")


class SearchDoc(Base):
    """The normalised searchable text of one message (item_id null) or one item."""

    __tablename__ = "search_docs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text, default="")


def normalise(value: str) -> str:
    """Returns text folded for matching: NFKC (full-width → half-width), lower case,
    one space between words."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value or "").lower()).strip()


def spaced(value: str) -> str:
    """Returns normalised text with every CJK character standing alone as a token."""
    return _SPACES.sub(" ", _CJK_CHAR.sub(r" \1 ", value)).strip()


def terms(query: str) -> list[str]:
    """Returns the query's words, normalised: several words (space-separated) mean AND."""
    return [t for t in normalise(query).split(" ") if _TOKEN.search(t)]


def fts_query(query: str) -> str | None:
    """Returns an FTS5 MATCH expression: each word a phrase of its tokens, all required."""
    phrases = []
    for term in terms(query):
        tokens = _TOKEN.findall(term)
        phrase = '"' + " ".join(t.replace('"', '""') for t in tokens) + '"'
        # a trailing Latin word may be the start of a longer one (repo -> report)
        phrases.append(phrase + " *" if not _CJK_CHAR.match(tokens[-1]) else phrase)
    return " AND ".join(phrases) or None


def html_to_text(value: str) -> str:
    """Returns the visible text of an HTML body, roughly (for the index only)."""
    return html.unescape(_TAGS.sub(" ", value or ""))


def message_text(message: Message) -> str:
    body = message.body_text or html_to_text(message.body_html)
    return " ".join([message.subject or "", message.from_name or "", message.from_addr or "", body])


def item_text(item: Item) -> str:
    return " ".join([item.name or "", item.text or "", item.url or ""])


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


_HAS_FTS: weakref.WeakSet = weakref.WeakSet()  # engines known to have search_fts


def _fts_available(session: Session) -> bool:
    engine = session.get_bind()
    if engine in _HAS_FTS:  # asked for every filed message; a table, once made, stays
        return True
    found = (
        is_sqlite(session)
        and session.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'search_fts'")).first()
        is not None
    )
    if found:
        _HAS_FTS.add(engine)
    return found


def index_message(session: Session, message_pk: int, *, new: bool = False) -> None:
    """(Re)indexes one message and its items; call it after ingesting or changing text.

    Runs inside the caller's transaction, so the index never disagrees with the rows.
    new=True says the message was never indexed (just filed), so there is nothing to drop.
    Otherwise the message row is locked first (PostgreSQL; SQLite writers already take
    turns), so two jobs re-indexing one message at once cannot leave duplicate or stale
    documents behind. FOR NO KEY UPDATE, so rows that merely refer to the message
    (new items, their search rows) are not held up by it.
    """
    lock = None if new else {"key_share": True}
    message = session.get(Message, message_pk, with_for_update=lock)
    if not new:
        drop_message(session, message_pk)
    if message is None:
        return
    docs = [(message.id, None, message_text(message))]
    docs += [(message.id, item.id, item_text(item)) for item in message.items]
    add_docs(session, docs)


def index_items(session: Session, items: list[Item]) -> None:
    """(Re)indexes these items' own documents (their text changed), leaving the rest alone.

    Cheaper than index_message for one document of a message with 2,000 archive members.
    Their messages' rows are locked first, as index_message does, so the two never
    interleave into duplicate documents.
    """
    if not items:
        return
    for pk in sorted({i.message_pk for i in items}):
        session.get(Message, pk, with_for_update={"key_share": True})
    ids = [i.id for i in items]
    if _fts_available(session):
        session.execute(
            text(
                "DELETE FROM search_fts WHERE rowid IN (SELECT id FROM search_docs WHERE item_id IN :ids)"
            ).bindparams(bindparam("ids", expanding=True)),
            {"ids": ids},
        )
    session.execute(delete(SearchDoc).where(SearchDoc.item_id.in_(ids)))
    add_docs(session, [(i.message_pk, i.id, item_text(i)) for i in items])


def drop_message(session: Session, message_pk: int) -> None:
    """Removes a message and its items from the index."""
    if _fts_available(session):
        session.execute(
            text(
                "DELETE FROM search_fts WHERE rowid IN "
                "(SELECT id FROM search_docs WHERE message_pk = :pk)"
            ),
            {"pk": message_pk},
        )
    session.execute(delete(SearchDoc).where(SearchDoc.message_pk == message_pk))


def add_docs(session: Session, docs: Iterable[tuple[int, int | None, str]]) -> int:
    """Bulk-inserts (message_pk, item_id, raw text) documents; returns how many."""
    rows = [
        {"message_pk": m, "item_id": i, "body": normalise(t)[:MAX_DOC_CHARS]} for m, i, t in docs
    ]
    if not rows:
        return 0
    fts = _fts_available(session)
    if not fts:
        session.execute(insert(SearchDoc), rows)
        return len(rows)
    start = (session.scalar(select(func.max(SearchDoc.id))) or 0) + 1
    for n, row in enumerate(rows):
        row["id"] = start + n
    session.execute(insert(SearchDoc), rows)
    session.execute(
        text("INSERT INTO search_fts(rowid, body) VALUES (:id, :body)"),
        [{"id": r["id"], "body": spaced(r["body"])} for r in rows],
    )
    return len(rows)


def refresh_planner_stats(session: Session) -> None:
    """Refreshes SQLite's query-planner statistics (a bounded ANALYZE); no-op elsewhere.

    Without them SQLite scans all items and sorts to show the newest 50, instead
    of walking the received_at index (200 ms against 1 ms at 100,000 items).
    """
    if is_sqlite(session):
        session.execute(text("PRAGMA analysis_limit=1000"))
        session.execute(text("ANALYZE"))


def reindex_all(session: Session, batch: int = 500) -> int:
    """Rebuilds the whole index from messages and items; returns documents written."""
    if _fts_available(session):
        session.execute(text("DELETE FROM search_fts"))
    session.execute(delete(SearchDoc))
    total, last = 0, 0
    while True:
        pks = session.scalars(
            select(Message.id).where(Message.id > last).order_by(Message.id).limit(batch)
        ).all()
        if not pks:
            return total
        docs: list[tuple[int, int | None, str]] = []
        for message in session.scalars(select(Message).where(Message.id.in_(pks))):
            docs.append((message.id, None, message_text(message)))
            docs += [(message.id, i.id, item_text(i)) for i in message.items]
        total += add_docs(session, docs)
        session.expunge_all()
        last = pks[-1]
        if len(pks) < batch:
            refresh_planner_stats(session)
            return total


@dataclass
class SearchFilters:
    unit: str | None = None
    kind: str | None = None
    status: str | None = None
    since: datetime | None = None  # inclusive, aware
    until: datetime | None = None  # exclusive, aware


@dataclass
class Hit:
    message_pk: int
    item_id: int | None
    doc_id: int = 0  # the search document that matched (for its snippet)


def search(
    session: Session,
    query: str,
    filters: SearchFilters | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Hit], int]:
    """Returns (hits newest first, total matches) for a query with optional filters."""
    filters = filters or SearchFilters()
    needle = normalise(query)
    if not needle:
        return [], 0
    stmt = select(SearchDoc.message_pk, SearchDoc.item_id, SearchDoc.id)
    if _fts_available(session):
        match = fts_query(needle)
        if match is None:
            return [], 0
        # the matches first (a materialised CTE), then the filters on the live rows
        matched = (
            select(literal_column("rowid").label("rid"))
            .select_from(text("search_fts"))
            .where(text("search_fts MATCH :q").bindparams(q=match))
            .cte("matched")
            .prefix_with("MATERIALIZED", dialect="sqlite")
        )
        stmt = stmt.select_from(matched).join(SearchDoc, SearchDoc.id == matched.c.rid)
    else:
        words = terms(needle) or [needle]
        for word in words:
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(SearchDoc.body.ilike(f"%{escaped}%", escape="\\"))
    # one pass: the window count gives the total while the same matches are sorted
    stmt = _filtered(stmt.add_columns(func.count().over().label("total")), filters)
    rows = session.execute(
        stmt.order_by(Message.received_at.desc(), SearchDoc.id).limit(limit).offset(offset)
    ).all()
    if rows:
        return [Hit(m, i, d) for m, i, d, _ in rows], rows[0][3]
    if offset == 0:
        return [], 0
    # a page past the end: count the matches on their own
    return [], session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def _filtered(stmt, filters: SearchFilters):
    stmt = stmt.join(Message, Message.id == SearchDoc.message_pk)
    if filters.kind:
        stmt = stmt.join(Item, Item.id == SearchDoc.item_id).where(Item.kind == filters.kind)
    if filters.unit:
        stmt = stmt.where(Message.unit_code == filters.unit)
    if filters.status:
        stmt = stmt.where(Message.status == filters.status)
    if filters.since:
        stmt = stmt.where(Message.received_at >= filters.since)
    if filters.until:
        stmt = stmt.where(Message.received_at < filters.until)
    return stmt


SNIPPET_CHARS = 80  # shown around the first match


def snippets(session: Session, hits: list[Hit], query: str) -> dict[int, list[tuple[str, bool]]]:
    """Returns, by document id, a short passage around the first match as (text, matched)
    pieces, for the results page to highlight."""
    words = terms(query)
    if not hits or not words:
        return {}
    bodies = session.execute(
        select(SearchDoc.id, SearchDoc.body).where(SearchDoc.id.in_({h.doc_id for h in hits}))
    )
    return {doc: snippet(body, words) for doc, body in bodies}


def snippet(body: str, words: list[str], width: int = SNIPPET_CHARS) -> list[tuple[str, bool]]:
    """Returns the passage of body (normalised text) around the first of words, split into
    (text, matched) pieces with every occurrence of every word marked."""
    found = [i for i in (body.find(w) for w in words) if i >= 0]
    start = max(0, min(found, default=0) - width // 3)
    end = min(len(body), start + width)
    passage = body[start:end]
    marks = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
    pieces: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    last = 0
    for match in marks.finditer(passage):
        if match.start() > last:
            pieces.append((passage[last : match.start()], False))
        pieces.append((match.group(), True))
        last = match.end()
    if last < len(passage):
        pieces.append((passage[last:], False))
    if end < len(body):
        pieces.append(("…", False))
    return pieces
