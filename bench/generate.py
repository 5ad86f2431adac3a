"""A deterministic book of N deals, written straight into a dealctl database and as a CSV.

    python bench/generate.py 100000                 # -> bench/out/100000/{deals.db,deals.csv,...}
    python bench/generate.py 1000000 --seed 7 --out /tmp/b

The same size and seed give the same rows (ids, numbers, names, amounts, dates), so
figures from two machines describe the same data. The clock is fixed at ``NOW``
(run dealctl with ``DEALCTL_NOW`` set to it, as bench/run.py does).

What is in it, by design:
- accounts: one for every four deals, half Japanese (株式会社…, …工業) and half English;
  one contact each;
- deals: created over three years (numbers follow creation), 90 % in the b2b pipeline,
  10 % in b2c; log-normal yen amounts (median ¥1.5M, a few without an amount); about a
  tenth with a hand-set probability; won, lost (with a configured reason) or open by age;
- stage history: every deal entered its pipeline's first stage when it was created and
  moved forward (sometimes skipping a stage) to where it is; won and lost deals have
  their closing row;
- follow-ups: zero to three per deal (``activities``), the latest one is ``last_contact_at``;
- next actions: open deals have one, due in the next weeks, except about 4 % overdue,
  3 % due today (a fifth of those at a time of day) and 4 % with no next action at all;
- the change log: one ``created``/``imported`` row per account, contact and deal under
  one ``import`` command, as an import writes.

The database is made by dealctl itself (its migrations and the default pipelines), then
filled with ``executemany`` in one transaction. ``deals.csv`` holds the same deals in
dealctl's own layout (``dealctl import`` reads it back), ``empty.db`` is the same schema
and pipelines with no deals (the starting point of the import runs).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import shutil
import sqlite3
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

NOW = "2026-12-03T09:00:00+09:00"
SEED = 7
JST = timezone(timedelta(hours=9))
OUT = Path(__file__).resolve().parent / "out"


def _words(text: str, sep: str = " ") -> tuple[str, ...]:
    return tuple(text.split(sep))


_JP_WORDS = _words(
    "山城 北辰 東和 大和 三栄 富士 日進 中央 光洋 太平 協和 旭 昭和 丸紅 共栄 明星 桜井 "
    "緑川 白石 青葉 朝日 千代田 関東 関西 瀬戸 湊 若葉 高砂 松風 藤田 岡本 星野 菱和 "
    "双葉 長谷 松浦 宮田 杉本 金剛 平和"
)
_JP_KINDS = _words(
    "精機 工業 商事 製作所 システムズ 物産 電機 化学 建設 運輸 食品 印刷 ソリューションズ 技研"
)
_JP_PLACES = _words(
    "北海道 青森 岩手 宮城 秋田 山形 福島 茨城 栃木 群馬 埼玉 千葉 東京 神奈川 新潟 富山 "
    "石川 福井 山梨 長野 岐阜 静岡 愛知 三重 滋賀 京都 大阪 兵庫 奈良 和歌山 鳥取 島根 "
    "岡山 広島 山口 徳島 香川 愛媛 高知 福岡 佐賀 長崎 熊本 大分 宮崎 鹿児島 沖縄"
)
_EN_WORDS = _words(
    "Northwind Contoso Fabrikam Tailspin Litware Adventure Proseware Wingtip Alpine "
    "Blue Coho Lucerne Margie Trey Wide Humongous Fourth Graphic Consolidated "
    "Southridge Woodgrove Datum Relecloud Bellows Lamna Cascade Summit Harbor "
    "Granite Maple Cedar Falcon Orion Pioneer Redwood Silver Sterling Vertex Beacon "
    "Meridian"
)
_EN_KINDS = _words(
    "Traders Systems Foods Logistics Analytics Robotics Energy Media Partners Labs "
    "Holdings Software"
)
_EN_FORMS = _words("Ltd|Inc.|K.K.|Corporation|Japan K.K.|LLC|Co., Ltd.", "|")
_JP_SURNAMES = _words(
    "佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田 佐々木 松本 井上"
)
_JP_GIVEN = _words("一郎 健太 大輔 翔太 直樹 美咲 陽子 恵 由美 花子 真一 和也 彩 智子 拓也")
_EN_GIVEN = _words("Alice Bob Carol David Emma Frank Grace Henry Irene Jack Kate Liam Mia Noah")
_EN_SURNAMES = _words("Morgan Smith Chen Garcia Brown Wilson Taylor Clark Lewis Walker Young King")
_JP_TITLES = _words(
    "基幹システム更新|生産管理クラウド導入|在庫管理刷新|追加ライセンス|保守契約更新|"
    "データ連携基盤|営業支援ツール導入|勤怠管理移行|EC サイト改修|セキュリティ診断",
    "|",
)
_EN_TITLES = _words(
    "ERP Upgrade|Inventory Sync Integration|Additional Licences|Support Renewal|"
    "Data Platform|Sales Enablement Rollout|Payroll Migration|Web Store Revamp|"
    "Security Assessment|Analytics Pilot",
    "|",
)
_JP_ACTIONS = _words("見積の回答確認 提案書送付 初回訪問 デモ日程調整 契約書ドラフト送付")
_EN_ACTIONS = _words("Follow up on quote|Send proposal|Kick-off call|Schedule demo|Send MSA", "|")
_JP_NOTES = _words("課題をヒアリング|部長同席で打合せ|競合と比較中|予算確保済み", "|")
_EN_NOTES = _words("Discussed requirements|Met the IT director|Comparing vendors", "|")
_KINDS = _words("call email meeting demo document note")
_OWNERS = _words("佐藤 鈴木 高橋 Smith Chen Garcia")
_SOURCES = _words("referral outbound inbound web event partner")
_TAGS = _words("hot upsell 紹介 renewal key-account")


@dataclass
class Book:
    """What was generated: row counts and the files."""

    size: int
    seed: int
    folder: Path
    counts: dict[str, int]
    seconds: float

    @property
    def db(self) -> Path:
        return self.folder / "deals.db"

    @property
    def csv(self) -> Path:
        return self.folder / "deals.csv"

    @property
    def empty_db(self) -> Path:
        return self.folder / "empty.db"


def _uuid7(millis: int, rng: random.Random) -> str:
    """A UUID version 7 for a moment, with its random bits from ``rng`` (reproducible)."""
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= rng.getrandbits(12) << 64
    value |= 0b10 << 62
    value |= rng.getrandbits(62)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def bench_env(folder: Path) -> dict[str, str]:
    """The variables every bench run of dealctl gets: fixed clock and zone, private folders."""
    return {
        "DEALCTL_NOW": NOW,
        "TZ": "Asia/Tokyo",
        "DEALCTL_CONFIG": str(folder / "no-config.toml"),
        "XDG_CONFIG_HOME": str(folder / "xdg-config"),
        "XDG_DATA_HOME": str(folder / "xdg-data"),
    }


def create_empty(path: Path, folder: Path) -> None:
    """A dealctl database with its schema and the default pipelines, and no deals.

    Made by dealctl's own code, so it is exactly what a first command would create.
    """
    from dealctl import catalogue
    from dealctl.session import open_session

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    env = bench_env(folder)
    session = open_session(path, write=True, environ=env)
    try:
        with session.store.transaction("init", [], session.stamp):
            catalogue.sync(session.store, session.config, session.stamp)
        session.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        session.close()


def _accounts(count: int, rng: random.Random) -> list[tuple[str, bool]]:
    """Distinct company names (distinct after dealctl's normalisation), half Japanese."""
    from dealctl.text import company_key

    seen: set[str] = set()
    out: list[tuple[str, bool]] = []
    while len(out) < count:
        japanese = len(out) % 2 == 0
        if japanese:
            core = rng.choice(_JP_WORDS) + rng.choice(_JP_KINDS)
            if rng.random() < 0.5:
                core = rng.choice(_JP_PLACES) + core
            name = f"株式会社{core}" if rng.random() < 0.7 else f"{core}株式会社"
        else:
            core = f"{rng.choice(_EN_WORDS)} {rng.choice(_EN_KINDS)}"
            if rng.random() < 0.5:
                core = f"{rng.choice(_EN_WORDS)} {core}"
            name = f"{core} {rng.choice(_EN_FORMS)}"
        key = company_key(name)
        if key in seen:
            # Past the combinations' reach (a million deals): a branch keeps names apart.
            name = f"{name} {rng.choice(_JP_PLACES) if japanese else 'Branch'} {len(out)}"
            key = company_key(name)
        seen.add(key)
        out.append((name, japanese))
    return out


def generate(size: int, folder: Path, seed: int = SEED) -> Book:
    """Write ``deals.db``, ``deals.csv``, ``empty.db`` and ``meta.json`` into ``folder``."""
    from dealctl import migrations
    from dealctl.config import load
    from dealctl.text import company_key, email_key, norm
    from dealctl.transfer import DEAL_FIELDS

    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"dealctl-bench-{seed}-{size}")
    now = datetime.fromisoformat(NOW)
    today = now.date()
    create_empty(folder / "empty.db", folder)
    db = folder / "deals.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(folder / "empty.db", db)
    db.chmod(0o600)

    config = load(bench_env(folder))
    conn = sqlite3.connect(db, isolation_level=None)
    stages: dict[str, list[tuple[str, str, str]]] = {}  # pipeline key -> [(id, key, kind)]
    pipeline_ids: dict[str, str] = {}
    for row in conn.execute(
        "SELECT p.key, p.id, s.id, s.key, s.kind FROM stages s"
        " JOIN pipelines p ON p.id = s.pipeline_id ORDER BY p.position, s.position"
    ):
        pipeline_ids[row[0]] = row[1]
        stages.setdefault(row[0], []).append((row[2], row[3], row[4]))
    reasons = list(config.lost_reasons)

    command_id = _uuid7(_millis(now), rng)
    stamp = NOW
    accounts = []
    contacts = []
    changes = []
    account_names = _accounts(max(1, size // 4), rng)
    for number, (name, japanese) in enumerate(account_names, start=1):
        account_id = _uuid7(_millis(now) - 10_000_000 + number, rng)
        accounts.append((account_id, number, name, company_key(name), stamp, stamp))
        changes.append(("account", account_id, "created", name))
        if japanese:
            person = f"{rng.choice(_JP_SURNAMES)} {rng.choice(_JP_GIVEN)}"
            email = None
        else:
            given, surname = rng.choice(_EN_GIVEN), rng.choice(_EN_SURNAMES)
            person = f"{given} {surname}"
            email = f"{given}.{surname}{number}@example.com".lower()
        contact_id = _uuid7(_millis(now) - 5_000_000 + number, rng)
        contacts.append(
            (
                contact_id,
                number,
                account_id,
                person,
                norm(person),
                email,
                email_key(email) if email else None,
                stamp,
                stamp,
            )
        )
        changes.append(("contact", contact_id, "created", person))

    # Creation moments first, so numbers follow creation as they do in real use.
    span = 3 * 365 * 24 * 3600
    ages = (rng.expovariate(1 / (300 * 86400)) for _ in range(size))
    births = sorted(
        now - timedelta(seconds=3600 + int(a if a < span else rng.uniform(0, span))) for a in ages
    )
    deal_columns = [
        "id",
        "number",
        "title",
        "account_id",
        "contact_id",
        "pipeline_id",
        "stage_id",
        "status",
        "amount",
        "currency",
        "probability",
        "close_date",
        "next_action",
        "next_due",
        "owner",
        "source",
        "tags",
        "purpose",
        "proposal",
        "notes",
        "lost_reason",
        "lost_note",
        "created_at",
        "updated_at",
        "closed_at",
        "last_contact_at",
        "moved_at",
    ]
    deals: list[tuple[Any, ...]] = []
    moves: list[tuple[Any, ...]] = []
    follow_ups: list[tuple[Any, ...]] = []
    csv_rows: list[dict[str, Any]] = []
    for number, born in enumerate(births, start=1):
        born = born.replace(microsecond=0)
        account_index = rng.randrange(len(accounts))
        account = accounts[account_index]
        contact = contacts[account_index]
        japanese = account_names[account_index][1]
        pipeline = "b2b" if rng.random() < 0.9 else "b2c"
        path = stages[pipeline]
        open_stages = [s for s in path if s[2] == "open"]
        won_stage = next(s for s in path if s[2] == "won")
        age = (now - born).days
        p_open = 0.85 if age < 90 else 0.5 if age < 365 else 0.12
        draw = rng.random()
        status = (
            "open" if draw < p_open else "won" if draw < p_open + (1 - p_open) * 0.4 else "lost"
        )
        if status == "won":
            reached = len(open_stages) - 1
        else:
            reached = min(len(open_stages) - 1, int(rng.expovariate(1.1)))
        # The stages passed through: forward, sometimes skipping one (never the first).
        visited = [0] + [k for k in range(1, reached + 1) if k == reached or rng.random() > 0.1]
        horizon = min(now, born + timedelta(days=240))
        room = max(60, int((horizon - born).total_seconds()))
        steps = len(visited) + (status != "open")
        offsets = sorted(rng.randrange(60, room) for _ in range(steps - 1))
        times = [born] + [born + timedelta(seconds=s) for s in offsets]
        deal_id = _uuid7(_millis(born), rng)
        previous = None
        for position, when in zip(visited, times, strict=False):
            stage_id = open_stages[position][0]
            moves.append(
                (
                    _uuid7(_millis(when), rng),
                    deal_id,
                    previous,
                    stage_id,
                    None if previous is None else "open",
                    "open",
                    _stamp(when),
                    command_id,
                )
            )
            previous = stage_id
        closed_at = None
        stage = open_stages[visited[-1]]
        if status != "open":
            when = times[-1]
            closed_at = _stamp(when)
            target = won_stage if status == "won" else stage
            moves.append(
                (
                    _uuid7(_millis(when), rng),
                    deal_id,
                    previous,
                    target[0],
                    "open",
                    status,
                    closed_at,
                    command_id,
                )
            )
            stage = target
        last_event = times[-1]
        contact_at = None
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
            seconds = max(
                60, int((min(now, last_event + timedelta(days=20)) - born).total_seconds())
            )
            when = born + timedelta(seconds=rng.randrange(0, seconds))
            text = rng.choice(_JP_NOTES if japanese else _EN_NOTES) or "確認"
            follow_ups.append(
                (
                    _uuid7(_millis(when), rng),
                    deal_id,
                    rng.choice(_KINDS),
                    _stamp(when),
                    text,
                    _stamp(when),
                    command_id,
                )
            )
            contact_at = max(contact_at or "", _stamp(when))
        updated = max(_stamp(last_event), contact_at or "")
        amount = None
        if rng.random() >= 0.03:
            # Log-normal around ¥1.5M (σ = 1: a tenth under ¥420k, a tenth over ¥5.4M).
            amount = max(10_000, int(round(rng.lognormvariate(math.log(1_500_000), 1.0), -3)))
        next_action = next_due = None
        if status == "open":
            draw = rng.random()
            if draw >= 0.04:
                next_action = rng.choice(_JP_ACTIONS if japanese else _EN_ACTIONS)
                if draw < 0.08:
                    due_day = today - timedelta(days=rng.randint(1, 30))
                elif draw < 0.11:
                    due_day = today
                else:
                    due_day = today + timedelta(days=rng.randint(1, 45))
                if rng.random() < 0.2:
                    hour, minute = rng.randint(9, 18), rng.choice((0, 30))
                    next_due = f"{due_day.isoformat()}T{hour:02d}:{minute:02d}+09:00"
                else:
                    next_due = due_day.isoformat()
        close_date = (
            closed_at[:10]
            if closed_at
            else (born.date() + timedelta(days=rng.randint(30, 200))).isoformat()
        )
        tags = (
            ",".join(sorted({rng.choice(_TAGS) for _ in range(rng.randint(1, 2))}))
            if rng.random() < 0.2
            else ""
        )
        title = rng.choice(_JP_TITLES if japanese else _EN_TITLES)
        values = {
            "id": deal_id,
            "number": number,
            "title": title,
            "account_id": account[0],
            "contact_id": contact[0] if rng.random() < 0.7 else None,
            "pipeline_id": pipeline_ids[pipeline],
            "stage_id": stage[0],
            "status": status,
            "amount": amount,
            "currency": "JPY",
            "probability": rng.randrange(5, 100, 5) if rng.random() < 0.1 else None,
            "close_date": close_date,
            "next_action": next_action,
            "next_due": next_due,
            "owner": rng.choice(_OWNERS),
            "source": rng.choice(_SOURCES),
            "tags": tags,
            "purpose": rng.choice(_JP_NOTES if japanese else _EN_NOTES) or None,
            "proposal": None,
            "notes": None,
            "lost_reason": rng.choice(reasons) if status == "lost" else None,
            "lost_note": None,
            "created_at": _stamp(born),
            "updated_at": updated,
            "closed_at": closed_at,
            "last_contact_at": contact_at,
            "moved_at": _stamp(last_event),  # its last stage change, as dealctl keeps it
        }
        deals.append(tuple(values[c] for c in deal_columns))
        changes.append(("deal", deal_id, "imported", f"#{number}"))
        csv_rows.append(
            {
                **values,
                "account": account[2],
                "contact": contact[3] if values["contact_id"] else None,
                "pipeline": pipeline,
                "stage": stage[1],
            }
        )

    change_rows = [
        (_uuid7(_millis(now), rng), command_id, entity, entity_id, field, None, new, stamp)
        for entity, entity_id, field, new in changes
    ]
    # Rows go in in the order a real book grows (ids are time-ordered): by their moment.
    moves.sort(key=lambda r: r[0])
    follow_ups.sort(key=lambda r: r[0])
    # One transaction without a journal: a failed run is simply generated again. The
    # file is switched back to WAL at the end, as dealctl keeps it.
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO commands (id, name, args, at) VALUES (?, 'import', ?, ?)",
        (command_id, json.dumps(["bench/generate.py", str(size)]), stamp),
    )
    conn.executemany(
        "INSERT INTO accounts (id, number, name, name_key, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        accounts,
    )
    conn.executemany(
        "INSERT INTO contacts (id, number, account_id, name, name_key, email, email_key,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        contacts,
    )
    conn.executemany(
        f"INSERT INTO deals ({', '.join(deal_columns)})"
        f" VALUES ({', '.join('?' for _ in deal_columns)})",
        deals,
    )
    conn.executemany(
        "INSERT INTO stage_changes (id, deal_id, from_stage_id, to_stage_id, from_status,"
        " to_status, at, command_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        moves,
    )
    conn.executemany(
        "INSERT INTO activities (id, deal_id, kind, at, text, created_at, command_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        follow_ups,
    )
    conn.executemany(
        "INSERT INTO changes (id, command_id, entity, entity_id, field, old, new, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        change_rows,
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()

    with (folder / "deals.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(DEAL_FIELDS)
        for row in csv_rows:
            writer.writerow(["" if row.get(f) is None else row[f] for f in DEAL_FIELDS])

    counts = {
        "deals": len(deals),
        "open": sum(1 for d in deals if d[7] == "open"),
        "won": sum(1 for d in deals if d[7] == "won"),
        "lost": sum(1 for d in deals if d[7] == "lost"),
        "due_today_or_overdue": sum(1 for d in deals if d[13] and d[13][:10] <= today.isoformat()),
        "open_without_next_action": sum(1 for d in deals if d[7] == "open" and d[12] is None),
        "accounts": len(accounts),
        "contacts": len(contacts),
        "stage_changes": len(moves),
        "activities": len(follow_ups),
        "changes": len(change_rows),
    }
    seconds = time.perf_counter() - started
    meta = {
        "size": size,
        "seed": seed,
        "now": NOW,
        "schema_version": migrations.SCHEMA_VERSION,
        "generator": _fingerprint(),
        "counts": counts,
        "seconds": round(seconds, 2),
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return Book(size, seed, folder, counts, seconds)


def _fingerprint() -> str:
    """Changes when this file or the schema's SQL changes, so stale data is regenerated."""
    import hashlib

    from dealctl import migrations

    digest = hashlib.sha256(Path(__file__).read_bytes())
    for name, script in migrations.STEPS:
        digest.update(f"{name}\n{script}".encode())
    return digest.hexdigest()[:16]


def ensure(size: int, folder: Path, seed: int = SEED) -> Book:
    """The book for ``size`` in ``folder``: reused when it was made by this generator and
    schema, else generated."""
    from dealctl import migrations

    meta_path = folder / "meta.json"
    if meta_path.exists() and (folder / "deals.db").exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if (
            meta.get("size") == size
            and meta.get("seed") == seed
            and meta.get("schema_version") == migrations.SCHEMA_VERSION
            and meta.get("generator") == _fingerprint()
        ):
            return Book(size, seed, folder, meta["counts"], 0.0)
    return generate(size, folder, seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("size", type=int, help="number of deals")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, help="folder (default: bench/out/SIZE)")
    args = parser.parse_args(argv)
    book = generate(args.size, args.out or OUT / str(args.size), args.seed)
    print(f"{book.size} deals in {book.seconds:.1f} s -> {book.folder}")
    print(json.dumps(book.counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
