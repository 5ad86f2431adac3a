"""The schema, as an ordered list of migrations (sqlite-utils ``Migrations``).

Each migration runs in its own transaction together with its record in
``_sqlite_migrations``. Never edit a released migration: add a new one. The
schema rules (UUID text primary keys, no UNIQUE constraint besides primary keys,
soft deletes, an insert-only change log) are pinned by ``tests/test_schema.py``
and explained in ``docs/schema.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlite_utils import Database

SCHEMA_V1 = """
CREATE TABLE pipelines (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE TABLE stages (
    id TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES pipelines(id),
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('open', 'won')),
    probability INTEGER NOT NULL CHECK (probability BETWEEN 0 AND 100),
    rot_days INTEGER,
    created_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    number INTEGER NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    notes TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    number INTEGER NOT NULL,
    account_id TEXT REFERENCES accounts(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    email TEXT,
    email_key TEXT,
    phone TEXT,
    title TEXT,
    notes TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE TABLE deals (
    id TEXT PRIMARY KEY,
    number INTEGER NOT NULL,
    title TEXT NOT NULL,
    account_id TEXT REFERENCES accounts(id),
    contact_id TEXT REFERENCES contacts(id),
    pipeline_id TEXT NOT NULL REFERENCES pipelines(id),
    stage_id TEXT NOT NULL REFERENCES stages(id),
    status TEXT NOT NULL CHECK (status IN ('open', 'won', 'lost')),
    amount INTEGER,
    currency TEXT NOT NULL,
    probability INTEGER CHECK (probability BETWEEN 0 AND 100),
    close_date TEXT,
    next_action TEXT,
    next_due TEXT,
    owner TEXT,
    source TEXT,
    tags TEXT NOT NULL DEFAULT '',
    purpose TEXT,
    proposal TEXT,
    notes TEXT,
    lost_reason TEXT,
    lost_note TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    closed_at TEXT,
    last_contact_at TEXT,
    external_source TEXT,
    external_id TEXT,
    deleted_at TEXT
);
CREATE TABLE deal_contacts (
    id TEXT PRIMARY KEY,
    deal_id TEXT NOT NULL REFERENCES deals(id),
    contact_id TEXT NOT NULL REFERENCES contacts(id),
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE TABLE commands (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    args TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE activities (
    id TEXT PRIMARY KEY,
    deal_id TEXT NOT NULL REFERENCES deals(id),
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    command_id TEXT REFERENCES commands(id),
    deleted_at TEXT
);
CREATE TABLE stage_changes (
    id TEXT PRIMARY KEY,
    deal_id TEXT NOT NULL REFERENCES deals(id),
    from_stage_id TEXT REFERENCES stages(id),
    to_stage_id TEXT NOT NULL REFERENCES stages(id),
    from_status TEXT,
    to_status TEXT NOT NULL CHECK (to_status IN ('open', 'won', 'lost')),
    at TEXT NOT NULL,
    command_id TEXT REFERENCES commands(id),
    deleted_at TEXT
);
CREATE TABLE changes (
    id TEXT PRIMARY KEY,
    command_id TEXT REFERENCES commands(id),
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    field TEXT NOT NULL,
    old TEXT,
    new TEXT,
    at TEXT NOT NULL
);
CREATE INDEX deals_number ON deals (number);
CREATE INDEX deals_due ON deals (status, next_due);
CREATE INDEX deals_stage ON deals (status, stage_id, currency, amount, probability);
CREATE INDEX deals_account ON deals (account_id);
CREATE INDEX deals_external ON deals (external_source, external_id);
CREATE INDEX accounts_name_key ON accounts (name_key);
CREATE INDEX contacts_email_key ON contacts (email_key);
CREATE INDEX contacts_account ON contacts (account_id);
CREATE INDEX deal_contacts_deal ON deal_contacts (deal_id);
CREATE INDEX activities_deal ON activities (deal_id, at);
CREATE INDEX stage_changes_deal ON stage_changes (deal_id, at);
CREATE INDEX stage_changes_to ON stage_changes (to_stage_id, to_status);
CREATE INDEX changes_entity ON changes (entity_id, at);
CREATE INDEX changes_command ON changes (command_id);
CREATE TRIGGER changes_insert_only_update BEFORE UPDATE ON changes
BEGIN SELECT RAISE(ABORT, 'the change log is insert-only'); END;
CREATE TRIGGER changes_insert_only_delete BEFORE DELETE ON changes
BEGIN SELECT RAISE(ABORT, 'the change log is insert-only'); END;
"""

# Accounts that were merged, the buying committee (stakeholder roles and notes), BANT
# qualification and the approval route (稟議) of a deal.
SCHEMA_V2_COMMITTEE = """
ALTER TABLE accounts ADD COLUMN merged_into_id TEXT REFERENCES accounts(id);
ALTER TABLE deal_contacts ADD COLUMN notes TEXT;
ALTER TABLE deal_contacts ADD COLUMN updated_at TEXT;
ALTER TABLE deal_contacts ADD COLUMN command_id TEXT REFERENCES commands(id);
CREATE TABLE qualifications (
    id TEXT PRIMARY KEY,
    deal_id TEXT NOT NULL REFERENCES deals(id),
    budget_status TEXT CHECK (budget_status IN ('known', 'unknown')),
    budget INTEGER,
    budget_currency TEXT,
    authority TEXT,
    authority_contact_id TEXT REFERENCES contacts(id),
    need TEXT,
    timing TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    command_id TEXT REFERENCES commands(id),
    deleted_at TEXT
);
CREATE TABLE approval_steps (
    id TEXT PRIMARY KEY,
    deal_id TEXT NOT NULL REFERENCES deals(id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    done_on TEXT,
    note TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    command_id TEXT REFERENCES commands(id),
    deleted_at TEXT
);
CREATE INDEX accounts_merged_into ON accounts (merged_into_id);
CREATE INDEX deal_contacts_contact ON deal_contacts (contact_id);
CREATE INDEX qualifications_deal ON qualifications (deal_id);
CREATE INDEX approval_steps_deal ON approval_steps (deal_id, position)
"""

# Indexes shaped after what `due`, `pipeline`, `forecast` and `funnel` filter, group and
# read, so each report reads an index instead of the wide deals rows (bench/RESULTS.md
# has the figures; tests/test_query_plans.py pins the plans). Every one leads with the
# columns the deal view always constrains (status or pipeline, then deleted_at IS NULL).
# Three indexes of 0001 are replaced by wider ones with the same leading columns.
SCHEMA_V3_REPORT_INDEXES = """
DROP INDEX IF EXISTS deals_due;
CREATE INDEX deals_next ON deals (status, deleted_at, next_due, number);
CREATE INDEX deals_no_next ON deals (status, deleted_at, number)
    WHERE status = 'open' AND (next_action IS NULL OR next_due IS NULL);
DROP INDEX IF EXISTS deals_stage;
CREATE INDEX deals_open ON deals (
    status, deleted_at, stage_id, currency, amount, probability, close_date, closed_at,
    created_at, last_contact_at, id
);
CREATE INDEX deals_pipeline ON deals (pipeline_id, deleted_at, id, status, stage_id, created_at);
DROP INDEX IF EXISTS stage_changes_deal;
CREATE INDEX stage_changes_live ON stage_changes (deal_id, deleted_at, at, to_stage_id, to_status)
"""

# Who ran each command (``Store.transaction``): ``user@host (terminal)`` or ``(script)``, or
# ``DEALCTL_ACTOR``. Commands recorded before this migration keep NULL: not known.
SCHEMA_V4_COMMAND_ACTOR = """
ALTER TABLE commands ADD COLUMN actor TEXT
"""

# sqlite-utils keeps its record of applied migrations in a table with an integer key and a
# UNIQUE index; rebuilt here in the file's own rules (a UUID text key, no UNIQUE index), in
# the same order, so the bookkeeping too can live beside a row-level sync engine.
SCHEMA_V5_BOOKKEEPING = """
CREATE TABLE _sqlite_migrations_rebuilt (
    id TEXT PRIMARY KEY DEFAULT (
        lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
        || substr(lower(hex(randomblob(2))), 2) || '-'
        || substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2)
        || '-' || lower(hex(randomblob(6)))
    ),
    migration_set TEXT,
    name TEXT,
    applied_at TEXT
);
INSERT INTO _sqlite_migrations_rebuilt (migration_set, name, applied_at)
    SELECT migration_set, name, applied_at FROM _sqlite_migrations ORDER BY rowid;
DROP TABLE _sqlite_migrations;
ALTER TABLE _sqlite_migrations_rebuilt RENAME TO _sqlite_migrations
"""

# Each deal's latest live stage-change moment, kept on the deal (``moved_at``), so the
# reports that age open deals read it from one covering index instead of seeking each
# deal's history. Commands that write stage history keep it; the trigger keeps it when a
# history row is soft-deleted or brought back (undo, redo), whichever command wrote it.
# The backfill is one statement, each deal's latest moment one seek in stage_changes_live
# (about 6 s for a million deals, as fast as UPDATE ... FROM, which needs SQLite 3.33).
# deals_open_idle replaces deals_open of 0003 with the same columns plus moved_at and,
# after the currency, the day a deal was last active (analytics._LAST_ACTIVE), so
# `pipeline` groups open deals by it in index order, with no sort.
SCHEMA_V6_DEAL_MOVED_AT = """
ALTER TABLE deals ADD COLUMN moved_at TEXT;
UPDATE deals SET moved_at = (SELECT MAX(sc.at) FROM stage_changes sc
    WHERE sc.deal_id = deals.id AND sc.deleted_at IS NULL);
DROP INDEX IF EXISTS deals_open;
CREATE INDEX deals_open_idle ON deals (
    status, deleted_at, stage_id, currency,
    substr(MAX(created_at, COALESCE(last_contact_at, ''), COALESCE(moved_at, '')), 1, 10),
    amount, probability, close_date, closed_at, created_at, last_contact_at, moved_at, id
);
CREATE TRIGGER stage_changes_moved_at AFTER UPDATE OF deleted_at ON stage_changes
BEGIN UPDATE deals SET moved_at = (SELECT MAX(sc.at) FROM stage_changes sc
    WHERE sc.deal_id = NEW.deal_id AND sc.deleted_at IS NULL) WHERE id = NEW.deal_id; END
"""

# The funnel reads every live stage change of a pipeline's deals, leaving stages as well as
# entering them: with from_stage_id and from_status in the index too, it reads the index
# alone instead of also seeking each row (about a quarter of its time on a 100k book).
SCHEMA_V7_STAGE_HISTORY_COVERING = """
DROP INDEX IF EXISTS stage_changes_live;
CREATE INDEX stage_changes_live ON stage_changes (
    deal_id, deleted_at, at, to_stage_id, to_status, from_stage_id, from_status
)
"""

# Every migration, in the order it is applied: (name, SQL script). Append new ones at
# the end; never edit or reorder a released one.
STEPS: list[tuple[str, str]] = [
    ("0001_initial", SCHEMA_V1),
    ("0002_accounts_committee_bant", SCHEMA_V2_COMMITTEE),
    ("0003_report_indexes", SCHEMA_V3_REPORT_INDEXES),
    ("0004_command_actor", SCHEMA_V4_COMMAND_ACTOR),
    ("0005_bookkeeping_without_unique", SCHEMA_V5_BOOKKEEPING),
    ("0006_deal_moved_at", SCHEMA_V6_DEAL_MOVED_AT),
    ("0007_stage_history_covering", SCHEMA_V7_STAGE_HISTORY_COVERING),
]

# Stored in PRAGMA user_version, so opening a current database needs no sqlite_utils.
SCHEMA_VERSION = len(STEPS)


def _statements(script: str) -> list[str]:
    """A script split into statements (a trigger body keeps its inner semicolons)."""
    return [part for part in script.split(";\n") if part.strip()]


def _build() -> Any:
    from sqlite_utils.migrations import Migrations

    migrations = Migrations("dealctl")
    for name, script in STEPS:

        def step(db: Database, script: str = script) -> None:
            for statement in _statements(script):
                db.execute(statement)

        migrations(name=name)(step)
    return migrations


def apply(conn: Any) -> None:
    """Apply every pending migration on ``conn`` (a stdlib sqlite3 connection)."""
    from sqlite_utils import Database

    db = Database(conn, execute_plugins=False)
    _build().apply(db)
