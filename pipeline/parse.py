"""parse_message(raw bytes) -> ParsedMessage, decoding what real Chinese mail sends.

The stdlib email package (compat32 policy, which keeps raw 8-bit header bytes
as surrogate escapes so we can guess their charset) walks the MIME tree;
mail-parser reads the header block for the Received hops.
"""

from __future__ import annotations

import binascii
import email
import email.utils
import logging
import mimetypes
import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.policy import Compat32

from pipeline.budget import Deadline
from pipeline.charsets import decode_bytes, decode_encoded_words, header_to_text
from pipeline.errors import LimitExceeded, ParseError
from pipeline.message import Forwarded, ParsedMessage, Part
from pipeline.outlook import is_compound_file, outlook_to_mime
from pipeline.sniff import sniff
from pipeline.textparts import html_to_text, inline_forwards

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_FIRST_FIELD = re.compile(rb"(?:From [^\r\n]*\r?\n)?[\t ]*[A-Za-z0-9-]{1,76}[ \t]*:")
# Two header lines in a row (or one with a folded continuation) start the message.
_HEADER_RUN = re.compile(
    rb"(?m)^(?:From [^\r\n]*\r?\n)?[A-Za-z0-9-]{1,76}[ \t]*:[^\r\n]*\r?\n"
    rb"(?:[ \t]|[A-Za-z0-9-]{1,76}[ \t]*:)"
)
PLAUSIBLE_YEARS = (1980, 2200)  # a Date: or Received: outside these is ignored
MAX_DEPTH = 40  # MimeKit's stack-overflow test nests thousands of multiparts
MAX_SUBJECT_CHARS = 2000
_KEPT_HEADERS = (
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "precedence",
    "list-unsubscribe",
    "list-id",
    "x-spam-flag",
    "x-spam-status",
    "return-path",
    "x-mailer",
    "x-failed-recipients",
    "references",
    "reply-to",
    "sender",
    "x-forwarded-for",
)
_EXTRA_TYPES = {
    "image/heic": ".heic",
    "image/heif": ".heif",
    "image/jpeg": ".jpg",
    "video/quicktime": ".mov",
    "application/msword": ".doc",
    "text/plain": ".txt",
    "application/octet-stream": ".bin",
    "application/pdf": ".pdf",
}


def _skip_junk_before_headers(raw: bytes) -> bytes:
    """Returns raw from its first header line (SMTP envelope lines or text may come first)."""
    if _FIRST_FIELD.match(raw):
        return raw
    found = _HEADER_RUN.search(raw, 0, 8192)
    if found is None:
        raise ParseError("no email header lines (From:, Subject:, ...) at the start of the file")
    return raw[found.start() :]


class _RawHeaders(Compat32):
    """compat32, but header values keep raw 8-bit bytes as surrogate escapes.

    Stock compat32 turns such values into a Header of "unknown-8bit" whose str()
    is replacement characters, losing the GBK/Big5 bytes we need to guess from.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_POLICY = _RawHeaders()


def parse_message(raw: bytes, deadline: Deadline | None = None) -> ParsedMessage:
    """Returns the decoded message; raises ParseError only when nothing is readable.

    `deadline`: the message's time budget, checked part by part (LimitExceeded past it).
    """
    deadline = deadline or Deadline.none()
    if not raw or not raw.strip():
        raise ParseError("the message is empty")
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 BOM before the headers
    if is_compound_file(raw):
        raw = outlook_to_mime(raw)  # an Outlook .msg (or a ParseError saying what it is)
    raw = _skip_junk_before_headers(raw)
    raw, lifted = _lift_large_bodies(raw)
    token = _LIFTED.set(lifted)
    try:
        try:
            msg = email.message_from_bytes(raw, policy=_POLICY)
        except Exception as exc:  # the stdlib parser is lenient; this is a last resort
            raise ParseError(f"not a readable email: {exc}") from exc
        deadline.check("reading the MIME structure")
        parsed = ParsedMessage()
        _read_headers(msg, parsed, raw)
        _walk(msg, parsed, None, 0, deadline)
        _finish_bodies(parsed)
    finally:
        _LIFTED.reset(token)
    return parsed


# The stdlib parser holds a message ~9 times over while it splits it into line objects
# (2.7 GB for one 280 MB message with a 200 MB video, base64 or 8bit alike). So every
# large part body is cut out before parsing and decoded straight from the raw bytes
# when its part is read: each leaf body between two boundary lines (8bit, binary,
# quoted-printable or base64), the body of a single-part message, and any long run of
# base64 lines the boundaries did not delimit (a forwarded message's attachment).
LIFT_MIN_BYTES = 1 << 20
_BASE64_CHARS = re.compile(rb"[A-Za-z0-9+/=\r\n]{64,}")  # one class repeated: linear, no stack
# A boundary parameter, found from its literal word (a regex with ^ or (?i) scans a
# 300 MB message ten times slower than bytes.find) on a Content-Type line or its folded
# continuation, not anywhere in a body: base64 may spell "boundary=" by chance.
_BOUNDARY_VALUE = re.compile(rb'\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))')
_HEADER_LINE = re.compile(rb"content-type:|[ \t]", re.IGNORECASE)
_CONTAINER_TYPE = re.compile(rb"(?im)^content-type:\s*(?:multipart|message)/")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
MAX_BOUNDARIES = 16  # distinct boundaries looked for (each is one pass over the message)
_MAX_HEADER_BLOCK = 1 << 16


@dataclass(frozen=True)
class _Lifted:
    """A body cut out of the raw message: a view of its bytes, not a copy."""

    body: memoryview
    ends_at_boundary: bool = True  # its last line break belongs to the boundary line after it


_LIFTED: ContextVar[dict[str, _Lifted] | None] = ContextVar("lifted_bodies", default=None)


def _lift_large_bodies(raw: bytes) -> tuple[bytes, dict[str, _Lifted]]:
    """Returns raw with each large body replaced by a marker line, and {marker: the body}."""
    if len(raw) < LIFT_MIN_BYTES:
        return raw, {}
    spans = _part_bodies(raw)
    spans += _base64_runs(raw, spans)
    if not spans:
        return raw, {}
    view, pieces, lifted, pos = memoryview(raw), [], {}, 0
    for start, end, at_boundary in sorted(spans):
        marker = f"mailroom-lifted-body-{len(lifted)}-{secrets.token_hex(8)}"
        lifted[marker] = _Lifted(view[start:end], at_boundary)
        pieces += [view[pos:start], marker.encode() + b"\r\n"]
        pos = end
    return b"".join([*pieces, view[pos:]]), lifted


def _part_bodies(raw: bytes) -> list[tuple[int, int, bool]]:
    """Returns (start, end, ends at a boundary) of every large leaf body, found from the
    boundary lines: a part's own header block says whether it is a leaf (not multipart/*
    or message/*, whose bodies hold structure the parser must see)."""
    cuts = sorted(_delimiter_lines(raw))
    top = _header_end(raw, 0)
    edges = [(top, False)] if not cuts and top is not None else []
    edges += [(line_end, True) for _, line_end in cuts]
    spans = []
    for n, (start, after_delimiter) in enumerate(edges):
        end = cuts[n + 1][0] if after_delimiter and n + 1 < len(cuts) else len(raw)
        if end - start < LIFT_MIN_BYTES:
            continue
        header_end = _header_end(raw, start) if after_delimiter else start
        if header_end is None or _CONTAINER_TYPE.search(raw, start, header_end):
            continue
        if not after_delimiter and _CONTAINER_TYPE.search(raw, 0, start):
            continue
        if end - header_end >= LIFT_MIN_BYTES:
            spans.append((header_end, end, after_delimiter and n + 1 < len(cuts)))
    return spans


def _boundaries(raw: bytes) -> list[bytes]:
    """Returns the multipart boundaries the message declares, in order (at most MAX_BOUNDARIES)."""
    found: dict[bytes, None] = {}
    for word in (b"oundary", b"OUNDARY"):  # after b/B: the lower-case and upper-case spellings
        at = 0
        while len(found) < MAX_BOUNDARIES and (at := raw.find(word, at + 1)) > 0:
            value = _BOUNDARY_VALUE.match(raw, at + len(word))
            line = raw.rfind(b"\n", 0, at) + 1
            if raw[at - 1 : at] in (b"b", b"B") and value and _HEADER_LINE.match(raw, line):
                found[value.group(2) or value.group(1).rstrip()] = None
    return list(found)


def _delimiter_lines(raw: bytes) -> list[tuple[int, int]]:
    """Returns (start, end) of each boundary line: the start is just past the line feed
    before "--boundary" (the CRLF before it belongs to the boundary, RFC 2046)."""
    found = []
    for boundary in _boundaries(raw):
        needle, at = b"\n--" + boundary, 0
        while (at := raw.find(needle, at)) >= 0:
            after = at + len(needle)
            if raw[after : after + 2] == b"--" or raw[after : after + 1] in (
                b"\r",
                b"\n",
                b" ",
                b"\t",
                b"",
            ):
                line_end = raw.find(b"\n", after)
                found.append((at + 1, len(raw) if line_end < 0 else line_end + 1))
            at = after
    return found


def _header_end(raw: bytes, start: int) -> int | None:
    """Returns where the body begins after the header block starting at `start`."""
    if raw.startswith((b"\r\n", b"\n"), start):
        return start + (2 if raw.startswith(b"\r\n", start) else 1)
    blank = _BLANK_LINE.search(raw, start, start + _MAX_HEADER_BLOCK)
    return blank.end() if blank else None


def _base64_runs(raw: bytes, taken: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    """Returns the long base64 runs in the gaps between the spans already taken."""
    spans, gap_start = [], 0
    for gap_end, next_start, _ in [*sorted(taken), (len(raw), len(raw), True)]:
        if gap_end - gap_start >= LIFT_MIN_BYTES:
            for found in _BASE64_CHARS.finditer(raw, gap_start, gap_end):
                if found.end() - found.start() < LIFT_MIN_BYTES:
                    continue
                start, end = _whole_lines(raw, found.start(), found.end())
                if end - start >= LIFT_MIN_BYTES:
                    spans.append((start, end, True))
        gap_start = next_start
    return spans


def _whole_lines(raw: bytes, start: int, end: int) -> tuple[int, int]:
    """Returns the span of whole, non-empty lines inside raw[start:end]."""
    if start > 0 and raw[start - 1 : start] != b"\n":
        start = raw.find(b"\n", start, end) + 1 or end  # the tail of a header line
    while start < end and raw[start : start + 1] in (b"\r", b"\n"):
        start += 1  # the blank line after the headers
    return start, max(start, raw.rfind(b"\n", start, end) + 1)


def _raw_body(part: Message) -> object:
    """Returns a part's undecoded body as the parser holds it.

    get_payload(decode=False) decodes 8-bit text with the part's declared charset,
    and a crafted one ("undefined") raises UnicodeError there.
    """
    try:
        return part.get_payload(decode=False)
    except (LookupError, UnicodeError):
        return part._payload  # noqa: SLF001 - the same str, without the decoding


def _lifted_payload(part: Message) -> tuple[bytes, str | None] | None:
    """Returns the (decoded bytes, error) of a part whose body was lifted, else None."""
    lifted = _LIFTED.get() or {}
    body = _raw_body(part) if lifted else None
    if not isinstance(body, str) or "mailroom-lifted-body-" not in body:
        return None
    if body.strip() not in lifted:
        # Text around the body: put the original lines back and let the parser decode them.
        for marker, cut in lifted.items():
            body = body.replace(marker + "\r\n", bytes(cut.body).decode("ascii", "surrogateescape"))
        part.set_payload(body)
        return None
    cut = lifted[body.strip()]
    run = cut.body
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if encoding != "base64":
        if cut.ends_at_boundary:  # the last line break belongs to the boundary line
            run = run[:-2] if bytes(run[-2:]) == b"\r\n" else run[:-1]
        return (binascii.a2b_qp(run) if encoding == "quoted-printable" else bytes(run)), None
    try:
        return binascii.a2b_base64(run), None
    except binascii.Error:
        pass
    try:  # as the stdlib does: add the missing padding, decode, and report the damage
        return binascii.a2b_base64(
            b"".join([run, b"=="])
        ), "damaged base64: InvalidBase64PaddingDefect"
    except binascii.Error as exc:
        return bytes(run), f"damaged base64: {exc}"


def _read_headers(msg: Message, parsed: ParsedMessage, raw: bytes) -> None:
    parsed.message_id = _clean_id(msg.get("message-id", ""))
    # Capped: every scanner reads the subject once per part, and no client writes 2,000 characters.
    parsed.subject = header_to_text(msg.get("subject", ""))[:MAX_SUBJECT_CHARS]
    parsed.from_name, parsed.from_addr = _first_address(msg.get_all("from") or [])
    parsed.to = _addresses(msg.get_all("to") or [])
    parsed.cc = _addresses(msg.get_all("cc") or [])
    parsed.date = _header_date(msg.get("date"))
    parsed.received_at = _topmost_received(msg, raw)
    parsed.in_reply_to = _clean_id(msg.get("in-reply-to", ""))
    parsed.content_type = msg.get_content_type()
    for name in _KEPT_HEADERS:
        value = msg.get(name)
        if value is not None:
            parsed.headers[name] = header_to_text(value)
    parsed.defects = [type(d).__name__ for d in msg.defects]


def _clean_id(value: object) -> str:
    text = header_to_text(value).strip()
    return text.split()[0].strip() if text else ""


def _first_address(values: list[object]) -> tuple[str, str]:
    pairs = _pairs(values)
    return pairs[0] if pairs else ("", "")


def _addresses(values: list[object]) -> list[str]:
    return [addr for _, addr in _pairs(values) if addr]


def _pairs(values: list[object]) -> list[tuple[str, str]]:
    texts = [str(v) for v in values]
    out = []
    try:
        pairs = email.utils.getaddresses(texts)
    except RecursionError:  # a pathological header (MimeKit's stack-overflow test)
        pairs = [("", m) for m in _ADDRESS.findall(" ".join(texts)[:10_000])]
    for name, addr in pairs:
        addr = header_to_text(addr).strip().strip("<>").lower()
        name = header_to_text(name).strip().strip('"').strip()
        if not addr and not name:
            continue
        out.append((name, addr))
    if not out and texts:
        # An unparseable From (raw 8-bit name without quotes): decode first, then split.
        decoded = header_to_text(texts[0])
        name, addr = email.utils.parseaddr(decoded)
        out.append((name.strip(), addr.lower()))
    return out


def _header_date(value: object) -> datetime | None:
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(header_to_text(value))
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    return _plausible(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _plausible(moment: datetime) -> datetime | None:
    """Returns moment, or None when no working clock could have stamped it.

    1970 or 9999 is a broken clock or a forged header, not a time to sort or judge a
    deadline by (and "31 Dec 9999 -1200" cannot even be stored in UTC): the message
    then counts as received when it was fetched.
    """
    return moment if PLAUSIBLE_YEARS[0] <= moment.year <= PLAUSIBLE_YEARS[1] else None


def _topmost_received(msg: Message, raw: bytes) -> datetime | None:
    """Returns the time the receiving server stamped on the topmost Received: header."""
    for hop in (msg.get_all("received") or [])[:3]:
        moment = _header_date(str(hop).rpartition(";")[2])
        if moment is not None:
            return moment
    return _received_by_mailparser(raw)


def _received_by_mailparser(raw: bytes) -> datetime | None:
    # mail-parser also understands Received headers folded in odd ways.
    import mailparser  # here, not at the top: a rare fallback, and slow to import

    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    try:
        hops = mailparser.parse_from_bytes(head + b"\n\n").received
    except Exception:  # mail-parser raises AttributeError on some broken input
        return None
    for hop in hops or []:
        stamp = hop.get("date_utc")
        if stamp:
            try:
                moment = _plausible(datetime.fromisoformat(stamp).replace(tzinfo=UTC))
            except ValueError:
                continue
            if moment is not None:
                return moment
    return None


def _walk(
    part: Message, parsed: ParsedMessage, fwd: int | None, depth: int, deadline: Deadline
) -> None:
    if depth > MAX_DEPTH:
        parsed.defects.append("NestingTooDeep")
        return
    ctype = part.get_content_type()
    if part.is_multipart():
        children = part.get_payload()
        if ctype == "message/rfc822" or (ctype.startswith("message/") and children):
            inner = children[0] if isinstance(children, list) else children
            _walk_forwarded(inner, parsed, fwd, depth, deadline)
            return
        if ctype == "multipart/report":
            # A bounce: keep its human-readable part; the returned message is our own.
            if isinstance(children, list) and children:
                _walk(children[0], parsed, fwd, depth + 1, deadline)
            return
        for child in children if isinstance(children, list) else []:
            if isinstance(child, Message):
                _walk(child, parsed, fwd, depth + 1, deadline)
        return
    deadline.check(f"parsing part {len(parsed.parts) + 1}")
    _leaf(part, parsed, fwd, depth, deadline)


def _walk_forwarded(
    inner: Message, parsed: ParsedMessage, fwd: int | None, depth: int, deadline: Deadline
) -> None:
    if not isinstance(inner, Message):
        return
    name, addr = _first_address(inner.get_all("from") or [])
    parsed.forwarded.append(
        Forwarded(
            from_addr=addr,
            from_name=name,
            subject=header_to_text(inner.get("subject", "")),
            date=_header_date(inner.get("date")),
        )
    )
    index = len(parsed.forwarded) - 1
    before = len(parsed.parts)
    _walk(inner, parsed, index, depth + 1, deadline)
    # The forwarded message's own body text lives in its Forwarded record, not in ours.
    parsed.forwarded[index].body_text = parsed.forwarded[index].body_text.strip()
    del before


def _leaf(
    part: Message, parsed: ParsedMessage, fwd: int | None, depth: int, deadline: Deadline
) -> None:
    ctype = part.get_content_type()
    filename = part_filename(part)
    disposition = (part.get_content_disposition() or "").lower()
    payload, error = _payload(part)
    if ctype in ("text/plain", "text/html") and not filename and disposition != "attachment":
        text = decode_bytes(payload, part.get_content_charset())
        _add_body(parsed, fwd, ctype, text)
        return
    if ctype in (
        "message/delivery-status",
        "text/rfc822-headers",
        "message/disposition-notification",
        "application/pgp-signature",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
    ):
        return
    if _looks_like_email(filename, ctype, payload) and depth < MAX_DEPTH:
        try:
            inner = email.message_from_bytes(payload, policy=_POLICY)
            _walk_forwarded(inner, parsed, fwd, depth, deadline)
            return
        except LimitExceeded:
            raise
        except Exception:  # not a message after all: it stays an attachment
            pass
    named = bool(filename)
    if not named:
        found = sniff(payload, "", ctype)
        generic = ctype in ("application/octet-stream", "") or ctype.startswith("text/")
        filename = _made_up_name(
            found.mime if generic and found.by == "magic" else ctype, len(parsed.parts) + 1
        )
    parsed.parts.append(
        Part(
            index=len(parsed.parts),
            filename=filename,
            declared_type=ctype,
            payload=payload,
            disposition=disposition,
            content_id=_clean_cid(part.get("content-id")),
            named=named,
            error=error,
            forwarded_index=fwd,
        )
    )


def _add_body(parsed: ParsedMessage, fwd: int | None, ctype: str, text: str) -> None:
    if fwd is not None:
        target = parsed.forwarded[fwd]
        if ctype == "text/plain" or not target.body_text:
            target.body_text = text if ctype == "text/plain" else html_to_text(text)
        return
    if ctype == "text/plain" and not parsed.body_text:
        parsed.body_text = text
    elif ctype == "text/html" and not parsed.body_html:
        parsed.body_html = text


def _payload(part: Message) -> tuple[bytes, str | None]:
    """Returns the transfer-decoded bytes, or the raw body and the reason decoding failed."""
    lifted = _lifted_payload(part)
    if lifted is not None:
        return lifted
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:
        data, error = None, f"cannot decode the attachment: {exc}"
    else:
        error = None
    if data is None:
        raw = _raw_body(part)
        data = raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else b""
        error = error or None
    bad = [d for d in part.defects if "Base64" in type(d).__name__ or "Padding" in type(d).__name__]
    if bad and error is None:
        error = (
            f"damaged {part.get('content-transfer-encoding', 'encoding')}: {type(bad[0]).__name__}"
        )
    return data, error


def part_filename(part: Message) -> str:
    """Returns a part's decoded file name (RFC 2231, RFC 2047, raw 8-bit), or ''."""
    for param, header in (("filename", "content-disposition"), ("name", "content-type")):
        value = part.get_param(param, header=header)
        if value is None:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, raw text)
            charset, _, text = value
            raw = bytes(text, "raw-unicode-escape")
            name = decode_bytes(raw, charset or "utf-8")
        else:
            name = email.utils.unquote(value)
        # QQ Mail puts RFC 2047 words inside quoted params, which RFC 2231 forbids.
        name = header_to_text(decode_encoded_words(name))
        name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
        if name:
            return name
    return ""


def _looks_like_email(filename: str, ctype: str, payload: bytes) -> bool:
    if not (filename.lower().endswith(".eml") or ctype == "message/rfc822"):
        return False
    head = payload[:2048].lower()
    return b"\nfrom:" in b"\n" + head or b"\nsubject:" in b"\n" + head


def _clean_cid(value: object) -> str | None:
    if not value:
        return None
    return str(value).strip().strip("<>").strip() or None


def _made_up_name(ctype: str, number: int) -> str:
    ext = _EXTRA_TYPES.get(ctype) or mimetypes.guess_extension(ctype) or ".bin"
    return f"附件{number}{ext}"


def _finish_bodies(parsed: ParsedMessage) -> None:
    if not parsed.body_text and parsed.body_html:
        parsed.body_text = html_to_text(parsed.body_html)
    for block in inline_forwards(parsed.body_text):
        name, addr = email.utils.parseaddr(block.get("from", ""))
        parsed.forwarded.append(
            Forwarded(
                from_addr=addr.lower(),
                from_name=name.strip(),
                subject=block.get("subject", ""),
                date=_header_date(block.get("date")),
                body_text=block.get("body", ""),
                inline=True,
            )
        )
