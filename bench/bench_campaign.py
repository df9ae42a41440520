"""Campaign decision benchmark: filing time per message with the decision and without it.

Files the labelled corpus and the mixed mailbox (tests/data/, 116 messages with two
campaigns open) `--rounds` times into fresh indexes, in-process, as `mailroom ingest`
does: once as shipped, and once with the campaign decision replaced by a fixed answer
and no campaign look-ups in the index (the reference, what filing cost before). The
two are interleaved round by round, since the machine is shared, and each message is
made new every round (its Message-ID and bytes) so nothing is skipped as a duplicate.
Media jobs are not run (they are the same either way). Wall and CPU time are both
printed; the verdict uses CPU time (this process's own work) of each side's fastest
round, because on a shared machine the wall time of fsyncs and of waiting for a core,
and even CPU time, swing by more than the 10% the issue allows, and other users only
ever add time. The issue asks for a ratio of at most 1.10.

Run: .venv/bin/python bench/bench_campaign.py [--rounds 8]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pipeline.decide as decide  # noqa: E402
from pipeline.campaign_match import CAMPAIGN, CampaignBook, CampaignMatch  # noqa: E402
from tests.conftest import DATA, LABELLED, write_config  # noqa: E402
from workers.app import AppContext, open_context  # noqa: E402
from workers.config import load_config  # noqa: E402
from workers.evaluate import open_notices  # noqa: E402
from workers.ingest import Ingestor, SourceRef  # noqa: E402
from workers.jobs.local import InProcessJobs  # noqa: E402

MONTH = f"{DATA / 'notices' / 'notice-2023-skills-month.md'}=2023-skills-month"
LIMIT = 1.10


def corpus() -> list[bytes]:
    paths = sorted(LABELLED.glob("*.eml")) + sorted((DATA / "mixed").glob("*.eml"))
    return [p.read_bytes() for p in paths]


def fresh(raw: bytes, n: int) -> bytes:
    """Returns the message with a new Message-ID and one more header: new bytes, same mail."""
    raw = re.sub(rb"(?im)^Message-ID:\s*<", b"Message-ID: <bench%d." % n, raw, count=1)
    return b"X-Bench-Round: %d\r\n" % n + raw


class NoMedia(InProcessJobs):
    def submit_media(self, *args, **kwargs) -> None:  # derivatives: the same either way
        return None


@contextmanager
def without_campaign_decision(ctx: AppContext):
    """Files every message under the first campaign, with no look-up and no decision."""
    first = ctx.open_campaigns()[0]
    fixed = CampaignMatch(first.code, 1.0, "strong", outcome=CAMPAIGN)
    saved = (decide.decide_campaign, ctx.campaign_book)
    decide.decide_campaign = lambda *args, **kwargs: fixed
    ctx.campaign_book = lambda session, parsed: CampaignBook((first,))
    try:
        yield
    finally:
        decide.decide_campaign, ctx.campaign_book = saved


def file_all(ctx: AppContext, messages: list[bytes], round_no: int) -> tuple[float, float]:
    """Returns the (wall, CPU) seconds it took to file the messages."""
    ingestor = Ingestor(ctx, "bench")
    start, cpu = time.perf_counter(), time.process_time()
    for n, raw in enumerate(messages):
        ingestor.ingest(fresh(raw, round_no * 10_000 + n), SourceRef("file", f"{n}.eml"))
    elapsed = time.perf_counter() - start, time.process_time() - cpu
    ingestor.finish()
    return elapsed


def site(folder: Path) -> AppContext:
    ctx = open_context(load_config(write_config(folder)))
    ctx.jobs = NoMedia(ctx)
    open_notices(ctx, [MONTH])
    return ctx


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    messages = corpus()
    with tempfile.TemporaryDirectory(prefix="mailroom-bench-campaign-") as tmp:
        with_it, without_it = site(Path(tmp, "with")), site(Path(tmp, "without"))
        file_all(with_it, messages[:5], 99)  # warm caches (zhconv, vocabularies) on both
        with without_campaign_decision(without_it):
            file_all(without_it, messages[:5], 99)
        rounds: list[tuple[tuple[float, float], tuple[float, float]]] = []
        for round_no in range(args.rounds):
            # Alternate which goes first: load from the machine's other users falls on both.
            first_with = round_no % 2 == 0
            if first_with:
                timed_with = file_all(with_it, messages, round_no)
            with without_campaign_decision(without_it):
                timed_without = file_all(without_it, messages, round_no)
            if not first_with:
                timed_with = file_all(with_it, messages, round_no)
            rounds.append((timed_with, timed_without))
        with_it.close()
        without_it.close()
    n = len(messages)
    print(f"messages filed per round: {n} (two campaigns open), rounds: {args.rounds}")
    for label, i in (("wall", 0), ("CPU", 1)):
        with_ms = statistics.median(r[0][i] for r in rounds) / n * 1000
        without_ms = statistics.median(r[1][i] for r in rounds) / n * 1000
        ratio = statistics.median(r[0][i] / r[1][i] for r in rounds)
        print(
            f"{label:>4}: without the campaign decision {without_ms:.1f} ms per message, "
            f"with it {with_ms:.1f} ms; ratio {ratio:.3f} (median of rounds)"
        )
    # Another user's work only ever adds time: the fastest round of each is the least
    # disturbed measure of the work itself.
    cpu_ratio = min(r[0][1] for r in rounds) / min(r[1][1] for r in rounds)
    print(f"ratio (CPU time, fastest round of each): {cpu_ratio:.3f} (limit {LIMIT:.2f})")
    return 0 if cpu_ratio <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
