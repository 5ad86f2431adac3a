"""The one family of errors dealctl raises on purpose.

Every error carries the exit status the command ends with; the command boundary
(``dealctl.__main__``) prints ``str(error)`` as one line on stderr. Exit statuses
are part of the scripting contract and are documented in ``docs/output.md``.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_BUSY = 4
EXIT_DATABASE = 5
EXIT_INTERRUPTED = 130


class DealctlError(Exception):
    """Base class: an error the user can act on. Exit status 1."""

    exit_code: ClassVar[int] = EXIT_ERROR


class InvalidInput(DealctlError):
    """A value the user gave is not acceptable (a date, an amount, a stage...)."""

    exit_code = EXIT_USAGE


class NotFound(DealctlError):
    """A deal, account, stage or file that was named does not exist."""

    exit_code = EXIT_NOT_FOUND


class StateError(DealctlError):
    """The action does not fit the record's state (advancing a closed deal...)."""


class ConfigError(DealctlError):
    """The configuration file cannot be read or holds a bad value."""


class DatabaseBusy(DealctlError):
    """Another process held the write lock for longer than the busy timeout."""

    exit_code = EXIT_BUSY


class DatabaseError(DealctlError):
    """The database file is missing, unreadable, damaged or from a newer dealctl."""

    exit_code = EXIT_DATABASE
