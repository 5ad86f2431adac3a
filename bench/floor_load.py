"""The floor for `dealctl import`: a plain csv + executemany loader, no validation.

    python bench/floor_load.py EMPTY-COPY.db deals.csv

It writes the rows `dealctl import deals.csv` writes into the same schema (the file is a
copy of a dealctl database with no deals): an account and a contact per new name, the
deal, its entry into the stage it starts from (and its closing row when won or lost), one
change-log row per record created, one ``commands`` row, all in one transaction with
``executemany`` on prepared tuples. It checks nothing: no encodings, no dates, no
amounts, no stage names beyond a dictionary lookup. What dealctl does on top of this is
what the ratio measures.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
import time
from datetime import datetime


class _Ids:
    """Time-ordered UUID version 7 text, as dealctl's ids are: new rows land at the end
    of each primary-key index (random ids would make the floor slower than it is)."""

    def __init__(self) -> None:
        self.base = (time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | 0b10 << 62
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        text = f"{self.base | self.count:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def main(db: str, path: str) -> int:
    new_id = _Ids()
    conn = sqlite3.connect(db, isolation_level=None)
    at = datetime.now().astimezone().isoformat(timespec="seconds")
    stages: dict[tuple[str, str], tuple[str, str]] = {}
    last_open: dict[str, str] = {}
    for pkey, pid, skey, sid, kind in conn.execute(
        "SELECT p.key, p.id, s.key, s.id, s.kind FROM stages s"
        " JOIN pipelines p ON p.id = s.pipeline_id ORDER BY p.position, s.position"
    ):
        stages[(pkey, skey)] = (pid, sid)
        if kind == "open":
            last_open[pkey] = sid
    command_id = new_id()
    accounts: dict[str, str] = {}
    contacts: dict[tuple[str, str], str] = {}
    account_rows, contact_rows, deal_rows, move_rows, change_rows = [], [], [], [], []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        col = {name: i for i, name in enumerate(header)}
        for cells in reader:
            values = {name: (cells[i] or None) for name, i in col.items()}
            account_id = None
            if values["account"]:
                account_id = accounts.get(values["account"])
                if account_id is None:
                    account_id = accounts[values["account"]] = new_id()
                    account_rows.append(
                        (account_id, len(accounts), values["account"], values["account"], at, at)
                    )
                    change_rows.append(("account", account_id, values["account"]))
            contact_id = None
            if values["contact"]:
                key = (account_id or "", values["contact"])
                contact_id = contacts.get(key)
                if contact_id is None:
                    contact_id = contacts[key] = new_id()
                    contact_rows.append(
                        (
                            contact_id,
                            len(contacts),
                            account_id,
                            values["contact"],
                            values["contact"],
                            at,
                            at,
                        )
                    )
                    change_rows.append(("contact", contact_id, values["contact"]))
            pipeline_id, stage_id = stages[(values["pipeline"], values["stage"])]
            deal_id = values["id"] or new_id()
            deal_rows.append(
                (
                    deal_id,
                    values["number"],
                    values["title"],
                    account_id,
                    contact_id,
                    pipeline_id,
                    stage_id,
                    values["status"],
                    values["amount"],
                    values["currency"],
                    values["probability"],
                    values["close_date"],
                    values["next_action"],
                    values["next_due"],
                    values["owner"],
                    values["source"],
                    values["tags"] or "",
                    values["purpose"],
                    values["proposal"],
                    values["notes"],
                    values["lost_reason"],
                    values["lost_note"],
                    values["created_at"],
                    values["updated_at"],
                    values["closed_at"],
                    values["last_contact_at"],
                )
            )
            change_rows.append(("deal", deal_id, f"#{values['number']}"))
            entered = last_open[values["pipeline"]] if values["status"] == "won" else stage_id
            move_rows.append((new_id(), deal_id, None, entered, None, "open", values["created_at"]))
            if values["status"] != "open":
                move_rows.append(
                    (
                        new_id(),
                        deal_id,
                        entered,
                        stage_id,
                        "open",
                        values["status"],
                        values["closed_at"] or values["updated_at"],
                    )
                )
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO commands (id, name, args, at) VALUES (?, 'import', ?, ?)",
        (command_id, json.dumps([path]), at),
    )
    conn.executemany(
        "INSERT INTO accounts (id, number, name, name_key, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        account_rows,
    )
    conn.executemany(
        "INSERT INTO contacts (id, number, account_id, name, name_key, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        contact_rows,
    )
    conn.executemany(
        "INSERT INTO deals (id, number, title, account_id, contact_id, pipeline_id, stage_id,"
        " status, amount, currency, probability, close_date, next_action, next_due, owner,"
        " source, tags, purpose, proposal, notes, lost_reason, lost_note, created_at,"
        " updated_at, closed_at, last_contact_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        deal_rows,
    )
    conn.executemany(
        "INSERT INTO stage_changes (id, deal_id, from_stage_id, to_stage_id, from_status,"
        " to_status, at, command_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(*row, command_id) for row in move_rows],
    )
    conn.executemany(
        "INSERT INTO changes (id, command_id, entity, entity_id, field, old, new, at)"
        " VALUES (?, ?, ?, ?, 'created', NULL, ?, ?)",
        [(new_id(), command_id, e, i, new, at) for e, i, new in change_rows],
    )
    conn.execute("COMMIT")
    conn.close()
    print(f"loaded {len(deal_rows)} deals")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
