"""Writes the hand-made test messages in this folder (run once; the .eml files are committed).

Each message reproduces one way real Chinese mail encodes things; bytes are
spelled out so that no library's encoder smooths the case away.
"""

import base64
import io
import zipfile
from pathlib import Path

from PIL import Image

HERE = Path(__file__).parent


def b64(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return "\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))


def word(text: str, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def jpeg(size=(360, 270), color=(200, 40, 40)) -> bytes:
    # Noise, like a real photo: a flat colour would compress to the size of a logo.
    buf = io.BytesIO()
    noise = Image.effect_noise(size, 60).convert("RGB")
    Image.blend(Image.new("RGB", size, color), noise, 0.5).save(buf, "JPEG", quality=70)
    return buf.getvalue()


def png(size=(16, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (0, 80, 160)).save(buf, "PNG")
    return buf.getvalue()


RECEIVED = (
    "Received: from mx.example.cn (mx.example.cn [127.0.0.1])\r\n"
    "\tby mail.ln.gov.cn with ESMTP id 1A2B3C; Tue, 16 May 2023 09:12:30 +0800\r\n"
)


def write(name: str, head: str, body: bytes) -> None:
    (HERE / name).write_bytes(RECEIVED.encode() + head.encode("latin-1") + b"\r\n" + body)


def gbk_subject_and_filename() -> None:
    # Outlook/Foxmail: RFC 2047 B words in GBK for the subject and the file name.
    subject = word("【大连市教育局】活动周方案", "gbk")
    fname = word("大连市职业教育活动周方案.docx", "gbk")
    head = (
        f"From: {word('大连市教育局 王芳', 'gbk')} <wangfang@163.com>\r\n"
        "To: zcc1.sjyt@ln.gov.cn\r\nDate: Tue, 16 May 2023 09:12:00 +0800\r\n"
        f"Subject: {subject}\r\nMessage-ID: <gbk-1@test.mailroom>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n'
    )
    body = (
        "--b1\r\nContent-Type: text/plain; charset=gbk\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64("您好，附件是我市活动周方案，请查收。".encode("gbk"))
        + "\r\n"
        f'--b1\r\nContent-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document; name="{fname}"\r\n'
        f'Content-Disposition: attachment; filename="{fname}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + b64(b"PK\x03\x04not really a docx")
        + "\r\n--b1--\r\n"
    )
    write("gbk-rfc2047-filename.eml", head, body.encode())


def qq_quoted_param_and_2231() -> None:
    # QQ Mail: an RFC 2047 word inside a quoted filename (RFC 2231 forbids it, QQ does it);
    # Thunderbird: RFC 2231 with continuations and a UTF-8 charset.
    photo = jpeg()
    long_name = "锦州市职业教育活动周开幕式现场照片（第一组）.jpg".encode()
    pct = "".join(f"%{b:02X}" for b in long_name)
    halves = pct[: len(pct) // 2], pct[len(pct) // 2 :]
    head = (
        'From: "jz" <12345678@qq.com>\r\nTo: zcc1.sjyt@ln.gov.cn\r\n'
        f"Subject: {word('锦州-活动周照片', 'utf-8')}\r\nDate: Tue, 16 May 2023 09:10:00 +0800\r\n"
        "Message-ID: <qq-2231@test.mailroom>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="qq"\r\n'
    )
    qq_name = word("活动照片1.jpg", "gb18030")
    body = (
        "--qq\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n照片两张。\r\n"
        f'--qq\r\nContent-Type: image/jpeg; name="{qq_name}"\r\n'
        f'Content-Disposition: attachment; filename="{qq_name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + b64(photo)
        + "\r\n"
        "--qq\r\nContent-Type: image/jpeg\r\n"
        f"Content-Disposition: attachment;\r\n filename*0*=utf-8''{halves[0]};\r\n filename*1*={halves[1]}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        + b64(jpeg(color=(10, 200, 10)))
        + "\r\n--qq--\r\n"
    )
    write("qq-quoted-2047-and-2231.eml", head, body.encode())


def raw_8bit_headers() -> None:
    # Raw 8-bit GB18030 in From/Subject/filename with no labels at all, and a body
    # labelled gb2312 that holds GBK-only characters (镕, 玥).
    subject = "盘锦市教育局活动周稿件：朱镕基学校开放日".encode("gb18030")
    sender = "盘锦市教育局".encode("gb18030")
    fname = "盘锦活动周新闻稿.txt".encode("gb18030")
    head = (
        b"From: "
        + sender
        + b" <pj@126.com>\r\nTo: zcc1.sjyt@ln.gov.cn\r\nSubject: "
        + subject
        + b"\r\nDate: Tue, 16 May 2023 10:00:00 +0800\r\nMessage-ID: <raw8@test.mailroom>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="r8"\r\n'
    )
    body = (
        b"--r8\r\nContent-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "王玥老师撰写的新闻稿见附件。".encode("gbk")
        + b"\r\n"
        b'--r8\r\nContent-Type: text/plain; charset=gb2312\r\nContent-Disposition: attachment; filename="'
        + fname
        + b'"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
        + "新闻稿正文。".encode("gbk")
        + b"\r\n--r8--\r\n"
    )
    (HERE / "raw-8bit-gb18030-headers.eml").write_bytes(RECEIVED.encode() + head + b"\r\n" + body)


def big5_raw_subject() -> None:
    subject = "瀋陽市教育局活動週總結".encode("big5")
    head = (
        b"From: tw-style <sy@example.net>\r\nTo: zcc1.sjyt@ln.gov.cn\r\nSubject: "
        + subject
        + b"\r\nDate: Thu, 01 Jun 2023 10:00:00 +0800\r\nMessage-ID: <big5@test.mailroom>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n"
    )
    body = "總結見下。".encode("big5") + b"\r\n"
    (HERE / "big5-raw-subject.eml").write_bytes(RECEIVED.encode() + head + b"\r\n" + body)


def inline_images_and_forward() -> None:
    # An HTML body with a real inline photo (cid:) and a tiny signature logo, plus a
    # forwarded message/rfc822 carrying a zip with no file name on a part.
    photo, logo = jpeg((420, 315)), png()
    inner = (
        "From: =?utf-8?B?"
        + base64.b64encode("铁岭市教育局 李明".encode()).decode()
        + "?= <liming@sina.com>\r\n"
        "Subject: =?utf-8?B?"
        + base64.b64encode("铁岭市活动周典型案例".encode()).decode()
        + "?=\r\n"
        "Date: Mon, 15 May 2023 16:00:00 +0800\r\nMessage-ID: <inner@test.mailroom>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="in"\r\n\r\n'
        "--in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n典型案例见附件。\r\n铁岭市教育局职成科\r\n"
        "--in\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64(b"%PDF-1.4\n% a case study\n")
        + "\r\n--in--\r\n"
    )
    html = (
        '<html><body><p>转发铁岭市的材料，另附现场照片：</p><img src="cid:photo1@x">'
        '<p>--<br>省厅职成处</p><img src="cid:logo@x"></body></html>'
    )
    head = (
        "From: staff <staff@ln.gov.cn>\r\nTo: zcc1.sjyt@ln.gov.cn\r\n"
        "Subject: =?utf-8?B?"
        + base64.b64encode("转发：铁岭市活动周典型案例".encode()).decode()
        + "?=\r\n"
        "Date: Tue, 16 May 2023 11:00:00 +0800\r\nMessage-ID: <fwd@test.mailroom>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="out"\r\n'
    )
    body = (
        '--out\r\nContent-Type: multipart/related; boundary="rel"\r\n\r\n'
        "--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n"
        "--rel\r\nContent-Type: image/jpeg\r\nContent-ID: <photo1@x>\r\nContent-Disposition: inline\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + b64(photo) + "\r\n"
        '--rel\r\nContent-Type: image/png; name="image001.png"\r\nContent-ID: <logo@x>\r\n'
        'Content-Disposition: inline; filename="image001.png"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + b64(logo)
        + "\r\n--rel--\r\n"
        "--out\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\n--out--\r\n"
    )
    write("inline-images-and-forwarded.eml", head, body.encode())


def damaged_attachment() -> None:
    # One attachment's base64 is cut short and damaged; the other is fine.
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("a.txt", "hello")
    head = (
        "From: =?utf-8?B?"
        + base64.b64encode("葫芦岛市教育局".encode()).decode()
        + "?= <hld@163.com>\r\n"
        "To: zcc1.sjyt@ln.gov.cn\r\nSubject: =?utf-8?B?"
        + base64.b64encode("葫芦岛市活动周照片".encode()).decode()
        + "?=\r\nDate: Wed, 17 May 2023 08:00:00 +0800\r\nMessage-ID: <damaged@test.mailroom>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="d"\r\n'
    )
    good = b64(jpeg())
    body = (
        "--d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n照片见附件。\r\n"
        '--d\r\nContent-Type: image/jpeg; name="good.jpg"\r\nContent-Disposition: attachment; filename="good.jpg"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + good + "\r\n"
        '--d\r\nContent-Type: image/jpeg; name="broken.jpg"\r\nContent-Disposition: attachment; filename="broken.jpg"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRgABAQ*&^%$#@!not base64 at all=\r\nAAA\r\n--d--\r\n"
    )
    write("damaged-attachment.eml", head, body.encode())


def auto_reply() -> None:
    head = (
        "From: dl-office@163.com\r\nTo: zcc1.sjyt@ln.gov.cn\r\nSubject: =?utf-8?B?"
        + base64.b64encode("自动回复: 关于报送活动周材料".encode()).decode()
        + "?=\r\nAuto-Submitted: auto-replied\r\nDate: Wed, 17 May 2023 08:00:00 +0800\r\n"
        "Message-ID: <auto@test.mailroom>\r\nContent-Type: text/plain; charset=utf-8\r\n"
    )
    write("auto-reply.eml", head, "您的邮件已收到，我休假中。\r\n".encode())


def mbox_and_maildir() -> None:
    msgs = []
    for i, city in enumerate(["鞍山", "本溪"], 1):
        msgs.append(
            (
                "From: =?utf-8?B?"
                + base64.b64encode(f"{city}市教育局".encode()).decode()
                + f"?= <city{i}@163.com>\r\nTo: zcc1.sjyt@ln.gov.cn\r\n"
                "Subject: =?utf-8?B?"
                + base64.b64encode(f"{city}市活动周方案".encode()).decode()
                + f"?=\r\nDate: Mon, 08 May 2023 09:00:0{i} +0800\r\nMessage-ID: <box{i}@test.mailroom>\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\n" + "方案正文。" * 60 + "\r\n"
            ).encode()
        )
    mbox = b"".join(
        b"From city@163.com Mon May  8 09:00:00 2023\n" + m.replace(b"\r\n", b"\n") + b"\n"
        for m in msgs
    )
    (HERE / "two-messages.mbox").write_bytes(mbox)


if __name__ == "__main__":
    for make in (
        gbk_subject_and_filename,
        qq_quoted_param_and_2231,
        raw_8bit_headers,
        big5_raw_subject,
        inline_images_and_forward,
        damaged_attachment,
        auto_reply,
        mbox_and_maildir,
    ):
        make()
    print("written:", sorted(p.name for p in HERE.iterdir()))
