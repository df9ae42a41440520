"""Archives: 1,000 mutated zip/7z/rar files through the reader, and a zip of 2,000 photos.

1. Fuzz (fixed seed, `--seed 18 --files 1000`): seed archives (zip deflated and stored,
   ZipCrypto and AES zips, a nested zip, 7z solid and encrypted, RAR 4) are mutated
   (bytes flipped, 32-bit fields set to 0/0xFFFFFFFF, bytes cut or inserted) and each
   goes through `list_and_extract` in a child process with a time limit. It must end
   with only the project's own errors (ArchiveError; ArchiveUnavailable never, the disk
   is fine), no hang, and no file written outside each archive's destination folder.
   Reference: `bsdtar -tf` listing the same files, measured in the same run.
2. Bounded work (issue 18): a zip of 100,000 empty members, refused from its end record
   (time and peak memory, against `bsdtar -tf` listing it); and three zips that expand
   ~95x each inside one archive under a 64 MiB message budget (bytes written, peak memory,
   against `bsdtar -xf` writing everything). Each runs in a fresh child process whose
   peak RSS is its VmHWM (getrusage's ru_maxrss survives exec: it would show ours).
3. Speed: `mailroom ingest` of one message with a zip of 2,000 small photos (unpacking,
   filing, indexing and 2,000 thumbnails), against `bsdtar -xf` extracting the same zip
   (the floor for getting the bytes out) measured in the same run.

Run: .venv/bin/python bench/bench_archives.py [--files 1000] [--seed 18] [--photos 2000]
Exits 1 if the fuzz finds anything but the project's own errors.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import write_config  # noqa: E402
from tests.support import archive_files as af  # noqa: E402
from tests.support import media_files as files  # noqa: E402

TIME_LIMIT = 20.0  # seconds one mutated archive may take before it counts as a hang
FIELDS = [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\xff\xff\xff\x7f", b"\x01\x00\x00\x00"]


def seeds(folder: Path) -> dict[str, bytes]:
    """Returns the archives mutated: every format and feature the reader handles."""
    photo, text = files.jpeg(120, 90), "活动周稿件 ".encode() * 400
    nested = af.zip_bytes({"内层/说明.txt": text[:600], "内层/图.jpg": photo})
    out = {
        "deflate.zip": af.zip_bytes({"照片/开幕式.jpg": photo, "稿件.txt": text, "空/": b""}),
        "stored.zip": af.zip_bytes({"a.txt": text[:900], "b.jpg": photo}, stored=True),
        "nested.zip": af.zip_bytes({"外层.txt": b"outer", "inner.zip": nested}),
        "zipcrypto.zip": af.encrypted_zip(
            folder, "zc.zip", {"a.txt": text}, "pw1", aes=False
        ).read_bytes(),
        "aes.zip": af.encrypted_zip(
            folder, "aes.zip", {"b.txt": text}, "pw1", aes=True
        ).read_bytes(),
        "solid.7z": af.seven_zip(folder / "s.7z", {"a.txt": text, "b.jpg": photo}).read_bytes(),
        "encrypted.7z": af.seven_zip(folder / "e.7z", {"a.txt": text}, password="pw1").read_bytes(),
        "stored.rar": af.rar4([("r.txt", text[:700], 0), ("s.jpg", photo, 0)]),
    }
    return out


def mutate(data: bytes, rng: random.Random) -> bytes:
    """Returns the bytes with 1-8 random edits: flips, 32-bit fields, cuts, insertions."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(out))
        choice = rng.random()
        if choice < 0.5:
            out[at] = rng.randrange(256)
        elif choice < 0.75:
            out[at : at + 4] = rng.choice(FIELDS)
        elif choice < 0.9:
            del out[at : at + rng.randint(1, 64)]
        else:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(out)


def _reader_child(conn) -> None:
    """Child process: reads (archive, dest) pairs and answers with what happened."""
    from pipeline.errors import ArchiveError, MailroomError
    from pipeline.media.archives import ArchiveLimits, list_and_extract
    from pipeline.media.archives import Password as Pw

    limits = ArchiveLimits(10_000_000, 5_000_000, 100, 200, 2, max_seconds=TIME_LIMIT / 2)
    while True:
        job = conn.recv()
        if job is None:
            return
        archive, dest = job
        try:
            list_and_extract(archive, dest, limits, [Pw("pw1", "body")])
            conn.send(("ok", ""))
        except ArchiveError:
            conn.send(("ArchiveError", ""))
        except MailroomError as exc:
            conn.send((f"{type(exc).__name__} (ours, unexpected)", str(exc)[:200]))
        except BaseException as exc:  # what the fuzz is looking for
            conn.send((f"{type(exc).__module__}.{type(exc).__name__}", traceback.format_exc()))


class Reader:
    """A child process running the archive reader, replaced when it hangs."""

    def __init__(self):
        self.ctx = multiprocessing.get_context("spawn")
        self._start()

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_reader_child, args=(child,), daemon=True)
        self.proc.start()

    def read(self, archive: Path, dest: Path) -> tuple[str, str]:
        self.conn.send((archive, dest))
        if self.conn.poll(TIME_LIMIT):
            return self.conn.recv()
        self.proc.kill()
        self.proc.join()
        self._start()
        return "HANG", str(archive)

    def close(self) -> None:
        self.conn.send(None)
        self.proc.join(10)


def fuzz(root: Path, count: int, seed: int) -> bool:
    sandbox = root / "fuzz"
    (sandbox / "in").mkdir(parents=True)
    canary = sandbox / "canary"
    canary.mkdir()
    originals = seeds(root / "seeds")
    rng = random.Random(seed)
    names = sorted(originals)
    inputs = []
    for n in range(count):
        name = names[n % len(names)]
        path = sandbox / "in" / f"{n:04d}-{name}"
        path.write_bytes(mutate(originals[name], rng))
        inputs.append(path)

    outcomes: Counter = Counter()
    examples: dict[str, str] = {}
    reader = Reader()
    started = time.monotonic()
    for n, path in enumerate(inputs):
        outcome, detail = reader.read(path, sandbox / "out" / f"{n:04d}")
        outcomes[outcome] += 1
        if outcome not in ("ok", "ArchiveError"):
            examples.setdefault(outcome, f"{path.name}: {detail[-800:]}")
    ours = time.monotonic() - started
    reader.close()

    started = time.monotonic()
    for path in inputs:
        subprocess.run(["bsdtar", "-tf", str(path)], capture_output=True, timeout=60)
    reference = time.monotonic() - started

    written = [p for p in sandbox.rglob("*") if p.is_file()]
    outside = [p for p in written if p.parts[len(sandbox.parts)] not in ("in", "out")]
    outside += list(canary.iterdir())
    print(f"fuzz: {count} mutated archives (seed {seed}) from {len(originals)} seeds")
    for outcome, n in outcomes.most_common():
        print(f"  {outcome:<40} {n}")
    print(f"  hangs (over {TIME_LIMIT:.0f} s)                        {outcomes['HANG']}")
    print(f"  files written outside the destination    {len(outside)}")
    print(
        f"  time: mailroom {ours:.1f} s ({1000 * ours / count:.1f} ms a file), "
        f"bsdtar -tf {reference:.1f} s; ratio {ours / reference:.2f}"
    )
    for outcome, example in examples.items():
        print(f"--- {outcome}\n{example}")
    foreign = set(outcomes) - {"ok", "ArchiveError"}
    return not foreign and not outside


BOUNDED_CHILD = """
import json, re, sys, time
from pathlib import Path
from pipeline.media.archives import ArchiveLimits, list_and_extract
budget = int(sys.argv[3])
limits = ArchiveLimits(2 << 30, 1 << 30, 100, 2000, 2, message_bytes_left=budget,
                       message_budget=budget, max_seconds=600)
started = time.monotonic()
contents = list_and_extract(Path(sys.argv[1]), Path(sys.argv[2]), limits)
elapsed = time.monotonic() - started
written = sum(p.stat().st_size for p in Path(sys.argv[2]).rglob("*") if p.is_file())
members = [(m.name, m.status, m.limit) for m in contents.members]
members += [(n.name, n.status, n.limit) for m in contents.members for n in m.nested]
print(json.dumps({"status": contents.status, "error": contents.error, "seconds": elapsed,
                  "rss_mib": int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())[1]) / 1024,
                  "written_mib": written / (1 << 20), "members": members}))
"""


def _read_in_child(archive: Path, dest: Path, budget: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", BOUNDED_CHILD, str(archive), str(dest), str(budget)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout)


def _timed(cmd: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True, timeout=900)
    return time.monotonic() - started


def bounded(root: Path) -> None:
    many = root / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for n in range(100_000):
            zf.writestr(zipfile.ZipInfo(f"{n}.txt"), b"")
    got = _read_in_child(many, root / "many-out", 2 << 30)
    listing = _timed(["bsdtar", "-tf", str(many)])
    print("a zip of 100,000 empty members:")
    print(f"  {got['status']}: {got['error']}")
    print(
        f"  refused in {got['seconds'] * 1000:.1f} ms (bsdtar -tf lists it in {listing:.2f} s; "
        f"ratio {got['seconds'] / listing:.3f}), peak RSS {got['rss_mib']:.0f} MiB"
    )

    rng = random.Random(4)
    inner = []
    for n in range(3):  # one random byte, then 350 zeros: deflate packs it ~90:1
        data = b"".join(bytes([rng.randrange(256)]) + bytes(350) for _ in range(100_000))
        inner.append((f"素材{n + 1}.zip", af.zip_bytes({f"录像{n + 1}.dat": data})))
    outer = root / "three.zip"
    outer.write_bytes(af.zip_bytes(inner, stored=True))
    budget = 64 << 20
    got = _read_in_child(outer, root / "three-out", budget)
    out = root / "three-bsdtar"
    out.mkdir()
    for name, data in inner:
        (out / name).write_bytes(data)
    everything = _timed(["bash", "-c", f"cd {out} && for z in *.zip; do bsdtar -xf $z; done"])
    full = sum(p.stat().st_size for p in out.rglob("*.dat")) / (1 << 20)
    print(f"three zips expanding ~90x each ({outer.stat().st_size / 1e6:.1f} MB), 64 MiB budget:")
    for name, status, limit in got["members"]:
        print(f"  {name}: {status}{f' ({limit})' if limit else ''}")
    print(
        f"  written {got['written_mib']:.0f} MiB of {full:.0f} MiB in {got['seconds']:.1f} s "
        f"(bsdtar -xf writes all in {everything:.1f} s), peak RSS {got['rss_mib']:.0f} MiB"
    )


def speed(root: Path, photos: int) -> None:
    folder = root / "site"
    write_config(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(photos):
            zf.writestr(
                f"活动照片/第{n // 100 + 1}组/照片{n:04d}.jpg", files.jpeg(160 + n % 40, 120)
            )
    zipped = root / "photos.zip"
    zipped.write_bytes(buffer.getvalue())
    mail = folder / "photos.eml"
    mail.write_bytes(
        files.message(
            "大连市活动周照片", [("活动照片.zip", zipped.read_bytes(), "application/zip")]
        )
    )
    out = root / "bsdtar"
    out.mkdir()
    started = time.monotonic()
    subprocess.run(["bsdtar", "-xf", str(zipped), "-C", str(out)], check=True)
    reference = time.monotonic() - started

    mailroom = Path(sys.executable).parent / "mailroom"
    started = time.monotonic()
    result = subprocess.run(
        [str(mailroom), "--config", str(folder / "config.toml"), "ingest", str(mail)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    ours = time.monotonic() - started
    summary = [line for line in result.stdout.splitlines() if line.startswith("media:")]
    print(f"zip of {photos} photos ({len(buffer.getvalue()) / 1e6:.1f} MB):")
    print(f"  mailroom ingest (unpack, file, index, {photos} thumbnails): {ours:.1f} s")
    print(f"  bsdtar -xf (extraction only):                          {reference:.2f} s")
    print(f"  ratio {ours / reference:.0f}; {summary[0] if summary else result.stderr[-500:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--photos", type=int, default=2000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-archives-"))
    try:
        clean = fuzz(root, args.files, args.seed)
        bounded(root)
        speed(root, args.photos)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("fuzz: only the project's own errors" if clean else "fuzz: FOUND FOREIGN ERRORS")
    return 0 if clean else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
