"""Time dealctl commands as whole processes, side by side with their floors on the same data.

    .venv/bin/python bench/run.py                      # 10k and 100k deals
    .venv/bin/python bench/run.py --sizes 1000000 --runs 3
    .venv/bin/python bench/run.py --sizes 200 --runs 1 --warmup 0   # a smoke run (the tests)

For each size the book is generated once (bench/generate.py, kept under bench/out/SIZE
and reused while the generator and schema are unchanged). Every case is a separate
process started from here: a warm-up run, then several runs; the median, the range and
the peak resident memory (``ru_maxrss`` of that process, from ``os.wait4``) are printed.
Output goes to a pipe this script drains, except the "terminal" cases, which run on a
pseudo-terminal (200 x 50). Then every target of the speed targets is printed as a ratio
of medians with pass/fail, at the size the target names (other sizes: for information).

Floors, on the same data:
- ``python -c pass`` on the same interpreter;
- a minimal Typer app on the same Typer (bench/floor_typer.py): ``--help``, a command that
  does nothing, and one that prints a 50-row Rich table;
- the ``sqlite3`` command line running the very SQL dealctl sends (recorded by
  bench/trace_sql.py with ``set_trace_callback``), ``-header -tabs`` for ``due`` and
  ``-csv -header`` for ``export``;
- ``SELECT stage_id, COUNT(*), SUM(amount) FROM deals GROUP BY stage_id`` by the
  ``sqlite3`` command line on an unindexed copy of the deals table (unindexed.db);
- a plain csv + executemany loader (bench/floor_load.py) for ``import``;
- Taskwarrior (Debian's ``taskwarrior``), when ``task`` is installed: the same deals as
  tasks (open deals pending, closed ones completed, the same due dates), its list of what
  is overdue or due today, and ``task import`` of them. Without it, the published
  Taskwarrior figures (0.39 s at 10k, 3.9 s at 100k) stand in, marked "stated".

Only the standard library is used for timing. To cross-check one figure by hand, use
GNU time (Debian package ``time``: ``apt-get install time``):
``/usr/bin/time -v .venv/bin/dealctl --db bench/out/100000/deals.db due > /dev/null``.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import platform
import pty
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

PYTHON = sys.executable
DEALCTL = str(Path(PYTHON).with_name("dealctl"))
MIB = 1024 * 1024
STATED_TASKWARRIOR = {"task.due": {10_000: 0.39, 100_000: 3.9}}
# GNU time (Debian package `time`) for peak memory; see run_once.
GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None
SLOW_SECONDS = 3.0  # a case whose warm-up takes longer gets at most 3 runs


@dataclass
class Case:
    """One command line to time."""

    key: str
    argv: list[str]
    env: dict[str, str]
    terminal: bool = False
    setup: Callable[[], None] | None = None
    note: str = ""


@dataclass
class Timing:
    """The runs of one case."""

    key: str
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    lines: int = 0
    note: str = ""
    stated: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu) if self.cpu else float("nan")

    @property
    def peak_mib(self) -> float:
        return max(self.rss_kib) / 1024 if self.rss_kib else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": [round(s, 4) for s in self.seconds],
            "median": round(self.median, 4),
            "cpu": [round(s, 4) for s in self.cpu],
            "peak_rss_mib": round(self.peak_mib, 1),
            "lines": self.lines,
            "note": self.note,
            "stated": self.stated,
        }


@dataclass
class Target:
    """One row of the speed targets: numerator / denominator ≤ limit at ``size``."""

    what: str
    size: int | None
    num: str
    den: str | None
    limit: float
    memory: bool = False


TARGETS = [
    Target("`due` vs sqlite3 CLI, same SQL", 100_000, "due", "sqlite.due", 9.0),
    Target("`due` vs Taskwarrior due list", 100_000, "due", "task.due", 0.05),
    Target("`due` vs Taskwarrior due list", 10_000, "due", "task.due", 0.4),
    Target("`due` vs Taskwarrior, every task pending", 100_000, "due", "task.due.all", 0.05),
    Target("`due` vs Taskwarrior, every task pending", 10_000, "due", "task.due.all", 0.4),
    Target("`due` vs sqlite3 CLI, same SQL", 1_000_000, "due", "sqlite.due", 3.0),
    Target("`due` peak RSS (MiB)", 100_000, "due", None, 25.0, memory=True),
    Target("`due` peak RSS (MiB)", 1_000_000, "due", None, 25.0, memory=True),
    Target(
        "`due` on a terminal vs Typer 50-row Rich table", 100_000, "due.tty", "typer.table", 1.0
    ),
    Target("`dealctl --help` vs Typer app --help", None, "dealctl.help", "typer.help", 1.0),
    Target("`due` on an empty book vs Typer no-op", None, "dealctl.empty", "typer.noop", 1.0),
    Target("`pipeline --summary` vs plain GROUP BY", 1_000_000, "pipeline", "sqlite.groupby", 0.5),
    Target("`funnel` vs plain GROUP BY", 1_000_000, "funnel", "sqlite.groupby", 1.5),
    Target("`forecast` vs plain GROUP BY", 1_000_000, "forecast", "sqlite.groupby", 1.5),
    Target("`export --format csv` vs sqlite3 -csv", 1_000_000, "export", "sqlite.export", 3.0),
    Target("`export --format csv` peak RSS (MiB)", 1_000_000, "export", None, 30.0, memory=True),
    Target("`import` vs csv + executemany loader", 100_000, "import", "loader", 1.2),
    Target("`import` vs Taskwarrior import", 100_000, "import", "task.import", 0.1),
]


# --- running processes ------------------------------------------------------------------------


def _drain(fd: int) -> tuple[int, int]:
    """Read ``fd`` to its end; returns (bytes, lines)."""
    total = lines = 0
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError as exc:  # a pseudo-terminal whose other end closed
            if exc.errno == errno.EIO:
                break
            raise
        if not chunk:
            break
        total += len(chunk)
        lines += chunk.count(b"\n")
    return total, lines


def run_once(case: Case) -> tuple[float, float, int, int, int, str]:
    """One run: (seconds, CPU seconds, peak RSS KiB, exit status, output lines, stderr head).

    CPU seconds (user + system, from ``os.wait4``) count the command and whatever it ran;
    they move less than wall time when other work shares the machine.

    Peak memory comes from GNU time (``%M``) when it is installed: a process started
    straight from this script would inherit this script's own high-water mark, because
    Linux records the parent's resident size at ``exec`` after ``vfork``. GNU time forks
    from a small process, so its figure is the command's own.
    """
    if case.setup is not None:
        case.setup()
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss_file:
        argv = case.argv
        if GNU_TIME:
            argv = [GNU_TIME, "-q", "-f", "%M", "-o", rss_file.name, *argv]
        if case.terminal:
            leader, follower = pty.openpty()
            fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
            start = time.perf_counter()
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=case.env
            )
            os.close(follower)
            _, lines = _drain(leader)
            os.close(leader)
        else:
            start = time.perf_counter()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                env=case.env,
            )
            assert proc.stdout is not None
            _, lines = _drain(proc.stdout.fileno())
            proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        head = err.read(400).decode("utf-8", "replace")
        rss = usage.ru_maxrss
        if GNU_TIME:
            rss = int(rss_file.read().strip().splitlines()[-1])
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, rss, proc.returncode, lines, head


def measure(cases: list[Case], runs: int, warmup: int) -> dict[str, Timing]:
    """Every case, in rounds: each round runs each case once, so a load that comes and
    goes on the machine falls on a command and its floor alike (paired runs)."""
    timings = {c.key: Timing(c.key, note=c.note) for c in cases}
    wanted = dict.fromkeys(timings, runs)
    for index in range(warmup + runs):
        for case in cases:
            timing = timings[case.key]
            if index >= warmup and len(timing.seconds) >= wanted[case.key]:
                continue
            seconds, cpu, rss, code, lines, err = run_once(case)
            if code != 0:
                argv = " ".join(case.argv)
                raise SystemExit(f"{case.key}: {argv} exited {code}: {err.strip()}")
            if index < warmup:
                if seconds > SLOW_SECONDS:
                    wanted[case.key] = min(runs, 3)
                continue
            timing.seconds.append(seconds)
            timing.cpu.append(cpu)
            timing.rss_kib.append(rss)
            timing.lines = lines
    return timings


# --- the floors' inputs -----------------------------------------------------------------------


def base_env(folder: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "USER")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env.update(generate.bench_env(folder))
    return env


def traced_sql(args: list[str], env: dict[str, str], folder: Path) -> list[str]:
    """The SELECT statements ``dealctl ARGS`` runs, with their parameters bound."""
    out = folder / "trace.json"
    subprocess.run(
        [PYTHON, str(HERE / "trace_sql.py"), str(out), "--", *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    data = json.loads(out.read_text(encoding="utf-8"))
    statements = [s.strip() for s in data["statements"]]
    return [s for s in statements if s.upper().startswith(("SELECT", "WITH"))]


def unindexed_copy(book: generate.Book) -> Path:
    """The deals table copied without any index (the GROUP BY floor)."""
    path = book.folder / "unindexed.db"
    if path.exists() and path.stat().st_mtime >= book.db.stat().st_mtime:
        return path
    path.unlink(missing_ok=True)
    subprocess.run(
        [
            "sqlite3",
            str(path),
            f"ATTACH '{book.db}' AS src; CREATE TABLE deals AS SELECT * FROM src.deals;",
        ],
        check=True,
    )
    return path


def _task_time(value: str | None, shift: timedelta, zone: Any) -> str | None:
    """A stored dealctl moment or due value as a Taskwarrior epoch, moved by ``shift``."""
    if not value:
        return None
    if len(value) == 10:
        moment = datetime.combine(date.fromisoformat(value), datetime.min.time(), zone)
    else:
        moment = datetime.fromisoformat(value)
    return str(int((moment + shift).timestamp()))


def taskwarrior_data(book: generate.Book) -> tuple[Path, Path]:
    """The book's deals as Taskwarrior tasks: a data folder and a file for ``task import``.

    Open deals are pending tasks, won and lost ones completed; due dates are moved by
    whole days so that what is due today for dealctl is due today for Taskwarrior, which
    reads the real clock.
    """
    import csv
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Tokyo")
    root = book.folder / "taskwarrior"
    data = root / "data"
    if root.exists():
        shutil.rmtree(root)
    data.mkdir(parents=True)
    (root / "taskrc").write_text(
        f"data.location={data}\nconfirmation=off\nverbose=nothing\nhooks=off\n", encoding="utf-8"
    )
    fixed = datetime.fromisoformat(generate.NOW).date()
    shift = timedelta(days=(datetime.now(zone).date() - fixed).days)
    pending, completed, exported = [], [], []
    with book.csv.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            attrs = {
                "description": row["title"],
                "due": _task_time(row["next_due"], shift, zone),
                "end": _task_time(row["closed_at"], shift, zone),
                "entry": _task_time(row["created_at"], shift, zone),
                "modified": _task_time(row["updated_at"], shift, zone),
                "project": "b2b" if row["pipeline"] == "b2b" else "b2c",
                "status": "pending" if row["status"] == "open" else "completed",
                "uuid": row["id"],
            }
            attrs = {k: v for k, v in attrs.items() if v is not None}
            line = " ".join(f"{k}:{json.dumps(v, ensure_ascii=False)}" for k, v in attrs.items())
            (pending if row["status"] == "open" else completed).append(f"[{line}]\n")
            exported.append(
                {
                    k: (
                        datetime.fromtimestamp(int(v), UTC).strftime("%Y%m%dT%H%M%SZ")
                        if k in ("due", "end", "entry", "modified")
                        else v
                    )
                    for k, v in attrs.items()
                }
            )
    (data / "pending.data").write_text("".join(pending), encoding="utf-8")
    (data / "completed.data").write_text("".join(completed), encoding="utf-8")
    # The same tasks all pending: Taskwarrior then reads every one of them for the list,
    # the set-up behind the published Taskwarrior figures (0.39 s at 10k, 3.9 s at 100k).
    everything = root / "all-pending"
    (everything / "data").mkdir(parents=True)
    (everything / "taskrc").write_text(
        f"data.location={everything / 'data'}\nconfirmation=off\nverbose=nothing\nhooks=off\n",
        encoding="utf-8",
    )
    reopened = (line.replace(' status:"completed"', ' status:"pending"') for line in completed)
    (everything / "data" / "pending.data").write_text(
        "".join(pending) + "".join(reopened), encoding="utf-8"
    )
    tasks = root / "tasks.json"
    tasks.write_text(
        "\n".join(json.dumps(t, ensure_ascii=False) for t in exported) + "\n", encoding="utf-8"
    )
    return root, tasks


# --- cases ------------------------------------------------------------------------------------


def fixed_cases(book: generate.Book) -> list[Case]:
    """Size-independent cases: start-up floors and dealctl's start-up paths."""
    env = base_env(book.folder)
    empty = dict(env, DEALCTL_DB=str(book.empty_db))
    floor = str(HERE / "floor_typer.py")
    return [
        Case("python", [PYTHON, "-c", "pass"], env),
        Case("typer.help", [PYTHON, floor, "--help"], env),
        Case("typer.noop", [PYTHON, floor, "noop"], env),
        Case("typer.table", [PYTHON, floor, "table"], dict(env, TERM="xterm-256color"), True),
        Case("dealctl.help", [DEALCTL, "--help"], empty),
        Case("dealctl.version", [DEALCTL, "--version"], empty),
        Case("dealctl.empty", [DEALCTL, "due"], empty, note="due on a book with no deals"),
    ]


def has_command(name: str, env: dict[str, str]) -> bool:
    result = subprocess.run([DEALCTL, name, "--help"], env=env, capture_output=True, check=False)
    return result.returncode == 0


def sized_cases(book: generate.Book, taskwarrior: bool, skip: set[str]) -> list[Case]:
    env = dict(base_env(book.folder), DEALCTL_DB=str(book.db))
    tty_env = dict(env, TERM="xterm-256color")
    cases = [
        Case("due", [DEALCTL, "due"], env),
        Case("due.tty", [DEALCTL, "due"], tty_env, True, note="on a terminal"),
    ]
    due_sql = traced_sql(["due"], env, book.folder)
    cases.append(
        Case("sqlite.due", ["sqlite3", "-header", "-tabs", str(book.db), ";\n".join(due_sql)], env)
    )
    cases.append(Case("pipeline", [DEALCTL, "pipeline", "--summary"], env))
    cases.append(Case("funnel", [DEALCTL, "funnel"], env))
    if has_command("forecast", env):
        cases.append(Case("forecast", [DEALCTL, "forecast"], env))
    flat = unindexed_copy(book)
    cases.append(
        Case(
            "sqlite.groupby",
            [
                "sqlite3",
                str(flat),
                "SELECT stage_id, COUNT(*), SUM(amount) FROM deals GROUP BY stage_id;",
            ],
            env,
        )
    )
    cases.append(Case("export", [DEALCTL, "export", "deals", "--format", "csv"], env))
    export_sql = traced_sql(["export", "deals", "--format", "csv"], env, book.folder)
    cases.append(
        Case("sqlite.export", ["sqlite3", "-csv", "-header", str(book.db), *export_sql], env)
    )
    if "import" not in skip:
        work = book.folder / "import.db"

        def fresh() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{work}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(book.empty_db, work)
            work.chmod(0o600)

        import_env = dict(env, DEALCTL_DB=str(work))
        cases.append(Case("import", [DEALCTL, "import", str(book.csv)], import_env, setup=fresh))
        cases.append(
            Case(
                "loader",
                [PYTHON, str(HERE / "floor_load.py"), str(work), str(book.csv)],
                import_env,
                setup=fresh,
            )
        )
    if taskwarrior:
        root, tasks = taskwarrior_data(book)
        task_env = dict(env, TASKRC=str(root / "taskrc"))
        cases.append(
            Case(
                "task.due",
                ["task", "rc.gc=off", "due.before:tomorrow", "list"],
                task_env,
                note="task due.before:tomorrow list",
            )
        )
        cases.append(
            Case(
                "task.due.all",
                ["task", "rc.gc=off", "due.before:tomorrow", "list"],
                dict(env, TASKRC=str(root / "all-pending" / "taskrc")),
                note="the same, with every task pending",
            )
        )
        if "import" not in skip and "task.import" not in skip:
            scratch = root / "import"

            def empty_tasks() -> None:
                shutil.rmtree(scratch, ignore_errors=True)
                (scratch / "data").mkdir(parents=True)
                (scratch / "taskrc").write_text(
                    f"data.location={scratch / 'data'}\nconfirmation=off\nverbose=nothing\n"
                    "hooks=off\n",
                    encoding="utf-8",
                )

            cases.append(
                Case(
                    "task.import",
                    ["task", "import", str(tasks)],
                    dict(env, TASKRC=str(scratch / "taskrc")),
                    setup=empty_tasks,
                )
            )
    return [c for c in cases if c.key not in skip]


# --- reporting --------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    def out(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "not installed"

    import sqlite3
    from importlib.metadata import version

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / MIB:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    git = out("git", "-C", str(HERE.parent), "describe", "--always", "--dirty")
    return {
        "machine": f"{cpu}, {os.cpu_count()} cores, {memory}",
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite (python)": sqlite3.sqlite_version,
        "sqlite3 CLI": out("sqlite3", "--version").split(" ")[0],
        "typer": version("typer"),
        "click": version("click") if _installed("click") else "-",
        "rich": version("rich"),
        "dealctl": f"{version('dealctl')} ({git})",
        "taskwarrior": out("task", "--version") if shutil.which("task") else "not installed",
    }


def _installed(name: str) -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version(name)
    except PackageNotFoundError:
        return False
    return True


def print_timings(size: int, timings: dict[str, Timing]) -> None:
    print(f"\n### {f'{size:,} deals' if size else 'Start-up (no deals needed)'}\n")
    print("| case | median s | min–max s | CPU s | peak RSS MiB | runs | output lines |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key, t in timings.items():
        if t.stated:
            continue
        print(
            f"| {key} | {t.median:.3f} | {min(t.seconds):.3f}–{max(t.seconds):.3f} |"
            f" {t.cpu_median:.3f} | {t.peak_mib:.1f} | {len(t.seconds)} | {t.lines} |"
        )


def verdicts(results: dict[int, dict[str, Timing]], fixed: dict[str, Timing]) -> list[str]:
    """The speed targets: wall-time ratio of medians (CPU-time ratio beside it), verdict."""
    rows = [
        "| target | size | measured (wall, medians) | CPU ratio | limit | verdict |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for target in TARGETS:
        sizes: list[int | None] = [target.size]
        if target.size is not None and target.size not in results:
            rows.append(
                f"| {target.what} | {_size(target.size)} | — | — | ≤ {target.limit} |"
                " not run at this size |"
            )
            # For information: the largest size that was run below the target's.
            smaller = [s for s in results if s < target.size]
            sizes = [max(smaller)] if smaller else []
        for size in sizes:
            pool = fixed if size is None else {**fixed, **results[size]}
            at_size = target.size is None or size == target.size
            num = pool.get(target.num)
            den = None if target.memory else pool.get(target.den or "")
            stated = STATED_TASKWARRIOR.get(target.den or "", {}).get(size or 0)
            if stated is not None and at_size:
                # The published Taskwarrior figure, beside (or instead of) the one measured here.
                extra = Target(f"{target.what} (published figure)", size, target.num, None, 0)
                rows.extend(
                    _row(extra, size, num, Timing(target.den or "", [stated], stated=True), target)
                    if num is not None
                    else []
                )
            if num is None or (den is None and not target.memory):
                if at_size:
                    missing = target.num if num is None else target.den
                    rows.append(
                        f"| {target.what} | {_size(size)} | — | — | ≤ {target.limit} |"
                        f" not measured ({missing} not available) |"
                    )
                continue
            rows.extend(_row(target, size, num, den, target))
    return rows


def _row(
    shown_as: Target, size: int | None, num: Timing, den: Timing | None, target: Target
) -> list[str]:
    at_size = target.size is None or size == target.size
    cpu = "—"
    if den is None:
        value = num.peak_mib
        shown = f"{value:.1f} MiB"
    else:
        value = num.median / den.median
        shown = f"{value:.2f}× ({num.median:.3f} s / {den.median:.3f} s)"
        if not den.stated:
            cpu = f"{num.cpu_median / den.cpu_median:.2f}×"
    verdict = ("PASS" if value <= target.limit else "FAIL") if at_size else "info"
    return [f"| {shown_as.what} | {_size(size)} | {shown} | {cpu} | ≤ {target.limit} | {verdict} |"]


def _size(size: int | None) -> str:
    return "any" if size is None else f"{size:,}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated deal counts")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument("--out", type=Path, default=generate.OUT, help="data folder")
    parser.add_argument(
        "--skip", default="", help="case keys to leave out, e.g. import,task.import"
    )
    parser.add_argument(
        "--taskwarrior",
        choices=("auto", "off"),
        default="auto",
        help="time Taskwarrior when `task` is installed (default auto)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    skip = {s for s in args.skip.split(",") if s}
    taskwarrior = args.taskwarrior == "auto" and shutil.which("task") is not None
    if shutil.which("sqlite3") is None:
        raise SystemExit("the sqlite3 command line is needed: apt-get install sqlite3")
    if not Path(DEALCTL).exists():
        raise SystemExit(f"no dealctl next to {PYTHON}: pip install -e . in this venv")

    info = versions()
    print("## Machine and versions\n")
    for key, value in info.items():
        print(f"- {key}: {value}")
    if GNU_TIME is None:
        print(
            "- /usr/bin/time missing (apt-get install time): peak RSS is read with os.wait4 and"
            " includes this script's own high-water mark (about 30 MiB)"
        )
    if not taskwarrior:
        why = "--taskwarrior off" if args.taskwarrior == "off" else "apt-get install taskwarrior"
        print(f"- Taskwarrior not timed ({why}): the published Taskwarrior figures stand in")

    results: dict[int, dict[str, Timing]] = {}
    fixed: dict[str, Timing] = {}
    for size in sizes:
        started = time.perf_counter()
        book = generate.ensure(size, args.out / str(size))
        print(
            f"\n(book of {size:,} deals: {book.counts['due_today_or_overdue']:,} due today or"
            f" overdue, {book.counts['open']:,} open; "
            + (f"generated in {book.seconds:.1f} s)" if book.seconds else "reused)"),
            flush=True,
        )
        if not fixed:
            fixed = measure(fixed_cases(book), args.runs, args.warmup)
            print_timings(0, fixed)
        cases = sized_cases(book, taskwarrior, skip | ({"import"} if size > 100_000 else set()))
        timings = measure(cases, args.runs, args.warmup)
        results[size] = timings
        print_timings(size, timings)
        print(f"\n({time.perf_counter() - started:.0f} s for this size)", flush=True)

    print("\n## Targets\n")
    print("\n".join(verdicts(results, fixed)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "versions": info,
            "fixed": {k: t.as_dict() for k, t in fixed.items()},
            "sizes": {str(s): {k: t.as_dict() for k, t in r.items()} for s, r in results.items()},
        }
        args.json.write_text(json.dumps(payload, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
