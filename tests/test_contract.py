"""The scripting contract: exact columns per command and format, pipes, colour, stdin, completion.

The column lists below are the contract: a change to one is a deliberate edit here and in
docs/output.md, which a test keeps in step with these lists. Field cases 11 and 12 run
against every listing command in tests/test_e2e.py (LISTING_COMMANDS); case 10 runs here.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dealctl.cli import app
from tests.conftest import EXAMPLES, NOW, SHARED, Cli, read_until_closed
from tests.test_e2e import DEALCTL, _add_case_deals, run

ESC = b"\x1b"
DOCS = (Path(__file__).resolve().parents[1] / "docs" / "output.md").read_text(encoding="utf-8")

DEAL_COLUMNS = (
    "number",
    "id",
    "title",
    "account",
    "contact",
    "pipeline",
    "stage",
    "stage_name",
    "status",
    "amount",
    "currency",
    "probability",
    "close_date",
    "next_action",
    "next_due",
    "days_overdue",
    "owner",
    "tags",
    "source",
    "lost_reason",
    "created_at",
    "updated_at",
    "last_contact_at",
)
PIPELINE_COLUMNS = (
    "pipeline",
    "stage",
    "stage_name",
    "probability",
    "currency",
    "count",
    "amount",
    "weighted_amount",
    "stale",
    "avg_idle_days",
)
FUNNEL_COLUMNS = (
    "pipeline",
    "stage",
    "stage_name",
    "reached",
    "moved_on",
    "lost",
    "conversion_pct",
    "median_days",
    "mean_days",
    "open_now",
    "median_days_so_far",
)
HISTORY_COLUMNS = ("at", "number", "command", "entity", "field", "old", "new", "by")
EXPORT_DEALS = (
    "number",
    "id",
    "title",
    "account",
    "contact",
    "pipeline",
    "stage",
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
    "external_source",
    "external_id",
)
EXPORT_ACCOUNTS = ("number", "id", "name", "notes", "created_at", "updated_at")
EXPORT_CONTACTS = (
    "number",
    "id",
    "account",
    "name",
    "email",
    "phone",
    "title",
    "notes",
    "created_at",
    "updated_at",
)
EXPORT_ACTIVITIES = ("id", "deal_id", "deal_number", "kind", "at", "text")
EXPORT_STAGE_CHANGES = (
    "id",
    "deal_id",
    "deal_number",
    "from_stage",
    "to_stage",
    "from_status",
    "to_status",
    "at",
)
UNDO_COLUMNS = ("step", "id", "at", "command", "args", "created", "changed", "by")
DOCTOR_COLUMNS = ("check", "table", "number", "id", "problem", "fix")
DIGEST_KEYS = (
    "date",
    "generated_at",
    "timezone",
    "owner",
    "days",
    "first_response_hours",
    "open_deals",
    "weighted_pipeline",
    "counts",
    "sections",
)
DIGEST_DEAL_KEYS = (*DEAL_COLUMNS, "idle_days", "note")
# `list` and `ls` add the deal's BANT score and the parts missing in machine formats; `due`
# does not.
LIST_COLUMNS = (*DEAL_COLUMNS, "qualification", "qualification_missing")

# command line -> (its columns, the label of its table in docs/output.md)
PINNED: dict[tuple[str, ...], tuple[tuple[str, ...], str]] = {
    ("list",): (LIST_COLUMNS, "list+qualification"),
    ("ls", "--status", "all"): (LIST_COLUMNS, "list+qualification"),
    ("due", "--within", "30d"): (DEAL_COLUMNS, "list"),
    ("pipeline",): (PIPELINE_COLUMNS, "pipeline"),
    ("funnel",): (FUNNEL_COLUMNS, "funnel"),
    ("history",): (HISTORY_COLUMNS, "history"),
    ("export", "deals"): (EXPORT_DEALS, "deals"),
    ("export", "accounts"): (EXPORT_ACCOUNTS, "accounts"),
    ("export", "contacts"): (EXPORT_CONTACTS, "contacts"),
    ("export", "activities"): (EXPORT_ACTIVITIES, "activities"),
    ("export", "stage-changes"): (EXPORT_STAGE_CHANGES, "stage-changes"),
    ("undo", "--list"): (UNDO_COLUMNS, "undo --list"),
}
# Commands with --format that print one document rather than rows; pinned by their own tests.
DOCUMENTS = {"show", "digest", "account show", "contact show", "qualify"}
# Pinned by a test of their own: doctor below (its rows need a damaged book), revisit in
# tests/test_report_scenario.py (its rows need deals lost months before the clock).
PINNED_APART = {"doctor", "revisit"}
# Whose --format names what they read, not what they print.
READS_A_FORMAT = {"import"}
# Listings whose columns their own tests pin as literals (tests/test_accounts.py,
# tests/test_stakeholders.py) against docs/output.md; here every machine format of each is
# checked against that same documented table. Command line -> label in docs/output.md.
PINNED_BY_DOCS: dict[tuple[str, ...], str] = {
    ("account", "list"): "account list",
    ("account", "dupes"): "account dupes",
    ("contact", "list"): "contact list",
    ("stakeholder", "list"): "stakeholder list",
    ("route", "show", "5"): "route show",
    ("route", "list"): "route list",
    ("forecast",): "forecast",
    ("stale",): "stale",
    ("lost",): "lost",
    ("next",): "next",
}
PINNED_ELSEWHERE = {" ".join(command[:2]) for command in PINNED_BY_DOCS}
MACHINE_FORMATS = ("csv", "tsv", "json", "jsonl")


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example book in a database of its own, shared by this module's read-only tests,
    with look-alike accounts, a buying committee and approval routes added."""
    folder = tmp_path_factory.mktemp("contract")
    db = folder / "deals.db"
    env = {"DEALCTL_NOW": NOW, "TZ": "Asia/Tokyo", "DEALCTL_CONFIG": str(folder / "none.toml")}
    runner = CliRunner()
    for args in (
        ("import", str(EXAMPLES / "book")),
        ("account", "add", "Acme Systems"),
        ("account", "add", "Acme-Systems"),
        ("account", "add", "ACME Systems Inc.", "--force"),
        ("contact", "add", "山田太郎", "-a", "株式会社山城精機", "-e", "yamada@example.jp"),
        ("contact", "add", "佐々木花子", "-a", "株式会社山城精機", "-e", "sasaki@example.jp"),
        ("stakeholder", "add", "5", "山田太郎", "--role", "decision-maker"),
        ("stakeholder", "add", "5", "佐々木花子", "--role", "key-person"),
        ("stakeholder", "add", "13", "佐々木花子", "--role", "approver"),
        ("route", "set", "5", "--template", "ringi"),
        ("route", "set", "8", "--template", "ringi"),
        ("route", "set", "13", "--template", "ringi"),
    ):
        result = runner.invoke(app, ["--db", str(db), *args], env=env)
        assert result.exit_code == 0, (args, result.output)
    yield db


def _rows(text: str, fmt: str) -> tuple[list[str] | None, list[list[str]]]:
    """(header, list of each row's keys or cells) of a listing in one machine format."""
    if fmt == "csv":
        table = list(csv.reader(io.StringIO(text)))
        return table[0], table[1:]
    if fmt == "tsv":
        lines = text.split("\n")
        assert lines[-1] == ""
        return lines[0].split("\t"), [line.split("\t") for line in lines[1:-1]]
    objects = json.loads(text) if fmt == "json" else [json.loads(x) for x in text.splitlines()]
    return None, [list(o) for o in objects]


@pytest.mark.parametrize("fmt", MACHINE_FORMATS)
@pytest.mark.parametrize("command", list(PINNED), ids=" ".join)
def test_machine_formats_carry_exactly_the_pinned_columns(
    cli: Cli, book: Path, command: tuple[str, ...], fmt: str
) -> None:
    columns, _ = PINNED[command]
    header, rows = _rows(cli("--db", str(book), *command, "--format", fmt), fmt)
    assert len(rows) >= 3  # the check below means something
    if header is not None:
        assert tuple(header) == columns
        assert all(len(cells) == len(columns) for cells in rows)
    else:
        assert all(tuple(keys) == columns for keys in rows)


@pytest.mark.parametrize("fmt", MACHINE_FORMATS)
@pytest.mark.parametrize("command", list(PINNED_BY_DOCS), ids=" ".join)
def test_machine_formats_carry_exactly_the_documented_columns(
    cli: Cli, book: Path, command: tuple[str, ...], fmt: str
) -> None:
    columns = _documented_tables()[PINNED_BY_DOCS[command]]
    assert len(columns) >= 6
    header, rows = _rows(cli("--db", str(book), *command, "--format", fmt), fmt)
    assert len(rows) >= 3  # the check below means something
    if header is not None:
        assert tuple(header) == columns
        assert all(len(cells) == len(columns) for cells in rows)
    else:
        assert all(tuple(keys) == columns for keys in rows)


def _documented_tables() -> dict[str, tuple[str, ...]]:
    """Label -> key column of each table in docs/output.md.

    A table's label is the first `code` word of the nearest heading above it, or of a line
    that introduces a table (```accounts`, ordered by number:``, ```sections` holds``).
    """
    tables: dict[str, list[str]] = {}
    label = ""
    for line in DOCS.splitlines():
        if re.match(r"\| \d+ \| `", line):
            tables.setdefault(label, []).append(line.split("`")[1])
        elif line.startswith("#") and "`" in line:
            label = line.split("`")[1]
        elif match := re.match(r"`([a-z][^`]*)`(,| \(| prints| holds)", line):
            label = match[1]
    return {k: tuple(v) for k, v in tables.items()}


@pytest.mark.parametrize("fmt", MACHINE_FORMATS)
def test_doctor_lists_problems_with_the_pinned_columns(
    cli: Cli, book: Path, tmp_path: Path, fmt: str
) -> None:
    damaged = tmp_path / "damaged.db"
    shutil.copy2(book, damaged)
    with sqlite3.connect(damaged) as conn:  # three numbers used twice: three problems
        for table in ("deals", "accounts", "contacts"):
            conn.execute(f"UPDATE {table} SET number = 1 WHERE number = 2")
    conn.close()
    header, rows = _rows(cli("--db", str(damaged), "doctor", "--format", fmt, code=1), fmt)
    assert cli.stderr == "dealctl: doctor found 3 problems\n"
    assert len(rows) == 3
    if header is not None:
        assert tuple(header) == DOCTOR_COLUMNS
        assert all(len(cells) == len(DOCTOR_COLUMNS) for cells in rows)
    else:
        assert all(tuple(keys) == DOCTOR_COLUMNS for keys in rows)
    assert cli("--db", str(book), "doctor", "--format", "csv") == ",".join(DOCTOR_COLUMNS) + "\n"


def test_docs_list_exactly_the_pinned_columns() -> None:
    documented = _documented_tables()
    for columns, label in PINNED.values():
        assert sum((documented[part] for part in label.split("+")), ()) == columns, label
    assert documented["doctor"] == DOCTOR_COLUMNS
    assert documented["digest --format json"] == DIGEST_KEYS
    assert documented["sections"] == ("idle_days", "note")


def test_every_listing_command_is_pinned() -> None:
    group = typer.main.get_command(app)
    pinned = {c[0] for c in PINNED} | {" ".join(c[:2]) for c in PINNED} | DOCUMENTS
    pinned |= set(PINNED_ELSEWHERE) | PINNED_APART
    seen = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        leaves = (
            {f"{name} {s}": c for s, c in subcommands.items()} if subcommands else {name: command}
        )
        for path, leaf in leaves.items():
            if path not in READS_A_FORMAT and any("--format" in p.opts for p in leaf.params):
                seen.append(path)
                assert path in pinned, f"pin the columns of `dealctl {path}` in PINNED"
    assert {"list", "ls", "due", "pipeline", "funnel", "history", "export"} <= set(seen)


@pytest.mark.parametrize(
    # 田中 has one deal in the book, with nothing due.
    "command",
    [("list", "--tag", "nosuch"), ("due", "--owner", "田中")],
    ids=" ".join,
)
def test_an_empty_listing_still_has_its_header(
    cli: Cli, book: Path, command: tuple[str, ...]
) -> None:
    db = ("--db", str(book))
    columns = LIST_COLUMNS if command[0] == "list" else DEAL_COLUMNS
    assert cli(*db, *command, "--format", "csv") == ",".join(columns) + "\n"
    assert cli(*db, *command, "--format", "tsv") == "\t".join(columns) + "\n"
    assert cli(*db, *command, "--format", "json") == "[]\n"
    assert cli(*db, *command, "--format", "jsonl") == ""


@pytest.mark.parametrize("command", ["list", "due"])
def test_quiet_prints_the_numbers_in_the_listings_order(cli: Cli, book: Path, command: str) -> None:
    rows = json.loads(cli("--db", str(book), command, "--format", "json"))
    quiet = cli("--db", str(book), command, "-q", "--format", "json")
    assert quiet == "".join(f"{row['number']}\n" for row in rows)
    assert len(rows) >= 5


def test_digest_json_keys_are_pinned(cli: Cli, book: Path) -> None:
    document = json.loads(cli("--db", str(book), "digest", "--format", "json"))
    assert tuple(document) == DIGEST_KEYS
    assert tuple(document["sections"])[:7] == (
        "overdue",
        "today",
        "upcoming",
        "first_response",
        "no_next_action",
        "stale",
        "slipped",
    )
    assert set(tuple(document["sections"])[7:]) <= {"no_decision_maker", "revisit"}
    deals = [d for section in document["sections"].values() for d in section]
    assert len(deals) > 20
    assert all(tuple(deal) == DIGEST_DEAL_KEYS for deal in deals)


# --- field case 10, against every listing command ----------------------------------------------


def _whole_on_one_line(output: str, *values: str) -> bool:
    return any(all(v in line for v in values) for line in output.splitlines())


CASE_10_LISTINGS = (
    ("list",),
    ("list", "--format", "table"),
    ("due",),
    ("due", "--format", "table"),
    ("pipeline", "--format", "table"),
    ("export",),
    ("digest",),
    ("digest", "--format", "markdown"),
)


def test_case_10_every_listing_prints_every_value_whole() -> None:
    rows = _add_case_deals("case-10.csv")
    for command in CASE_10_LISTINGS:
        result = run(*command)
        assert result.returncode == 0, result.stderr
        for row in rows:
            values = (row["商談名"], row["取引先"], row["次回アクション"])
            assert _whole_on_one_line(result.stdout, *values), (command, values)
    history = run("history").stdout
    for row in rows:
        assert _whole_on_one_line(history, row["商談名"])
        assert _whole_on_one_line(history, row["次回アクション"])
    for command in (("pipeline",), ("funnel",)):  # no free text: whole records, one per line
        lines = run(*command).stdout.splitlines()
        assert len({line.count("\t") for line in lines}) == 1 and len(lines) >= 4
    document = json.loads(run("digest", "--format", "json").stdout)
    overdue = document["sections"]["overdue"]
    assert {d["title"] for d in overdue} == {row["商談名"] for row in rows}
    # iCalendar folds long lines by definition (RFC 5545 §3.1); unfolded, nothing is cut.
    from icalendar import Calendar

    calendar = Calendar.from_ical(subprocess.run([DEALCTL, "calendar"], capture_output=True).stdout)
    summaries = {str(e["summary"]) for e in calendar.walk("VEVENT")}
    assert summaries == {
        f"{row['次回アクション']} — {row['商談名']} #{n}" for n, row in ((1, rows[0]), (2, rows[1]))
    }


# --- colour: CI variables, and stdout and stderr judged separately -----------------------------

FORCING = {
    "FORCE_COLOR": "1",
    "CLICOLOR_FORCE": "1",
    "PY_COLORS": "1",
    "TTY_COMPATIBLE": "1",
    "GITHUB_ACTIONS": "true",
    "TERM": "xterm-256color",
    "COLUMNS": "200",
}


def _forcing_env(book: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return {**env, **FORCING, "DEALCTL_DB": str(book)}


def _split_run(args: tuple[str, ...], *, terminal: str, env: dict[str, str]) -> tuple[bytes, bytes]:
    """Run with one of stdout/stderr on a pseudo-terminal and the other on a pipe."""
    leader, follower = pty.openpty()
    pipe = subprocess.PIPE
    process = subprocess.Popen(
        [DEALCTL, *args],
        stdout=follower if terminal == "stdout" else pipe,
        stderr=follower if terminal == "stderr" else pipe,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    piped = process.stderr if terminal == "stdout" else process.stdout
    assert piped is not None
    piped_data: list[bytes] = []
    reader = threading.Thread(target=lambda: piped_data.append(piped.read()))
    reader.start()
    on_terminal = read_until_closed(leader)
    reader.join(timeout=60)
    piped.close()
    process.wait(timeout=60)
    os.close(leader)
    data = piped_data[0]
    return (on_terminal, data) if terminal == "stdout" else (data, on_terminal)


USAGE_ERRORS = (
    ("list", "--bogus"),
    ("digest", "--fail-on", "often"),
    ("nope",),
    ("add",),
    ("--color", "loud", "list"),
)


def test_ci_colour_variables_never_colour_a_pipe(book: Path) -> None:
    env = _forcing_env(book)
    for args in (
        ("list", "--format", "table"),
        ("due", "--format", "table"),
        ("pipeline", "--format", "table"),
        ("digest",),
        ("-h",),
        ("digest", "-h"),
        *USAGE_ERRORS,
    ):
        result = subprocess.run([DEALCTL, *args], capture_output=True, env=env, check=False)
        assert result.stdout or result.stderr, args
        assert ESC not in result.stdout + result.stderr, args


def test_a_piped_stderr_is_plain_while_stdout_is_a_terminal(book: Path) -> None:
    env = _forcing_env(book)
    for args in USAGE_ERRORS:
        stdout, stderr = _split_run(args, terminal="stdout", env=env)
        assert stderr.startswith(b"dealctl: "), args
        assert stderr.count(b"\n") == 1
        assert ESC not in stderr, args
    stdout, stderr = _split_run(("digest",), terminal="stdout", env=env)
    assert ESC in stdout and "─".encode() in stdout  # a terminal gets bold and a rule
    assert stderr == b""


def test_a_piped_stdout_is_plain_while_stderr_is_a_terminal(book: Path) -> None:
    env = _forcing_env(book)
    for args in (("list", "--format", "table"), ("digest",), ("-h",)):
        stdout, _ = _split_run(args, terminal="stderr", env=env)
        assert stdout.strip(), args
        assert ESC not in stdout, args
    assert "─".encode() not in stdout  # the digest draws no rule in a pipe


def test_color_always_is_the_one_way_to_colour_a_pipe(book: Path) -> None:
    env = dict(os.environ, NO_COLOR="1", DEALCTL_DB=str(book))
    for args in (("list", "--format", "table"), ("digest",)):
        result = run("--color", "always", *args, env=env)
        assert "\x1b[" in result.stdout, args


# --- pipes: a reader that stops early, and standard input -------------------------------------


def test_head_ends_every_big_listing_quietly_under_pipefail() -> None:
    assert run("import", str(SHARED / "data" / "maven-crm" / "sales_pipeline.csv")).returncode == 0
    # Tables go through Rich, which writes more than once (a table, then "N more"): the
    # reader may be gone by the second write, so those run a few times.
    tables = [
        "list --format table",
        "account show 1",
        "due --format table",
        "account list -f table",
    ]
    for command in ("list", "list --format jsonl", "history", "digest", *tables * 3):
        result = subprocess.run(
            f"set -o pipefail; {DEALCTL} {command} | head -1; echo status=$?",
            shell=True,
            executable="/bin/bash",
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.stdout.count("\n") == 2, command
        assert result.stdout.endswith("status=0\n"), command
        assert result.stderr == "", command


def test_import_reads_standard_input(book: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    piped = subprocess.run(
        f"{DEALCTL} --db {book} export deals | {DEALCTL} --db {copy} import -",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("imported (dealctl): 45 deals created, 0 updated")
    assert run("--db", str(copy), "export").stdout == run("--db", str(book), "export").stdout


def test_import_from_standard_input_detects_cp932_and_names_it_in_errors(cli: Cli) -> None:
    cli("add", "①保守更新", "--account", "㈱サンプル", "--amount", "50万")
    exported = cli("export", "deals", "--format", "csv")
    other = ["--db", str(Path(os.environ["DEALCTL_DB"]).with_name("other.db"))]
    result = cli.runner.invoke(app, [*other, "import", "-"], input=exported.encode("cp932"))
    assert result.exit_code == 0, result.output
    listed = json.loads(cli(*other, "list", "--format", "json"))
    assert [(r["title"], r["account"], r["amount"]) for r in listed] == [
        ("①保守更新", "㈱サンプル", 500000)
    ]
    bad = cli.runner.invoke(app, [*other, "import", "-"], input=b"\xff\xfe\x00x\x00")
    assert bad.exit_code == 2
    assert (
        bad.stderr == "dealctl: standard input is neither UTF-8 nor CP932 text: give --encoding\n"
    )


# --- completion and version --------------------------------------------------------------------


def test_shell_completion_completes_commands_and_options() -> None:
    env = dict(os.environ, _DEALCTL_COMPLETE="complete_bash", COMP_CWORD="1")
    words = subprocess.run(
        [DEALCTL], env={**env, "COMP_WORDS": "dealctl dig"}, capture_output=True, text=True
    )
    assert words.stdout.split() == ["digest"]
    env["COMP_CWORD"] = "2"
    words = subprocess.run(
        [DEALCTL], env={**env, "COMP_WORDS": "dealctl digest --fa"}, capture_output=True, text=True
    )
    assert words.stdout.split() == ["--fail-on"]
    script = subprocess.run(
        [DEALCTL, "--show-completion"],
        env=dict(os.environ, SHELL="/bin/bash"),
        capture_output=True,
        text=True,
    )
    assert script.returncode == 0 and "_DEALCTL_COMPLETE" in script.stdout
    assert run("--version").stdout == "dealctl 0.1.0\n"


@pytest.mark.parametrize("command", [("stale",), ("account", "list"), ("contact", "list")])
def test_quiet_on_the_other_listings_prints_each_number_once_in_order(
    cli: Cli, book: Path, command: tuple[str, ...]
) -> None:
    rows = json.loads(cli("--db", str(book), *command, "--format", "json"))
    numbers = list(dict.fromkeys(row["number"] for row in rows))
    assert len(numbers) >= 3
    assert cli("--db", str(book), *command, "-q") == "".join(f"{n}\n" for n in numbers)
