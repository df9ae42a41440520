"""The application context: config, index, archive and job dispatcher, opened once per process.

Every command, scheduled job, worker task and web request works with one
AppContext. It is the composition root: `open_context` chooses the job
dispatcher (in-process, or the broker when asked for), so the modules that
submit jobs call `ctx.jobs` and never choose for themselves.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline.campaign import Campaign
from pipeline.campaign_match import CampaignBook
from pipeline.decide import Rules, decide_unit
from pipeline.errors import MailroomError
from pipeline.identify import Sender, UnitMatch
from pipeline.message import ParsedMessage
from pipeline.units import Unit as UnitConfig
from pipeline.units import UnitDirectory
from storage import campaigns as campaign_store
from storage.archive import Archive
from storage.blobstore import BlobStore, LocalBlobStore, S3BlobStore
from storage.db import Database
from storage.filing import Place
from storage.models import Message, SenderAddress, Unit
from workers.config import Config

if TYPE_CHECKING:
    from workers.jobs import Jobs

log = logging.getLogger(__name__)
# Third-party loggers that say too much at INFO (pypdf: a screen of font warnings per PDF).
_QUIET = {
    "mailparser": logging.WARNING,
    "alembic": logging.WARNING,
    "imapclient": logging.WARNING,
    "apscheduler": logging.WARNING,
    "pypdf": logging.ERROR,
    # extract-msg logs a damaged .msg at ERROR (and each property it cannot map), olefile
    # each repair: a .msg that cannot be read is one WARNING line from workers.ingest.
    "extract_msg": logging.CRITICAL,
    "olefile": logging.CRITICAL,
    "RTFDE": logging.CRITICAL,
}


def setup_logging(level: str) -> None:
    """Sends log lines to stderr as `time LEVEL logger: message`, third parties quietened."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    quiet_third_parties()


def quiet_third_parties() -> None:
    """Raises the level of the third-party loggers that say too much (every process does)."""
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(quiet)


@dataclass
class AppContext:
    """What every command and job works with."""

    config: Config
    db: Database
    archive: Archive
    jobs: Jobs = field(default=None, repr=False)  # type: ignore[assignment]  # set by open_context
    rules: Rules = field(default=None, repr=False)  # type: ignore[assignment]
    # Ingestors by source label: one ingestion run per process and source, not per message.
    ingestors: dict[str, Any] = field(default_factory=dict, repr=False)
    _directory: tuple[dict, UnitDirectory] | None = field(default=None, repr=False, compare=False)
    _campaigns: tuple[tuple, tuple[Campaign, ...]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def campaign(self) -> Campaign:
        """The campaign config seeds: its time zone gives days where no campaign is chosen."""
        return self.config.campaign

    def campaigns(self, session: Session | None = None) -> tuple[Campaign, ...]:
        """Returns every campaign in the index, open ones first (re-read when one changes)."""
        if session is None:
            with self.db.session() as own:
                return self.campaigns(own)
        stamp = campaign_store.revision(session)
        cached = self._campaigns
        if cached is None or cached[0] != stamp:
            cached = self._campaigns = (stamp, tuple(campaign_store.load_campaigns(session)))
        return cached[1]

    def open_campaigns(self, session: Session | None = None) -> tuple[Campaign, ...]:
        return tuple(c for c in self.campaigns(session) if c.is_open)

    def campaign_by_code(self, code: str | None, session: Session | None = None) -> Campaign | None:
        return next((c for c in self.campaigns(session) if c.code == code), None) if code else None

    def choose_campaign(self, code: str | None = None) -> Campaign:
        """Returns the campaign `code`, or the only open one; an error names the choices."""
        every = self.campaigns()
        if code:
            found = next((c for c in every if c.code == code), None)
            if found is None:
                raise MailroomError(
                    f"no campaign {code!r}; campaigns are: {', '.join(c.code for c in every)}"
                )
            return found
        opened = [c for c in every if c.is_open]
        if len(opened) == 1:
            return opened[0]
        if not opened:
            raise MailroomError("no campaign is open; name one with --campaign CODE")
        raise MailroomError(
            "several campaigns are open; choose one with --campaign CODE: "
            + ", ".join(c.code for c in opened)
        )

    def place_of(self, message: Message, session: Session | None = None) -> Place:
        """Returns where the message's files go: its campaign's tree, 其他来件 or 待分拣."""
        status = message.campaign_status or campaign_store.ASSIGNED
        return Place(
            self.campaign_by_code(message.campaign_code, session), status, self.campaign.tz
        )

    def campaign_book(self, session: Session, parsed: ParsedMessage) -> CampaignBook:
        """Returns the open campaigns with what the campaign decision needs from the index."""
        refs = [parsed.in_reply_to, *parsed.header("references").split()]
        refs = [r.strip()[:998] for r in refs if r and r.strip()]

        def history(unit: str) -> frozenset[str]:  # asked at most once, after the unit is known
            with self.db.session() as own:
                return campaign_store.unit_history(own, unit)

        return CampaignBook(
            self.open_campaigns(session),
            campaign_store.thread_campaigns(session, refs),
            history,
        )

    @property
    def units(self) -> tuple[UnitConfig, ...]:
        return self.config.units

    def department(self) -> Sender:
        return self.rules.department

    def unit_directory(self, session: Session | None = None) -> UnitDirectory:
        """Returns the units from config plus the sender addresses learned from triage."""
        query = select(SenderAddress.address, SenderAddress.unit_code).where(
            SenderAddress.source == "learned"
        )
        if session is None:
            with self.db.session() as own:
                learned = dict(own.execute(query).all())
        else:
            learned = dict(session.execute(query).all())
        cached = self._directory
        if cached is None or cached[0] != learned:  # building it costs ms; messages come in runs
            cached = self._directory = (learned, UnitDirectory(self.config.units, learned))
        return cached[1]

    def decide_unit(self, raw: bytes, directory: UnitDirectory) -> UnitMatch:
        """Returns the unit decision for a stored raw message, as ingestion makes it."""
        from pipeline.parse import parse_message  # the parser: only when a message is re-read

        return decide_unit(parse_message(raw), directory, self.rules)

    def plan_kinds(self, raw: bytes, campaign: Campaign | None, received) -> list:
        """Returns the item plans of a stored raw message as `campaign` (None: 其他来件) sees
        its kinds: what ingestion would have planned had it decided that campaign."""
        from pipeline.classify import plan_items
        from pipeline.decide import NO_CAMPAIGN, no_kind
        from pipeline.doctext import document_texts
        from pipeline.parse import parse_message

        parsed = parse_message(raw)
        plans = plan_items(
            parsed,
            campaign or NO_CAMPAIGN,
            received,
            documents=document_texts(parsed.parts),
            decorative_max_bytes=self.rules.decorative_max_bytes,
            decorative_max_pixels=self.rules.decorative_max_pixels,
        )
        return plans if campaign is not None else [no_kind(p) for p in plans]

    def submit_queued_media(self, job_ids: list[int]) -> int:
        """Submits media jobs already queued in the index (the web UI queues, then calls this).

        With no pool or broker in this process they wait in the index for `mailroom run`.
        """
        from workers.media.jobs import refs_of

        with self.db.session() as session:
            refs = refs_of(session, job_ids)
        return self.jobs.submit_media(refs)

    def save_daily_report(self, day: date) -> None:
        """Makes and saves one past day's daily report without mailing it (the web's button)."""
        from workers.reports.outputs import make_daily_report

        now = datetime.now(self.campaign.tz)
        make_daily_report(self, self.config.reports, day, now, send=False)

    def close(self) -> None:
        self.db.dispose()


def open_context(config: Config, *, migrate: bool = True, distributed: bool = False) -> AppContext:
    """Returns a ready context: schema migrated, unit registry copied into the index.

    `distributed`: jobs go to the broker of [queue] (the scheduler, the workers);
    otherwise they run in this process.
    """
    db = Database(config.storage.database_url)
    if migrate:
        db.migrate()
        sync_units(db, config)
        campaign_store.seed(db, config.campaign)
    archive = Archive(config.storage.archive_dir, store=blob_store(config))
    with archive.writing():
        config.storage.archive_dir.mkdir(parents=True, exist_ok=True)
    ctx = AppContext(config=config, db=db, archive=archive, rules=rules_of(config))
    ctx.jobs = _jobs(ctx, distributed and config.queue.distributed)
    return ctx


def rules_of(config: Config) -> Rules:
    """Returns what the pipeline's decisions need from config."""
    dept = config.department
    return Rules(
        campaign=config.campaign,
        department=Sender(addresses=dept.addresses, domains=dept.domains),
        threshold=config.identify.confident_threshold,
        decorative_max_bytes=config.identify.decorative_max_bytes,
        decorative_max_pixels=config.identify.decorative_max_pixels,
    )


def _jobs(ctx: AppContext, distributed: bool) -> Jobs:
    if distributed:
        from workers.jobs.celery import CeleryJobs, make_celery

        return CeleryJobs(make_celery(ctx.config.queue), ctx.config.queue)
    from workers.jobs.local import InProcessJobs

    return InProcessJobs(ctx)


def blob_store(config: Config) -> BlobStore:
    """Returns the archive's object store chosen by [storage] backend (local or s3)."""
    if config.storage.backend == "s3" and config.storage.s3 is not None:
        return S3BlobStore(config.storage.s3)
    return LocalBlobStore(config.storage.archive_dir)


def sync_units(db: Database, config: Config) -> None:
    """Copies the configured unit registry into the index; units no longer listed go inactive.

    Several processes opening a fresh index at once may insert the same unit: the one
    that loses the race finds the rows there the second time.
    """
    try:
        _sync_units(db, config)
    except IntegrityError:
        _sync_units(db, config)


def _sync_units(db: Database, config: Config) -> None:
    with db.session() as session:
        existing = {u.code: u for u in session.scalars(select(Unit))}
        for unit in config.units:
            row = existing.pop(unit.code, None)
            if row is None:
                session.add(Unit(code=unit.code, name=unit.name, type=unit.type, active=True))
            else:
                row.name, row.type, row.active = unit.name, unit.type, True
        for row in existing.values():
            row.active = False
