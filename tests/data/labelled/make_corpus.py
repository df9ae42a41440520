"""Writes the labelled evaluation corpus: NNN-*.eml, labels.json and units.toml.

Run from anywhere: ``.venv/bin/python tests/data/labelled/make_corpus.py``.
The output is deterministic (fixed dates, boundaries, Message-IDs, zip timestamps);
the 1-second ffmpeg clips are cached in ``_media/`` so that a different ffmpeg build
does not change the bytes. Written by the mailroom team for mailroom's
own evaluation; every person, address and phone number in it is invented.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import quopri
import random
import re
import struct
import subprocess
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
MEDIA = HERE / "_media"
MAILBOX = "zcc1.sjyt@ln.gov.cn"
CST = timezone(timedelta(hours=8))
CRLF = b"\r\n"

# --------------------------------------------------------------------------- units

UNITS = [
    # code, name, type, aliases, domains, addresses
    (
        "shenyang",
        "沈阳市教育局",
        "city",
        ["沈阳", "沈阳市", "沈阳教育局", "沈阳市教育局职成处"],
        ["sy.edu.example.cn"],
        ["syjyj_zcc@163.com"],
    ),
    (
        "dalian",
        "大连市教育局",
        "city",
        ["大连", "大连市", "大连教育局", "大连市教育局职成处"],
        ["dl.edu.example.cn"],
        [],
    ),
    ("anshan", "鞍山市教育局", "city", ["鞍山", "鞍山市", "鞍山教育局"], [], ["asjyjzcc@126.com"]),
    (
        "fushun",
        "抚顺市教育局",
        "city",
        ["抚顺", "抚顺市", "抚顺教育局", "抚顺市教育局职成科"],
        [],
        [],
    ),
    ("benxi", "本溪市教育局", "city", ["本溪", "本溪市", "本溪教育局"], ["bx.edu.example.cn"], []),
    ("dandong", "丹东市教育局", "city", ["丹东", "丹东市", "丹东教育局"], [], []),
    ("jinzhou", "锦州市教育局", "city", ["锦州", "锦州市", "锦州教育局"], [], []),
    ("yingkou", "营口市教育局", "city", ["营口", "营口市", "营口教育局"], [], []),
    ("fuxin", "阜新市教育局", "city", ["阜新", "阜新市", "阜新教育局"], [], []),
    (
        "liaoyang",
        "辽阳市教育局",
        "city",
        ["辽阳", "辽阳市", "辽阳教育局"],
        [],
        ["lyzcc2023@qq.com"],
    ),
    (
        "panjin",
        "盘锦市教育局",
        "city",
        ["盘锦", "盘锦市", "盘锦教育局", "盘锦市教育局职成科"],
        [],
        [],
    ),
    ("tieling", "铁岭市教育局", "city", ["铁岭", "铁岭市", "铁岭教育局"], [], []),
    (
        "chaoyang",
        "朝阳市教育局",
        "city",
        ["朝阳", "朝阳市", "朝阳教育局"],
        ["cy.edu.example.cn"],
        [],
    ),
    (
        "huludao",
        "葫芦岛市教育局",
        "city",
        ["葫芦岛", "葫芦岛市", "葫芦岛教育局"],
        [],
        ["hldzjk@sina.com"],
    ),
    (
        "shenfu",
        "沈抚示范区社会事业局",
        "zone",
        ["沈抚示范区", "沈抚改革创新示范区社会事业局", "沈抚改革创新示范区", "沈抚新区"],
        [],
        [],
    ),
    ("lnvc", "辽宁职业学院", "college", ["辽宁职院", "辽职院"], ["lnvc.edu.example.cn"], []),
    ("syvtc", "沈阳职业技术学院", "college", ["沈职院", "沈阳职院"], [], []),
    ("dlvtc", "大连职业技术学院", "college", ["大连职院", "大职院"], ["dlvtc.edu.example.cn"], []),
    (
        "lncc",
        "辽宁省交通高等专科学校",
        "college",
        ["辽宁交专", "交通高专", "辽宁省交通高专"],
        [],
        ["lnjtzk_xcb@163.com"],
    ),
    (
        "lnpc",
        "辽宁石化职业技术学院",
        "college",
        ["石化职院", "辽宁石化职院"],
        ["lnpc.edu.example.cn"],
        [],
    ),
    ("bhcc", "渤海船舶职业学院", "college", ["渤船职院", "渤海船舶"], [], []),
    ("fsvtc", "抚顺职业技术学院", "college", ["抚顺职院", "抚职院"], [], []),
    (
        "lntd",
        "辽宁铁道职业技术学院",
        "college",
        ["辽宁铁道职院", "铁道职院"],
        ["lntd.edu.example.cn"],
        [],
    ),
]


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def units_toml() -> str:
    out = [
        "# Units for the labelled evaluation corpus (tests/data/labelled).",
        "# Written by make_corpus.py. Domains and addresses are test-only (example.cn) or the",
        "# invented free-mail addresses the corpus uses; units without any must be recognised",
        "# by subject tag, signature, display name, file names or document text.",
        "",
    ]
    for code, name, kind, aliases, domains, addresses in UNITS:
        out += [
            "[[units]]",
            f'code = "{code}"',
            f'name = "{name}"',
            f'type = "{kind}"',
            f"aliases = {toml_list(aliases)}",
            f"domains = {toml_list(domains)}",
            f"addresses = {toml_list(addresses)}",
            "",
        ]
    return "\n".join(out)


# --------------------------------------------------------------------------- media


def rng_for(key: str) -> random.Random:
    return random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:16], 16))


def _scene(key: str, size: tuple[int, int]):
    from PIL import Image, ImageDraw

    r = rng_for(key)
    w, h = size
    top = (r.randrange(90, 200), r.randrange(120, 220), r.randrange(170, 255))
    bottom = (r.randrange(40, 140), r.randrange(60, 140), r.randrange(30, 110))
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    for y in range(h):
        t = y / (h - 1)
        draw.line(
            [(0, y), (w, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    for _ in range(r.randrange(4, 9)):  # people, banners and tables
        x0, y0 = r.randrange(0, w - 20), r.randrange(h // 3, h - 20)
        x1, y1 = x0 + r.randrange(10, 60), y0 + r.randrange(15, 60)
        color = (r.randrange(256), r.randrange(256), r.randrange(256))
        (draw.ellipse if r.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=color)
    draw.rectangle([w // 6, h // 10, w * 5 // 6, h // 10 + 14], fill=(200, 20, 30))  # banner
    return img


def jpeg_photo(key: str, taken: str, size: tuple[int, int] = (240, 180)) -> bytes:
    """Returns a small JPEG 'phone photo' with EXIF make, model and DateTimeOriginal."""
    from PIL import Image

    img = _scene(key, size)
    exif = Image.Exif()
    exif[0x010F] = "HUAWEI"
    exif[0x0110] = "ELS-AN00"
    exif.get_ifd(0x8769)[0x9003] = taken
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70, exif=exif.tobytes())
    return buf.getvalue()


def png_photo(key: str, size: tuple[int, int] = (200, 150)) -> bytes:
    buf = io.BytesIO()
    _scene(key, size).quantize(64).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def heic_photo(key: str) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    _scene(key, (160, 120)).save(buf, "HEIF", quality=40)
    return buf.getvalue()


def logo_png(color: tuple[int, int, int] = (0, 70, 150)) -> bytes:
    """Returns a tiny signature logo (decorative, well under 5 KB)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (96, 28), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.ellipse([2, 2, 26, 26], fill=color)
    draw.ellipse([8, 8, 20, 20], fill=(255, 255, 255))
    for i in range(5):
        draw.rectangle([32 + i * 12, 9, 40 + i * 12, 19], fill=color)
    buf = io.BytesIO()
    img.quantize(8).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def scanned_page_jpeg(key: str) -> bytes:
    """Returns a grey 'scanned A4 page' with text bars and a red seal, as a JPEG."""
    from PIL import Image, ImageDraw

    r = rng_for(key)
    img = Image.new("RGB", (300, 424), (238, 236, 230))
    draw = ImageDraw.Draw(img)
    draw.rectangle([90, 30, 210, 40], fill=(30, 30, 30))  # title
    y = 60
    while y < 380:
        indent = 40 if r.random() < 0.2 else 24
        draw.rectangle([indent, y, r.randrange(180, 276), y + 5], fill=(60, 60, 60))
        y += 13
    draw.ellipse([190, 330, 270, 410], outline=(200, 30, 30), width=4)
    draw.text((214, 362), "SEAL", fill=(200, 30, 30))
    buf = io.BytesIO()
    img.convert("L").save(buf, "JPEG", quality=45)
    return buf.getvalue()


VIDEO_SOURCES = {
    "testsrc": "testsrc=size=160x120:rate=15:duration=1",
    "testsrc2": "testsrc2=size=160x120:rate=15:duration=1",
    "smptebars": "smptebars=size=160x120:rate=15:duration=1",
    "rgbtestsrc": "rgbtestsrc=size=160x120:rate=15:duration=1",
}


def video(source: str, container: str = "mp4") -> bytes:
    """Returns a real ~1 s 160x120 H.264 clip, made once with ffmpeg and cached in _media/."""
    path = MEDIA / f"{source}.{container}"
    if not path.exists():
        MEDIA.mkdir(exist_ok=True)
        cmd = [
            "ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
            "-i", VIDEO_SOURCES[source], "-frames:v", "15", "-c:v", "libx264", "-preset", "veryfast",
            "-crf", "32", "-pix_fmt", "yuv420p", "-threads", "1", "-map_metadata", "-1",
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-f", container, str(path),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, timeout=60)
    return path.read_bytes()


FIXED_ZIP_TIME = (2023, 5, 5, 9, 30, 0)


def normalised_zip(data: bytes, drop: tuple[str, ...] = (), when=FIXED_ZIP_TIME) -> bytes:
    """Rewrites an OOXML zip with fixed timestamps, leaving out members whose name starts
    with one of ``drop`` (python-docx's 300 KB of unused styles and its thumbnail)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            if info.filename.startswith(drop):
                continue
            blob = src.read(info.filename)
            zi = zipfile.ZipInfo(info.filename, date_time=when)
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, blob, compresslevel=9)
    return out.getvalue()


def _prune_docx_parts(files: dict[str, bytes]) -> None:
    """Drops stylesWithEffects, customXml and the thumbnail, and all styles not used."""
    from lxml import etree

    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    doc = files["word/document.xml"].decode()
    used = set(re.findall(r'w:(?:pStyle|rStyle|tblStyle) w:val="([^"]+)"', doc))
    used |= {"Normal", "DefaultParagraphFont", "TableNormal", "NoList"}
    styles = etree.fromstring(files["word/styles.xml"])
    by_id = {s.get(f"{{{w}}}styleId"): s for s in styles.iter(f"{{{w}}}style")}
    todo = list(used)
    while todo:  # keep the basedOn / link / next closure
        s = by_id.get(todo.pop())
        for ref in ("basedOn", "link", "next"):
            el = s.find(f"{{{w}}}{ref}") if s is not None else None
            if el is not None and el.get(f"{{{w}}}val") not in used:
                used.add(el.get(f"{{{w}}}val"))
                todo.append(el.get(f"{{{w}}}val"))
    for sid, s in by_id.items():
        if sid not in used:
            styles.remove(s)
    latent = styles.find(f"{{{w}}}latentStyles")
    if latent is not None:
        styles.remove(latent)
    files["word/styles.xml"] = etree.tostring(
        styles, xml_declaration=True, encoding="UTF-8", standalone=True
    )
    gone = [n for n in files if n.startswith(("customXml/", "docProps/thumbnail"))]
    gone.append("word/stylesWithEffects.xml")
    for name in gone:
        files.pop(name, None)
    targets = ("stylesWithEffects.xml", "customXml/", "thumbnail.jpeg")
    for rels in ("_rels/.rels", "word/_rels/document.xml.rels"):
        files[rels] = re.sub(
            rb"<Relationship [^>]*Target=\"[^\"]*(?:" + b"|".join(re.escape(t.encode()) for t in targets)
            + rb")[^\"]*\"[^>]*/>", b"", files[rels])  # fmt: skip
    files["[Content_Types].xml"] = re.sub(
        rb'<Override PartName="/(?:customXml/[^"]*|word/stylesWithEffects.xml|docProps/thumbnail.jpeg)"'
        rb"[^>]*/>", b"", files["[Content_Types].xml"])  # fmt: skip


def make_docx(paragraphs: list[str], title: str, when: datetime) -> bytes:
    """Returns a small .docx made with python-docx; the first paragraph is the heading."""
    from docx import Document

    d = Document()
    d.add_heading(paragraphs[0], level=1)
    for p in paragraphs[1:]:
        d.add_paragraph(p)
    props = d.core_properties
    props.author = props.last_modified_by = "Administrator"
    props.title, props.comments, props.revision = title, "", 1
    props.created = props.modified = when.astimezone(UTC).replace(tzinfo=None)
    buf = io.BytesIO()
    d.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    files = {i.filename: src.read(i.filename) for i in src.infolist()}
    _prune_docx_parts(files)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name, blob in files.items():
            zi = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, blob, compresslevel=9)
    return out.getvalue()


def make_xlsx(rows: list[list[str]], when: datetime) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "联系人"
    for row in rows:
        ws.append(row)
    wb.properties.creator = "Administrator"
    naive = when.astimezone(UTC).replace(tzinfo=None)
    wb.properties.created = wb.properties.modified = naive
    buf = io.BytesIO()
    wb.save(buf)
    data = normalised_zip(buf.getvalue(), when=when.timetuple()[:6])
    # openpyxl stamps dcterms:modified with the wall clock; pin it.
    src = zipfile.ZipFile(io.BytesIO(data))
    files = {i.filename: src.read(i.filename) for i in src.infolist()}
    stamp = naive.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    files["docProps/core.xml"] = re.sub(
        rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, files["docProps/core.xml"]
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name, blob in files.items():
            zi = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, blob, compresslevel=9)
    return out.getvalue()


def _tounicode_cmap() -> bytes:
    lines = [
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def", "/CMapType 2 def",
        "1 begincodespacerange", "<0000> <FFFF>", "endcodespacerange",
    ]  # fmt: skip
    ranges = [
        f"<{hi:02X}00> <{hi:02X}FF> <{hi:02X}00>" for hi in range(256) if not 0xD8 <= hi <= 0xDF
    ]
    for i in range(0, len(ranges), 100):
        chunk = ranges[i : i + 100]
        lines += [f"{len(chunk)} beginbfrange", *chunk, "endbfrange"]
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode()


def make_pdf(lines: list[str], title: str, when: datetime) -> bytes:
    """Returns a minimal valid one-page PDF in STSong-Light (no embedded font) with a
    ToUnicode map, so text extraction yields the Chinese lines."""
    text = ["BT", "/F1 16 Tf", "60 780 Td", "24 TL"]
    for i, line in enumerate(lines):
        if i == 1:
            text.append("/F1 11 Tf 18 TL")
        text.append(f"<{line.encode('utf-16-be').hex().upper()}> Tj T*")
    text.append("ET")
    content = "\n".join(text).encode()
    cmap = _tounicode_cmap()
    stamp = when.strftime("D:%Y%m%d%H%M%S+08'00'")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
        b"/DescendantFonts [6 0 R] /ToUnicode 8 0 R >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> "
        b"/FontDescriptor 7 0 R /DW 1000 >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 "
        b"/FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 "
        b"/CapHeight 880 /StemV 93 >>",
        b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream",
        b"<< /Title <FEFF" + title.encode("utf-16-be").hex().upper().encode() + b"> "
        b"/Producer (WPS Office) /CreationDate (" + stamp.encode() + b") "
        b"/ModDate (" + stamp.encode() + b") >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    doc_id = hashlib.md5(content).hexdigest().upper().encode()
    out += (
        b"trailer\n<< /Size %d /Root 1 0 R /Info 9 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, doc_id, doc_id, xref)
    )
    return bytes(out)


class GbkZipInfo(zipfile.ZipInfo):
    """A zip entry whose name is stored in GBK without the UTF-8 flag, as Windows'
    built-in 'Send to compressed folder' and WinRAR on Chinese Windows write them."""

    def _encodeFilenameFlags(self):  # noqa: N802 - overrides zipfile's private hook
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def make_zip(members: list[tuple[str, bytes]], gbk_names: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members:
            zi = (GbkZipInfo if gbk_names else zipfile.ZipInfo)(
                name, date_time=(2023, 5, 17, 16, 2, 10)
            )
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return out.getvalue()


def raw_zip(members: list[tuple[str, bytes]], style: str, password: str | None = None,
            key: str = "") -> bytes:  # fmt: skip
    """Writes a zip by hand, as the tools units use write them.

    style: `gbk` (WinRAR, 360压缩, Windows' own: GBK names, no UTF-8 flag), `mac` (macOS
    Finder: UTF-8 names without the flag, folder entries, AppleDouble under __MACOSX/).
    With a password, members are encrypted with ZipCrypto (PKWARE traditional), which is
    what WinRAR and 360压缩 use for zips by default; the 12-byte encryption headers come
    from a seeded generator, so the file is the same on every run.
    """
    rng = rng_for("zipcrypto" + key)
    out, central = bytearray(), bytearray()
    dos_time, dos_date = (16 << 11) | (2 << 5) | 5, ((2023 - 1980) << 9) | (5 << 5) | 17
    for name, data in members:
        raw_name = name.encode("gbk" if style == "gbk" else "utf-8")
        is_dir = name.endswith("/")
        crc = zlib.crc32(data)
        if is_dir or not data:
            method, body = 0, b""
        else:
            deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
            method, body = 8, deflate.compress(data) + deflate.flush()
        flags = 0
        if password and not is_dir:
            flags |= 0x1
            header = bytes(rng.randrange(256) for _ in range(11)) + bytes([crc >> 24])
            body = zipcrypto_encrypt(password.encode("gbk"), header + body)
        fields = struct.pack("<HHHHHIII", 20, flags, method, dos_time, dos_date, crc, len(body),
                             len(data))  # fmt: skip
        offset = len(out)
        out += b"PK\x03\x04" + fields + struct.pack("<HH", len(raw_name), 0) + raw_name + body
        attrs = 0x10 if is_dir else 0x20  # MS-DOS directory / archive bits
        central += (b"PK\x01\x02" + struct.pack("<H", 0x0314 if style == "mac" else 0x0014)
                    + fields + struct.pack("<HHHHHII", len(raw_name), 0, 0, 0, 0, attrs, offset)
                    + raw_name)  # fmt: skip
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members),
                      len(central), len(out), 0)  # fmt: skip
    return bytes(out + central + end)


def zipcrypto_encrypt(password: bytes, data: bytes) -> bytes:
    """Encrypts with the PKWARE traditional stream cipher (APPNOTE.TXT 6.1)."""
    keys = [0x12345678, 0x23456789, 0x34567890]
    table = [_crc_entry(n) for n in range(256)]

    def update(byte: int) -> None:
        keys[0] = (keys[0] >> 8) ^ table[(keys[0] ^ byte) & 0xFF]
        keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = (keys[2] >> 8) ^ table[(keys[2] ^ (keys[1] >> 24)) & 0xFF]

    for byte in password:
        update(byte)
    out = bytearray()
    for byte in data:
        temp = keys[2] | 2
        out.append(byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
        update(byte)
    return bytes(out)


def _crc_entry(n: int) -> int:
    for _ in range(8):
        n = (n >> 1) ^ 0xEDB88320 if n & 1 else n >> 1
    return n


def zip_member_names(data: bytes) -> list[str]:
    """Returns member names decoded as a Chinese user's unzip tool would: UTF-8 when the
    entry says so, otherwise GBK (zipfile itself assumes cp437)."""
    names = []
    for info in zipfile.ZipFile(io.BytesIO(data)).infolist():
        if info.flag_bits & 0x800:
            names.append(info.filename)
        else:
            names.append(info.filename.encode("cp437").decode("gbk"))
    return names


# --------------------------------------------------------------------------- MIME primitives


def b_words(text: str, charset: str) -> list[str]:
    """Returns RFC 2047 B-encoded words of at most 75 characters, split on characters."""
    room = (75 - len(f"=?{charset}?B??=")) // 4 * 3
    words, chunk = [], ""
    for ch in text:
        if len((chunk + ch).encode(charset)) > room:
            words.append(chunk)
            chunk = ""
        chunk += ch
    words.append(chunk)
    return [f"=?{charset}?B?{base64.b64encode(w.encode(charset)).decode()}?=" for w in words]


def _q(ch: str, charset: str) -> str:
    if ch == " ":
        return "_"
    if ch.isascii() and (ch.isalnum() or ch in "!*+-/"):
        return ch
    return "".join(f"={b:02X}" for b in ch.encode(charset))


def q_words(text: str, charset: str) -> list[str]:
    """Returns RFC 2047 Q-encoded words of at most 75 characters."""
    room = 75 - len(f"=?{charset}?Q??=")
    words, chunk = [], ""
    for ch in text:
        if len(chunk + _q(ch, charset)) > room:
            words.append(chunk)
            chunk = ""
        chunk += _q(ch, charset)
    words.append(chunk)
    return [f"=?{charset}?Q?{w}?=" for w in words]


def ew(text: str, charset: str = "UTF-8", q: bool = False) -> str:
    """Returns the text as folded encoded words (ASCII text is returned unchanged)."""
    if text.isascii():
        return text
    return "\r\n ".join((q_words if q else b_words)(text, charset))


def rfc2231(param: str, text: str, charset: str = "UTF-8", split: int = 0) -> str:
    """Returns ``param*=charset''pct`` or, with ``split``, ``param*0*=...; param*1*=...``
    cut between characters, as Thunderbird does (a cut inside a character is legal but the
    stdlib, like many readers, decodes each section on its own)."""

    def pct(s: str) -> str:
        return quote(s.encode(charset), safe="!#$&+-.^_`|~")

    if not split:
        return f"{param}*={charset}''{pct(text)}"
    pieces = [""]
    for ch in text:
        if pieces[-1] and len(pieces[-1]) + len(pct(ch)) > split:
            pieces.append("")
        pieces[-1] += pct(ch)
    first = f"{charset}''"
    return ";\r\n ".join(
        f"{param}*{n}*={first if n == 0 else ''}{piece}" for n, piece in enumerate(pieces)
    )


def b64_lines(data: bytes) -> bytes:
    enc = base64.b64encode(data)
    return CRLF.join(enc[i : i + 76] for i in range(0, len(enc), 76))


def crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", data)


@dataclass
class Part:
    headers: list[tuple[str, str | bytes]]
    body: bytes = b""
    children: list[Part] = field(default_factory=list)
    boundary: str = ""

    def to_bytes(self) -> bytes:
        out = b""
        for name, value in self.headers:
            raw = value if isinstance(value, bytes) else value.encode("ascii")
            out += name.encode() + b": " + raw + CRLF
        out += CRLF
        if not self.children:
            return out + self.body
        if self.body:  # preamble
            out += self.body + CRLF
        for child in self.children:
            out += b"--" + self.boundary.encode() + CRLF + child.to_bytes() + CRLF
        return out + b"--" + self.boundary.encode() + b"--" + CRLF


def text_part(text: str, subtype: str, charset: str, cte: str, extra: str = "") -> Part:
    data = crlf(text.encode(charset))
    if cte == "base64":
        body = b64_lines(data)
    elif cte == "quoted-printable":
        body = crlf(quopri.encodestring(data.replace(b"\r\n", b"\n")))
    else:
        body = data
    return Part(
        [
            ("Content-Type", f'text/{subtype}; charset="{charset}"{extra}'),
            ("Content-Transfer-Encoding", cte),
        ],
        body,
    )


def multipart(subtype: str, boundary: str, children: list[Part], extra: str = "") -> Part:
    return Part(
        [("Content-Type", f'multipart/{subtype};{extra}\r\n\tboundary="{boundary}"')],
        b"",
        children,
        boundary,
    )


def html_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def linkify(s: str) -> str:
    return re.sub(r"(https?://[^\s<]+)", lambda m: f'<a href="{m[1]}">{m[1]}</a>', s)


# --------------------------------------------------------------------------- clients


@dataclass
class Client:
    """How one mail program writes a message: charsets, encodings, header styles."""

    key: str
    mailer: tuple[str, str]  # header name, value
    body_charset: str
    body_cte: str
    fn_style: str  # ew_quoted | ew_q | rfc2231 | rfc2231_split | name_only | plain
    fn_charset: str
    from_style: str  # quoted_ew | ew
    helo: str
    ip: str
    html: bool = True
    att_charset_param: bool = False


CLIENTS = {
    "qq": Client("qq", ("X-Mailer", "QQMail 2.x"), "gb18030", "base64", "ew_quoted", "gb18030",
                 "quoted_ew", "smtpbg150.qq.com", "203.205.250.110", att_charset_param=True),
    "163": Client("163", ("X-Mailer", "Coremail Webmail Server Version XT5.0.13 build 20210622"
                  "(1d4788a8) Copyright (c) 2002-2023 www.mailtech.cn 163com"), "UTF-8", "base64",
                  "ew_quoted", "UTF-8", "ew", "m15114.mail.163.com", "220.181.15.114"),
    "126": Client("126", ("X-Mailer", "Coremail Webmail Server Version XT5.0.13 build 20210622"
                  "(1d4788a8) Copyright (c) 2002-2023 www.mailtech.cn 126com"), "GBK", "base64",
                  "ew_quoted", "GBK", "ew", "m15116.mail.126.com", "220.181.15.116"),
    "sina": Client("sina", ("X-Mailer", "Sina WebMail 4.0"), "UTF-8", "quoted-printable", "ew_q",
                   "UTF-8", "ew", "mail3-166.sinamail.sina.com.cn", "202.108.3.166"),
    "outlook": Client("outlook", ("X-Mailer", "Microsoft Outlook 16.0"), "gb2312", "base64",
                      "ew_quoted", "gb2312", "quoted_ew", "mail.{domain}", "61.161.{n}.18"),
    "thunderbird": Client("thunderbird", ("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; "
                          "rv:102.0) Gecko/20100101 Thunderbird/102.10.1"), "UTF-8", "8bit",
                          "rfc2231_split", "UTF-8", "ew", "mail.{domain}", "218.25.{n}.40",
                          html=False),
    "thunderbird_gbk": Client("thunderbird_gbk", ("User-Agent", "Mozilla/5.0 (Windows NT 6.1; "
                              "rv:60.0) Gecko/20100101 Thunderbird/60.9.1"), "GBK", "8bit",
                              "rfc2231_split", "GBK", "ew", "m12-11.163.com", "220.181.12.11",
                              html=False),
    "iphone": Client("iphone", ("X-Mailer", "iPhone Mail (20E252)"), "utf-8", "quoted-printable",
                     "rfc2231", "utf-8", "ew", "mail.{domain}", "223.101.{n}.7", html=False),
    "foxmail": Client("foxmail", ("X-Mailer", "Foxmail 7.2.25.228[cn]"), "GB2312", "base64",
                      "ew_quoted", "GB2312", "quoted_ew", "smtpbguseast2.qq.com", "54.204.34.130"),
    "oe": Client("oe", ("X-Mailer", "Microsoft Outlook Express 6.00.2900.5931"), "gb2312", "base64",
                 "name_only", "gb2312", "quoted_ew", "m13-71.163.com", "220.181.13.71",
                 html=False),
    "edm": Client("edm", ("X-Mailer", "EDM Sender 3.2"), "UTF-8", "base64", "ew_quoted", "UTF-8",
                  "ew", "edm.zyjy.example.com", "47.94.12.{n}"),
    "postfix": Client("postfix", ("X-Postfix-Queue-ID", "4QB7Yx2Lz3z9vBK"), "us-ascii", "7bit",
                      "plain", "us-ascii", "ew", "localhost", "127.0.0.1", html=False),
    "gov": Client("gov", ("X-Mailer", "Coremail Webmail Server Version XT3.0.8 dev build 20190610"),
                  "UTF-8", "base64", "ew_quoted", "UTF-8", "ew", "webmail.ln.gov.cn", "10.12.3.21"),
}  # fmt: skip


def fn_charset(client: Client, name: str) -> str:
    """Outlook labels GB2312 when the name fits and GBK (really GB18030) otherwise."""
    if client.fn_charset.lower() == "gb2312":
        try:
            name.encode("gb2312")
        except UnicodeEncodeError:
            return "GBK" if client.fn_charset.isupper() else "gbk"
    return client.fn_charset


def filename_params(client: Client, name: str) -> tuple[str, str]:
    """Returns the (Content-Type name=..., Content-Disposition filename=...) parameter text."""
    cs = fn_charset(client, name)
    if name.isascii():
        return f'name="{name}"', f'filename="{name}"'
    if client.fn_style in ("ew_quoted", "name_only"):
        # QQ Mail, Coremail and Outlook put RFC 2047 words inside quoted params (RFC 2231
        # forbids it, but every Chinese mail program reads it).
        words = "\r\n\t".join(b_words(name, cs))
        return f'name="{words}"', f'filename="{words}"'
    if client.fn_style == "ew_q":
        words = "\r\n\t".join(q_words(name, cs))
        return f'name="{words}"', f'filename="{words}"'
    if client.fn_style == "rfc2231":
        return rfc2231("name", name, cs), rfc2231("filename", name, cs)
    words = "\r\n ".join(b_words(name, cs))
    return f'name="{words}"', rfc2231("filename", name, cs, split=40)


@dataclass
class Att:
    filename: str
    data: bytes
    kind: str | None  # label kind; None = not an item (decorative)
    ctype: str = ""  # default: what the sending client would write
    cid: str | None = None  # inline, referenced from the HTML
    members: dict[str, str] | None = None  # zip member -> kind
    statuses: dict[str, str] = field(default_factory=dict)  # member -> status when not ok
    password_from: dict[str, str] = field(default_factory=dict)  # member -> body | staff
    junk: list[str] = field(default_factory=list)  # members never to become items
    password: str | None = None  # the zip's (ZipCrypto)


def attachment_part(client: Client, att: Att) -> Part:
    name_p, file_p = filename_params(client, att.filename)
    ctype = att.ctype or ctype_for(att.filename, client)
    if client.att_charset_param:
        ctype += '; charset="gb18030"'
    headers: list[tuple[str, str | bytes]] = [("Content-Type", f"{ctype};\r\n\t{name_p}")]
    disp = "inline" if att.cid else "attachment"
    if client.fn_style != "name_only":
        headers.append(("Content-Disposition", f"{disp};\r\n\t{file_p}"))
    else:
        headers.append(("Content-Disposition", disp))
    headers.append(("Content-Transfer-Encoding", "base64"))
    if att.cid:
        headers.append(("Content-ID", f"<{att.cid}>"))
    return Part(headers, b64_lines(att.data))


CTYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".heic": "image/heic",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".zip": "application/x-zip-compressed",
    ".eml": "message/rfc822",
}


def ctype_for(name: str, client: Client) -> str:
    if client.key in ("qq", "foxmail"):
        return "application/octet-stream"  # QQ Mail labels every upload this way
    return CTYPES.get(Path(name).suffix.lower(), "application/octet-stream")


# --------------------------------------------------------------------------- messages


@dataclass
class Mail:
    slug: str
    unit: str | None
    client: str
    from_name: str | None
    from_addr: str
    subject: str
    text: str
    received: datetime
    atts: list[Att] = field(default_factory=list)
    note: str = ""
    date_hdr: str | None = None  # a wrong Date header; the topmost Received is right
    flags: list[str] = field(default_factory=list)
    forwarded_by: str | None = None
    is_material: bool = True
    links: dict[str, str] = field(default_factory=dict)  # url -> kind
    body_item: bool | str = False  # the body is material: item "正文.txt" (True: a manuscript)
    html_extra: str = ""
    html_body: str | None = None  # the whole HTML, when pictures sit between paragraphs
    outlook_msg: bool = False  # saved from Outlook as a .msg file, not an .eml
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    subject_header: str | bytes | None = None  # exact Subject bytes when they matter
    mailer: str | None = None
    to: str = f'"职成处" <{MAILBOX}>'
    custom: Part | None = None  # the whole MIME body, for reports and forwards
    name: str = ""


def t(month: int, day: int, hh: int, mm: int, ss: int) -> datetime:
    return datetime(2023, month, day, hh, mm, ss, tzinfo=CST)


def hexid(key: str, n: int, upper: bool = False) -> str:
    h = hashlib.sha256(key.encode()).hexdigest()
    while len(h) < n:
        h += hashlib.sha256(h.encode()).hexdigest()
    return h[:n].upper() if upper else h[:n]


def digits(key: str, n: int) -> str:
    return str(int(hexid(key, 24), 16))[:n]


def boundary(client: str, key: str) -> str:
    h = hexid(key, 32, upper=True)
    level = 2 if key.endswith("alt") else 1 if key.endswith("rel") else 0
    return {
        "qq": f"----=_NextPart_{h[:8]}_{h[8:16]}_{h[16:24]}",
        "163": f"----=_Part_{digits(key, 6)}_{digits(key + 'x', 9)}.1683{digits(key + 'y', 9)}",
        "126": f"----=_Part_{digits(key, 6)}_{digits(key + 'x', 9)}.1683{digits(key + 'y', 9)}",
        "edm": f"=_edm_{hexid(key, 20)}",
        "postfix": f"{h[:15]}.1682321440/mx.ln.gov.cn",
        "gov": f"----=_Part_{digits(key, 5)}_{digits(key + 'x', 8)}.1685{digits(key + 'y', 9)}",
        "sina": f"=-sinamail_alt_{hexid(key, 32)}",
        "outlook": f"----=_NextPart_00{level}_00{h[:2]}_01D97F3A.{h[8:16]}",
        "thunderbird": f"------------{hexid(key, 24)}",
        "thunderbird_gbk": f"------------{h[:24]}",
        "iphone": f"Apple-Mail-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}",
        "foxmail": f"----=_001_NextPart{digits(key, 9)}_=----",
        "oe": f"----=_NextPart_000_0005_01D9801A.{h[:8]}",
    }[client]


def message_id(client: str, key: str, addr: str, when: datetime) -> str:
    local, domain = addr.split("@")
    h = hexid(key, 40)
    stamp = when.strftime("%Y%m%d%H%M%S")
    return {
        "qq": f"<tencent_{h[:32].upper()}@qq.com>",
        "163": f"<{h[:8]}.{h[8:12]}.{h[12:23]}.Coremail.{local}@{domain}>",
        "126": f"<{h[:8]}.{h[8:12]}.{h[12:23]}.Coremail.{local}@{domain}>",
        "gov": f"<{h[:8]}.{h[8:12]}.{h[12:23]}.Coremail.{local}@{domain}>",
        "edm": f"<{stamp}.{h[:16]}@{domain}>",
        "postfix": f"<{stamp}.4QB7Yx2Lz3z9vBK@mx.ln.gov.cn>",
        "sina": f"<{stamp}.{digits(key, 6)}@sina.com>",
        "outlook": f"<000{h[0]}01d97f3a${h[1:9]}${h[9:17]}$@{domain}>",
        "thunderbird": f"<{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}@{domain}>",
        "thunderbird_gbk": f"<{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}@{domain}>",
        "iphone": f"<{h[:8].upper()}-{h[8:12].upper()}-{h[12:16].upper()}-{h[16:28].upper()}@{domain}>",
        "foxmail": f"<{stamp}{digits(key, 7)}@{domain}>",
        "oe": f"<000a01d9801a${h[:8]}$0201a8c0@PC-2020{digits(key, 4)}>",
    }[client]


def text_charset(client: Client, text: str) -> str:
    """GB2312 when the text fits, else GBK, as Chinese clients choose."""
    cs = client.body_charset
    if cs.lower() == "gb2312":
        try:
            text.encode("gb2312")
        except UnicodeEncodeError:
            return "GBK" if cs.isupper() else "gbk"
    return cs


def auto_html(client: Client, text: str, extra: str) -> str:
    lines = [linkify(html_escape(line)) or "<br>" for line in text.split("\n")]
    if client.key == "outlook":
        paras = "".join(f"<p class=MsoNormal><span lang=ZH-CN>{x}</span></p>\n" for x in lines)
        return (
            '<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:'
            'office:office" xmlns:w="urn:schemas-microsoft-com:office:word">\n<head><meta '
            'http-equiv=Content-Type content="text/html; charset=gb2312"><meta name=Generator '
            'content="Microsoft Word 15 (filtered medium)"></head>\n<body lang=ZH-CN '
            'link="#0563C1" vlink="#954F72" style=\'text-align:justify;text-justify:inter-'
            f"ideograph'><div class=WordSection1>\n{paras}{extra}</div></body></html>\n"
        )
    divs = "".join(f"<div>{x}</div>\n" for x in lines)
    if client.key == "qq":
        return f'<meta http-equiv="Content-Type" content="text/html; charset=GB18030">{divs}{extra}'
    if client.key in ("163", "126", "gov"):
        return (
            '<div style="line-height:1.7;color:#000000;font-size:14px;font-family:Arial">'
            f'{divs}{extra}</div><br><br><span title="neteasefooter"><p>&nbsp;</p></span>'
        )
    return f"<html><head></head><body>{divs}{extra}</body></html>"


def from_header(client: Client, name: str | None, addr: str) -> str:
    if not name:
        return addr
    if name.isascii():
        return f'"{name}" <{addr}>'
    cs = text_charset(client, name) if client.key != "qq" else "gb18030"
    words = ew(name, cs)
    return f'"{words}" <{addr}>' if client.from_style == "quoted_ew" else f"{words} <{addr}>"


def subject_header(client: Client, m: Mail) -> str | bytes:
    if m.subject_header is not None:
        return m.subject_header
    cs = "gb18030" if client.key == "qq" else text_charset(client, m.subject)
    return ew(m.subject, cs, q=client.fn_style == "ew_q")


def default_body(c: Client, m: Mail) -> Part:
    cs = text_charset(c, m.text)
    flowed = "; format=flowed" if c.key.startswith("thunderbird") else ""
    body = text_part(m.text, "plain", cs, c.body_cte, flowed)
    if c.html:
        markup = m.html_body if m.html_body is not None else auto_html(c, m.text, m.html_extra)
        html = text_part(markup, "html", cs, c.body_cte)
        body = multipart("alternative", boundary(c.key, m.slug + "alt"), [body, html])
    inline = [a for a in m.atts if a.cid]
    if inline:
        related = [body] + [attachment_part(c, a) for a in inline]
        body = multipart("related", boundary(c.key, m.slug + "rel"), related,
                         ' type="multipart/alternative";')  # fmt: skip
    files = [a for a in m.atts if not a.cid]
    if not files:
        return body
    parts = [body] + [attachment_part(c, a) for a in files]
    return multipart("mixed", boundary(c.key, m.slug), parts)


def build(m: Mail, mx: str = "mx.ln.gov.cn", rcpt: str = MAILBOX) -> bytes:
    """Returns the message as it lies in the recipient's mailbox, CRLF line ends."""
    c = CLIENTS[m.client]
    r = rng_for(m.slug)
    domain = m.from_addr.split("@")[1]
    helo = c.helo.format(domain=domain)
    ip = c.ip.format(n=r.randrange(2, 250))
    sent = m.received - timedelta(seconds=r.randrange(2, 40))
    qid = f"4Q{hexid(m.slug, 10, upper=True)}"
    headers: list[tuple[str, str | bytes]] = [
        ("Received", f"from {helo} ({helo} [{ip}])\r\n\tby {mx} (Postfix) with ESMTPS "
                     f"id {qid}\r\n\tfor <{rcpt}>; {format_datetime(m.received)} (CST)"),
        ("Received", f"from PC-{digits(m.slug, 6)} (unknown [{r.randrange(36, 223)}."
                     f"{r.randrange(1, 254)}.{r.randrange(1, 254)}.{r.randrange(1, 254)}])\r\n\t"
                     f"by {helo} with ESMTPA id {hexid(m.slug + 'r', 12)};\r\n\t"
                     f"{format_datetime(sent)}"),
        ("Date", m.date_hdr or format_datetime(sent)),
        ("From", from_header(c, m.from_name, m.from_addr)),
        ("To", re.sub(r'"([^"]*)"', lambda g: f'"{ew(g[1], text_charset(c, g[1]))}"', m.to)),
        ("Subject", subject_header(c, m)),
        ("Message-ID", message_id(c.key, m.slug, m.from_addr, sent)),
        (c.mailer[0], m.mailer or c.mailer[1]),
        ("MIME-Version", "1.0"),
        *m.extra_headers,
    ]  # fmt: skip
    if c.key == "postfix":  # generated on the mailbox's own MTA: one Received line
        headers[:2] = [("Received", f"by {mx} (Postfix)\r\n\tid {c.mailer[1]}; "
                                    f"{format_datetime(m.received)} (CST)")]  # fmt: skip
    if c.key == "qq":
        headers.insert(-1, ("X-QQ-Mid", f"xmsmtpt{hexid(m.slug, 20)}"))
    if c.key == "outlook":
        headers += [("Thread-Index", "AdmBhR" + hexid(m.slug, 16)), ("Content-Language", "zh-cn")]
    body = m.custom or default_body(c, m)
    return Part(headers + body.headers, body.body, body.children, body.boundary).to_bytes()


# --------------------------------------------------------------------------- documents

THEME = "技能：让生活更美好"
CAMPAIGN = "2023-vocational-week"  # the code mailroom ships the 2023 week with
NOTICE = "《辽宁省教育厅关于做好2023年全省职业教育活动周相关工作的通知》（辽教通〔2023〕106号）"


def plan_text(org: str, variant: str = "实施方案", first: str | None = None,
              detail: str = "") -> list[str]:  # fmt: skip
    head = [first] if first else []
    return head + [
        f"{org}2023年职业教育活动周{variant}",
        f"为深入学习贯彻党的二十大精神，落实{NOTICE}要求，充分展示职业教育改革发展成果，"
        f"结合{org if org.startswith('我') else '本地'}实际，制定本{variant[-2:]}。",
        f"一、活动主题：{THEME}。",
        "二、活动时间：2023年5月14日至5月25日。",
        "三、主要活动：（一）举办活动周启动仪式；（二）开展“开放校园、开放企业、开放院所、开放赛场”"
        "体验活动；（三）组织技能展示、志愿服务进社区、进乡村；（四）开展“线上逛校园”“网上开放日”活动。",
        f"四、工作要求：各单位要高度重视，精心组织，确保“天天有活动、处处有看点、人人有收获”。{detail}",
        "五、材料报送：活动周期间及时报送典型案例、新闻稿件、照片和视频，活动结束后一周内报送工作总结。",
    ]


def case_text(title: str, org: str, detail: str) -> list[str]:
    return [
        title,
        f"一、基本情况。{org}立足区域产业需求，深化产教融合、校企合作，{detail}",
        "二、主要做法。一是校企共同制定人才培养方案，二是共建实训基地和技能大师工作室，"
        "三是实行“双导师”制，企业技术骨干全程参与教学。",
        "三、取得成效。近三年学生双证书获取率达到96%，对口就业率显著提升，"
        "合作企业满意度持续提高，形成了可复制、可推广的经验。",
        "四、经验启示。坚持需求导向，坚持协同育人，让更多学生走上技能成才、技能报国之路。",
    ]


def news_text(title: str, lead: str, detail: str) -> list[str]:
    return [
        title,
        lead,
        f"活动现场，师生们围绕“{THEME}”主题，开展了家电维修、健康护理、传统工艺体验等"
        f"便民服务，吸引了众多市民驻足参与。{detail}",
        "近年来，职业教育坚持面向市场、服务发展、促进就业的办学方向，为区域经济社会发展"
        "培养了大批高素质技术技能人才。",
        "据了解，活动周期间还将陆续开展开放校园、技能展示、志愿服务等系列活动。",
    ]


def summary_text(org: str, detail: str, first: str | None = None) -> list[str]:
    head = [first] if first else []
    return head + [
        f"{org}2023年职业教育活动周工作总结",
        f"按照{NOTICE}要求，{org if not org.startswith('我') else '我们'}于5月14日至25日"
        f"组织开展了以“{THEME}”为主题的职业教育活动周。现将有关情况总结如下。",
        f"一、总体情况。活动周期间共组织各类活动{detail}，参与师生和群众逾万人次。",
        "二、活动亮点。一是开放校园，邀请家长和初中学生走进实训室；二是技能展示进社区；"
        "三是线上直播“云逛校园”，累计观看量超过十万人次。",
        "三、典型案例。围绕产教融合、技能成才遴选典型案例3个，已另行报送。",
        "四、下一步工作。持续宣传职业教育，营造全社会关心支持职业教育的良好氛围。",
    ]


def docx(paragraphs: list[str], when: datetime) -> bytes:
    return make_docx(paragraphs, paragraphs[0][:30], when - timedelta(hours=20))


ALL_UNITS_LINE = "、".join(u[1] for u in UNITS)
NOTICE_QUOTE = f"""各市教育局、沈抚示范区社会事业局，各有关高等学校：

为深入学习贯彻党的二十大精神，按照《教育部等十部门关于做好2023年职业教育活动周相关工作的通知》要求，决定举办2023年辽宁省职业教育活动周，现将有关情况通知如下。
一、活动主题：{THEME}
二、活动时间：5月14日至25日
三、及时报送材料：各市教育行政部门、各有关高校于2023年5月8日前将活动周方案发送到指定邮箱。活动周期间，各地要通过邮箱及时报送典型案例、稿件、照片、视频等资料。活动周结束后一周内，各单位要将活动周总结报送至省教育厅职成处。
联系人及电话：韩健、肖一鸣，024-89717289
电子邮箱：{MAILBOX}

附件：2023年职业教育活动周联络员名单（{ALL_UNITS_LINE}）

辽宁省教育厅职成处"""
NOTICE_SUBJECT = "关于做好2023年全省职业教育活动周相关工作的通知"
NOTICE_TO = "; ".join(f'"{u[1]}"' for u in UNITS[:16]) + "; ..."


# --------------------------------------------------------------------------- catalogue


def ph(name: str, key: str, taken: str, size: tuple[int, int] = (240, 180)) -> Att:
    return Att(name, jpeg_photo(key, taken, size), "photo")


def doc(name: str, kind: str, paragraphs: list[str], when: datetime) -> Att:
    return Att(name, docx(paragraphs, when), kind)


def identification_clues() -> list[Mail]:
    """One message per kind of clue, each with that clue only."""
    r1, r2, r3, r4 = t(5, 5, 9, 41, 12), t(5, 6, 14, 2, 45), t(5, 15, 17, 26, 3), t(5, 6, 10, 5, 31)
    r5, r6, r7, r8 = (
        t(5, 18, 10, 20, 44),
        t(5, 17, 11, 20, 9),
        t(5, 15, 16, 40, 22),
        t(5, 4, 15, 30, 17),
    )
    r9 = t(5, 8, 16, 22, 50)
    return [
        Mail("shenyang-plan-known-address", "shenyang", "163", "王磊", "syjyj_zcc@163.com",
             "报送2023年职业教育活动周实施方案",
             "韩老师，您好！\n\n按照省厅通知要求，现将我市2023年职业教育活动周实施方案报送给您，"
             "请审阅。如有问题请随时联系。\n\n王磊\n", r1,
             [doc("2023年职业教育活动周实施方案.docx", "plan",
                  plan_text("我市", detail="各区县（市）教育局要于5月10日前报送活动安排。"), r1)],
             note="known address only; body and document say 我市"),
        Mail("dalian-plan-unit-domain", "dalian", "outlook", "张丽", "zhangli@dl.edu.example.cn",
             "职业教育活动周工作方案",
             "省厅职成处：\n\n附件为我局2023年职业教育活动周工作方案（PDF版），请查收。\n\n张丽\n", r2,
             [Att("职业教育活动周工作方案.pdf", make_pdf(
                 ["2023年职业教育活动周工作方案", f"一、活动主题：{THEME}",
                  "二、活动时间：2023年5月14日至25日", "三、主要活动：启动仪式、开放校园、技能展示进社区",
                  "四、工作要求：精心组织，按时报送材料"], "工作方案", r2), "plan")],
             note="unit domain only (Outlook, GB2312 words in quoted params)"),
        Mail("jinzhou-photos-subject-tag", "jinzhou", "163", "王芳", "wf19880612@163.com",
             "锦州-活动周照片", "韩老师好，今天上午启动仪式的照片，请查收。\n", r3,
             [ph("IMG_20230515_093012.jpg", "jz1", "2023:05:15 09:30:12"),
              ph("IMG_20230515_093547.jpg", "jz2", "2023:05:15 09:35:47"),
              ph("IMG_20230515_101208.jpg", "jz3", "2023:05:15 10:12:08")],
             note="subject tag '锦州-' only"),
        Mail("yingkou-plan-subject-letter", "yingkou", "qq", "刘洋", "1834567201@qq.com",
             "关于报送2023年职业教育活动周方案的函(营口)",
             f"省教育厅职成处：\n\n根据{NOTICE}要求，现将我市活动周方案报送，请审阅。\n\n联系人：刘洋\n",
             r4, [doc("活动周方案.docx", "plan", plan_text("我市", "方案", detail="联系人：刘洋。"), r4)],
             note="subject '关于报送…的函(营口)' only, half-width parentheses; QQ Mail GB18030"),
        Mail("dalian-cases-subject-bracket", "dalian", "qq", "陈静", "2456781930@qq.com",
             "【大连市教育局】2023年职业教育活动周典型案例", "韩老师您好，报送两篇典型案例，请审阅。谢谢！\n",
             r5,
             [doc("典型案例（一）.docx", "case", case_text("校企共建智能制造产业学院", "我市某中等职业学校",
                                                       "与本地龙头企业共建产业学院。"), r5),
              doc("典型案例（二）.docx", "case", case_text("“技能+学历”提升乡村振兴人才", "我市某职教中心",
                                                       "面向农村劳动力开展学历提升。"), r5)],
             note="subject tag 【大连市教育局】"),
        Mail("panjin-case-signature", "panjin", "126", "张伟", "zhangwei_0427@126.com", "活动周典型案例",
             "韩老师：\n\n您好！附件是我市报送的活动周典型案例一篇，请审阅。\n\n"
             "盘锦市教育局职成科\n张伟\n0427-2826517\n", r6,
             [doc("典型案例：产教融合助力乡村振兴.docx", "case",
                  case_text("产教融合助力乡村振兴", "我市职教中心", "围绕稻蟹种养开设订单班。"), r6)],
             note="signature block at the end of the sender's own text only; 126 GBK"),
        Mail("tieling-manuscript-display-name", "tieling", "qq", "铁岭市教育局 李明", "liming7788@qq.com",
             "稿件", "请查收。\n", r7,
             [doc("职教活动周开幕新闻稿.docx", "manuscript",
                  news_text("职教活动周开幕 技能服务进社区", "5月14日上午，我市2023年职业教育活动周正式开幕。",
                            "开幕式后，各学校分赴社区开展志愿服务。"), r7)],
             note="display name only"),
        Mail("dandong-plan-filename", "dandong", "thunderbird_gbk", "小赵", "xiaozhao2023@163.com", "方案",
             "您好，附件是方案，请查收。\n", r8,
             [doc("丹东市职业教育活动周方案.docx", "plan", plan_text("我市", "方案", detail="请各校认真落实。"),
                  r8)],
             note="file name only; RFC 2231 filename*0*=GBK'' continuations (old Thunderbird)"),
        Mail("fuxin-plan-document-text", "fuxin", "sina", "李娜", "lina0416@sina.com", "报送活动周方案",
             "附件请查收，谢谢！\n", r9,
             [doc("2023年活动周方案.docx", "plan", plan_text("", "方案", first="阜新市教育局",
                                                       detail="各县区于5月12日前报送活动安排。"), r9)],
             note="document text only (first line of the docx); Sina Q-encoded file name; received "
                  "on the due day, not late"),
    ]  # fmt: skip


def alias_variants() -> list[Mail]:
    r1, r2, r3, r4 = (
        t(5, 17, 14, 5, 36),
        t(5, 20, 18, 5, 13),
        t(5, 16, 9, 12, 40),
        t(5, 19, 15, 44, 2),
    )
    r5, r6, r7, r8 = (
        t(5, 7, 20, 11, 5),
        t(5, 16, 11, 30, 18),
        t(5, 16, 18, 22, 10),
        t(5, 18, 9, 33, 26),
    )
    trad_subject = "瀋陽市教育局 活動週照片"
    # Foxmail 6 labelled the word GB2312 but the traditional characters are GBK-only.
    mislabelled = "=?gb2312?B?" + base64.b64encode(trad_subject.encode("gbk")).decode() + "?="
    return [
        Mail("shenyang-case-alias-short", "shenyang", "qq", "周老师", "3021567845@qq.com",
             "沈阳教育局 活动周典型案例", "韩老师好：附件为典型案例，请查收。\n", r1,
             [doc("案例一：校企合作订单班.docx", "case",
                  case_text("校企合作订单班", "某职业学校", "与汽车企业合作开设订单班。"), r1)],
             note="alias 沈阳教育局 in subject"),
        Mail("shenyang-manuscript-alias-office", "shenyang", "126", "赵敏", "zhaomin_0521@126.com",
             "活动周启动仪式新闻稿",
             "韩老师，您好！\n\n5月15日我市活动周启动仪式新闻稿已完成，请审阅。\n\n沈阳市教育局职成处\n赵敏\n",
             r2,
             [doc("活动周启动仪式新闻稿.docx", "manuscript",
                  news_text("技能点亮生活 职教服务百姓", "5月15日，我市职业教育活动周启动仪式在市中心广场举行。",
                            "现场设置了二十余个体验展位。"), r2)],
             note="alias 沈阳市教育局职成处 in signature"),
        Mail("shenyang-photos-traditional", "shenyang", "foxmail", "林雨婷", "lin.yuting@163.com",
             trad_subject, "韓老師您好：\n附件為瀋陽市職業教育活動週現場照片兩張，請查收。\n林雨婷\n", r3,
             [ph("現場照片1.jpg", "sytrad1", "2023:05:15 14:02:11"),
              ph("現場照片2.jpg", "sytrad2", "2023:05:15 14:05:40")],
             subject_header=mislabelled,
             note="traditional characters 瀋陽市教育局; the subject word says gb2312 but carries "
                  "GBK-only bytes (decode as GB18030); body GBK"),
        Mail("shenyang-video-bare-city", "shenyang", "qq", "Sunny", "sunny_ly@qq.com", "沈阳·活动周视频",
             "韩老师，技能展示视频，请查收。\n", r4,
             [Att("技能展示视频.mp4", video("testsrc"), "video")],
             note="bare city name 沈阳 as subject tag"),
        Mail("shenfu-plan-zone-alias", "shenfu", "163", "孙晓", "sunxiao_sf@163.com", "活动周实施方案",
             "韩老师好！\n附件是我区2023年职业教育活动周实施方案，请审阅。\n\n沈抚示范区 教育组\n孙晓\n", r5,
             [doc("活动周实施方案.docx", "plan",
                  plan_text("沈抚改革创新示范区社会事业局", detail="辖区各校按要求组织实施。"), r5)],
             note="alias 沈抚示范区 in signature, 沈抚改革创新示范区社会事业局 in the document"),
        Mail("shenfu-photos-long-alias", "shenfu", "qq", "孙晓", "1296543870@qq.com",
             "沈抚改革创新示范区社会事业局-活动周照片", "照片两张，请查收。\n", r6,
             [Att("开放日1.png", png_photo("sf1"), "photo"), Att("开放日2.png", png_photo("sf2"), "photo")],
             note="alias 沈抚改革创新示范区社会事业局 as subject tag; PNG photos"),
        Mail("dalian-photos-stray-spaces", "dalian", "qq", "小马", "1567832091@qq.com",
             "活动周照片（５月１６日）",
             "韩老师：\n\n５月１６日活动照片２张，请查收。\n\n大 连 市 教 育 局  职 成 处\n马 骏\n", r7,
             [ph("0516活动1.jpg", "dl0516a", "2023:05:16 10:01:09"),
              ph("0516活动2.jpg", "dl0516b", "2023:05:16 10:03:51")],
             note="signature with stray spaces 大 连 市 教 育 局; full-width digits in the subject"),
        Mail("yingkou-manuscript-fullwidth-letter", "yingkou", "qq", "刘洋", "1834567201@qq.com",
             "关于报送活动周稿件的函（营口）", "省教育厅职成处：\n现报送我市活动周稿件一篇，请审阅。\n刘洋\n", r8,
             [doc("稿件.docx", "manuscript",
                  news_text("千名学子展技能", "5月16日，我市中职学校技能展示活动在市体育馆举行。",
                            "千余名学生参加了展示。"), r8)],
             note="subject '…的函（营口）' with full-width parentheses; same sender as the plan "
                  "message, so a learned address also works"),
    ]  # fmt: skip


def colleges() -> list[Mail]:
    r1, r2, r3, r4 = (
        t(5, 18, 16, 55, 10),
        t(5, 19, 10, 2, 33),
        t(5, 17, 9, 20, 47),
        t(5, 16, 14, 27, 58),
    )
    r5, r6, r7, r8 = (
        t(5, 31, 15, 10, 27),
        t(5, 22, 10, 40, 11),
        t(5, 6, 9, 10, 5),
        t(5, 20, 17, 31, 44),
    )
    r9, r10, r11, r12 = (
        t(5, 17, 16, 5, 40),
        t(5, 19, 13, 16, 22),
        t(5, 23, 11, 45, 0),
        t(5, 5, 11, 0, 31),
    )
    logo_cid = "image001.png@01D97F3A.5B7C2E10"
    fsvtc_subject = "抚顺职业技术学院报送典型案例"
    return [
        Mail("dlvtc-case-college-in-city", "dlvtc", "qq", "宣传部陈老师", "1730045672@qq.com",
             "大连职业技术学院典型案例报送",
             "省厅职成处：\n\n现报送我院活动周典型案例，请审阅。\n\n大连职业技术学院 党委宣传部\n陈晨\n"
             "0411-86403215\n", r1,
             [doc("大连职业技术学院典型案例.docx", "case",
                  case_text("服务大连市装备制造业的“双元”育人实践", "大连职业技术学院",
                            "与大连市多家装备制造企业共建现代学徒制专业。"), r1)],
             note="hard negative: a college in a city, 大连职业技术学院 is dlvtc not dalian (the "
                  "document also names 大连市)"),
        Mail("dlvtc-video-short-form", "dlvtc", "163", "刘畅", "liuchang_1990@163.com", "大连职院-活动周视频",
             "韩老师好，学院技能展示视频一段，请查收。\n", r2, [Att("技能展示.mp4", video("testsrc2"), "video")],
             note="college short form 大连职院 (contains 大连)"),
        Mail("dlvtc-manuscript-domain", "dlvtc", "outlook", "王宁", "wangning@dlvtc.edu.example.cn",
             "开放校园日通讯稿", "韩老师：\n\n附件为我院开放校园日通讯稿，请审阅。\n\n王宁\n", r3,
             [doc("开放校园日通讯稿.docx", "manuscript",
                  news_text("开放校园日迎来八方来客", "5月17日，我院举办开放校园日活动。",
                            "学院十二个实训中心全部对外开放。"), r3)],
             note="college domain dlvtc.edu.example.cn (not dl.edu.example.cn)"),
        Mail("syvtc-manuscript-short-form", "syvtc", "qq", "李冬", "2189034567@qq.com",
             "【沈职院】活动周宣传稿", "韩老师您好，附件为宣传稿，请审阅。\n", r4,
             [doc("开放校园日宣传稿.docx", "manuscript",
                  news_text("走进职业院校 感受技能魅力", "5月16日，我院迎来三百余名初中学生和家长。",
                            "学生们体验了工业机器人编程。"), r4)],
             note="college short form 沈职院 (contains 沈)"),
        Mail("syvtc-summary-on-time", "syvtc", "163", "高洁", "gaojie_2015@163.com", "活动周工作总结",
             "韩老师：\n\n附件是我院2023年职业教育活动周工作总结及配图，请审阅。\n\n"
             "沈阳职业技术学院 教务处\n高洁\n", r5,
             [doc("沈阳职业技术学院2023年职业教育活动周工作总结.docx", "summary",
                  summary_text("沈阳职业技术学院", "27项"), r5),
              Att("总结配图.png", png_photo("syvtc-sum"), "photo")],
             note="college whose name contains the city alias 沈阳; summary on time"),
        Mail("fsvtc-case-raw-gbk-subject", "fsvtc", "foxmail", "郭燕", "guoyan1990@163.com", fsvtc_subject,
             "省厅职成处：\n现报送我院典型案例及照片，请审阅。\n\n抚顺职业技术学院\n郭燕\n", r6,
             [doc("“订单式”人才培养典型案例.docx", "case",
                  case_text("“订单式”人才培养", "我院", "与石化企业合作开设订单班。"), r6),
              ph("案例配图.jpg", "fsvtc-case", "2023:05:19 15:20:00")],
             subject_header=fsvtc_subject.encode("gbk"), mailer="Foxmail 6, 15, 201, 23 [cn]",
             note="hard negative vs fushun: 抚顺职业技术学院; raw 8-bit GBK Subject header (old "
                  "Foxmail); curly quotes in the file name"),
        Mail("lnvc-plan-outlook-logo", "lnvc", "outlook", "赵磊", "zhaolei@lnvc.edu.example.cn",
             "辽宁职业学院2023年职业教育活动周方案",
             "韩老师：\n\n您好！附件为我院2023年职业教育活动周方案，请审阅。\n\n赵磊\n辽宁职业学院教务处\n"
             "电话：024-73213066\n", r7,
             [Att("image001.png", logo_png(), None, "image/png", cid=logo_cid),
              Att("辽宁职业学院2023年职业教育活动周方案.pdf", make_pdf(
                  ["辽宁职业学院2023年职业教育活动周方案", f"一、活动主题：{THEME}",
                   "二、活动时间：2023年5月14日至25日", "三、主要活动：开放校园、技能展示、送技下乡",
                   "四、组织保障：成立活动周工作领导小组"], "活动周方案", r7), "plan")],
             html_extra=f'<p class=MsoNormal><img width=96 height=28 id="图片_x0020_1" '
                        f'src="cid:{logo_cid}"></p>\n',
             note="unit domain; Outlook signature logo image001.png is decorative, not an item"),
        Mail("lnvc-video-mov-display-name", "lnvc", "qq", "辽宁职业学院 团委", "3345120987@qq.com",
             "活动周视频", "学院学生技能展示视频，请查收。\n", r8,
             [Att("学生技能展示.mov", video("testsrc", "mov"), "video")],
             note="display name only; QuickTime .mov"),
        Mail("lncc-photos-zip-utf8", "lncc", "163", "宣传科", "lnjtzk_xcb@163.com", "活动周照片",
             "韩老师好，活动周照片打包发送，请查收。\n", r9,
             [Att("活动周照片.zip", make_zip([
                 ("开幕式01.jpg", jpeg_photo("lncc-z1", "2023:05:15 09:01:02")),
                 ("开幕式02.jpg", jpeg_photo("lncc-z2", "2023:05:15 09:03:30")),
                 ("汽车维修技能展示.png", png_photo("lncc-z3"))]), "other",
                  members={"开幕式01.jpg": "photo", "开幕式02.jpg": "photo",
                           "汽车维修技能展示.png": "photo"})],
             note="known address; zip of photos with UTF-8 member names"),
        Mail("bhcc-photos-zip-gbk", "bhcc", "qq", "王海", "1489023765@qq.com", "活动周照片",
             "韩老师：\n附件为我院活动周照片，请查收。\n\n渤海船舶职业学院党委宣传部\n王海\n", r10,
             [Att("照片.zip", make_zip([
                 ("焊接技能展示1.jpg", jpeg_photo("bhcc-z1", "2023:05:18 10:11:00")),
                 ("焊接技能展示2.jpg", jpeg_photo("bhcc-z2", "2023:05:18 10:14:31")),
                 ("船模制作.png", png_photo("bhcc-z3")),
                 ("照片说明.txt", "焊接技能展示、船模制作，拍摄于2023年5月18日。\r\n".encode("gbk"))],
                 gbk_names=True), "other",
                  members={"焊接技能展示1.jpg": "photo", "焊接技能展示2.jpg": "photo",
                           "船模制作.png": "photo", "照片说明.txt": "other"})],
             note="signature; zip with GBK member names and no UTF-8 flag"),
        Mail("lnpc-mixed-materials", "lnpc", "thunderbird", "李想", "lixiang@lnpc.edu.example.cn",
             "辽宁石化职业技术学院活动周材料（案例、稿件、照片）",
             "韩老师：\n\n报送我院活动周典型案例一篇、新闻稿一篇、照片两张，请审阅。\n\n李想\n"
             "辽宁石化职业技术学院 宣传部\n", r11,
             [doc("辽宁石化职业技术学院典型案例.docx", "case",
                  case_text("化工安全实训“虚实结合”", "辽宁石化职业技术学院", "建成化工安全虚拟仿真实训中心。"),
                  r11),
              doc("新闻稿：石化职院开放日.docx", "manuscript",
                  news_text("石化职院开放日 化工实训受追捧", "5月22日，辽宁石化职业技术学院举办开放日活动。",
                            "虚拟仿真工厂成为最受欢迎的展区。"), r11),
              ph("开放日现场1.jpg", "lnpc1", "2023:05:22 09:40:00"),
              ph("开放日现场2.jpg", "lnpc2", "2023:05:22 10:05:00")],
             note="unit domain; four items of three kinds; Thunderbird RFC 2231 UTF-8 continuations"),
        Mail("lntd-scanned-plan-jpeg", "lntd", "iphone", "刘斌", "liubin@lntd.edu.example.cn", "活动周方案",
             "韩老师，盖章版方案扫描件，请查收。\n\n发自我的iPhone\n", r12,
             [Att("活动周方案扫描件.jpg", scanned_page_jpeg("lntd-scan"), "plan")],
             note="unit domain; a scanned plan as JPEG is a plan, not a photo"),
    ]  # fmt: skip


CHAOYANG_ARTICLE = """朝阳市职业教育活动周新闻稿

技能点亮生活 职教服务百姓——朝阳市2023年职业教育活动周综述

5月14日至25日，朝阳市以“技能：让生活更美好”为主题，组织全市职业院校开展了丰富多彩的职业教育活动周活动。

活动周期间，全市12所中职学校全部开放校园，接待初中学生及家长3000余人次。各校组织师生走进社区、走进乡村，开展家电维修、理发美容、农机检修等志愿服务40余场。

在朝阳工程技术学校，学生们现场展示了无人机植保、电商直播等新技能，吸引了众多群众驻足观看。“没想到职业学校的学生这么厉害！”一位家长说。

下一步，朝阳市将继续深化产教融合，推动职业教育高质量发展，为全面振兴新突破贡献职教力量。

（朝阳市教育局 供稿）

于洋
"""


def kinds_and_dates() -> list[Mail]:
    r1, r2, r3, r4 = (
        t(5, 30, 10, 15, 9),
        t(5, 10, 8, 55, 30),
        t(5, 21, 20, 2, 17),
        t(5, 22, 9, 5, 40),
    )
    r5, r6, r7, r8 = (
        t(5, 17, 15, 20, 41),
        t(5, 15, 19, 47, 3),
        t(5, 19, 11, 8, 15),
        t(5, 20, 10, 26, 30),
    )
    r9, r10, r11, r12 = (
        t(4, 27, 14, 50, 12),
        t(5, 8, 23, 40, 37),
        t(5, 9, 9, 15, 40),
        t(6, 5, 16, 30, 2),
    )
    r13, r14 = t(5, 16, 10, 40, 5), t(5, 16, 8, 30, 19)
    jz = identification_clues()[2].atts  # the same photos, byte for byte
    cid1, cid2 = (
        "2f3c9a1e$1$1881f2c5d0a$Coremail$hanbing_fx$163.com",
        "2f3c9a1e$2$1881f2c5d0a$Coremail$hanbing_fx$163.com",
    )  # noqa: E501
    return [
        Mail("anshan-summary-known-address", "anshan", "126", "李红", "asjyjzcc@126.com", "活动周工作总结",
             "韩老师：\n您好！附件为我市2023年职业教育活动周工作总结及照片，请审阅。\n李红\n", r1,
             [doc("2023年职业教育活动周工作总结.docx", "summary", summary_text("我市", "86项"), r1),
              ph("总结照片1.jpg", "as-sum1", "2023:05:18 09:12:00"),
              ph("总结照片2.jpg", "as-sum2", "2023:05:23 15:40:10")],
             note="known address; summary on time with photos"),
        Mail("fushun-plan-late", "fushun", "163", "高峰", "gaofeng_fs@163.com", "活动周活动安排（补报）",
             "韩老师：\n\n抱歉，我市活动周活动安排报送晚了，现补报，请审阅。\n\n抚顺市教育局职成科\n高峰\n"
             "024-57612380\n", r2,
             [doc("2023年职业教育活动周活动安排.docx", "plan", plan_text("我市", "活动安排", detail="补报。"),
                  r2)],
             note="signature with alias 抚顺市教育局职成科; plan (活动安排) received after 2023-05-08"),
        Mail("benxi-manuscript-and-video", "benxi", "outlook", "赵强", "zhaoqiang@bx.edu.example.cn",
             "本溪市活动周宣传稿及宣传片",
             "省厅职成处：\n\n附件为我市职业教育活动周宣传稿和宣传片，请审阅。\n\n赵强\n", r3,
             [doc("本溪市职业教育活动周宣传稿.docx", "manuscript",
                  news_text("本溪：职教活动周里的“技能大集”", "5月20日，本溪市职业教育活动周“技能大集”开集。",
                            "中药材炮制技艺展示颇受欢迎。"), r3),
              Att("活动周宣传片.mp4", video("smptebars"), "video")],
             note="unit domain; 宣传稿 is a manuscript"),
        Mail("liaoyang-summary-early", "liaoyang", "qq", "孟老师", "lyzcc2023@qq.com", "活动周总结",
             "韩老师好，我市活动周总结先行报送，请审阅。\n", r4,
             [doc("辽阳市2023年职业教育活动周总结.docx", "summary", summary_text("辽阳市", "40余项"), r4)],
             note="known address; summary received before the week ended"),
        Mail("chaoyang-article-in-body", "chaoyang", "163", "于洋", "yuyang@cy.edu.example.cn",
             "朝阳市职业教育活动周新闻稿：技能点亮生活 职教服务百姓", CHAOYANG_ARTICLE, r5, [],
             body_item=True, mailer="Coremail Webmail Server Version XT5.0.14 build 20220913(2e5a3ba0)",
             note="unit domain; body-only article, no attachment: one manuscript item 正文.txt"),
        Mail("huludao-video-and-photo", "huludao", "sina", "孙悦", "hldzjk@sina.com", "活动周视频和照片",
             "韩老师：\n视频一段、照片一张，请查收。\n孙悦\n", r6,
             [Att("活动周短视频.mp4", video("rgbtestsrc"), "video"),
              ph("开幕式.jpg", "hld-open", "2023:05:15 09:05:00")],
             note="known address"),
        Mail("jinzhou-report-pdf", "jinzhou", "163", "王芳", "wf19880612@163.com", "锦州-活动周稿件",
             "韩老师好，报道一篇（PDF），请审阅。\n", r7,
             [Att("关于锦州市职业教育活动周的报道.pdf", make_pdf(
                 ["锦州：职业教育活动周精彩纷呈", "5月18日，锦州市职业教育活动周技能展示在古塔公园举行。",
                  "各职业学校师生开展了家电维修、面点制作等便民服务。",
                  "（锦州市教育局 供稿）"], "报道", r7), "manuscript")],
             note="subject tag; 报道 in a PDF is a manuscript"),
        Mail("chaoyang-photos-heic", "chaoyang", "iphone", "于洋", "yuyang@cy.edu.example.cn", "照片",
             "发自我的iPhone\n", r8,
             [Att("IMG_5012.HEIC", heic_photo("cy-heic1"), "photo", "image/heic"),
              Att("IMG_5013.HEIC", heic_photo("cy-heic2"), "photo", "image/heic")],
             note="unit domain; HEIC photos from an iPhone"),
        Mail("dandong-other-xlsx-name-only", "dandong", "oe", "赵鹏", "zhaopeng1979@163.com",
             "联系人信息表", "您好：\n联系人信息表已填好，请查收。\n", r9,
             [Att("丹东市活动周联系人信息表.xlsx", make_xlsx(
                 [["单位", "联系人", "职务", "电话"], ["丹东市教育局", "赵鹏", "职成科科长", "0415-2122587"]],
                 r9), "other")],
             note="file name; file name only in Content-Type name= (no Content-Disposition filename); "
                  "a contact sheet is 'other'"),
        Mail("benxi-plan-wrong-zone-date", "benxi", "outlook", "赵强", "zhaoqiang@bx.edu.example.cn",
             "本溪市2023年职业教育活动周工作方案", "省厅职成处：\n\n附件为我市活动周工作方案，请审阅。\n\n赵强\n",
             r10,
             [doc("本溪市2023年职业教育活动周工作方案.docx", "plan",
                  plan_text("本溪市", "工作方案", detail="各县区5月12日前报送安排。"), r10)],
             date_hdr="Mon, 08 May 2023 23:40:05 -0000",
             note="Date header has the local clock with -0000 (reads as 05-09 07:40 +0800); "
                  "Received says 05-08 23:40 +0800, so the plan is on time"),
        Mail("lncc-plan-date-day-off", "lncc", "163", "宣传科", "lnjtzk_xcb@163.com", "活动周工作方案",
             "韩老师：\n附件为我校活动周工作方案，请审阅。\n", r11,
             [doc("辽宁省交通高等专科学校活动周工作方案.docx", "plan",
                  plan_text("辽宁省交通高等专科学校", "工作方案", detail="各系部按要求落实。"), r11)],
             date_hdr="Sun, 07 May 2023 09:15:02 +0800",
             note="known address; Date header is two days early (wrong PC clock); Received "
                  "05-09, so the plan is late"),
        Mail("panjin-summary-late", "panjin", "126", "张伟", "zhangwei_0427@126.com", "活动周工作总结",
             "韩老师：\n\n您好！附件是我市活动周工作总结，报送晚了，请谅解。\n\n盘锦市教育局职成科\n张伟\n"
             "0427-2826517\n", r12,
             [doc("活动周工作总结.docx", "summary", summary_text("我市", "35项"), r12)],
             note="signature; summary received after 2023-06-01"),
        Mail("fuxin-photos-inline-in-html", "fuxin", "163", "韩冰", "hanbing_fx@163.com", "活动周现场图片",
             "韩老师：\n活动周现场图片如下：\n\n\n阜新市教育局职成科\n韩冰\n", r13,
             [Att("微信图片_20230516101522.jpg", jpeg_photo("fx-in1", "2023:05:16 10:15:22", (480, 360)),
                  "photo", cid=cid1),
              Att("微信图片_20230516101530.jpg", jpeg_photo("fx-in2", "2023:05:16 10:15:30", (480, 360)),
                  "photo", cid=cid2)],
             html_extra=f'<div><img src="cid:{cid1}" orgwidth="480"></div>'
                        f'<div><img src="cid:{cid2}" orgwidth="480"></div>',
             note="signature; photos pasted into the HTML body (Content-ID, inline) ARE items"),
        Mail("jinzhou-photos-resent", "jinzhou", "163", "王芳", "wf19880612@163.com",
             "重发：锦州-活动周照片", "韩老师，昨天的照片不知道是否收到，再发一次。\n", r14,
             [Att(a.filename, a.data, a.kind) for a in jz], flags=["duplicate"],
             note="the same three photos, byte for byte, as the earlier jinzhou message"),
    ]  # fmt: skip


def hard_negatives() -> list[Mail]:
    r1, r2, r3, r4, r5, r6 = (t(5, 4, 10, 12, 55), t(5, 8, 10, 0, 8), t(5, 17, 13, 2, 26),
                              t(5, 19, 16, 18, 40), t(5, 20, 19, 12, 5), t(5, 21, 12, 40, 31))  # fmt: skip
    quoted_163 = "\n".join("> " + line if line else ">" for line in NOTICE_QUOTE.split("\n"))
    qq_block = (
        "------------------ 原始邮件 ------------------\n"
        f'发件人: "辽宁省教育厅职成处"<{MAILBOX}>;\n'
        "发送时间: 2023年4月24日(星期一) 下午3:30\n"
        f"收件人: {NOTICE_TO}\n主题: {NOTICE_SUBJECT}\n\n{NOTICE_QUOTE}\n"
    )
    footer = (
        "\n_______________________________________________\n辽西职教联盟邮件列表 lxzj-list@lists.jz.example.cn\n"
        "本列表由锦州市教育局信息中心维护，退订请访问 http://lists.jz.example.cn/mailman/listinfo/lxzj-list\n"
    )
    return [
        Mail("anshan-reply-quotes-notice", "anshan", "126", "李红", "asjyjzcc@126.com",
             f"Re:{NOTICE_SUBJECT}",
             f"韩老师您好：\n\n通知已收到，附件是我市活动周方案，请审阅。\n\n李红\n\n"
             f'在 2023-04-24 15:30:12，"辽宁省教育厅职成处" <{MAILBOX}> 写道：\n{quoted_163}\n', r1,
             [doc("活动周方案.docx", "plan", plan_text("我市", "方案", detail="请各校于5月12日前报送安排。"), r1)],
             extra_headers=[("In-Reply-To", "<5f1e2d3c.1a2b.187b2c3d4e5.Coremail.zcc1.sjyt@ln.gov.cn>")],
             note="reply; the quoted notice lists every unit and must not decide; known address does"),
        Mail("reply-quotes-notice-no-clue", None, "qq", "Eric", "407812365@qq.com",
             f"回复：{NOTICE_SUBJECT}", f"附件是我单位活动周工作方案，请查收。\n\n{qq_block}", r2,
             [doc("活动周工作方案.docx", "plan", plan_text("我单位", "工作方案", detail="请各部门配合。"), r2)],
             note="reply whose only unit names are in the quoted notice (QQ 原始邮件 block, subject "
                  "回复：) -> triage"),
        Mail("huludao-list-footer-names-jinzhou", "huludao", "163", "马丽", "mali_0429@163.com",
             "[lxzj-list] 活动周新闻稿",
             f"韩老师：\n附件为我市活动周新闻稿，请审阅。\n\n葫芦岛市教育局职成科\n马丽\n0429-3122045\n{footer}",
             r3,
             [doc("新闻稿.docx", "manuscript",
                  news_text("职教进乡村 技能助振兴", "5月17日，我市职业学校师生走进兴城市乡村开展志愿服务。",
                            "泳装设计专业学生现场展示作品。"), r3)],
             to="lxzj-list@lists.jz.example.cn",
             extra_headers=[("Cc", MAILBOX), ("List-Id", "<lxzj-list.lists.jz.example.cn>"),
                            ("Precedence", "list")],
             note="signature decides; the mailing-list footer names 锦州市教育局 and must not; "
                  "list mail (Precedence: list) that is still a person's submission"),
        Mail("conflict-subject-dalian-address-shenyang", None, "163", "王磊", "syjyj_zcc@163.com",
             "【大连市教育局】活动周稿件", "韩老师好，活动周稿件一篇，请审阅。\n", r4,
             [doc("活动周稿件.docx", "manuscript",
                  news_text("职教活动周 技能展风采", "5月18日，我市职业教育活动周技能展示活动举行。",
                            "二十所学校参加展示。"), r4)],
             note="conflicting clues: subject tag says dalian, sender is a known shenyang address "
                  "-> triage"),
        Mail("weak-clue-venue-only", None, "qq", "张老师", "2987651034@qq.com", "照片",
             "韩老师：5月20日在沈阳新世界展览中心启动仪式上拍的照片，请查收。\n", r5,
             [ph("照片.jpg", "weak-venue", "2023:05:20 10:30:00")],
             note="weak clue only: 沈阳 appears as the venue of the provincial ceremony -> triage"),
        Mail("no-clue-at-all", None, "qq", None, "1355826610@qq.com", "照片", "\n", r6,
             [ph("IMG_0345.JPG", "noclue1", "2023:05:21 09:10:00"),
              ph("IMG_0346.JPG", "noclue2", "2023:05:21 09:12:00")],
             note="no clue at all (numeric QQ address, no name, no text) -> triage"),
    ]  # fmt: skip


def forwarded() -> list[Mail]:
    r1, r2, r3 = t(5, 18, 8, 47, 12), t(5, 19, 10, 5, 48), t(5, 17, 9, 40, 5)
    inner = Mail("benxi-inner-original", "benxi", "outlook", "赵强", "zhaoqiang@bx.edu.example.cn",
                 "本溪市报送活动周典型案例", "肖老师：\n\n附件为我市活动周典型案例，请审阅。\n\n赵强\n",
                 t(5, 17, 16, 12, 30),
                 [doc("本溪市活动周典型案例.docx", "case",
                      case_text("中药材产业学院助力乡村振兴", "本溪市", "依托中药材产业开设特色专业。"),
                      t(5, 17, 16, 12, 30))],
                 to='"肖一鸣" <xiaoyiming_ln@163.com>')  # fmt: skip
    outer = Mail("benxi-forwarded-as-attachment", "benxi", "163", "肖一鸣", "xiaoyiming_ln@163.com",
                 "转发：本溪市报送活动周典型案例",
                 "这封误发到我个人邮箱了，转到工作邮箱归档。\n\n肖一鸣\n", r1, [], flags=["forwarded"],
                 forwarded_by="xiaoyiming_ln@163.com",
                 note="original message attached as message/rfc822 (from the benxi domain); the "
                      "items are the attached message's files; the .eml wrapper is not an item")  # fmt: skip
    inner_raw = build(inner, mx="mx.163.com", rcpt="xiaoyiming_ln@163.com")
    c = CLIENTS["163"]
    eml_name = "本溪市报送活动周典型案例.eml"
    text = default_body(c, outer)
    wrapper = Part([
        ("Content-Type", f'message/rfc822;\r\n\tname="{ew(eml_name)}"'),
        ("Content-Disposition", f'attachment;\r\n\tfilename="{ew(eml_name)}"'),
    ], inner_raw)  # fmt: skip
    outer.custom = multipart("mixed", boundary("163", outer.slug), [text, wrapper])
    outer.atts = inner.atts  # for the labels and checks only; they travel inside the wrapper

    qq_block = (
        "------------------ 原始邮件 ------------------\n"
        '发件人: "营口市教育局职成科"<ykzck_2023@163.com>;\n'
        "发送时间: 2023年5月19日(星期五) 上午9:12\n"
        '收件人: "小刘"<934821756@qq.com>;\n'
        "主题: 活动周稿件（第二期）\n\n"
        "小刘你好，附件是我们的活动周稿件，麻烦转交省厅职成处。\n\n营口市教育局职成科\n"
    )
    netease_block = (
        "---------- 转发的邮件 ----------\n"
        '发件人："盘锦市教育局职成科" <pjzck2023@126.com>\n'
        "发送日期：2023-05-17 09:02:11\n"
        '收件人："刘杰" <liu_jie2016@163.com>\n'
        "主题：活动周照片\n\n"
        "刘老师：请将照片转报省厅，谢谢！\n"
    )
    return [
        outer,
        Mail("yingkou-forwarded-qq-inline", "yingkou", "qq", "小刘", "934821756@qq.com",
             "转发：活动周稿件（第二期）", f"韩老师，转给您，请查收。\n\n\n{qq_block}", r2,
             [doc("活动周稿件（第二期）.docx", "manuscript",
                  news_text("职教开放周 家长进校园", "5月18日，我市各中职学校同步举办校园开放日。",
                            "家长们走进实训室体验数控加工。"), r2)],
             flags=["forwarded"], forwarded_by="934821756@qq.com",
             note="QQ Mail inline forward (原始邮件 block, subject 转发：); the original sender in the "
                  "block decides the unit"),
        Mail("panjin-forwarded-163-inline", "panjin", "163", "刘杰", "liu_jie2016@163.com",
             "Fw:活动周照片", f"转发，请查收。\n\n\n{netease_block}", r3,
             [ph("照片1.jpg", "pj-fw1", "2023:05:16 15:30:00"), ph("照片2.jpg", "pj-fw2", "2023:05:16 15:32:00")],
             flags=["forwarded"], forwarded_by="liu_jie2016@163.com",
             note="NetEase inline forward (转发的邮件 block); the original display name decides"),
    ]  # fmt: skip


def non_material() -> list[Mail]:
    r1, r2, r3, r4 = (
        t(4, 24, 15, 31, 2),
        t(4, 24, 15, 30, 40),
        t(5, 15, 8, 0, 7),
        t(5, 26, 9, 0, 11),
    )
    auto = Mail("auto-reply", None, "outlook", "张丽", "zhangli@dl.edu.example.cn",
                f"自动回复: {NOTICE_SUBJECT}",
                "您好，我正在休假，4月28日返回。急事请拨打0411-83633087。\n\n大连市教育局职成处 张丽\n", r1,
                is_material=False, flags=["auto_reply"],
                extra_headers=[("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All"),
                               ("In-Reply-To", "<5f1e2d3c.1a2b.187b2c3d4e5.Coremail.zcc1.sjyt@ln.gov.cn>")],
                note="Outlook out-of-office reply to the notice; names a unit but is not material")  # fmt: skip

    original = Mail("bounce-original", None, "gov", "辽宁省教育厅职成处", MAILBOX, NOTICE_SUBJECT,
                    f"{NOTICE_QUOTE}\n", r2 - timedelta(seconds=25),
                    [Att("辽教通〔2023〕106号.pdf", make_pdf(
                        ["辽宁省教育厅关于做好2023年全省职业教育活动周相关工作的通知",
                         "辽教通〔2023〕106号", f"一、活动主题：{THEME}", "二、活动时间：5月14日至25日"],
                        "通知", r2), None)],
                    to='"铁岭市教育局" <tlzcc@tl.edu.example.cn>')  # fmt: skip
    report = "\r\n".join([
        "This is the mail system at host mx.ln.gov.cn.", "",
        "I'm sorry to have to inform you that your message could not", "be delivered to one or more "
        "recipients. It's attached below.", "",
        "<tlzcc@tl.edu.example.cn>: host mx.tl.edu.example.cn[61.161.70.5] said: 550", "    5.1.1 "
        "<tlzcc@tl.edu.example.cn>: Recipient address rejected: User unknown", "",
    ]).encode()  # fmt: skip
    status = (
        "Reporting-MTA: dns; mx.ln.gov.cn\r\nX-Postfix-Queue-ID: 4QB7Yx2Lz3z9vBK\r\n"
        f"Arrival-Date: {format_datetime(r2 - timedelta(seconds=25))}\r\n\r\n"
        "Final-Recipient: rfc822; tlzcc@tl.edu.example.cn\r\nOriginal-Recipient: rfc822;"
        "tlzcc@tl.edu.example.cn\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; "
        "mx.tl.edu.example.cn\r\nDiagnostic-Code: smtp; 550 5.1.1 <tlzcc@tl.edu.example.cn>: "
        "Recipient address rejected: User unknown\r\n"
    ).encode()
    bnd = "4QB7Yx2Lz3z9vBK.1682321440/mx.ln.gov.cn"
    bounce = Mail("bounce", None, "postfix", "Mail Delivery System", "MAILER-DAEMON@mx.ln.gov.cn",
                  "Undelivered Mail Returned to Sender", "", r2, is_material=False, flags=["bounce"],
                  to=MAILBOX,
                  extra_headers=[("Auto-Submitted", "auto-replied")],
                  note="Postfix bounce (multipart/report) of the department's notice; the returned "
                       "notice and its PDF are not items")  # fmt: skip
    bounce.custom = multipart("report", bnd, [
        Part([("Content-Description", "Notification"),
              ("Content-Type", "text/plain; charset=us-ascii")], report),
        Part([("Content-Description", "Delivery report"),
              ("Content-Type", "message/delivery-status")], status),
        Part([("Content-Description", "Undelivered Message"), ("Content-Type", "message/rfc822")],
             build(original)),
    ], " report-type=delivery-status;")  # fmt: skip

    bulk_text = (
        "职教周刊 第218期 | 2023年职业教育活动周专题\n\n"
        "【各地动态】沈阳：技能大集进社区；大连：开放校园迎来万名家长；锦州：职教成果展开幕。\n"
        "【政策解读】新修订职业教育法实施一周年。\n\n"
        "您收到此邮件是因为您订阅了中国职业教育网周刊。退订：https://edm.zyjy.example.com/u/8f3a2c\n"
    )
    bulk = Mail("bulk-newsletter", None, "edm", "中国职业教育网", "newsletter@edm.zyjy.example.com",
                "职教周刊 | 2023年职业教育活动周专题：各地活动精彩纷呈", bulk_text, r3,
                is_material=False, flags=["spam"],
                extra_headers=[("List-Unsubscribe", "<mailto:unsubscribe@edm.zyjy.example.com?subject="
                                "u8f3a2c>, <https://edm.zyjy.example.com/u/8f3a2c>"),
                               ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                               ("Precedence", "bulk")],
                to=MAILBOX,
                note="newsletter (List-Unsubscribe, Precedence: bulk) that names several cities")  # fmt: skip

    own = Mail("department-own-reminder", None, "gov", "辽宁省教育厅职成处", MAILBOX,
               "关于报送2023年职业教育活动周总结的提醒",
               "各市教育局、沈抚示范区社会事业局，各有关高等学校：\n\n2023年职业教育活动周已圆满结束。"
               "请各单位于6月1日前将活动周总结（含文字、图片、活动亮点、典型案例等）报送至本邮箱，"
               "总结模板见附件。\n\n辽宁省教育厅职成处\n2023年5月26日\n", r4,
               [doc("活动周总结模板.docx", None, ["2023年职业教育活动周工作总结（模板）", "一、总体情况",
                                               "二、活动亮点", "三、典型案例", "四、下一步工作"], r4)],
               is_material=False, to=MAILBOX,
               note="the department's own mail (From the mailbox itself) with a template attached")  # fmt: skip
    return [auto, bounce, bulk, own]


def external_links() -> list[Mail]:
    r1, r2, r3, r4 = (
        t(5, 22, 10, 12, 30),
        t(5, 24, 14, 22, 5),
        t(5, 23, 11, 3, 44),
        t(5, 24, 17, 2, 51),
    )
    ftn = (
        "https://wx.mail.qq.com/ftn/download?func=3&k=5c8e2a1b7f3d4e6a9b0c1d2e3f4a5b6c7d8e"
        "&key=5c8e2a1b7f3d4e6a9b0c1d2e3f4a5b6c7d8e&code=3f9a1c7e&fweb=1&cl=1"
    )
    bd1 = "https://pan.baidu.com/s/1Qx7mK2pLr9vT3nW8yZ5aBc"
    big163 = (
        "https://mail.163.com/large-attachment-download/index.html?p=X66&file="
        "P8d2kQ3bF5hR0z7vW1yA6cN4mT9sJ2xL&title=%E6%8A%80%E8%83%BD"
    )
    bd2 = "https://pan.baidu.com/s/1Tl9Vd3eRq8Zx2Cm5Nb7Ka4"
    return [
        Mail("liaoyang-video-qq-large-attachment", "liaoyang", "qq", "孟老师", "lyzcc2023@qq.com",
             "活动周宣传片（超大附件）",
             "韩老师：\n宣传片文件较大，用超大附件发送，请及时下载。\n\n\n从QQ邮箱发来的超大附件\n\n"
             f"辽阳市职业教育活动周宣传片.mp4 (386.25M, 到期时间：2023年06月05日 10:12)\n进入下载页面：{ftn}\n",
             r1, links={ftn: "video"}, flags=["external_link"],
             note="known address; QQ Mail 超大附件 link with 到期时间; the item is the link"),
        Mail("bhcc-photos-baidu-pan", "bhcc", "qq", "王海", "1489023765@qq.com", "活动周照片（百度网盘）",
             f"韩老师：\n照片较多（共126张），已上传百度网盘，请下载。\n\n链接：{bd1} \n提取码：8k2d \n"
             "--来自百度网盘超级会员V5的分享\n\n渤海船舶职业学院党委宣传部\n王海\n", r2,
             links={bd1: "photo"}, flags=["external_link"],
             note="signature; 百度网盘 link with 提取码; kind from context (照片)"),
        Mail("fsvtc-video-163-large-attachment", "fsvtc", "163", "郭燕", "guoyan1990@163.com",
             "技能大赛视频", "韩老师：\n技能大赛视频较大，通过超大附件发送。\n\n抚顺职业技术学院 宣传部\n郭燕\n\n\n"
             f"从网易163邮箱发来的超大附件\n\n技能大赛精彩瞬间.mp4 (1.2G, 2023年6月7日 11:03 到期)\n下载：{big163}\n",
             r3, links={big163: "video"}, flags=["external_link"],
             note="signature; 163 超大附件 link"),
        Mail("tieling-manuscript-plus-baidu-video", "tieling", "qq", "铁岭市教育局 李明", "liming7788@qq.com",
             "活动周通讯稿和视频", f"韩老师：\n通讯稿见附件，视频较大放在百度网盘：\n链接: {bd2} 提取码: t7q3\n",
             r4,
             [doc("铁岭市活动周通讯稿.docx", "manuscript",
                  news_text("铁岭：职教活动周收官", "5月24日，铁岭市职业教育活动周各项活动圆满收官。",
                            "全市共开展活动六十余场。"), r4)],
             links={bd2: "video"}, flags=["external_link"],
             note="display name; one attached file plus one link"),
    ]  # fmt: skip


# --------------------------------------------------------------------------- issue 14: body, spam, .msg

YK_SUMMARY = [
    "营口市2023年职业教育活动周工作总结",
    f"按照{NOTICE}要求，我市于5月14日至25日组织开展了以“{THEME}”为主题的职业教育活动周。"
    "现将有关情况总结如下。",
    "一、总体情况。活动周期间全市共组织各类活动52项，参与师生和群众逾两万人次，"
    "各中职学校全部向社会开放。",
    "二、活动亮点。一是开放校园，邀请初中学生和家长走进实训室；二是技能展示进社区，"
    "开展家电维修、面点制作等便民服务；三是线上“云逛校园”，累计观看超过八万人次。",
    "三、下一步工作。持续宣传职业教育，营造全社会关心支持职业教育的良好氛围。",
]
BHCC_ARTICLE = [
    "渤船职院：船舶工匠展风采 职教活动周精彩纷呈",
    "5月19日，渤海船舶职业学院举办职业教育活动周校园开放日，三百余名初中学生和家长"
    "走进船舶焊接、船模制作实训室，近距离感受“大国工匠”的成长之路。",
    "活动现场，焊接专业学生现场演示水下焊接技术，船模社团展示了自主设计的远洋货轮模型，"
    "不少家长拿起焊枪体验了一把“工匠”的感觉。",
    "学院负责人介绍，近年来学院坚持产教融合，与多家船舶企业共建实训基地，毕业生对口就业率"
    "持续保持在九成以上。",
]
DL_SUMMARY = [
    "大连市2023年职业教育活动周工作总结",
    f"活动周期间，我市围绕“{THEME}”主题，组织全市职业院校开展了开放校园、技能展示、"
    "志愿服务等活动一百二十余项，参与群众逾三万人次。",
    "一是启动仪式隆重热烈。5月14日在星海广场举行全市启动仪式，二十所学校设置体验展位。",
    "二是开放活动丰富多彩。各校推出“职教开放日”，初中学生和家长走进实训基地体验。",
    "三是宣传报道持续深入。市级以上媒体刊发报道四十余篇，网络直播观看量超过十五万人次。",
]
DISCLAIMER = (
    "免责声明：本邮件及其附件含有辽宁职业学院的保密信息，仅限于发送给上面地址中列出的个人或群组。"
    "禁止任何其他人以任何形式使用（包括但不限于全部或部分地泄露、复制、或散发）本邮件中的信息。"
    "如果您错收了本邮件，请您立即电话或邮件通知发件人并删除本邮件！\n"
    "This email and its attachments contain confidential information from Liaoning Vocational "
    "College, which is intended only for the person or entity whose address is listed above."
)


def qq_html_with_pictures(blocks: list[str]) -> str:
    """Returns QQ Mail's HTML for paragraphs with pictures dropped between them
    (a block 'cid:<id>' is a picture)."""
    out = ['<meta http-equiv="Content-Type" content="text/html; charset=GB18030">']
    for block in blocks:
        if block.startswith("cid:"):
            out.append(f'<div><img src="{block}" orgwidth="480" style="width: 480px;"></div>')
        else:
            out.append(f"<div>{html_escape(block) or '<br>'}</div>")
    return "\n".join(out) + "\n"


def outlook_html_with_pictures(blocks: list[str]) -> str:
    """Returns Outlook's (Word's) HTML for paragraphs and inline pictures."""
    paras = []
    for n, block in enumerate(blocks, 1):
        if block.startswith("cid:"):
            small = "image003" in block
            size = "width=96 height=28" if small else "width=480 height=360"
            paras.append(f'<p class=MsoNormal><img {size} id="图片_x0020_{n}" src="{block}"></p>')
        else:
            paras.append(f"<p class=MsoNormal><span lang=ZH-CN>{html_escape(block)}</span></p>")
    return auto_html(CLIENTS["outlook"], "", "").replace(
        "<div class=WordSection1>\n<p class=MsoNormal><span lang=ZH-CN><br></span></p>\n",
        "<div class=WordSection1>\n" + "\n".join(paras) + "\n",
    )


def build_outlook(m: Mail) -> bytes:
    """Returns the message as Outlook saves a received mail: a .msg file holding the
    transport headers, the plain and HTML bodies (HTML in GBK) and the attachments."""
    import sys

    sys.path.insert(0, str(HERE.parents[2]))  # the repository: tests.support
    from tests.support.outlook_msg import Attachment, OutlookMessage, build_msg

    eml = build(m)
    headers = eml.split(b"\r\n\r\n", 1)[0].decode("ascii") + "\r\n"
    c = CLIENTS[m.client]
    html = m.html_body if m.html_body is not None else auto_html(c, m.text, m.html_extra)
    msgid = re.search(r"(?im)^Message-ID: (\S+)", headers)
    return build_msg(
        OutlookMessage(
            subject=m.subject,
            sender_name=m.from_name or "",
            sender_address=m.from_addr,
            to_name="职成处",
            to_address=MAILBOX,
            body=m.text.replace("\n", "\r\n"),
            delivered=m.received,
            html=html.replace("charset=gb2312", "charset=gbk").encode("gbk"),
            transport_headers=headers,
            message_id=msgid.group(1) if msgid else "",
            attachments=[
                Attachment(a.filename, a.data, a.ctype or CTYPES.get(Path(a.filename).suffix.lower(),
                           "application/octet-stream"), a.cid, hidden=bool(a.cid))
                for a in m.atts
            ],
        )
    )  # fmt: skip


def clients_body_spam_outlook() -> list[Mail]:
    """Issue 14: material written in the body beside pictures (QQ Mail, Foxmail, Outlook),
    covering notes and disclaimers that are not, spam and its hard negative, an Outlook .msg."""
    r1, r2, r3, r4 = (
        t(5, 29, 16, 40, 12),
        t(5, 19, 18, 2, 37),
        t(5, 6, 15, 12, 8),
        t(5, 31, 9, 20, 55),
    )
    r5, r6, r7, r8 = (
        t(5, 16, 3, 12, 40),
        t(5, 18, 10, 0, 2),
        t(5, 21, 15, 33, 41),
        t(5, 7, 11, 4, 26),
    )
    yk = [
        f"{hexid(f'yk-cid{n}', 8, True)}@{hexid(f'yk-cid{n}x', 8, True)}.{hexid('yk', 8, True)}.jpg"
        for n in range(3)
    ]
    yk_text = [
        "韩老师您好！我市活动周总结如下，现场照片插在文中，请审阅。",
        "",
        *YK_SUMMARY[:3],
        *YK_SUMMARY[3:],
        "",
        "营口市教育局职成科",
        "刘洋",
    ]
    yk_html = [
        "韩老师您好！我市活动周总结如下，现场照片插在文中，请审阅。",
        "",
        YK_SUMMARY[0],
        YK_SUMMARY[1],
        YK_SUMMARY[2],
        f"cid:{yk[0]}",
        YK_SUMMARY[3],
        f"cid:{yk[1]}",
        YK_SUMMARY[4],
        f"cid:{yk[2]}",
        "",
        "营口市教育局职成科",
        "刘洋",
    ]
    dl_cid = [f"image00{n}.{'png' if n == 3 else 'jpg'}@01D99201.5E3A1B40" for n in (1, 2, 3)]
    dl_text = [
        "省厅职成处：",
        "",
        DL_SUMMARY[0],
        DL_SUMMARY[1],
        DL_SUMMARY[2],
        f"[cid:{dl_cid[0]}]",
        DL_SUMMARY[3],
        f"[cid:{dl_cid[1]}]",
        DL_SUMMARY[4],
        "",
        "张丽",
        "大连市教育局职成处",
        "电话：0411-83633087",
        f"[cid:{dl_cid[2]}]",
    ]
    dl_html = [
        line.replace("[", "").replace("]", "") if line.startswith("[cid:") else line
        for line in dl_text
    ]
    invoice = (
        "您好！\n本公司长期代开全国各地增值税专用发票、普通发票，税点优惠，可先验票后付款。\n"
        "诚信合作，欢迎来电咨询。\n联系人：李经理\n电话/微信：139 4051 7782（加微信请注明来意）\n"
    )
    training = (
        "各位老师：\n【活动周专题】2023年职业院校教师数字化教学能力提升研修班开始报名啦！"
        "名额有限，报名请加微信 zjpx2023 或扫描下方二维码。\n\n"
        "如不希望再收到此类邮件，退订请回复TD。\n"
    )
    return [
        Mail("yingkou-summary-qq-inline-photos", "yingkou", "qq", "刘洋", "1834567201@qq.com",
             "营口市2023年职业教育活动周工作总结", "\n".join(yk_text) + "\n", r1,
             [Att(f"微信图片_2023052{n}1530{n}.jpg",
                  jpeg_photo(f"yk-in{n}", f"2023:05:2{n} 15:30:0{n}", (480, 360)), "photo", cid=yk[n])
              for n in range(3)],
             html_body=qq_html_with_pictures(yk_html), body_item="summary",
             note="QQ Mail HTML: the summary typed into the body with three photos dropped between its "
                  "paragraphs; 正文.txt is the summary and the photos stay items of their own"),
        Mail("bhcc-article-foxmail-with-photos", "bhcc", "foxmail", "王海", "1489023765@qq.com",
             "活动周新闻稿及照片",
             "韩老师：\n    您好！我院活动周新闻稿如下，照片两张见附件。\n\n"
             + "\n".join("    " + p for p in BHCC_ARTICLE) + "\n\n\n2023-05-19\n\n\n\n王海\n"
             "渤海船舶职业学院党委宣传部\n", r2,
             [ph("开放日1.jpg", "bhcc-open1", "2023:05:19 09:40:00"),
              ph("开放日2.jpg", "bhcc-open2", "2023:05:19 10:15:00")],
             body_item="manuscript",
             note="Foxmail: a news article in the body (greeting, covering sentence, date line and "
                  "signature removed) plus two attached photos; signature decides the unit"),
        Mail("lnvc-plan-coremail-cover-and-disclaimer", "lnvc", "163", "张敏", "zhangmin@lnvc.edu.example.cn",
             "辽宁职业学院活动周实施方案",
             "韩老师：\n    您好！附件是我院2023年职业教育活动周实施方案，请查收。如有问题请随时联系，谢谢！\n\n"
             f"辽宁职业学院 教务处\n张敏\n电话：0410-6129012\n\n{DISCLAIMER}\n", r3,
             [doc("辽宁职业学院2023年职业教育活动周实施方案.docx", "plan",
                  plan_text("辽宁职业学院", detail="各二级学院按要求组织实施。"), r3)],
             mailer="Coremail Webmail Server Version XT5.0.13 build 20220411(8ef3a8a2) "
                    "Copyright (c) 2002-2023 www.mailtech.cn lnvc",
             note="Coremail: a covering note, signature and a long confidentiality notice are not a "
                  "正文 item; only the plan is"),
        Mail("dalian-summary-outlook-inline", "dalian", "outlook", "张丽", "zhangli@dl.edu.example.cn",
             "大连市活动周工作总结", "\n".join(dl_text) + "\n", r4,
             [Att("image001.jpg", jpeg_photo("dl-sum1", "2023:05:14 09:30:00", (480, 360)), "photo",
                  "image/jpeg", cid=dl_cid[0]),
              Att("image002.jpg", jpeg_photo("dl-sum2", "2023:05:20 14:10:00", (480, 360)), "photo",
                  "image/jpeg", cid=dl_cid[1]),
              Att("image003.png", logo_png((150, 30, 40)), None, "image/png", cid=dl_cid[2])],
             html_body=outlook_html_with_pictures(dl_html), body_item="summary",
             note="Outlook HTML: summary in the body with two inline photos and a signature logo; the "
                  "plain part has [cid:…] placeholders; 正文.txt is the summary, the logo decorative"),
        Mail("spam-invoice-unknown-sender", None, "163", "李经理", "hx8823571@163.com",
             "代开各类增值税发票（诚信合作）", invoice, r5, is_material=False, flags=["spam"],
             note="spam: unknown sender, 代开发票 and 加微信; not material, kept and searchable"),
        Mail("spam-training-ad-unsubscribe", None, "edm", "职教培训中心", "service@edm.zjpx.example.com",
             "【活动周专题】2023职业院校教师能力提升研修班报名通知", training, r6,
             is_material=False, flags=["spam"],
             extra_headers=[("List-Unsubscribe", "<mailto:td@edm.zjpx.example.com>")],
             note="spam: an advertisement that names the week, List-Unsubscribe and 加微信, 退订回复"),
        Mail("chaoyang-manuscript-bulk-gateway", "chaoyang", "163", "于洋", "yuyang@cy.edu.example.cn",
             "朝阳市活动周宣传稿",
             "韩老师：\n附件为我市活动周宣传稿，请审阅。视频较大，如需原片请加微信 yuyang_cy 联系。\n\n于洋\n"
             "朝阳市教育局\n", r7,
             [doc("朝阳市活动周宣传稿.docx", "manuscript",
                  news_text("朝阳：职教活动周走进乡村", "5月20日，朝阳市职业学校师生走进乡村开展志愿服务。",
                            "农机检修摊位前排起了长队。"), r7)],
             extra_headers=[("Precedence", "bulk"),
                            ("List-Unsubscribe", "<https://mail.cy.edu.example.cn/unsub>")],
             note="hard negative for spam: a known unit domain whose mail gateway adds bulk headers, "
                  "and 加微信 in the text; material, never spam"),
        Mail("lntd-plan-outlook-msg", "lntd", "outlook", "刘斌", "liubin@lntd.edu.example.cn",
             "辽宁铁道职业技术学院活动周方案",
             "韩老师：\n\n附件为我院2023年职业教育活动周方案，请审阅。\n\n刘斌\n辽宁铁道职业技术学院\n", r8,
             [doc("辽宁铁道职业技术学院活动周方案.docx", "plan",
                  plan_text("辽宁铁道职业技术学院", "方案", detail="各系部认真落实。"), r8),
              Att("image001.png", logo_png((20, 110, 60)), None, "image/png",
                  cid="image001.png@01D980B2.3C4D5E60")],
             html_extra='<p class=MsoNormal><img width=96 height=28 id="图片_x0020_1" '
                        'src="cid:image001.png@01D980B2.3C4D5E60"></p>',
             outlook_msg=True,
             note="an Outlook .msg file (saved from Outlook, dropped in the inbox): read with its "
                  "transport headers, plan attached, signature logo decorative; the .msg is the raw copy"),
    ]  # fmt: skip


def archives() -> list[Mail]:
    """Archives as units send them: a password in the body, one bad member, system junk."""
    r1, r2, r3, r4, r5, r6 = (  # after each unit's first mail: the tracker tests count on it
        t(5, 23, 15, 42, 8),
        t(5, 22, 10, 3, 51),
        t(5, 16, 11, 27, 36),
        t(5, 18, 17, 9, 2),
        t(5, 23, 9, 48, 19),
        t(5, 24, 16, 30, 45),
    )
    liaoyang_case = docx(
        case_text("“订单班”助力企业用工", "我市职教中心", "与本地汽车零部件企业合作。"), r1
    )
    liaoyang_photo = jpeg_photo("ly-zip1", "2023:05:18 10:20:00")
    chaoyang_news = docx(news_text("朝阳职教活动周走进乡村", "5月20日，我市职教师生走进乡村开展志愿服务。",
                                   "农机维修摊位前排起了长队。"), r2)  # fmt: skip
    chaoyang_photo = jpeg_photo("cy-zip1", "2023:05:20 14:02:11")
    zeros = io.BytesIO()
    with zipfile.ZipFile(zeros, "w") as z:
        for name, data in (("开幕式.jpg", jpeg_photo("as-zip1", "2023:05:15 09:12:40")),
                           ("录像素材.dat", bytes(20 << 20))):  # fmt: skip
            zi = zipfile.ZipInfo(name, date_time=(2023, 5, 16, 11, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    mac_photos = [
        jpeg_photo("bx-zip1", "2023:05:18 09:31:00"),
        jpeg_photo("bx-zip2", "2023:05:18 09:40:27"),
    ]
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(60)
    huludao_news = docx(news_text("葫芦岛：技能成就出彩人生", "5月23日，我市举办职业教育活动周技能展示。",
                                  "泳装设计专业学生现场走秀。"), r5)  # fmt: skip
    huludao_photo = jpeg_photo("hld-zip1", "2023:05:23 10:05:00")
    lntd_case = docx(case_text("“轨道+”实训基地建设", "我院", "与铁路局共建轨道交通实训基地。"), r6)
    lntd_photo = jpeg_photo("lntd-zip1", "2023:05:24 14:00:00")
    return [
        Mail("liaoyang-zip-password-in-body", "liaoyang", "qq", "孟老师", "lyzcc2023@qq.com",
             "活动周典型案例和照片",
             "韩老师：\n附件为我市典型案例及照片，压缩包已加密。\n解压密码：lyzcc0518\n\n"
             "辽阳市教育局职成科\n孟老师\n", r1,
             [Att("典型案例及照片.zip", raw_zip([("辽阳市典型案例.docx", liaoyang_case),
                                           ("活动照片.jpg", liaoyang_photo)], "gbk",
                                          "lyzcc0518", "ly"), "other",
                  members={"辽阳市典型案例.docx": "case", "活动照片.jpg": "photo"},
                  password_from={"辽阳市典型案例.docx": "body", "活动照片.jpg": "body"},
                  password="lyzcc0518")],
             note="ZipCrypto zip with GBK names (WinRAR); 解压密码 with a full-width colon in the "
                  "body (QQ Mail GB18030)"),
        Mail("chaoyang-zip-password-next-line", "chaoyang", "outlook", "于洋", "yuyang@cy.edu.example.cn",
             "报送活动周新闻稿",
             "韩老师：\n\n附件是我市活动周新闻稿和配图，压缩包密码如下：\n\n“Cy#2023”\n\n"
             "朝阳市教育局 于洋\n", r2,
             [Att("新闻稿.zip", raw_zip([("活动周新闻稿.docx", chaoyang_news),
                                      ("配图.jpg", chaoyang_photo)], "gbk", "Cy#2023", "cy"),
                  "other", members={"活动周新闻稿.docx": "manuscript", "配图.jpg": "photo"},
                  password_from={"活动周新闻稿.docx": "body", "配图.jpg": "body"},
                  password="Cy#2023")],
             note="unit domain; the password on a line of its own in Chinese quotes, after 如下："),
        Mail("anshan-zip-one-member-too-large", "anshan", "126", "刘宁", "asjyjzcc@126.com", "活动周照片",
             "韩老师：\n附件是开幕式照片和录像素材，请查收。\n\n鞍山市教育局\n", r3,
             [Att("开幕式.zip", zeros.getvalue(), "other",
                  members={"开幕式.jpg": "photo", "录像素材.dat": "video"},
                  statuses={"录像素材.dat": "too_large"})],
             note="known address; one member is 20 MB of zeros (1000x): too_large, the photo "
                  "beside it is filed"),
        Mail("benxi-mac-zip-junk", "benxi", "iphone", "李明", "liming@bx.edu.example.cn", "活动周照片",
             "韩老师，技能展示照片，请查收。\n\n发自我的iPhone\n", r4,
             [Att("活动照片.zip", raw_zip([
                 ("活动照片/", b""), ("活动照片/技能展示1.jpg", mac_photos[0]),
                 ("活动照片/技能展示2.jpg", mac_photos[1]),
                 ("活动照片/.DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(40)),
                 ("__MACOSX/", b""), ("__MACOSX/活动照片/", b""),
                 ("__MACOSX/活动照片/._技能展示1.jpg", apple_double),
                 ("__MACOSX/活动照片/._技能展示2.jpg", apple_double)], "mac"), "other",
                  members={"活动照片/技能展示1.jpg": "photo", "活动照片/技能展示2.jpg": "photo"},
                  junk=["活动照片/.DS_Store", "__MACOSX/活动照片/._技能展示1.jpg",
                        "__MACOSX/活动照片/._技能展示2.jpg"])],
             note="unit domain; a zip made by macOS Finder: UTF-8 names without the flag, "
                  "AppleDouble files under __MACOSX/ and a .DS_Store, none of them items"),
        Mail("huludao-windows-zip-junk", "huludao", "sina", "赵敏", "hldzjk@sina.com", "活动周稿件和照片",
             "韩老师：\n稿件和照片打包发送，请查收。\n\n葫芦岛市教育局\n", r5,
             [Att("稿件和照片.zip", raw_zip([
                 ("稿件/", b""), ("稿件/活动周通讯稿.docx", huludao_news),
                 ("稿件/~$活动周通讯稿.docx", b"\x06zhaomin" + bytes(154)),
                 ("照片/", b""), ("照片/现场.jpg", huludao_photo),
                 ("照片/Thumbs.db", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(56)),
                 ("desktop.ini", b"[.ShellClassInfo]\r\nIconResource=C:\\Windows\\x.dll\r\n"),
                 ("视频/", b"")], "gbk"), "other",
                  members={"稿件/活动周通讯稿.docx": "manuscript", "照片/现场.jpg": "photo"},
                  junk=["稿件/~$活动周通讯稿.docx", "照片/Thumbs.db", "desktop.ini"])],
             note="known address; a zip made on Windows with an open Word document's ~$ lock "
                  "file, Thumbs.db, desktop.ini and an empty folder"),
        Mail("lntd-zip-encrypted-no-password", "lntd", "foxmail", "王刚", "wanggang@lntd.edu.example.cn",
             "活动周典型案例（已加密）",
             "韩老师：\n附件为我院典型案例，文件已加密，密码稍后电话告知。\n\n辽宁铁道职业技术学院\n"
             "王刚\n", r6,
             [Att("典型案例.zip", raw_zip([("铁道职院典型案例.docx", lntd_case),
                                       ("案例配图.jpg", lntd_photo)], "gbk", "td2023", "td"),
                  "other", members={"铁道职院典型案例.docx": "case", "案例配图.jpg": "photo"},
                  statuses={"铁道职院典型案例.docx": "encrypted", "案例配图.jpg": "encrypted"},
                  password="td2023")],
             note="unit domain; an encrypted zip whose password the mail does not give: its "
                  "members stay encrypted and the report asks for it"),
    ]  # fmt: skip


# --------------------------------------------------------------------------- labels and checks

PLAN_DUE, WEEK_END, SUMMARY_DUE = (datetime(2023, 5, 8).date(), datetime(2023, 5, 25).date(),
                                   datetime(2023, 6, 1).date())  # fmt: skip


def catalogue() -> list[Mail]:
    mails = (identification_clues() + alias_variants() + colleges() + kinds_and_dates()
             + hard_negatives() + forwarded() + non_material() + external_links()
             + clients_body_spam_outlook() + archives())  # fmt: skip
    for n, m in enumerate(mails, 1):
        m.name = f"{n:03d}-{m.slug}.{'msg' if m.outlook_msg else 'eml'}"
    return mails


def items_of(m: Mail) -> dict[str, str]:
    if not m.is_material:
        return {}
    items: dict[str, str] = {}
    for a in m.atts:
        if a.kind:
            items[a.filename] = a.kind
        for member, kind in (a.members or {}).items():
            items[f"{a.filename}/{member}"] = kind
    items.update(m.links)
    if m.body_item:
        items["正文.txt"] = "manuscript" if m.body_item is True else m.body_item
    return items


def label_for(m: Mail) -> dict:
    """Returns the label; late and early follow from the Received day and the item kinds."""
    items = items_of(m)
    day = m.received.date()
    kinds = set(items.values())
    flags = list(m.flags)
    if m.is_material:
        if ("plan" in kinds and day > PLAN_DUE) or ("summary" in kinds and day > SUMMARY_DUE):
            flags.append("late")
        if "summary" in kinds and day <= WEEK_END:
            flags.append("early")
    order = [
        "late",
        "early",
        "forwarded",
        "auto_reply",
        "bounce",
        "spam",
        "external_link",
        "duplicate",
    ]
    archive_fields = {}
    for field_name in ("statuses", "password_from"):
        found = {f"{a.filename}/{k}": v for a in m.atts for k, v in getattr(a, field_name).items()}
        if found:
            archive_fields[field_name] = found
    junk = [f"{a.filename}/{name}" for a in m.atts for name in a.junk]
    if junk:
        archive_fields["junk"] = junk
    label = {
        "unit": m.unit if m.is_material else None,
        "is_material": m.is_material,
        "flags": sorted(set(flags), key=order.index),
        "forwarded_by": m.forwarded_by,
        "items": items,
        **archive_fields,
        "decorative": [a.filename for a in m.atts if a.kind is None and a.cid]
        if m.is_material
        else [],
        "received": m.received.isoformat(),
        "note": m.note,
    }
    if m.is_material:  # every person's message here is the 2023 week's material
        label["campaign"] = CAMPAIGN
    return label


def check_media(a: Att) -> None:
    """Fails unless the attachment bytes are a real file of the type its name says."""
    ext = Path(a.filename).suffix.lower()
    if ext in (".jpg", ".png", ".heic"):
        import pillow_heif
        from PIL import Image

        pillow_heif.register_heif_opener()
        Image.open(io.BytesIO(a.data)).load()
    elif ext == ".docx":
        from docx import Document

        assert Document(io.BytesIO(a.data)).paragraphs[0].text
    elif ext == ".pdf":
        from pypdf import PdfReader

        assert PdfReader(io.BytesIO(a.data)).pages[0].extract_text().strip()
    elif ext in (".mp4", ".mov"):
        assert a.data[4:8] == b"ftyp" and len(a.data) > 1500
    elif ext == ".xlsx":
        from openpyxl import load_workbook

        assert load_workbook(io.BytesIO(a.data)).active["A2"].value
    elif ext == ".zip":
        zf = zipfile.ZipFile(io.BytesIO(a.data))
        zf.setpassword(a.password.encode("gbk") if a.password else None)
        assert zf.testzip() is None
    else:
        raise AssertionError(f"no check for {a.filename}")


def plain_text(msg) -> str:
    parts = [p for p in msg.walk() if p.get_content_type() == "text/plain"]
    return "\n".join(p.get_content() for p in parts)


def check_message(path: Path, m: Mail, label: dict) -> None:
    """Parses the written file with the stdlib and compares what it decodes with the label."""
    import email
    from email import policy

    raw = path.read_bytes()
    if m.outlook_msg:
        found, body = outlook_contents(raw)
    else:
        email.message_from_bytes(raw)  # the plain compat32 parse must work too
        msg = email.message_from_bytes(raw, policy=policy.default)
        found = {}
        for part in msg.walk():
            name = part.get_filename()
            if name and not part.is_multipart():
                found[name] = part.get_payload(decode=True)
        body = plain_text(msg)
    if not m.is_material:
        return
    expected = {k for k in label["items"] if "/" not in k and k != "正文.txt"} | set(
        label["decorative"]
    )
    assert set(found) == expected, (path.name, sorted(found), sorted(expected))
    for a in m.atts:
        assert found[a.filename] == a.data, (path.name, a.filename)
        if a.members:
            check_zip_members(path.name, a)
        if a.kind is None:  # decorative: small, inline, referenced from the HTML
            assert len(a.data) < 5000 and a.cid
        check_media(a)
    for url in m.links:
        assert url in body, (path.name, url)
    if m.body_item:
        assert len(body) > 200, path.name


def outlook_contents(raw: bytes) -> tuple[dict[str, bytes], str]:
    """Returns ({attachment name: bytes}, plain body) of a .msg, as extract-msg reads it."""
    import extract_msg

    msg = extract_msg.openMsg(raw)
    try:
        return {a.longFilename: a.data for a in msg.attachments}, msg.body
    finally:
        msg.close()


def check_zip_members(label: str, a: Att) -> None:
    """The zip holds the labelled members and junk (folders aside), readable with its password."""
    zf = zipfile.ZipFile(io.BytesIO(a.data))
    names = []
    for info in zf.infolist():
        if info.filename.endswith("/"):
            continue
        name = info.filename
        if not info.flag_bits & 0x800:  # raw bytes: macOS writes UTF-8, Windows tools GBK
            raw = info.filename.encode("cp437")
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                name = raw.decode("gbk")
        names.append(name)
        if info.flag_bits & 0x1:
            assert zf.open(info, pwd=a.password.encode("gbk")).read(), (label, name)
    assert sorted(names) == sorted([*a.members, *a.junk]), (label, a.filename, names)


def check_unique_bytes(mails: list[Mail]) -> None:
    """Only the message flagged duplicate may repeat an earlier message's file."""
    seen: dict[str, str] = {}
    for m in mails:
        if not m.is_material:
            continue
        for a in m.atts:
            digest = hashlib.sha256(a.data).hexdigest()
            if digest in seen and "duplicate" not in m.flags:
                raise AssertionError(f"{m.name}: {a.filename} repeats {seen[digest]}")
            seen.setdefault(digest, f"{m.name}/{a.filename}")


def summary(labels: dict) -> str:
    kinds: dict[str, int] = {}
    members: dict[str, int] = {}
    flags: dict[str, int] = {}
    for lab in labels.values():
        for key, kind in lab["items"].items():
            bucket = members if ".zip/" in key else kinds
            bucket[kind] = bucket.get(kind, 0) + 1
        for f in lab["flags"]:
            flags[f] = flags.get(f, 0) + 1
    material = sum(1 for lab in labels.values() if lab["is_material"])
    nulls = sum(1 for lab in labels.values() if lab["is_material"] and lab["unit"] is None)
    units = {lab["unit"] for lab in labels.values() if lab["unit"]}
    size = sum(
        p.stat().st_size for p in HERE.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    return (
        f"{len(labels)} messages ({material} material, {nulls} material with unit null, "
        f"{len(units)} units)\nitems per kind: {dict(sorted(kinds.items()))}\n"
        f"zip members per kind: {dict(sorted(members.items()))}\nflags: {dict(sorted(flags.items()))}\n"
        f"folder size: {size / 1024:.0f} KiB"
    )


def main() -> None:
    mails = catalogue()
    for old in [*HERE.glob("[0-9][0-9][0-9]-*.eml"), *HERE.glob("[0-9][0-9][0-9]-*.msg")]:
        old.unlink()
    labels = {}
    for m in mails:
        (HERE / m.name).write_bytes(build_outlook(m) if m.outlook_msg else build(m))
        labels[m.name] = label_for(m)
    (HERE / "labels.json").write_text(
        json.dumps({"version": 1, "messages": labels}, ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    (HERE / "units.toml").write_text(units_toml(), encoding="utf-8")
    known = {u[0] for u in UNITS}
    for m in mails:
        assert labels[m.name]["unit"] in known | {None}
        check_message(HERE / m.name, m, labels[m.name])
    check_unique_bytes(mails)
    size = sum(
        p.stat().st_size for p in HERE.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    assert size < 1.5 * 1024 * 1024, size
    print(summary(labels))  # noqa: T201 - a command-line generator


if __name__ == "__main__":
    main()
