"""What each part is (a kind of material) and what the message is (material or not).

Kinds come from keywords in the file name, the document's first lines and the
subject, from the sniffed media type, and weakly from the campaign calendar.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.body import BODY_ITEM_NAME, body_substance
from pipeline.budget import Deadline
from pipeline.campaign import Campaign
from pipeline.evidence import Clue, Decision, combine
from pipeline.message import ParsedMessage, Part
from pipeline.sniff import Sniffed, sniff
from pipeline.spam import spam_signals
from pipeline.textparts import MAX_SCAN_CHARS
from pipeline.units import normalise

KIND_THRESHOLD = 0.5
_SOURCE_WEIGHTS = {"filename": 0.85, "document": 0.75, "context": 0.8, "subject": 0.6, "body": 0.45}
# A picture whose name says it is a scan is the document it shows.
_SCAN_WORDS = ("扫描", "扫描件", "盖章", "复印件", "翻拍", "scan")
_SCAN_WEIGHT = 0.95
_MEDIA_WEIGHT = {"image": 0.8, "video": 0.9}
MAX_LINKS = 50  # cloud-drive links made into items from one message

_AUTO_SUBJECT = re.compile(
    r"^\s*(自动回复|自动答复|auto(matic)?[ -]?reply|out of (the )?office|"
    r"autoreply|休假|外出)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"(退信|系统退信|投递失败|undeliver|delivery status notification|"
    r"mail delivery (failed|failure)|returned mail|delivery failure)",
    re.IGNORECASE,
)
_LINK_SERVICES = [
    (
        re.compile(
            r"https?://(?:[\w-]+\.)*(?:mail\.qq\.com|exmail\.qq\.com)/(?:ftn|cgi-bin/ftn)"
            r"[^\s\"'<>）)]*",
            re.I,
        ),
        "QQ邮箱超大附件",
    ),
    (
        re.compile(
            r"https?://(?:[\w-]+\.)*(?:163|126|yeah)\.(?:com|net)/[^\s\"'<>）)]*"
            r"(?:large|attach|bigfile|fs/|dashi)[^\s\"'<>）)]*",
            re.I,
        ),
        "网易超大附件",
    ),
    (re.compile(r"https?://(?:dashi|fs|u)\.163\.com/[^\s\"'<>）)]*", re.I), "网易超大附件"),
    (re.compile(r"https?://pan\.baidu\.com/[^\s\"'<>）)]*", re.I), "百度网盘"),
    (re.compile(r"https?://(?:share\.)?weiyun\.com/[^\s\"'<>）)]*", re.I), "腾讯微云"),
    (
        re.compile(r"https?://(?:www\.)?(?:aliyundrive|alipan)\.com/s/[^\s\"'<>）)]*", re.I),
        "阿里云盘",
    ),
]
_EXPIRY = re.compile(
    r"(?:到期|过期|有效期至|有效期到|截止|expires?)[^\d]{0,12}"
    r"(\d{4})\s*[-/年.]\s*(\d{1,2})\s*[-/月.]\s*(\d{1,2})",
    re.I,
)
_EXPIRY_DAYS = re.compile(r"(\d{1,3})\s*天后?(?:过期|到期|失效)")
_NEAR_NAME = re.compile(
    r"([^\s/\\:：<>\"']{1,80}\.(?:mp4|mov|avi|wmv|mkv|zip|rar|7z|docx?|pdf|"
    r"jpe?g|png|pptx?|xlsx?))",
    re.I,
)


@dataclass
class ItemPlan:
    """How one item should be recorded: its name, media, role, kind decision and status."""

    name: str
    media: str
    mime: str
    role: str  # material | decorative
    kind: Decision
    status: str = "ok"  # ok | corrupt | external_link (others come from media stages)
    error: str | None = None
    part_index: int | None = None
    payload: bytes | None = None  # the body text, for the 正文.txt item
    url: str | None = None
    url_expiry: str | None = None
    service: str | None = None
    sniffed_by: str = ""


@dataclass
class MessageVerdict:
    """Whether a message is material, the flags it carries and, if not, why not.

    `reason` is a code of pipeline/reasons.py (empty for material); `signals` are the
    spam signals that decided a `spam` verdict, kept as evidence.
    """

    is_material: bool
    flags: list[str] = field(default_factory=list)
    reason: str = ""
    signals: list[str] = field(default_factory=list)
    question: str = ""  # an inquiry's question or acknowledgement (reason "inquiry")


def message_verdict(
    msg: ParsedMessage, from_department: bool, known_sender: bool = False
) -> MessageVerdict:
    """Returns whether msg is material: bounces, auto-replies, spam and our own mail are not.

    `known_sender`: the address or its domain belongs to a unit (configured or
    learned); such mail is never spam, whatever its headers or words.
    """
    h = msg.header
    # A bounce says Auto-Submitted too, so it is recognised first.
    sender = msg.from_addr.split("@")[0]
    if (
        msg.content_type == "multipart/report"
        or sender in ("mailer-daemon", "postmaster")
        or _BOUNCE_SUBJECT.search(msg.subject)
    ):
        return MessageVerdict(False, ["bounce"], "bounce")
    auto = h("auto-submitted").lower()
    if (
        (auto and not auto.startswith("no"))
        or h("x-autoreply")
        or h("x-autorespond")
        or _AUTO_SUBJECT.search(msg.subject)
    ):
        return MessageVerdict(False, ["auto_reply"], "auto_reply")
    if from_department:
        return MessageVerdict(False, [], "own_mail")
    if not known_sender:
        spam = spam_signals(msg)
        if spam.is_spam:
            return MessageVerdict(False, ["spam"], "spam", spam.signals)
    return MessageVerdict(True)


def plan_items(
    msg: ParsedMessage,
    campaign: Campaign,
    received: datetime,
    *,
    documents: dict[str, str] | None = None,
    decorative_max_bytes: int = 15_000,
    decorative_max_pixels: int = 200,
    deadline: Deadline | None = None,
) -> list[ItemPlan]:
    """Returns one plan per attachment and external link, and one for the body when it is
    material by itself (an article, a summary typed into the mail)."""
    documents = documents or {}
    deadline = deadline or Deadline.none()
    referenced = set(re.findall(r"cid:([^\"'\s>)]+)", msg.body_html, re.I))
    plans = []
    for part in msg.parts:
        deadline.check(f"classifying part {part.index + 1}")
        found = sniff(part.payload, part.filename, part.declared_type)
        decorative = _is_decorative(
            part, found, referenced, decorative_max_bytes, decorative_max_pixels
        )
        kind = classify_kind(
            part.filename,
            found.media,
            msg.subject,
            documents.get(part.filename, ""),
            campaign,
            received,
        )
        plans.append(
            ItemPlan(
                name=part.filename,
                media=found.media,
                mime=found.mime,
                role="decorative" if decorative else "material",
                kind=kind,
                status="corrupt" if part.error else "ok",
                error=part.error,
                part_index=part.index,
                sniffed_by=found.by,
            )
        )
    plans += _link_plans(msg, campaign, received)
    body = _body_plan(msg, campaign, received)
    return plans + [body] if body else plans


def _body_plan(msg: ParsedMessage, campaign: Campaign, received: datetime) -> ItemPlan | None:
    """Returns the 正文.txt plan when the sender's own text is material by itself.

    Whether or not the mail also has attachments or inline pictures: a summary typed
    into QQ Mail with photos dropped into the text is the summary. Its kind follows
    the rules of a file's (subject, title line), an article when nothing says more.
    """
    found = body_substance(msg.body_text, msg.subject, campaign)
    if not found.is_material:
        return None
    kind = classify_kind(
        BODY_ITEM_NAME,
        "text",
        msg.subject,
        found.article,
        campaign,
        received,
        default=("manuscript", 0.6),
        default_seen=found.shape,
    )
    return ItemPlan(
        BODY_ITEM_NAME, "text", "text/plain", "material", kind, payload=found.text.encode("utf-8")
    )


def classify_kind(
    filename: str,
    media: str,
    subject: str,
    text: str,
    campaign: Campaign,
    received: datetime,
    default: tuple[str, float] | None = None,
    context: str = "",
    default_seen: str = "正文",
) -> Decision:
    """Returns the kind of one item with its clues; the fallback kind when nothing is sure.

    `text` is the item's own text (a document's first lines, the body article);
    `context` is what the sender wrote next to a link. The receipt date is a
    weak clue for documents only and never decides alone.
    """
    if media == "archive":
        clue = Clue("media", "archive", campaign.fallback_kind, 0.9)
        return Decision(
            campaign.fallback_kind,
            0.9,
            "strong",
            [clue],
            {campaign.fallback_kind: 0.9},
            "an archive: its members carry the kinds",
        )
    clues: list[Clue] = []
    stem = filename.rsplit(".", 1)[0]
    head = "\n".join(text.strip().splitlines()[:3])[:200]
    for source, value in (
        ("filename", stem),
        ("document", head),
        ("subject", subject),
        ("context", context),
    ):
        keyword_clue = _keyword_clue(source, value, campaign)
        if keyword_clue:
            clues.append(keyword_clue)
    if media in ("image", "video"):
        clues = _picture_clues(clues, stem, campaign)
    elif media in ("document", "text"):
        # 照片说明.txt is about the photos, not one: a media kind needs its media.
        media_kinds = {k.code for k in campaign.kinds if k.media}
        clues = [c for c in clues if c.target not in media_kinds]
    for kind in campaign.kinds:
        if media in kind.media:
            clues.append(Clue("media", media, kind.code, _MEDIA_WEIGHT.get(media, 0.7)))
    if default:
        clues.append(Clue("body_article", default_seen, default[0], default[1]))
    if media in ("document", "text"):
        phase = campaign.phase(received)
        for kind in campaign.kinds:
            if kind.window and kind.window == phase and kind.window != "during":
                clues.append(Clue("date", f"received {phase} the week", kind.code, 0.2))
    return _decide_kind(clues, campaign)


def _picture_clues(clues: list[Clue], stem: str, campaign: Campaign) -> list[Clue]:
    """Returns the keyword clues that can override an image's or video's own media type.

    Only a scan (活动周方案扫描件.jpg) is a document in picture form; 总结配图.png
    and 案例配图.jpg are pictures about a summary or a case, so the document
    keyword in their name, and in the subject, does not make them documents.
    """
    media_kinds = {k.code for k in campaign.kinds if k.media}
    scanned = any(word in normalise(stem) for word in _SCAN_WORDS)
    kept = []
    for clue in clues:
        if clue.target in media_kinds:
            kept.append(clue)
        elif scanned and clue.source == "filename":
            kept.append(Clue(clue.source, clue.value, clue.target, _SCAN_WEIGHT))
    return kept


def _keyword_clue(source: str, value: str, campaign: Campaign) -> Clue | None:
    """Returns the clue of the longest kind keyword in value (for link context: the nearest)."""
    folded = normalise(value or "")
    best: tuple[int, int, str, str] | None = None
    for kind in campaign.kinds:
        for keyword in kind.keywords:
            at = folded.rfind(normalise(keyword))
            if at < 0:
                continue
            # Beside a link the word nearest to it describes it: 通讯稿见附件，视频…放在网盘.
            rank = (at + len(keyword), len(keyword)) if source == "context" else (len(keyword), 0)
            if best is None or rank > best[:2]:
                best = (*rank, keyword, kind.code)
    if best is None:
        return None
    return Clue(source, best[2], best[3], _SOURCE_WEIGHTS[source])


def _decide_kind(clues: list[Clue], campaign: Campaign) -> Decision:
    best: dict[tuple[str, str], float] = {}
    for clue in clues:
        key = (clue.target, clue.source)
        best[key] = max(best.get(key, 0.0), clue.weight)
    # The file name speaks for the item itself; when it names a kind, it overrides
    # the message subject (a 方案 subject over a photo attachment).
    named = {k for (k, source) in best if source == "filename"}
    scores = {}
    for kind in {k for k, _ in best}:
        weights = [
            w
            for (k, source), w in best.items()
            if k == kind and not (named and source in ("subject", "media") and kind not in named)
        ]
        scores[kind] = combine(weights)
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    if ranked and ranked[0][1] >= KIND_THRESHOLD:
        top, confidence = ranked[0]
        return Decision(top, round(confidence, 3), "strong", clues, dict(ranked), "clues agree")
    confidence = ranked[0][1] if ranked else 0.0
    return Decision(
        campaign.fallback_kind,
        round(confidence, 3),
        "weak" if ranked else "none",
        clues,
        dict(ranked),
        "no clear kind; filed as the fallback kind",
    )


def _is_decorative(
    part: Part, found: Sniffed, referenced: set[str], max_bytes: int, max_pixels: int
) -> bool:
    """True for a signature logo, emoji or banner pasted inline; photos pasted inline are not.

    Size in pixels decides (a phone photo is small in bytes when recompressed);
    bytes only count when the image cannot be measured.
    """
    if found.media != "image":
        return False
    inline = part.disposition == "inline" or (part.content_id and part.content_id in referenced)
    if not inline:
        return False
    from PIL import Image  # here, not at the top: only inline images need it

    try:
        with Image.open(io.BytesIO(part.payload)) as image:
            width, height = image.size
    except Exception:
        return len(part.payload) < max_bytes
    small = max(width, height) <= max_pixels
    banner = min(width, height) <= max_pixels // 2 and max(width, height) >= 3 * min(width, height)
    return small or banner


def _link_plans(msg: ParsedMessage, campaign: Campaign, received: datetime) -> list[ItemPlan]:
    # HTML bodies write & as &amp; inside href; the URL is the unescaped one.
    text = msg.body_text[:MAX_SCAN_CHARS] + "\n" + html.unescape(msg.body_html[:MAX_SCAN_CHARS])
    plans: list[ItemPlan] = []
    seen: set[str] = set()
    for pattern, service in _LINK_SERVICES:
        for match in pattern.finditer(text):
            url = match.group().rstrip(".,;，。；")
            if url in seen:
                continue
            if len(plans) == MAX_LINKS:  # a body of links is a list, not material to fetch
                return plans
            seen.add(url)
            window = text[max(0, match.start() - 300) : match.end() + 300]
            name_match = _NEAR_NAME.search(text[max(0, match.start() - 200) : match.start()])
            name = name_match.group(1) if name_match else service
            kind = classify_kind(
                name,
                _media_from_name(name),
                msg.subject,
                "",
                campaign,
                received,
                context=_link_context(text, match.start()),
            )
            plans.append(
                ItemPlan(
                    name=name,
                    media="other",
                    mime="text/uri-list",
                    role="material",
                    kind=kind,
                    status="external_link",
                    url=url,
                    url_expiry=_expiry(window, received),
                    service=service,
                    error=f"{service}链接，需要手工下载",
                )
            )
    return plans


def _link_context(text: str, start: int) -> str:
    """Returns what the sender wrote just before a link: its line and the line above."""
    # rfind, not text[:start].rsplit(): copying the text before every link is quadratic.
    line = text.rfind("\n", 0, start)
    above = text.rfind("\n", 0, line) if line > 0 else -1
    return text[above + 1 : start]


def _media_from_name(name: str) -> str:
    return sniff(b"", name).media


def _expiry(window: str, received: datetime) -> str | None:
    match = _EXPIRY.search(window)
    if match:
        year, month, day = (int(g) for g in match.groups())
        return f"{year:04d}-{month:02d}-{day:02d}"
    days = _EXPIRY_DAYS.search(window)
    if days:
        from datetime import timedelta

        return (received + timedelta(days=int(days.group(1)))).date().isoformat()
    return None


def message_flags(plans: list[ItemPlan], campaign: Campaign, received: datetime) -> list[str]:
    """Returns the campaign flags of a material message: late, early, external_link."""
    material = [(p.kind.value, p.status) for p in plans if p.role == "material"]
    return campaign_flags(material, campaign, received)


def campaign_flags(
    material: list[tuple[str | None, str]], campaign: Campaign, received: datetime
) -> list[str]:
    """Returns late, early and external_link for a message's material items (kind, status)."""
    flags = []
    summary_kinds = {k.code for k in campaign.kinds if k.window == "after"}
    media_kinds = {k.code for k in campaign.kinds if k.media}
    # Pictures sent with a summary illustrate it (the notice asks for 总结（含文字、图片）),
    # so the summary's deadline is theirs, not the photo deadline of the week.
    with_summary = any(kind in summary_kinds for kind, _ in material)
    judged = [kind for kind, _ in material if kind and not (with_summary and kind in media_kinds)]
    if any(campaign.is_late(kind, received) for kind in judged):
        flags.append("late")
    if with_summary and campaign.local_day(received) <= campaign.end:
        flags.append("early")
    if any(status == "external_link" for _, status in material):
        flags.append("external_link")
    return flags
