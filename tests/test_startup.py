"""Start-up is a feature: heavy modules stay off the paths that do not need them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

HEAVY = ("rich", "sqlite_utils", "dateutil", "pydantic", "tomli_w")


def _imported(*args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dealctl", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
    )
    modules = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return modules


@pytest.mark.parametrize("args", [("--version",), ("due",), ("list",), ("export",)])
def test_no_heavy_import_on_piped_paths(args: tuple[str, ...]) -> None:
    subprocess.run(
        [sys.executable, "-m", "dealctl", "import", str(EXAMPLES / "book")],
        capture_output=True,
        check=True,
    )
    imported = _imported(*args)
    assert "typer" in imported  # the measurement itself works
    assert not imported & set(HEAVY), imported & set(HEAVY)


def _names(group: object) -> set[str]:
    return set(getattr(group, "commands", {}))


def test_a_run_builds_only_the_command_it_runs() -> None:
    import typer.main

    from dealctl import cli

    everything = _names(typer.main.get_command(cli.app))
    assert {"due", "account", "config", "ls", "win"} <= everything
    for name in sorted(everything):
        with cli._only_the_command(["--db", "x.db", "--color", "never", name, "-h"]):
            assert _names(typer.main.get_command(cli.app)) == {name}, name
    with cli._only_the_command(["--version"]):  # no command runs: none is built
        assert _names(typer.main.get_command(cli.app)) == set()
    # Help, unknown words and completion see every command.
    for argv in ([], ["-h"], ["nosuch"], ["--db", "due"]):
        with cli._only_the_command(argv):
            assert _names(typer.main.get_command(cli.app)) == everything, argv
    assert _names(typer.main.get_command(cli.app)) == everything  # and all come back


def test_commands_run_whole_from_the_installed_script(isolated: object) -> None:
    dealctl = str(Path(sys.executable).with_name("dealctl"))
    for args in (["account", "add", "Acme"], ["add", "A", "-a", "#1"], ["ls", "-q"]):
        result = subprocess.run([dealctl, *args], capture_output=True, text=True, check=False)
        assert result.returncode == 0, (args, result.stderr)
    assert result.stdout == "1\n"
    unknown = subprocess.run([dealctl, "nosuch"], capture_output=True, text=True, check=False)
    assert unknown.stderr == "dealctl: No such command 'nosuch'. (see dealctl -h)\n"
