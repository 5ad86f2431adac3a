"""Files that commands write besides the database: exports, calendars, import reports.

One rule for all of them: ``-`` is standard output; a device or pipe that exists
(``/dev/null``, a FIFO) is written as it is, its mode and kind untouched; a regular file
is written through a private temporary file (mode 0600: it holds customer data) renamed
into place when complete, so a failed command leaves no half-written file; the database
itself and its companion files are refused.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from dealctl.errors import InvalidInput
from dealctl.storage import is_database_file


def is_stdout(path: Path) -> bool:
    """Whether ``path`` is ``-``, which means standard output."""
    return str(path) == "-"


@contextmanager
def output_file(path: Path, database: Path) -> Iterator[BinaryIO]:
    """A binary stream for ``path`` under the rules above."""
    if is_stdout(path):
        sys.stdout.flush()
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = path.expanduser()
    if is_database_file(target, database):
        raise InvalidInput(f"{path} is the database itself: choose another file")
    if target.is_dir():
        raise InvalidInput(f"cannot write {path}: it is a folder")
    if target.exists() and not target.is_file():
        with target.open("wb") as stream:
            yield stream
        return
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None
    try:
        with open(fd, "wb") as stream:
            yield stream
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
