"""The REPL's settings: where its history is kept, and who lays out Arabic."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from rag.settings import EmptyMeansUnset, NewsbotSettings


class ReplSettings(NewsbotSettings):
    """The REPL's settings. `.env.example` documents each one."""

    state_dir: Annotated[Path | None, EmptyMeansUnset] = Field(
        default=None,
        description="Per-user state: the REPL history. Empty: `$XDG_STATE_HOME/newsbot` or "
        "`~/.local/state/newsbot`.",
    )
    repl_bidi: Literal["terminal", "reorder"] = Field(
        default="terminal",
        description="Who lays out Arabic in the REPL: `terminal`, or `reorder` (newsbot) for "
        "terminals without bidi support.",
    )

    def user_state_dir(self) -> Path:
        if self.state_dir is not None:
            return self.state_dir.expanduser()
        xdg = os.environ.get("XDG_STATE_HOME", "")
        # The XDG spec says to ignore a relative XDG_STATE_HOME.
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "state"
        return base / "newsbot"
