"""The benchmark itself, at a tiny size, so that it cannot rot between measurements."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import generate  # noqa: E402
import run  # noqa: E402


def test_the_generator_is_deterministic_and_as_described(tmp_path: Path) -> None:
    first = generate.generate(300, tmp_path / "a")
    second = generate.generate(300, tmp_path / "b")
    assert first.csv.read_bytes() == second.csv.read_bytes()
    counts = first.counts
    assert counts["deals"] == 300
    assert counts["accounts"] == 75
    assert counts["open"] + counts["won"] + counts["lost"] == 300
    assert 0 < counts["due_today_or_overdue"] < 300 * 0.1
    assert counts["stage_changes"] >= 300 + counts["won"] + counts["lost"]
    rows = first.csv.read_text(encoding="utf-8").splitlines()
    japanese = sum(1 for line in rows[1:] if "株式会社" in line)
    assert 300 * 0.25 < japanese < 300 * 0.75


def test_the_csv_and_the_database_are_the_same_book(
    tmp_path: Path, cli: Cli, db_path: Path
) -> None:
    book = generate.generate(200, tmp_path / "book")
    cli("import", str(book.csv))
    imported = cli("due", "--format", "csv")
    generated = cli("--db", str(book.db), "due", "--format", "csv")
    assert imported == generated
    assert len(generated.splitlines()) == 1 + book.counts["due_today_or_overdue"]
    assert cli("--db", str(book.db), "list", "-q", "--status", "all").split() == [
        str(n) for n in range(1, 201)
    ]


def test_the_bench_runs_end_to_end_and_prints_every_target(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--sizes",
            "200",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--out",
            str(tmp_path / "data"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text(encoding="utf-8"))
    cases = set(figures["fixed"]) | set(figures["sizes"]["200"])
    wanted = {t.num for t in run.TARGETS} | {t.den for t in run.TARGETS if t.den}
    # forecast exists only once the reports have it; Taskwarrior only where installed.
    assert wanted - cases <= {"forecast", "task.due", "task.due.all", "task.import"}
    for timing in [*figures["fixed"].values(), *figures["sizes"]["200"].values()]:
        assert timing["median"] > 0 and timing["peak_rss_mib"] > 0
    meta = json.loads((tmp_path / "data" / "200" / "meta.json").read_text(encoding="utf-8"))
    due = meta["counts"]["due_today_or_overdue"]
    assert figures["sizes"]["200"]["due"]["lines"] == 1 + due  # the header, then one a deal
    assert figures["sizes"]["200"]["export"]["lines"] == 201
    assert "| `import` vs csv + executemany loader | 200 |" in result.stdout
    assert "| `dealctl --help` vs Typer app --help | any |" in result.stdout


@pytest.mark.parametrize(("median", "limit", "verdict"), [(0.2, 0.5, "PASS"), (0.6, 0.5, "FAIL")])
def test_verdicts_compare_medians_with_the_limit(
    median: float, limit: float, verdict: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "TARGETS", [run.Target("x", None, "a", "b", limit)])
    fixed = {"a": run.Timing("a", [median], [median], [1024]), "b": run.Timing("b", [1.0], [1.0])}
    rows = run.verdicts({}, fixed)
    assert rows[-1].endswith(f"| {verdict} |")
    assert f"{median:.2f}×" in rows[-1]
