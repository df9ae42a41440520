"""Writes Outlook .msg files the way Outlook saves them ([MS-OXMSG] in a [MS-CFB] file).

No library writes .msg, so the test corpus makes its own: a compound file (version 3,
512-byte sectors, a mini stream for small streams) holding the message's property
streams, one storage per recipient and per attachment, and an empty named-property
map, as Outlook's "Save As > Outlook Message Format - Unicode" writes them. Written by
the mailroom team for mailroom's tests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime

SECTOR = 512
MINI = 64
CUTOFF = 4096
FREE, END, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

PT_LONG, PT_BOOL, PT_TIME, PT_UNICODE, PT_BINARY = 0x0003, 0x000B, 0x0040, 0x001F, 0x0102


@dataclass
class Attachment:
    """One attached file; with content_id and hidden it is a picture inside the HTML."""

    name: str
    data: bytes
    mime: str = "application/octet-stream"
    content_id: str | None = None
    hidden: bool = False


@dataclass
class OutlookMessage:
    """What Outlook keeps of a received message."""

    subject: str
    sender_name: str
    sender_address: str
    to_name: str
    to_address: str
    body: str
    delivered: datetime
    html: bytes | None = None  # in the code page of `codepage`, as Outlook stores PR_HTML
    codepage: int = 936  # GBK: a Chinese Outlook
    transport_headers: str = ""  # the received header block, CRLF line ends
    message_id: str = ""
    attachments: list[Attachment] = field(default_factory=list)


def build_msg(m: OutlookMessage) -> bytes:
    """Returns the .msg file's bytes."""
    root: dict[str, bytes | dict] = {}
    props = _Props()
    _text(root, props, 0x001A, "IPM.Note")
    _text(root, props, 0x0037, m.subject)
    _text(root, props, 0x0E1D, m.subject)  # PR_NORMALIZED_SUBJECT
    _text(root, props, 0x1000, m.body)
    _text(root, props, 0x0C1A, m.sender_name)
    _text(root, props, 0x0C1E, "SMTP")
    _text(root, props, 0x0C1F, m.sender_address)
    _text(root, props, 0x5D01, m.sender_address)
    _text(root, props, 0x0042, m.sender_name)
    _text(root, props, 0x0064, "SMTP")
    _text(root, props, 0x0065, m.sender_address)
    _text(root, props, 0x0E04, m.to_name)
    if m.message_id:
        _text(root, props, 0x1035, m.message_id)
    if m.transport_headers:
        _text(root, props, 0x007D, m.transport_headers)
    if m.html is not None:
        _binary(root, props, 0x1013, m.html)
    props.fixed(0x0039, PT_TIME, _filetime(m.delivered))  # PR_CLIENT_SUBMIT_TIME
    props.fixed(0x0E06, PT_TIME, _filetime(m.delivered))  # PR_MESSAGE_DELIVERY_TIME
    props.fixed(0x0E07, PT_LONG, 1)  # PR_MESSAGE_FLAGS: read
    props.fixed(0x3FDE, PT_LONG, m.codepage)  # PR_INTERNET_CPID
    props.fixed(0x340D, PT_LONG, 0x00040000)  # PR_STORE_SUPPORT_MASK: STORE_UNICODE_OK
    count = len(m.attachments)
    header = struct.pack("<8xIIII8x", 1, count, 1, count)
    root["__properties_version1.0"] = header + props.data()
    root["__nameid_version1.0"] = {
        "__substg1.0_00020102": b"",
        "__substg1.0_00030102": b"",
        "__substg1.0_00040102": b"",
    }
    root["__recip_version1.0_#00000000"] = _recipient(m.to_name, m.to_address)
    for n, att in enumerate(m.attachments):
        root[f"__attach_version1.0_#{n:08X}"] = _attachment(n, att)
    return write_compound_file(root)


def _recipient(name: str, address: str) -> dict:
    storage: dict[str, bytes | dict] = {}
    props = _Props()
    _text(storage, props, 0x3001, name)
    _text(storage, props, 0x3002, "SMTP")
    _text(storage, props, 0x3003, address)
    _text(storage, props, 0x39FE, address)
    props.fixed(0x0C15, PT_LONG, 1)  # PR_RECIPIENT_TYPE: To
    props.fixed(0x3000, PT_LONG, 0)  # PR_ROWID
    storage["__properties_version1.0"] = b"\0" * 8 + props.data()
    return storage


def _attachment(n: int, att: Attachment) -> dict:
    storage: dict[str, bytes | dict] = {}
    props = _Props()
    _binary(storage, props, 0x3701, att.data)  # PR_ATTACH_DATA_BIN
    _text(storage, props, 0x3707, att.name)  # PR_ATTACH_LONG_FILENAME
    _text(storage, props, 0x3001, att.name)  # PR_DISPLAY_NAME
    ext = "." + att.name.rsplit(".", 1)[-1] if "." in att.name else ""
    _text(storage, props, 0x3703, ext)  # PR_ATTACH_EXTENSION
    _text(storage, props, 0x3704, f"ATT{n:05d}{ext[:4]}")  # PR_ATTACH_FILENAME (8.3)
    _text(storage, props, 0x370E, att.mime)  # PR_ATTACH_MIME_TAG
    if att.content_id:
        _text(storage, props, 0x3712, att.content_id)  # PR_ATTACH_CONTENT_ID
    props.fixed(0x0E21, PT_LONG, n)  # PR_ATTACH_NUM
    props.fixed(0x3705, PT_LONG, 1)  # PR_ATTACH_METHOD: ATTACH_BY_VALUE
    props.fixed(0x370B, PT_LONG, 0xFFFFFFFF)  # PR_RENDERING_POSITION: none
    props.fixed(0x0E20, PT_LONG, len(att.data))  # PR_ATTACH_SIZE
    props.fixed(0x0FFE, PT_LONG, 7)  # PR_OBJECT_TYPE: MAPI_ATTACH
    props.fixed(0x7FFE, PT_BOOL, int(att.hidden))  # PR_ATTACHMENT_HIDDEN
    storage["__properties_version1.0"] = b"\0" * 8 + props.data()
    return storage


class _Props:
    """The fixed-length property stream of one object: 16 bytes per property."""

    def __init__(self) -> None:
        self.rows: list[bytes] = []

    def fixed(self, prop: int, ptype: int, value: int) -> None:
        self.rows.append(struct.pack("<IIQ", (prop << 16) | ptype, 6, value))

    def variable(self, prop: int, ptype: int, size: int) -> None:
        self.rows.append(struct.pack("<III4x", (prop << 16) | ptype, 6, size))

    def data(self) -> bytes:
        return b"".join(self.rows)


def _text(storage: dict, props: _Props, prop: int, value: str) -> None:
    data = value.encode("utf-16-le")
    storage[f"__substg1.0_{prop:04X}{PT_UNICODE:04X}"] = data
    props.variable(prop, PT_UNICODE, len(data) + 2)  # the size counts the terminator


def _binary(storage: dict, props: _Props, prop: int, value: bytes) -> None:
    storage[f"__substg1.0_{prop:04X}{PT_BINARY:04X}"] = value
    props.variable(prop, PT_BINARY, len(value))


def _filetime(moment: datetime) -> int:
    """Returns 100-ns intervals since 1601-01-01 UTC."""
    delta = moment.astimezone(UTC) - datetime(1601, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


# -- the compound file ---------------------------------------------------------------


@dataclass
class _Entry:
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    data: bytes = b""
    children: list[int] = field(default_factory=list)
    child: int = NOSTREAM
    left: int = NOSTREAM
    right: int = NOSTREAM
    start: int = END
    size: int = 0


def write_compound_file(tree: dict) -> bytes:
    """Returns a version 3 compound file of the tree {name: bytes (stream) | dict (storage)}."""
    entries = [_Entry("Root Entry", 5)]
    _add(entries, 0, tree)
    for entry in entries:
        _link_children(entries, entry)
    sectors: list[bytes] = []
    fat: list[int] = []
    mini = bytearray()
    minifat: list[int] = []
    for entry in entries:
        if entry.kind != 2 or not entry.data:
            continue
        entry.size = len(entry.data)
        if entry.size < CUTOFF:
            entry.start = len(mini) // MINI
            count = -(-entry.size // MINI)
            minifat += [entry.start + i + 1 for i in range(count - 1)] + [END]
            mini += entry.data + b"\0" * (count * MINI - entry.size)
        else:
            entry.start = _chain(sectors, fat, entry.data)
    root = entries[0]
    if mini:
        root.start, root.size = _chain(sectors, fat, bytes(mini)), len(mini)
    minifat_start = (
        _chain(sectors, fat, struct.pack(f"<{len(minifat)}I", *minifat)) if minifat else END
    )
    minifat_sectors = -(-len(minifat) * 4 // SECTOR)
    directory = b"".join(_dir_entry(e) for e in entries)
    directory += _empty_dir_entry() * (-len(entries) % 4)
    dir_start = _chain(sectors, fat, directory)
    fat_count = 1
    while fat_count * (SECTOR // 4) < len(sectors) + fat_count:
        fat_count += 1
    fat_start = len(sectors)
    fat += [FATSECT] * fat_count
    fat += [FREE] * (fat_count * (SECTOR // 4) - len(fat))
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    sectors += [fat_bytes[i : i + SECTOR] for i in range(0, len(fat_bytes), SECTOR)]
    difat = [fat_start + i for i in range(fat_count)] + [FREE] * (109 - fat_count)
    header = MAGIC + b"\0" * 16 + struct.pack(
        "<HHHHH6xIIIIIIIII",
        0x003E, 3, 0xFFFE, 9, 6,
        0, fat_count, dir_start, 0, CUTOFF, minifat_start, minifat_sectors, END, 0,
    ) + struct.pack("<109I", *difat)  # fmt: skip
    return header + b"".join(sectors)


def _add(entries: list[_Entry], parent: int, tree: dict) -> None:
    for name, value in tree.items():
        index = len(entries)
        if isinstance(value, dict):
            entries.append(_Entry(name, 1))
            entries[parent].children.append(index)
            _add(entries, index, value)
        else:
            entries.append(_Entry(name, 2, value))
            entries[parent].children.append(index)


def _link_children(entries: list[_Entry], entry: _Entry) -> None:
    """Makes the children a (degenerate, all-black) search tree in the CFB name order."""
    if not entry.children:
        return
    ordered = sorted(entry.children, key=lambda i: (len(entries[i].name), entries[i].name.upper()))
    entry.child = ordered[0]
    for a, b in zip(ordered, ordered[1:], strict=False):
        entries[a].right = b


def _chain(sectors: list[bytes], fat: list[int], data: bytes) -> int:
    """Appends data as a chain of sectors; returns its first sector."""
    start = len(sectors)
    count = max(1, -(-len(data) // SECTOR))
    padded = data + b"\0" * (count * SECTOR - len(data))
    for i in range(count):
        sectors.append(padded[i * SECTOR : (i + 1) * SECTOR])
        fat.append(start + i + 1 if i < count - 1 else END)
    return start


def _dir_entry(e: _Entry) -> bytes:
    name = e.name.encode("utf-16-le") + b"\0\0"
    return (
        name.ljust(64, b"\0")
        + struct.pack("<HBBIII", len(name), e.kind, 1, e.left, e.right, e.child)
        + b"\0" * 16  # CLSID
        + struct.pack("<I", 0)  # state bits
        + b"\0" * 16  # creation and modification times
        + struct.pack("<IQ", e.start if e.kind != 1 else 0, e.size)
    )


def _empty_dir_entry() -> bytes:
    return b"\0" * 64 + struct.pack("<HBBIII", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM) + b"\0" * 48
