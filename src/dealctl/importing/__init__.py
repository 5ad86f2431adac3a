"""Importing deals and contacts from dealctl's own files, CRM exports and spreadsheets.

- :mod:`.source` reads a file (or standard input) and decides its encoding and format;
- :mod:`.presets` knows the layouts: header synonyms, stage and status values;
- :mod:`.cells` reads dates, amounts and percents as people write them;
- :mod:`.engine` checks every row, then writes in bulk in the caller's transaction;
- :mod:`.report` says what happened, cell by cell when a cell was refused.
"""

from __future__ import annotations

from dealctl.importing.engine import ImportOptions, import_file
from dealctl.importing.presets import FIELDS, PRESET_NAMES
from dealctl.importing.report import REPORT_COLUMNS, ImportReport, Rejection, write_report
from dealctl.transfer import DEAL_FIELDS

__all__ = [
    "DEAL_FIELDS",
    "FIELDS",
    "PRESET_NAMES",
    "REPORT_COLUMNS",
    "ImportOptions",
    "ImportReport",
    "Rejection",
    "import_file",
    "write_report",
]
