"""A language model's reply laced with terminal escape codes, for the front ends' tests."""

from __future__ import annotations

import re

# OSC 0 retitles the terminal window; OSC 52 writes the clipboard; CSI 2J clears the screen.
HOSTILE_CHUNKS = [
    "Microsoft promised\x1b]0;HACKED\x07 that ",
    "the data would stay\x1b]52;c;ZWNobyBwd25lZA==\x07 in the\x1b[2J United States [1].",
]
# Any OSC sequence, BEL, or a screen clear: none may reach a terminal or a chat.
ESCAPES = re.compile("\x1b\\]|\x07|\x1b\\[2J|\x9b|\x9d")
