"""Reading a notice (通知) and proposing the campaign it starts.

`read_notice(path)` gives the text of a .txt, .md, .docx or .pdf notice;
`propose(text)` reads it with rules and the dates' own grammar (pipeline/dates.py):
the title and document number, the activity dates (二、活动时间 5月14日至25日),
every reporting requirement with its deadline, the addressees and the collecting
mailbox. Every field carries the sentence it came from, so the person who confirms
the proposal (CLI or web form) sees why each value was chosen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.campaign import Campaign, Kind, default_words
from pipeline.dates import deadline, find_days, find_range, resolve
from pipeline.errors import ExternalProgramError, MailroomError
from pipeline.externals import run_command
from pipeline.notice_kinds import kind_for, requirements

_HAN_GAP = re.compile(r"(?<=[\u4e00-\u9fff])[ \t\u3000]+(?=[\u4e00-\u9fff])")
_MARKDOWN = re.compile(r"^\s*(?:#{1,6}\s*|>\s*|[-*+]\s+(?=\S))|\*\*|__|`")
_HEADING = re.compile(
    r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d+[.、．])"
)
_ENDS = tuple("。！？；：:;!?）)」”")
_CLOSING = "。，、；：）)”」’！？"  # a line never starts with these: it goes on with the last
_DOC_NUMBER = re.compile(
    r"([\u4e00-\u9fff]{1,8})\s*[〔\[【(（]\s*((?:19|20)\d{2})\s*[〕\]】)）]\s*(\d{1,4})\s*号"
)
_TITLE = re.compile(r"关于.{2,80}?的?(?:通知|通告|函|意见)$")
_NAME = re.compile(r"决定(?:举办|开展|组织|召开|举行)(?P<name>[^，。,；]{4,40}?)(?:[，。,；]|$)")
_TITLE_CORE = re.compile(
    r"关于(?:做好|开展|举办|组织|报送|印发|做好做实)?(?P<core>.+?)(?:相关|有关)?(?:工作)?的(?:通知|函)"
)
_THEME = re.compile(r"主题(?:为|是|[:：])\s*[“\"「]?(?P<theme>[^”\"」。；\n]{2,30})")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_QUOTED = re.compile(r"[“\"「]([\u4e00-\u9fff]{3,8})[”\"」]")
_ISSUED = re.compile(r"(.{6,16}日)\s*(?:印发|发布|发文)")
EVENT_WORDS = (
    "技能大赛", "成果展", "启动仪式", "开幕式", "签约仪式", "论坛", "开放日", "开放校园",
    "开放企业", "技能展示", "互动体验", "志愿服务", "线上逛校园", "网上开放日", "展演",
)  # fmt: skip


class NoticeError(MailroomError):
    """A notice that cannot be read (no text, unknown format)."""


@dataclass(frozen=True)
class Found:
    """One extracted value and the sentence it came from ("" when nothing was found)."""

    value: Any
    sentence: str = ""


@dataclass
class Proposal:
    """The campaign a notice proposes, each field with its sentence, and what is missing."""

    campaign: Campaign
    sources: dict[str, str] = field(default_factory=dict)  # field or kinds.CODE -> sentence
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = self.campaign.to_dict()
        return {"campaign": data, "sources": self.sources, "problems": self.problems}


def read_notice(path: Path) -> str:
    """Returns the text of a notice file (.txt, .md, .docx or .pdf); NoticeError if none."""
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NoticeError(f"cannot read {path}: {exc.strerror}") from None
    if suffix == ".docx" or data.startswith(b"PK\x03\x04"):
        text = _docx_text(path)
    elif suffix == ".pdf" or data.startswith(b"%PDF"):
        try:
            raw = run_command(["pdftotext", "-enc", "UTF-8", str(path), "-"], timeout=60)
        except ExternalProgramError as exc:
            raise NoticeError(f"cannot read {path.name} as PDF: {exc}") from None
        text = raw.decode("utf-8", "replace")
    else:
        text = _decode(data)
    if not text.strip():
        raise NoticeError(f"{path.name}: no text found (a scanned notice needs typing in)")
    return text


def _decode(data: bytes) -> str:
    for charset in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")


def _docx_text(path: Path) -> str:
    import docx  # only for .docx notices

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises many types on a broken package
        raise NoticeError(f"cannot read {path.name} as .docx: {exc}") from None
    return "\n".join(p.text for p in document.paragraphs)


def paragraphs(text: str) -> list[str]:
    """Returns the notice's paragraphs: markdown marks dropped, broken lines joined."""
    lines = [(raw, _HAN_GAP.sub("", _MARKDOWN.sub("", raw)).strip().strip("*").strip())
             for raw in text.splitlines()]  # fmt: skip
    lines = [(raw, line) for raw, line in lines if line and not set(line) <= set("-=_*—")]
    width = _typical_width([line for _, line in lines])
    out: list[str] = []
    alone, last = True, ""  # alone: the last paragraph is a heading or the title
    for raw, line in lines:
        if out and (line[0] in _CLOSING or (not alone and _continues(last, line, width))):
            out[-1] += line
        else:
            out.append(line)
        alone = raw.lstrip().startswith("#") or bool(_TITLE.search(out[-1]))
        last = line
    return out


def _typical_width(lines: list[str]) -> int:
    """Returns the length of a full line: most lines of a PDF's text are cut at it."""
    lengths = sorted(len(line) for line in lines if len(line) >= 10)
    return lengths[int(len(lengths) * 0.75)] if lengths else 40


def _continues(prev: str, line: str, width: int) -> bool:
    """True when `line` goes on with the sentence the full line `prev` broke off (a PDF's
    layout, a page break); a line ending in an address or a phone number ends there."""
    if len(prev) < max(12, int(width * 0.8)) or prev.endswith(_ENDS) or _HEADING.match(line):
        return False
    return bool(re.search(r"[\u4e00-\u9fff、，,“‘《（(]$", prev))


def sentences(paras: list[str]) -> list[str]:
    """Returns every sentence (split after 。！？；) of the paragraphs."""
    found = []
    for para in paras:
        found += [s for s in re.split(r"(?<=[。！？；])", para) if s.strip()]
    return found


def propose(text: str, code: str | None = None, timezone: str = "Asia/Shanghai") -> Proposal:
    """Returns the campaign the notice proposes (state draft), with the sentence of each field."""
    paras = paragraphs(text)
    src: dict[str, str] = {}
    problems: list[str] = []

    def take(name: str, found: Found | None, default: Any = "") -> Any:
        if found is None or found.value in (None, ""):
            problems.append(name)
            return default
        src[name] = found.sentence
        return found.value

    doc = _doc_number(paras)
    doc_number = take("doc_number", doc)
    title = take("title", _title(paras))
    year = _notice_year(doc, title, paras)
    issued = take("issued", _issued(paras, year), None)
    theme = take("theme", _theme(paras))
    dates = _activity_dates(paras, year)
    start, end = take("dates", dates, (None, None))
    name = take("name", _name(paras, title))
    addressees = _addressees(paras, title)
    labels = take("addressees", addressees, ())
    mailbox = take("mailbox", _mailbox(paras))
    if start is None:  # nothing to hang deadlines on: a person gives the dates
        start = end = issued or date(year, 1, 1)
    kinds = _kinds(paras, year, start, end, issued, src)
    if not any(k.required for k in kinds):
        problems.append("kinds")
    words = default_words(name, theme, doc_number)
    campaign = Campaign(
        code=code or _code(doc, start),
        name=name or title or "未命名活动",
        start=start,
        end=end,
        timezone=timezone,
        kinds=(*kinds, Kind("other", "其他", required=False)),
        doc_number=doc_number,
        title=title,
        issued=issued,
        theme=theme,
        words=words,
        related=_related(paras, words),
        addressees=tuple(labels),
        unit_types=tuple(dict.fromkeys(unit_type_of(label) for label in labels)),
        mailbox=mailbox,
        state="draft",
    )
    return Proposal(campaign, src, problems)


def _doc_number(paras: list[str]) -> Found | None:
    for para in paras[:12]:
        match = _DOC_NUMBER.search(para)
        if match:
            return Found(f"{match[1]}〔{match[2]}〕{match[3]}号", para)
    return None


def _title(paras: list[str]) -> Found | None:
    for para in paras[:15]:
        if _TITLE.search(para) and len(para) <= 90:
            return Found(para, para)
    return None


def _notice_year(doc: Found | None, title: str, paras: list[str]) -> int:
    for text in (doc.value if doc else "", title, *paras):
        match = re.search(r"((?:19|20)\d{2})\s*[年〕\]]", text)
        if match:
            return int(match[1])
    return date.today().year


def _issued(paras: list[str], year: int) -> Found | None:
    for para in reversed(paras):
        match = _ISSUED.search(para)
        days = find_days(match[1] if match else para, year) if match or len(para) <= 16 else []
        if days:
            return Found(days[-1].day, para)
    return None


def _theme(paras: list[str]) -> Found | None:
    for i, para in enumerate(paras):
        if re.search(r"活动主题|宣传主题", para) and _HEADING.match(para) and len(para) <= 12:
            following = paras[i + 1] if i + 1 < len(paras) else ""
            if 2 <= len(following) <= 30:
                return Found(following.strip('“”"。'), following)
        match = _THEME.search(para)
        if match and "主题" in para[:40]:
            return Found(match["theme"].strip(), para)
    return None


def _activity_dates(paras: list[str], year: int) -> Found | None:
    for i, para in enumerate(paras):
        if re.search(r"(?:活动|举办|宣传|实施)时间", para):
            for text in (para, paras[i + 1] if i + 1 < len(paras) else ""):
                found = find_range(text, year)
                if found:
                    return Found((found[0], found[1]), text)
    for para in paras:
        found = find_range(para, year)
        if found and re.search(r"活动|举办|开展|期间", para):
            return Found((found[0], found[1]), para)
    return None


def _name(paras: list[str], title: str) -> Found | None:
    for sentence in sentences(paras):
        match = _NAME.search(sentence)
        if match:
            return Found(match["name"].strip(), sentence)
    core = _TITLE_CORE.search(title or "")
    return Found(core["core"], title) if core else None


def _addressees(paras: list[str], title: str) -> Found | None:
    start = paras.index(title) + 1 if title in paras else 0
    for para in paras[start : start + 4]:
        if para.endswith(("：", ":")) and len(para) <= 120:
            labels = [p.strip() for p in re.split(r"[、，,；;]", para.rstrip("：:")) if p.strip()]
            return Found(tuple(labels), para)
    return None


def unit_type_of(label: str) -> str:
    """Returns the unit type an addressee names: city, zone, college or other."""
    if re.search(r"示范区|新区|开发区", label):
        return "zone"
    if re.search(r"高等学校|高校|院校|学院|大学|高职|职业学校", label):
        return "college"
    if re.search(r"各市|市教育局|教育行政部门|市（县|县（市", label):
        return "city"
    return "other"


def _mailbox(paras: list[str]) -> Found | None:
    found = [(para, m.group()) for para in paras for m in _EMAIL.finditer(para)]
    for para, address in found:
        if re.search(r"邮箱|电子邮件|E-?mail", para, re.IGNORECASE):
            return Found(address.lower(), para)
    return Found(found[0][1].lower(), found[0][0]) if found else None


def _kinds(
    paras: list[str], year: int, start: date, end: date, issued: date | None, src: dict[str, str]
) -> list[Kind]:
    kinds: list[Kind] = []
    taken: set[str] = set()
    for sentence in sentences(paras):
        nouns = requirements(sentence)
        if not nouns:
            continue
        when = deadline(sentence, year)
        for noun in nouns:
            if any(k.label == noun for k in kinds):
                continue
            spec = kind_for(noun, taken)
            taken.add(spec.code)
            due = when.due if when else None
            rule = when.rule if when else ""
            if rule:
                due = resolve(rule, start, end, issued)
            kinds.append(
                Kind(
                    spec.code,
                    spec.label,
                    due,
                    True,
                    spec.keywords,
                    spec.media,
                    _window(due, start, end),
                    rule,
                )  # fmt: skip
            )
            src[f"kinds.{spec.code}"] = sentence
    return kinds


def _window(due: date | None, start: date, end: date) -> str:
    if due is None:
        return ""
    if due < start:
        return "before"
    return "during" if due <= end else "after"


def _related(paras: list[str], words: tuple[str, ...]) -> tuple[str, ...]:
    text = "\n".join(paras)
    found = [w for w in EVENT_WORDS if w in text]
    found += [q for q in _QUOTED.findall(text) if len(q) <= 8]
    return tuple(dict.fromkeys(w for w in found if not any(w in x for x in words)))


def _code(doc: Found | None, start: date) -> str:
    if doc is not None:
        match = _DOC_NUMBER.search(doc.value)
        return f"{match[2]}-{match[3]}"
    return f"{start.year}-{start:%m%d}"
