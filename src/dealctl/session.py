"""What one command runs with: the database, the settings and the clock."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path

from dealctl import config as config_mod
from dealctl import dates
from dealctl.storage import Store, default_db_path


@dataclass
class Session:
    """An open database with the settings and the moment a command runs at."""

    store: Store
    config: config_mod.Config
    zone: tzinfo
    now: datetime
    created: bool = False

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def stamp(self) -> str:
        """The command's moment as stored: ISO 8601 with the local offset."""
        return dates.iso_now(self.now)

    def close(self) -> None:
        self.store.close()


def clock(
    cfg: config_mod.Config, environ: Mapping[str, str] | None = None
) -> tuple[tzinfo, datetime]:
    """The user's zone and the current moment in it (``DEALCTL_NOW`` fixes it)."""
    env = os.environ if environ is None else environ
    zone = dates.local_zone(cfg.timezone)
    return zone, dates.now(zone, env)


def open_session(
    db: Path | None, *, write: bool, environ: Mapping[str, str] | None = None
) -> Session:
    """Load settings, open (or, for a write, create) the database."""
    env = os.environ if environ is None else environ
    cfg = config_mod.load(env)
    zone, moment = clock(cfg, env)
    path = db if db is not None else default_db_path(env)
    store, created = Store.open(path, create=write, environ=env)
    return Session(store=store, config=cfg, zone=zone, now=moment, created=created)
