"""Start-up is a feature: heavy modules stay off the paths that do not need them."""

from __future__ import annotations

import os
import subprocess
import sys

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
