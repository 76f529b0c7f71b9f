"""The front ends' shared plumbing (bot/frontend.py)."""

from __future__ import annotations

import platform
import subprocess
import sys

from bot.frontend import limit_malloc_arenas


def test_malloc_arenas_are_capped_where_glibc_allows() -> None:
    capped = limit_malloc_arenas()
    assert capped == (sys.platform == "linux" and platform.libc_ver()[0] == "glibc")


def test_a_command_help_loads_no_settings() -> None:
    """The front ends' settings classes are handed to the command lazily: its --help stays
    quick, while opening the engine still checks names against them (tests/bot/test_cli.py)."""
    code = (
        "import sys; from bot.cli import cli; "
        "cli(['ask', '--help'], prog_name='newsbot', standalone_mode=False); "
        "print(sorted(m for m in sys.modules if m.endswith(('settings', 'config'))))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "Usage: newsbot ask" in shown
    assert shown.rstrip().endswith("[]"), shown
