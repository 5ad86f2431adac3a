"""The floor for start-up: a minimal Typer app, on the Typer dealctl is installed with.

    python bench/floor_typer.py --help     # what `dealctl --help` is compared with
    python bench/floor_typer.py noop       # a command with nothing to do
    python bench/floor_typer.py table      # a 50-row Rich table (the floor of `due` on a terminal)

Written the way a small Typer app usually is: one module, Rich imported by the command
that prints the table.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="A minimal Typer app.")

_TITLES = ("基幹システム更新", "Inventory Sync Integration", "保守契約更新", "Support Renewal")
_ACCOUNTS = ("株式会社山城精機", "Northwind Traders Japan K.K.", "東和商事株式会社", "Contoso Ltd")


@app.command()
def noop() -> None:
    """Do nothing."""


@app.command()
def table() -> None:
    """Print a 50-row table of due deals."""
    from rich.console import Console
    from rich.table import Table

    grid = Table(title="Due", title_justify="left", header_style="bold", show_edge=False)
    for header in ("#", "Title", "Account", "Stage", "Next action", "Due", "Overdue"):
        grid.add_column(header, overflow="fold")
    for n in range(1, 51):
        grid.add_row(
            str(n),
            _TITLES[n % 4],
            _ACCOUNTS[n % 4],
            "提案",
            "見積の回答確認",
            f"2026-12-{n % 28 + 1:02d}",
            str(n % 9),
        )
    Console().print(grid)


if __name__ == "__main__":
    app()
