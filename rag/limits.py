"""Limits of settings that a front end applies before the settings are read, such as a click
option's range; `rag.settings` declares its fields with them, so each is written once. Kept
apart from rag.settings so that `newsbot --help` does not import pydantic."""

from __future__ import annotations

from typing import NamedTuple


class Bounds(NamedTuple):
    """The smallest and the largest value a setting accepts."""

    low: int
    high: int


# NEWSBOT_TOP_K, `-k` of `newsbot ask`, `newsbot eval` and `newsbot repl`, the REPL's /k.
TOP_K = Bounds(1, 50)
