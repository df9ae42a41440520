"""Hostile files built on demand (never stored): playlists posing as videos, bombs, floods.

Shared by the tests and bench/bench_limits.py, which runs them at full size. Each
builder writes or returns the smallest bytes that reproduce one finding of issues 17
and 18.
"""

from __future__ import annotations

import io
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

from PIL import Image

W_MAIN = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


# -- files that make ffmpeg read something else ------------------------------------------


def hls_playlist(*segments: str) -> bytes:
    """An HLS playlist (what an attachment named 视频.mp4 may really be) naming segments."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:10", "#EXT-X-MEDIA-SEQUENCE:0"]
    for segment in segments:
        lines += ["#EXTINF:10.0,", segment]
    return ("\n".join([*lines, "#EXT-X-ENDLIST", ""])).encode()


def ffconcat(*files: str) -> bytes:
    """An ffconcat script: ffmpeg's concat demuxer opens every file it names."""
    return ("ffconcat version 1.0\n" + "".join(f"file '{f}'\n" for f in files)).encode()


def sdp(port: int) -> bytes:
    """An SDP description: ffmpeg's sdp demuxer listens for RTP on the port it names."""
    return (
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=video {port} RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    ).encode()


def gab2_avi(jpeg: bytes, subtitle: bytes) -> bytes:
    """An MJPEG AVI of one frame with a GAB2 subtitle stream carrying `subtitle`.

    GAB2 is AVI's embedded-subtitle chunk: ffmpeg probes its payload for a format of
    its own, which is how an HLS playlist once rode inside a real video (2017).
    """
    width, height = Image.open(io.BytesIO(jpeg)).size
    gab2 = b"GAB2\0" + struct.pack("<HI", 2, 4) + "x\0".encode("utf-16-le")
    gab2 += struct.pack("<HI", 4, len(subtitle)) + subtitle
    video = _chunk(
        b"avih", struct.pack("<14I", 40000, 0, 0, 0x10, 1, 0, 2, 0, width, height, 0, 0, 0, 0)
    )
    strh_v = struct.pack(
        "<4s4sIHHIIIIIIIIhhhh",
        b"vids",
        b"MJPG",
        0,
        0,
        0,
        0,
        1,
        25,
        0,
        1,
        len(jpeg),
        0,
        0,
        0,
        0,
        width,
        height,
    )
    strf_v = struct.pack(
        "<IiiHH4sIiiII", 40, width, height, 1, 24, b"MJPG", width * height * 3, 0, 0, 0, 0
    )
    strh_s = struct.pack(
        "<4s4sIHHIIIIIIIIhhhh",
        b"txts",
        b"\0\0\0\0",
        0,
        0,
        0,
        0,
        1,
        1,
        0,
        1,
        len(gab2),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    hdrl = _list(b"hdrl", video + _list(b"strl", _chunk(b"strh", strh_v) + _chunk(b"strf", strf_v))
                 + _list(b"strl", _chunk(b"strh", strh_s) + _chunk(b"strf", b"\0" * 4)))  # fmt: skip
    frame, text = _chunk(b"00dc", jpeg), _chunk(b"01tx", gab2)
    movi = _list(b"movi", frame + text)
    index = struct.pack("<4sIII", b"00dc", 0x10, 4, len(jpeg)) + struct.pack(
        "<4sIII", b"01tx", 0x10, 4 + len(frame), len(gab2)
    )
    body = b"AVI " + hdrl + movi + _chunk(b"idx1", index)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _chunk(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _list(kind: bytes, data: bytes) -> bytes:
    return _chunk(b"LIST", kind + data)


def mjpeg_claiming(folder: Path, seconds: int, size: str = "1280x720") -> Path:
    """An MKV of three MJPEG frames (~50 KB) whose last frame is stamped `seconds` in."""
    path = folder / "long.mkv"
    # setts rewrites the third packet's timestamp (in the stream's 1/1000 time base)
    stamp = f"setts=ts=if(eq(N\\,2)\\,{seconds * 1000}\\,PTS)"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
         "-frames:v", "3", "-c:v", "mjpeg", "-q:v", "31", "-bsf:v", stamp, str(path)],
        check=True,
    )  # fmt: skip
    return path


# -- images, documents and messages that cost memory ---------------------------------------


def huge_png(path: Path, side: int, mode: str = "RGBA") -> Path:
    """A side x side PNG of one colour (13000² RGBA is ~0.7 MB), made in well under a second.

    Pillow would need the whole picture in memory to save it, and zlib would still
    read 676 MB. Instead a block of rows is deflated once, ending with a full flush
    (which resets the compressor, so the same block always deflates to the same
    bytes), and those bytes are repeated; the checksum is computed row by row.
    """
    channels = {"RGBA": 4, "RGB": 3}[mode]
    colour_type = {"RGBA": 6, "RGB": 2}[mode]
    row = b"\0" + bytes([200, 40, 40, 255][:channels]) * side
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: header and checksum are ours
    rows_per_block = 64
    block = squeeze.compress(row * rows_per_block) + squeeze.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(side, rows_per_block)
    tail = squeeze.compress(row * rest) + squeeze.flush()
    checksum = 1
    for _ in range(side):
        checksum = zlib.adler32(row, checksum)
    idat = b"\x78\xda" + block * full + tail + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", side, side, 8, colour_type, 0, 0, 0)
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        for kind, data in ((b"IHDR", header), (b"IDAT", idat), (b"IEND", b"")):
            handle.write(struct.pack(">I", len(data)) + kind + data)
            handle.write(struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return path


def many_page_pdf(pages: int) -> bytes:
    """A PDF of `pages` pages that all show one shared content stream (100,000 pages ~16 MB)."""
    content = b"BT /F1 12 Tf 72 720 Td (Shared page of a very long annex) Tj ET"
    kids = b" ".join(b"%d 0 R" % (5 + n) for n in range(pages))
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 3 0 R >> >> >>"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ] + [page] * pages
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def inflating_docx(path: Path, xml_bytes: int, text: bool = True, level: int = 9) -> Path:
    """A DOCX whose document.xml inflates to about `xml_bytes` (1.5 GiB in ~1.5 MB) of
    paragraphs of text, or (text=False) of formatting with no text at all.

    Written through a streaming zip entry, so building it never holds the XML.
    """
    words = "辽宁省职业教育活动周材料" * 20 if text else ""
    paragraph = f"<w:p><w:r><w:rPr><w:b/></w:rPr><w:t>{words}</w:t></w:r></w:p>".encode()
    head = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W_MAIN}"><w:body>'.encode()
    tail = b"</w:body></w:document>"
    block = paragraph * max(1, (1 << 20) // len(paragraph))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as package:
        package.writestr("[Content_Types].xml", _CONTENT_TYPES)
        package.writestr("_rels/.rels", _RELS)
        with package.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(head)
            written = 0
            while written < xml_bytes:
                part.write(block)
                written += len(block)
            part.write(tail)
    return path


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)


def message_with_attachment(size: int, encoding: str = "8bit") -> bytes:
    """A message whose attachment is `size` bytes sent as 8bit (or base64) text lines."""
    import base64

    head = (
        "From: xc@dl.edu.example.cn\r\nTo: zcc@example.cn\r\nSubject: big\r\n"
        "Message-ID: <big-attachment@example.cn>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
        "Content-Type: text/plain; charset=utf-8\r\n\r\n附件请查收。\r\n--b1\r\n"
        "Content-Type: text/plain; charset=gb18030; name=annex.txt\r\n"
        "Content-Disposition: attachment; filename=annex.txt\r\n"
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode()
    line = "辽宁省职业教育活动周稿件正文".encode("gb18030") * 5 + b"\r\n"
    body = line * (size // len(line) + 1)
    if encoding == "base64":
        body = base64.encodebytes(body[:size]).replace(b"\n", b"\r\n")
    return head + body + b"--b1--\r\n"


def message_with_body(body: str, subtype: str = "plain", message_id: str = "hostile") -> bytes:
    """A message from a Dalian school whose only content is `body` (UTF-8, 8bit)."""
    return (
        "From: xuanchuan@dl.edu.example.cn\r\nTo: zcc@example.cn\r\n"
        f"Subject: =?utf-8?B?5rS75Yqo5ZGo56i/5Lu2?=\r\nMessage-ID: <{message_id}@example.cn>\r\n"
        "Date: Tue, 16 May 2023 09:00:00 +0800\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/{subtype}; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + body.encode()


# Bodies that made the old scanners super-linear, each about 800 KB.
HOSTILE_BODIES = {
    "from_lines": "From: x\n" * 100_000,  # the issue's: minutes, never recorded
    "blank_lines": "\n" * 800_000,  # ^\s* at every line start: 40,000 lines took 90 s
    "blank_lines_inside": "正文\n" + " \n" * 40_000 + "结束",  # the same, in the first 100,000
    "space_lines": " \n" * 400_000,
    "wide_space_lines": "\u3000\n" * 400_000,
    "quote_starts": "在" * 400_000,
    "footer_words": "本邮件由" * 200_000,
    "dashes": "-" * 800_000,
    "forward_marks": "---- 转发的邮件 ----\n发件人: a@b.cn\n" * 25_000,
    "links": "".join(f"https://pan.baidu.com/s/{n} 提取码 abcd\n" for n in range(20_000)),
    "netease_label": "http://a.163.com/" + "a" * 800_000,
    "unit_names": "沈阳市教育局" * 130_000,
}


def many_parts_message(parts: int) -> bytes:
    """A message of `parts` tiny JPEG attachments (50,000 parts ~8 MB)."""
    head = (
        "From: xuanchuan@dl.edu.example.cn\r\nTo: zcc@example.cn\r\nSubject: photos\r\n"
        "Message-ID: <many-parts@example.cn>\r\nDate: Tue, 16 May 2023 09:00:00 +0800\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    )
    part = (
        '--b\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename="p{n}.jpg"'
        "\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRgABAQAAAQABAAD/2w==\r\n"
    )
    return (head + "".join(part.format(n=n) for n in range(parts)) + "--b--\r\n").encode()
