"""Text made safe to show: control characters disarmed, secrets redacted."""

from __future__ import annotations

from rag.safe_text import printable, redact
from tests.conftest import API_KEY


def test_printable_keeps_offsets() -> None:
    text = "a\x1b[2Jb\x07c\u0085d\ne"
    assert len(printable(text)) == len(text)
    assert printable(text) == "a [2Jb c d\ne"


def test_redact() -> None:
    assert redact(f"bad key {API_KEY}!", [API_KEY]) == "bad key ***!"
    assert redact("GET http://user:pw@host/v1 failed", []) == "GET http://***@host/v1 failed"
    assert redact("nothing to hide", [None, ""]) == "nothing to hide"
