"""The application context: config, index database and archive, opened once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.identify import Sender
from pipeline.units import UnitDirectory
from storage.archive import Archive
from storage.db import Database
from storage.models import SenderAddress, Unit
from workers.config import Config

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    """What every command and job works with."""

    config: Config
    db: Database
    archive: Archive
    _directory: tuple[dict, UnitDirectory] | None = field(default=None, repr=False, compare=False)

    @property
    def campaign(self):
        return self.config.campaign

    def department(self) -> Sender:
        dept = self.config.department
        return Sender(addresses=dept.addresses, domains=dept.domains)

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

    def close(self) -> None:
        self.db.dispose()


def open_context(config: Config, *, migrate: bool = True) -> AppContext:
    """Returns a ready context: schema migrated, unit registry copied into the index."""
    db = Database(config.storage.database_url)
    if migrate:
        db.migrate()
        sync_units(db, config)
    config.storage.archive_dir.mkdir(parents=True, exist_ok=True)
    from workers.scale_config import blob_store  # [storage] backend: local folder or S3

    return AppContext(
        config=config, db=db, archive=Archive(config.storage.archive_dir, store=blob_store(config))
    )


def sync_units(db: Database, config: Config) -> None:
    """Copies the configured unit registry into the index; units no longer listed go inactive."""
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
