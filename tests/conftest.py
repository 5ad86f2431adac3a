"""Every test runs against a real SQLite file in its own temporary folder.

The autouse fixture points the database, the config and the XDG folders at
``tmp_path`` and fixes the clock and zone, so no test touches a real user's
files and every report is reproducible.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dealctl.cli import app
from tests.fixtures.clicache import build_once

SHARED = Path(__file__).resolve().parents[2] / "shared"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOW = "2026-12-03T09:00:00+09:00"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private data, config and database location, Tokyo time, a fixed clock."""
    for name in (
        "NO_COLOR",
        "FORCE_COLOR",
        "DEALCTL_DEBUG",
        "DEALCTL_BUSY_TIMEOUT",
        "DEALCTL_ACTOR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("DEALCTL_DB", str(tmp_path / "deals.db"))
    monkeypatch.setenv("DEALCTL_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("DEALCTL_NOW", NOW)
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    build_once(monkeypatch)  # one click group per process, not one per CliRunner call
    yield tmp_path


@pytest.fixture
def db_path(isolated: Path) -> Path:
    return isolated / "deals.db"


class Cli:
    """Runs dealctl in-process with CliRunner; stdout and stderr kept apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
        result = self.runner.invoke(app, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, (
            f"dealctl {' '.join(args)} exited {result.exit_code}, wanted {code}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
        self.stderr = result.stderr
        return result.stdout


@pytest.fixture
def cli() -> Cli:
    return Cli()


def set_clock(monkeypatch: pytest.MonkeyPatch, moment: str) -> None:
    """Move the injected clock (tests that live through several days)."""
    monkeypatch.setenv("DEALCTL_NOW", moment)


def env_without_terminal() -> dict[str, str]:
    """The environment for a subprocess run of the installed dealctl."""
    return {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}


def read_until_closed(fd: int) -> bytes:
    """Everything a pseudo-terminal's leader side yields until the other side is gone."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # Linux reports the closed follower as EIO
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)
