"""The parsed form of one email: what every later stage reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Part:
    """One leaf of the MIME tree that may become an item (attachment or inline file)."""

    index: int
    filename: str  # decoded, or made up from the type when the part had none
    declared_type: str  # Content-Type as the sender labelled it
    payload: bytes  # transfer-decoded bytes (or the raw body when decoding failed)
    disposition: str = ""  # attachment | inline | ""
    content_id: str | None = None
    named: bool = True  # False when the file name was made up
    error: str | None = None  # why decoding failed; the payload is then the undecoded body
    forwarded_index: int | None = None  # index into ParsedMessage.forwarded when nested


@dataclass
class Forwarded:
    """A message carried inside another: a message/rfc822 part or an inline 转发 block."""

    from_addr: str = ""
    from_name: str = ""
    subject: str = ""
    date: datetime | None = None
    body_text: str = ""
    inline: bool = False  # True for a quoted "---- 转发的邮件 ----" block


@dataclass
class ParsedMessage:
    """Everything mailroom needs from one message, decoded to text."""

    message_id: str = ""
    subject: str = ""
    from_addr: str = ""
    from_name: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    date: datetime | None = None  # the sender's Date: header (its clock may be wrong)
    received_at: datetime | None = None  # topmost Received: header, the mailbox's clock
    in_reply_to: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names, decoded values
    content_type: str = ""
    body_text: str = ""
    body_html: str = ""
    parts: list[Part] = field(default_factory=list)
    forwarded: list[Forwarded] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")
