"""Small builders for pure identification and classification tests."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pipeline.message import Forwarded, ParsedMessage, Part
from pipeline.units import UnitDirectory
from tests.conftest import TEST_UNITS
from workers.config import load_config, load_units_file

SHANGHAI = ZoneInfo("Asia/Shanghai")


def units(learned: dict[str, str] | None = None) -> UnitDirectory:
    """Returns the labelled corpus's unit registry, with learned addresses if given."""
    return UnitDirectory(load_units_file(TEST_UNITS), learned or {})


def campaign():
    """Returns the shipped 2023 campaign."""
    return load_config(None).campaign


def local(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def message(
    subject: str = "材料",
    from_addr: str = "12345678@qq.com",
    from_name: str = "",
    body: str = "韩老师：附件请查收。",
    files: tuple[str, ...] = (),
    forwarded: list[Forwarded] | None = None,
) -> ParsedMessage:
    """Returns a parsed message with the given fields and empty attachments named files."""
    parts = [
        Part(i, name, "application/octet-stream", b"x", "attachment")
        for i, name in enumerate(files)
    ]
    return ParsedMessage(
        subject=subject,
        from_addr=from_addr,
        from_name=from_name,
        body_text=body,
        parts=parts,
        forwarded=forwarded or [],
    )
