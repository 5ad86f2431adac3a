"""The installed ``dealctl`` run as a separate process, the way cron and shell scripts run it."""

from __future__ import annotations

import csv
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, SHARED, read_until_closed

DEALCTL = str(Path(sys.executable).with_name("dealctl"))
ESC = "\x1b"
LISTING_COMMANDS = (
    ("list",),
    ("list", "--format", "table"),
    ("due",),
    ("due", "--format", "table"),
    ("pipeline",),
    ("pipeline", "--format", "table"),
    ("funnel",),
    ("funnel", "--format", "table"),
    ("history",),
    ("export",),
    ("digest",),
    ("digest", "--format", "markdown"),
    ("digest", "--format", "json"),
    ("calendar",),
)


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DEALCTL, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env if env is not None else dict(os.environ),
        input=stdin,
        timeout=60,
        check=False,
    )


def _case_rows(name: str) -> list[dict[str, str]]:
    with (SHARED / "cases" / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _add_case_deals(name: str) -> list[dict[str, str]]:
    """The deals of a Japanese-header field case, added through the command line."""
    rows = _case_rows(name)
    for row in rows:
        next_action = row.get("次回アクション") or "確認"
        result = run(
            "add",
            row["商談名"],
            "--account",
            row["取引先"],
            "--next",
            next_action,
            "--due",
            row["次回アクション日"],
        )
        assert result.returncode == 0, result.stderr
    return rows


def test_installed_command_imports_examples_and_prints_no_escape_codes() -> None:
    result = run("import", str(EXAMPLES / "book"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported (dealctl): 45 deals created")
    for args in LISTING_COMMANDS:
        result = run(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert ESC not in result.stdout + result.stderr, args
        assert result.stdout.strip(), args


def test_bad_due_value_is_one_line_without_traceback() -> None:
    result = run("add", "A deal", "--next", "call", "--due", "next-ish")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("dealctl: invalid due date 'next-ish': use a date")
    assert "Traceback" not in result.stderr


def test_python_dash_m_runs_too() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dealctl", "--version"], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout) == (0, "dealctl 0.1.0\n")


def test_case_10_piped_output_is_never_cut() -> None:
    rows = _add_case_deals("case-10.csv")
    listing = run("list").stdout
    for row in rows:
        matching = [line for line in listing.splitlines() if row["商談名"] in line]
        assert len(matching) == 1
        assert row["取引先"] in matching[0] and row["次回アクション"] in matching[0]
    due = run("due").stdout
    assert all(row["商談名"] in due for row in rows)


def test_case_10_list_piped_into_grep() -> None:
    rows = _add_case_deals("case-10.csv")
    for row in rows:
        grep = subprocess.run(
            f"{DEALCTL} list | grep -F -- {_quote(row['商談名'])}",
            shell=True,
            capture_output=True,
            text=True,
            check=False,
        )
        assert grep.returncode == 0 and row["商談名"] in grep.stdout


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _case_11_env() -> dict[str, str]:
    env = dict(os.environ)
    for line in (SHARED / "cases" / "case-11.env").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    env["PATH"] = f"{Path(DEALCTL).parent}:{env['PATH']}"
    return env


@pytest.mark.parametrize(
    "args",
    [*LISTING_COMMANDS, ("list", "--bogus"), ("--help",), ("add", "--help"), ("show", "nope")],
)
def test_case_11_no_escape_codes_with_forced_colour_variables(args: tuple[str, ...]) -> None:
    env = _case_11_env()
    run("import", str(EXAMPLES / "book"), env=env)
    result = run(*args, env=env)
    assert ESC not in result.stdout, args
    assert ESC not in result.stderr, args


def test_case_11_forced_colour_variables_without_no_color_still_plain_in_a_pipe() -> None:
    env = _case_11_env()
    del env["NO_COLOR"]
    run("import", str(EXAMPLES / "book"), env=env)
    for args in (("list", "--format", "table"), ("list", "--bogus"), ("pipeline", "-f", "table")):
        result = run(*args, env=env)
        assert ESC not in result.stdout + result.stderr, args


def _on_terminal(*args: str, env: dict[str, str]) -> str:
    """Run with stdout and stderr on a pseudo-terminal; returns what was printed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [DEALCTL, *args], stdout=follower, stderr=follower, env=env, close_fds=True
    )
    os.close(follower)
    printed = read_until_closed(leader)
    process.wait(timeout=60)
    os.close(leader)
    return printed.decode("utf-8", "replace")


def test_case_11_no_color_on_a_terminal_means_no_escape_codes() -> None:
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200")
    run("import", str(EXAMPLES / "book"), env=env)
    for args in (("list",), ("pipeline",), ("list", "--bogus")):
        printed = _on_terminal(*args, env=env)
        assert printed.strip()
        assert ESC not in printed, args


def test_a_terminal_gets_a_table_and_colour() -> None:
    env = dict(os.environ, COLUMNS="200")
    run("import", str(EXAMPLES / "book"), env=env)
    printed = _on_terminal("list", env=env)
    assert ESC in printed
    assert "基幹システム更新" in printed and "┃" in printed


@pytest.mark.parametrize("encoding", ["ascii", "euc_jp"])
def test_case_12_output_encoding_that_is_not_utf8(encoding: str) -> None:
    rows = _add_case_deals("case-12.csv")
    env = dict(os.environ, PYTHONIOENCODING=encoding)
    for args in LISTING_COMMANDS:
        result = subprocess.run(
            [DEALCTL, *args], capture_output=True, env=env, check=False, timeout=60
        )
        assert result.returncode == 0, (args, result.stderr)
        assert b"Traceback" not in result.stderr
    listing = subprocess.run([DEALCTL, "list"], capture_output=True, env=env, check=False)
    text = listing.stdout.decode(encoding)
    assert len(text.splitlines()) == 1 + len(rows)
    if encoding == "ascii":
        assert "Caf? renewal" in text and "\t?????\t" in text
    else:  # EUC-JP has é and the kana, but not the CP932-only ① and ㈱
        assert "Café renewal" in text and "?保守更新\t?サンプル" in text


def test_head_closes_the_pipe_quietly() -> None:
    # Far more than a pipe buffer holds, so the writer really meets the closed pipe.
    assert run("import", str(SHARED / "data" / "maven-crm" / "sales_pipeline.csv")).returncode == 0
    result = subprocess.run(
        f"set -o pipefail; {DEALCTL} export --format jsonl | head -1; echo status=$?",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.count("\n") == 2
    assert result.stdout.endswith("status=0\n")
    assert result.stderr == ""


def test_export_is_utf8_whatever_the_locale() -> None:
    _add_case_deals("case-12.csv")
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    result = subprocess.run([DEALCTL, "export"], capture_output=True, env=env, check=False)
    assert result.returncode == 0
    assert "①保守更新,㈱サンプル" in result.stdout.decode("utf-8")


def test_a_full_disk_or_a_closed_stdout_is_one_line_not_a_traceback() -> None:
    assert run("add", "A", "--next", "call", "--due", "today").returncode == 0
    full = subprocess.run(
        f"{DEALCTL} digest > /dev/full", shell=True, capture_output=True, text=True, check=False
    )
    assert (full.returncode, full.stderr) == (
        1,
        "dealctl: cannot write: No space left on device; nothing was written\n",
    )
    closed = subprocess.run(
        f"{DEALCTL} list >&-", shell=True, capture_output=True, text=True, check=False
    )
    assert (closed.returncode, closed.stderr) == (0, "")


@pytest.mark.parametrize(
    ("args", "clock", "message"),
    [
        (("add", "x", "--next", "n", "--due", "9999-12-31"), None,
         "due date '9999-12-31' is out of range: use a year from 1900 to 2999"),
        (("digest", "--today", "9999-12-31"), None,
         "--today date '9999-12-31' is out of range: use a year from 1900 to 2999"),
        (("digest",), "9999-12-31T23:59:59+14:00",
         "DEALCTL_NOW '9999-12-31T23:59:59+14:00' is out of range: use a year from 1900 to 2999"),
    ],
)  # fmt: skip
def test_dates_at_the_ends_of_the_calendar_are_refused(
    args: tuple[str, ...], clock: str | None, message: str
) -> None:
    assert run("add", "A").returncode == 0
    env = dict(os.environ, DEALCTL_NOW=clock) if clock else None
    result = run(*args, env=env)
    assert (result.returncode, result.stderr) == (2, f"dealctl: {message}\n")


def test_json_on_an_ascii_stream_keeps_every_character_as_escapes() -> None:
    assert run("add", "商談 – ＡＢＣ", "--next", "電話", "--due", "today").returncode == 0
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    for args in (("list", "-f", "json"), ("show", "1", "-f", "json"), ("digest", "-f", "json")):
        result = run(*args, env=env)
        assert result.returncode == 0 and "?" not in result.stdout, args
        assert "商談 – ＡＢＣ" in result.stdout.encode().decode("unicode_escape"), args


def test_a_table_in_a_pipe_has_every_row() -> None:
    book = "title\n" + "".join(f"deal {n}\n" for n in range(1, 61))
    assert run("import", "-", stdin=book).returncode == 0
    table = run("list", "--format", "table").stdout
    assert "deal 60" in table and "more" not in table
