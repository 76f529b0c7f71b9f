"""Text made safe to show: the one sanitiser for what reaches a terminal or a chat from
articles or files, and the one redaction of secrets from errors and logs.

An article must not clear the screen, retitle the window or write the clipboard (OSC 52)
of whoever reads it: C0 controls other than newline, DEL and C1 controls never get
through. `--json` output keeps the exact text; JSON escapes it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_NAME_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with control characters (C0 but newline, DEL, C1) made spaces, keeping every
    offset where it was."""
    return "".join(
        char if char == "\n" or (char >= " " and not "\x7f" <= char <= "\x9f") else " "
        for char in text
    )


def one_line(text: str) -> str:
    """`printable`, on one line: for titles."""
    return printable(text).replace("\n", " ")


# Bidirectional controls: embeddings, overrides, isolates and marks. An override left open
# in a title (U+202E) reverses what follows it on the line: a file name, the next column.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI_CONTROL_RE = re.compile(f"[{BIDI_CONTROLS}]")


def without_bidi_controls(text: str) -> str:
    """`text` without bidirectional controls (the text's own letters set its direction)."""
    return _BIDI_CONTROL_RE.sub("", text)


def visible(text: str) -> bool:
    """Whether `text` shows anything: more than spaces, controls and invisible format
    characters (zero-width spaces and joiners, bidirectional marks)."""
    return any(not (char.isspace() or unicodedata.category(char) in ("Cc", "Cf")) for char in text)


def escaped_name(name: str) -> str:
    """A file name fit for one line of a terminal or a chat: control characters (a newline,
    an escape) are written as Python escapes, so the name stays recognisable."""
    return _NAME_CONTROL_RE.sub(lambda match: repr(match.group())[1:-1], name)


_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
# Shorter "secrets" can't be told from ordinary text: replacing them would garble messages.
MIN_SECRET_CHARS = 4


def redact(text: str, secrets: Iterable[str | None], mask: str = "***") -> str:
    """`text` with each secret (longest first) replaced by `mask`, and without credentials
    written into URLs (`http://user:password@host`)."""
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}, key=len)[::-1]:
        text = text.replace(secret, mask)
    return _URL_CREDENTIALS.sub(f"{mask}@", text)
