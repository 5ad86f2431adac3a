"""`dealctl config`: read and change settings."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from dealctl.cli import (
    app,
)

config_app = typer.Typer(help="Read and change settings (config.toml).", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("path")
def config_path() -> None:
    """Print where the config file is (it need not exist).

    Example: dealctl config path
    """
    from dealctl.config import config_path as path_of

    sys.stdout.write(f"{path_of(os.environ)}\n")


@config_app.command("show")
def config_show() -> None:
    """Print the settings in force (defaults merged with the file) as TOML.

    Example: dealctl config show
    """
    import tomli_w

    from dealctl.config import load

    sys.stdout.write(tomli_w.dumps(load().data))


@config_app.command("get")
def config_get(key: Annotated[str, typer.Argument(help="Dotted key, e.g. timezone.")]) -> None:
    """Print one setting.

    Example: dealctl config get lost_reasons
    """
    import tomli_w

    from dealctl.config import get_value, load

    value = get_value(load(), key)
    text = tomli_w.dumps(value) if isinstance(value, dict) else f"{value}\n"
    sys.stdout.write(text)


# A value may start with '-' (`config set digest.days -3`): it is an argument, not an option.
@config_app.command("set", context_settings={"ignore_unknown_options": True})
def config_set(
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. timezone.")],
    value: Annotated[str, typer.Argument(help="New value (TOML syntax for numbers, lists).")],
) -> None:
    """Change one setting in the config file (comments in the file are not kept).

    The value is checked like the whole file: a bad one is refused and the file kept.

    Example: dealctl config set timezone Asia/Tokyo
    """
    from dealctl.config import config_path as path_of
    from dealctl.config import set_value

    path = path_of(os.environ)
    set_value(path, key, value)
    sys.stderr.write(f"dealctl: {key} set in {path} (comments in that file are not kept)\n")
