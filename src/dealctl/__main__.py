"""Entry point of the ``dealctl`` command and ``python -m dealctl``.

Decisions that must precede importing Typer live here: whether Typer may style
help and usage errors (never when the output is not a terminal or NO_COLOR is
set), and how output that cannot be encoded or a closed pipe is handled.
"""

from __future__ import annotations

import os
import sys


def _color_option(argv: list[str]) -> str:
    """The value of the global ``--color`` option, as given before the command."""
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg.startswith("--color="):
            return arg.partition("=")[2]
        if arg in ("--color", "--db"):
            if arg == "--color" and index + 1 < len(argv):
                return argv[index + 1]
            index += 2
            continue
        if not arg.startswith("-"):
            break  # the command: global options stand before it
        index += 1
    return "auto"


def _wants_plain(argv: list[str]) -> bool:
    """True when neither stdout nor stderr may carry escape codes."""
    color = _color_option(argv)
    if color == "always":
        return False
    if color == "never" or os.environ.get("NO_COLOR"):
        return True
    return not (sys.stdout.isatty() and sys.stderr.isatty())


def main() -> None:
    """Run dealctl with this process's arguments and streams."""
    try:
        _main()
    except KeyboardInterrupt:  # before the commands' own handler is in place
        sys.stderr.write("dealctl: interrupted; nothing was written\n")
        sys.exit(130)


def _main() -> None:
    # A stream closed by the caller (`dealctl list >&-`) reads as the null device.
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    for stream in (sys.stdout, sys.stderr):
        # A terminal or pipe that cannot encode a character gets a replacement, not a crash.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    if _wants_plain(sys.argv[1:]):
        # Typer decides at import time whether usage errors and help go through Rich.
        os.environ["TYPER_USE_RICH"] = "0"
    from dealctl.cli import run

    code = run()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (`| head`) has what it wanted: leave quietly, with success.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:  # a full disk behind `> file`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.stderr.write(f"dealctl: cannot write standard output: {exc.strerror}\n")
        code = code or 1
    sys.exit(code)


if __name__ == "__main__":
    main()
