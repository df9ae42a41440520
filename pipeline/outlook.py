"""Outlook .msg files (a compound file of MAPI properties) turned into an email's bytes.

Staff drag messages out of Outlook into the inbox folder; Outlook saves them as .msg,
not .eml. extract-msg (a kept library) reads the compound file and builds the MIME
message: the transport headers Outlook kept (Received, Date, Message-ID), the text
and HTML bodies, attachments with their names and Content-IDs. The result goes
through parse_message like any mail; the .msg itself stays the raw copy.
"""

from __future__ import annotations

from pipeline.errors import ParseError

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A compound file is at least its header and three sectors; olefile takes anything
# shorter for a file name, so a truncated .msg is refused here.
MIN_COMPOUND_BYTES = 1536


def is_compound_file(raw: bytes) -> bool:
    """True for an OLE2 compound file: an Outlook .msg, or a Word 97-2003 .doc."""
    return raw.startswith(OLE2_MAGIC)


def outlook_to_mime(raw: bytes) -> bytes:
    """Returns the RFC 5322 bytes of an Outlook .msg; raises ParseError when it is not one.

    A .msg holding a meeting request or a contact is read as a message too
    (subject, body and attachments); a compound file that is not Outlook's (a .doc)
    is refused with a reason.
    """
    import extract_msg  # here, not at the top: only .msg files need it
    from extract_msg.exceptions import ExMsgBaseException

    if len(raw) < MIN_COMPOUND_BYTES:
        raise ParseError(f"a damaged Outlook .msg file: only {len(raw)} bytes")
    try:
        msg = extract_msg.openMsg(raw, strict=False, delayAttachments=False)
    except (ExMsgBaseException, OSError, ValueError) as exc:
        raise ParseError(f"not a readable Outlook .msg file: {_reason(exc)}") from None
    try:
        if not hasattr(msg, "asEmailMessage"):
            raise ParseError("an Outlook file that is not a message (a contact, a task or a note)")
        return msg.asEmailMessage().as_bytes()
    except ParseError:
        raise
    except Exception as exc:  # extract-msg raises many types on damaged property streams
        raise ParseError(f"cannot read this Outlook .msg file: {_reason(exc)}") from None
    finally:
        msg.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__
