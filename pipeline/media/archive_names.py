"""Member names: which are unsafe, which are system junk, and what a member is called.

The name a member is filed under is never used to write during extraction (members
go to numbered temporary files), so these functions only decide what people see:
a decoded name with `/` between folders, deep folder chains cut short, and a repeated
name numbered (`照片.jpg`, `照片 (2).jpg`) so that every member keeps its own item.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import PurePosixPath

MAX_FOLDERS = 6  # folder levels kept in a member's name; deeper ones collapse into "…"
MAX_NAME_CHARS = 400  # a member's shown name (the item name column holds 1,000)
_DRIVE = re.compile(r"^[A-Za-z]:")
_SEPARATORS = re.compile(r"[\\/]")
# Files operating systems and office programs leave behind; never material.
_JUNK_FILES = {".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini", ".localized"}
_JUNK_FOLDERS = {"__macosx", ".spotlight-v100", ".trashes", ".fseventsd"}


def unsafe_reason(name: str, *, is_link: bool = False, is_special: bool = False) -> str | None:
    """Returns why a member may not be extracted (Chinese, for staff), or None."""
    if is_link:
        return "符号链接，已拒收"
    if is_special:
        return "特殊文件（设备或管道），已拒收"
    if "\0" in name:
        return "文件名无效，已拒收"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "使用绝对路径，已拒收"
    parts = _SEPARATORS.split(name)
    if ".." in parts:
        return "路径指向压缩包以外（..），已拒收"
    if not [p for p in parts if p.strip() not in ("", ".")]:
        return "文件名为空，已拒收"
    return None


def is_junk(name: str) -> bool:
    """True for files systems leave in archives: AppleDouble, .DS_Store, Thumbs.db, ~$ locks."""
    parts = [p for p in _SEPARATORS.split(name) if p]
    if not parts:
        return False
    if any(p.lower() in _JUNK_FOLDERS for p in parts[:-1]):
        return True
    base = parts[-1]
    return base.startswith(("._", "~$")) or base.lower() in _JUNK_FILES


def folder_parts(name: str) -> list[str]:
    """Returns the folder components of a member path (normalised, no empty or '.')."""
    return _clean_parts(name)[:-1]


def shown_name(name: str) -> str:
    """Returns the name a member is filed under: `/`-separated, NFC, deep folders cut short."""
    parts = _clean_parts(name) or ["未命名"]
    folders, base = parts[:-1], parts[-1]
    if len(folders) > MAX_FOLDERS:
        # keep the top two levels (often the unit's own folder) and the nearest ones
        keep_tail = MAX_FOLDERS - 3
        folders = [*folders[:2], "…", *folders[len(folders) - keep_tail :]]
    text = "/".join([*folders, base])
    if len(text) > MAX_NAME_CHARS:
        text = "…/" + base[-(MAX_NAME_CHARS - 2) :]
    return text


def numbered(names: Iterable[str]) -> list[str]:
    """Returns the names with repeats numbered ` (2)`, ` (3)`… before the extension."""
    taken: set[str] = set()
    next_number: dict[str, int] = {}  # per name, so 1,000 repeats cost 1,000 steps, not 500,000
    out = []
    for name in names:
        candidate = name
        if _key(name) in taken:
            n = next_number.get(_key(name), 2)
            while _key(candidate := _with_number(name, n)) in taken:
                n += 1
            next_number[_key(name)] = n + 1
        taken.add(_key(candidate))
        out.append(candidate)
    return out


def empty_folders(folders: Iterable[str], files: Iterable[str]) -> int:
    """Returns how many of the archive's folder entries hold no file (junk does not count)."""
    used: set[str] = set()
    for name in files:
        parts = _clean_parts(name)[:-1]
        used.update("/".join(parts[: n + 1]).lower() for n in range(len(parts)))
    declared = {"/".join(_clean_parts(f)).lower() for f in folders} - {""}
    return len(declared - used)


def _clean_parts(name: str) -> list[str]:
    text = unicodedata.normalize("NFC", name)
    return [p.strip() for p in _SEPARATORS.split(text) if p.strip() not in ("", ".")]


def _key(name: str) -> str:
    # Windows and macOS users see 照片.JPG and 照片.jpg as one file: number them apart
    return name.casefold()


def _with_number(name: str, n: int) -> str:
    path = PurePosixPath(name)
    stem, suffix = (path.stem, path.suffix) if path.stem else (path.name, "")
    return str(path.with_name(f"{stem} ({n}){suffix}"))
