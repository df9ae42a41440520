"""Web UI benchmark: median server time of browse, search, triage, unit and report pages over
100,000 items.

Builds a temporary index (SQLite, as shipped) with 20,000 messages of 5 items each,
bulk-inserted, indexes them for search, signs in and times each page in-process
(Starlette TestClient: routing, queries and template rendering, no network).

Run: .venv/bin/python bench/bench_web.py [--items 100000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from storage.models import DecisionRecord, Item, Message  # noqa: E402
from storage.search import add_docs  # noqa: E402
from storage.web_models import User, hash_password  # noqa: E402
from workers.app import open_context  # noqa: E402
from workers.config import load_config  # noqa: E402

WORDS = (
    "活动周 职业教育 技能 展示 学生 教师 学校 北京 报告 视频 照片 方案 总结 案例 稿件 宣传 "
    "卫生健康委员会 辽宁省 沈阳 大连 实训 基地 企业 开放日 校园 工匠 精神 非遗 体验"
).split()
KINDS = ("plan", "case", "manuscript", "photo", "video", "summary", "other")
MEDIA = {"photo": "image", "video": "video"}


COMMON = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能"
    "下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量"
    "都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重"
    "新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通"
)
VOCAB = [a + b for a, b in zip(COMMON, COMMON[37:] + COMMON[:37], strict=True)] * 4 + WORDS


def sentence(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(VOCAB) for _ in range(n))


def build(ctx, items: int, rng: random.Random) -> None:
    units = [u.code for u in ctx.config.units]
    start = datetime(2023, 5, 1, tzinfo=UTC)
    per_message = 5
    messages = items // per_message
    t0 = time.perf_counter()
    with ctx.db.session() as session:
        for first in range(0, messages, 2000):
            count = min(2000, messages - first)
            rows = [
                {
                    "id": first + n + 1,
                    "raw_sha256": f"{first + n:064x}",
                    "raw_path": "raw/x.eml",
                    "raw_size": 1000,
                    "received_at": start + timedelta(minutes=3 * (first + n)),
                    "from_addr": f"user{n % 500}@example.cn",
                    "from_name": "老师",
                    "subject": sentence(rng, 4),
                    "body_text": sentence(rng, 30),
                    "unit_code": None if n % 50 == 0 else rng.choice(units),
                    "status": "triage" if n % 50 == 0 else "filed",
                    "flags": [],
                    "to_addrs": [],
                }
                for n in range(count)
            ]
            session.execute(insert(Message), rows)
            item_rows = []
            for row in rows:
                for seq in range(per_message):
                    kind = rng.choice(KINDS)
                    media = MEDIA.get(kind, "document")
                    item_rows.append(
                        {
                            "message_pk": row["id"],
                            "seq": seq,
                            "kind": kind,
                            "media": media,
                            "name": sentence(rng, 2) + (".jpg" if media == "image" else ".docx"),
                            "mime": "image/jpeg" if media == "image" else "application/zip",
                            "size": 100_000,
                            "status": "ok",
                            "meta": {},
                            "text": sentence(rng, 60) if media == "document" else "",
                        }
                    )
            session.execute(insert(Item), item_rows)
            session.execute(
                insert(DecisionRecord),
                [
                    {
                        "message_pk": row["id"],
                        "subject": "unit",
                        "value": None,
                        "level": "weak",
                        "decided_by": "auto",
                        "evidence": {
                            "reason": "only weak clues (0.45 < 0.80)",
                            "candidates": {rng.choice(units): 0.45},
                            "clues": [],
                        },
                    }
                    for row in rows
                    if row["status"] == "triage"
                ],
            )
    t1 = time.perf_counter()
    with ctx.db.session() as session:
        docs = [
            (m, None, f"{s} {b}")
            for m, s, b in session.execute(select(Message.id, Message.subject, Message.body_text))
        ]
        docs += [
            (m, i, f"{n} {t}")
            for m, i, n, t in session.execute(
                select(Item.message_pk, Item.id, Item.name, Item.text)
            )
        ]
        for start_at in range(0, len(docs), 20_000):
            add_docs(session, docs[start_at : start_at + 20_000])
    t2 = time.perf_counter()
    print(
        f"built {messages} messages / {items} items in {t1 - t0:.1f} s; "
        f"indexed {len(docs)} search documents in {t2 - t1:.1f} s"
    )


def median_ms(client, url: str, repeat: int) -> tuple[float, float]:
    client.get(url)  # warm caches and template compilation
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--dir", type=Path, help="Keep the index here and reuse it next time.")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from web.app import create_app

    folder = args.dir or Path(tempfile.mkdtemp(prefix="mailroom-bench-web-"))
    folder.mkdir(parents=True, exist_ok=True)
    reuse = (folder / "data" / "mailroom.db").exists()
    (folder / "config.toml").write_text(
        '[storage]\narchive_dir = "archive"\ndatabase_url = "sqlite:///data/mailroom.db"\n',
        encoding="utf-8",
    )
    ctx = open_context(load_config(folder / "config.toml"))
    if not reuse:
        build(ctx, args.items, random.Random(7))
        with ctx.db.session() as session:
            session.add(
                User(name="bench", role="viewer", password_hash=hash_password("bench-pass"))
            )
    client = TestClient(create_app(ctx), base_url="https://testserver")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"csrf_token": token, "name": "bench", "password": "bench-pass"})
    pages = [
        ("browse (all, page 1)", "/browse"),
        ("browse (all, page 200)", "/browse?page=200"),
        ("browse (unit + kind)", "/browse?unit=dalian&kind=photo"),
        ("browse (one day)", "/browse?day=2023-05-15"),
        ("search 北京 (common)", "/search?q=北京"),
        ("search 卫生健康委 (long)", "/search?q=卫生健康委"),
        ("search 工匠精神 + unit", "/search?q=工匠精神&unit=shenyang"),
        ("search (no match)", "/search?q=上海交通"),
        ("search 北京 报告 (two words)", "/search?q=北京 报告"),
        ("triage (page 1)", "/triage"),
        ("triage (last page)", "/triage?page=8"),
        ("triage (candidate filter)", "/triage?candidate=dalian"),
        ("triage (sender filter)", "/triage?sender=user1"),
        ("message page", "/messages/2"),
        ("reports (tracker as of today)", "/reports"),
        ("unit page", "/units/shenyang"),
        ("photo grid", "/photos"),
        ("dashboard", "/"),
    ]
    print(f"{'page':28} {'median ms':>10} {'max ms':>8}")
    for label, url in pages:
        median, worst = median_ms(client, url, args.repeat)
        print(f"{label:28} {median:10.1f} {worst:8.1f}")
    ctx.close()


if __name__ == "__main__":
    main()
