"""The front ends' shared plumbing (bot/frontend.py)."""

from __future__ import annotations

import platform
import sys

from bot.frontend import limit_malloc_arenas


def test_malloc_arenas_are_capped_where_glibc_allows() -> None:
    capped = limit_malloc_arenas()
    assert capped == (sys.platform == "linux" and platform.libc_ver()[0] == "glibc")
