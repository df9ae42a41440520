"""A message with a large attachment parses to the same bytes without the parser's copies."""

from __future__ import annotations

import email
import os
from email.message import EmailMessage

import pytest

from pipeline.parse import LIFT_MIN_BYTES, parse_message


def _message(payload: bytes, cte: str | None = None, linesep: str = "\r\n") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@dl.edu.example.cn", "b@ln.gov.cn", "大连 视频"
    msg.set_content("见附件，谢谢。")
    msg.add_attachment(
        payload,
        maintype="video",
        subtype="mp4",
        filename="宣传片.mp4",
        **({"cte": cte} if cte else {}),
    )
    msg.add_attachment(b"small", maintype="application", subtype="octet-stream", filename="x.bin")
    return msg.as_bytes(policy=msg.policy.clone(linesep=linesep))


def _stdlib_payloads(raw: bytes) -> list[bytes]:
    return [
        p.get_payload(decode=True) for p in email.message_from_bytes(raw).walk() if p.get_filename()
    ]


@pytest.mark.parametrize("linesep", ["\r\n", "\n"])
def test_large_base64_attachment_decodes_to_the_same_bytes(linesep):
    payload = os.urandom(3 * LIFT_MIN_BYTES + 17)
    raw = _message(payload, linesep=linesep)
    parsed = parse_message(raw)
    assert [p.filename for p in parsed.parts] == ["宣传片.mp4", "x.bin"]
    assert [p.payload for p in parsed.parts] == _stdlib_payloads(raw) == [payload, b"small"]
    assert parsed.parts[0].error is None
    assert parsed.body_text.strip() == "见附件，谢谢。" and parsed.subject == "大连 视频"


def test_large_quoted_printable_text_is_decoded_like_the_stdlib_does():
    text = ("A" * 200 + "\n") * (LIFT_MIN_BYTES // 100)
    raw = _message(text.encode(), cte="quoted-printable")
    assert parse_message(raw).parts[0].payload == _stdlib_payloads(raw)[0]


def test_large_attachment_that_lost_its_padding_is_decoded_and_marked_damaged():
    raw = _message(os.urandom(2 * LIFT_MIN_BYTES + 2))  # 3n+1 bytes: ends with "=="
    head, found, tail = raw.partition(b"==\r\n\r\n--===")  # padding, then the boundary
    assert found
    damaged = head + b"\r\n\r\n--===" + tail
    part = parse_message(damaged).parts[0]
    assert part.error == "damaged base64: InvalidBase64PaddingDefect"
    assert part.payload == _stdlib_payloads(damaged)[0]
