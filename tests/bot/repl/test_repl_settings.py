"""The REPL's settings: NEWSBOT_STATE_DIR and NEWSBOT_REPL_BIDI."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.repl.settings import ReplSettings
from rag.errors import ConfigError


def test_state_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert ReplSettings.load().user_state_dir() == tmp_path / "xdg" / "newsbot"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".local" / "state" / "newsbot"
    assert ReplSettings.load().user_state_dir() == expected
    monkeypatch.setenv("NEWSBOT_STATE_DIR", "")  # as in a copied .env.example
    assert ReplSettings.load().state_dir is None
    monkeypatch.setenv("NEWSBOT_STATE_DIR", str(tmp_path / "mine"))
    assert ReplSettings.load().user_state_dir() == tmp_path / "mine"


def test_repl_bidi_values(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ReplSettings.load().repl_bidi == "terminal"
    monkeypatch.setenv("NEWSBOT_REPL_BIDI", "reorder")
    assert ReplSettings.load().repl_bidi == "reorder"
    monkeypatch.setenv("NEWSBOT_REPL_BIDI", "rtl")
    with pytest.raises(ConfigError, match="NEWSBOT_REPL_BIDI"):
        ReplSettings.load()


def test_the_repl_settings_come_from_the_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("NEWSBOT_REPL_BIDI=reorder\nNEWSBOT_TOP_K=x\n", "utf-8")
    assert ReplSettings.load().repl_bidi == "reorder"  # NEWSBOT_TOP_K is the engine's
