"""Where things go in the archive: pure functions from a record to a relative path."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from pathlib import PurePosixPath

TRIAGE_FOLDER = "待分拣"
OTHER_FOLDER = "其他来件"  # mail that belongs to no campaign
UNKNOWN_UNIT = "单位待定"
OBJECTS = ".objects"
RAW = "raw"
REPORTS = "reports"
DERIVED = ".derived"

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}
_SUBJECT_PREFIX = re.compile(r"^\s*((re|fw|fwd|回复|答复|转发)\s*[:：]\s*)+", re.IGNORECASE)


def safe_component(name: str, max_bytes: int = 180, fallback: str = "未命名") -> str:
    """Returns name usable as one folder or file name: no separators, control chars or '..'.

    Chinese is kept; the name is cut to max_bytes of UTF-8 keeping the extension.
    """
    text = unicodedata.normalize("NFC", name)
    text = _UNSAFE.sub("_", text).strip().strip(".").strip()
    text = re.sub(r"\s+", " ", text)
    if not text or text in (".", ".."):
        text = fallback
    stem, dot, ext = text.rpartition(".")
    if not dot or len(ext) > 10 or not stem:
        stem, ext = text, ""
    if stem.lower() in _RESERVED:
        stem = "_" + stem
    suffix = f".{ext}" if ext else ""
    budget = max_bytes - len(suffix.encode("utf-8"))
    encoded = stem.encode("utf-8")[:budget]
    stem = encoded.decode("utf-8", errors="ignore").rstrip() or fallback
    return stem + suffix


def short_subject(subject: str, limit: int = 40) -> str:
    """Returns the subject without Re:/Fw: prefixes, cut to `limit` characters."""
    text = _SUBJECT_PREFIX.sub("", subject or "").strip()
    return text[:limit].rstrip() or "无主题"


def message_folder(
    campaign: str, unit_name: str | None, kind_label: str, day: date, subject: str
) -> str:
    """Returns <campaign>/<unit or 待分拣>/<kind label>/<YYYY-MM-DD subject>, relative."""
    parts = [
        safe_component(campaign),
        safe_component(unit_name or TRIAGE_FOLDER),
        safe_component(kind_label),
        safe_component(f"{day.isoformat()} {short_subject(subject)}", max_bytes=120),
    ]
    return str(PurePosixPath(*parts))


def loose_folder(top: str, unit_name: str | None, day: date, subject: str) -> str:
    """Returns <top>/<unit>/<YYYY-MM-DD subject> for mail outside any campaign's tree:
    其他来件 (no campaign) or 待分拣 (the campaign is not decided yet)."""
    parts = [
        safe_component(top),
        safe_component(unit_name or UNKNOWN_UNIT),
        safe_component(f"{day.isoformat()} {short_subject(subject)}", max_bytes=120),
    ]
    return str(PurePosixPath(*parts))


def item_view_path(folder: str, filename: str) -> str:
    return str(PurePosixPath(folder, safe_component(filename)))


def blob_path(sha256: str) -> str:
    return f"{OBJECTS}/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def raw_path(sha256: str) -> str:
    return f"{RAW}/{sha256[:2]}/{sha256}.eml"


def derived_path(sha256: str, name: str) -> str:
    return f"{DERIVED}/{sha256[:2]}/{sha256}/{name}"


def with_number(path: str, n: int) -> str:
    """Returns path with ' (n)' before the extension, to resolve a name collision."""
    p = PurePosixPath(path)
    return str(p.with_name(f"{p.stem} ({n}){p.suffix}"))
