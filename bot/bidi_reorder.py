"""Visual order of bidirectional text, for terminals that show characters as they come.

Arabic is stored and typed in logical order (first letter first). A terminal with bidi
support lays it out right to left itself; one without it (tmux panes, the Linux console,
Windows Terminal) prints it left to right, so every Arabic word reads backwards. For those,
the REPL reorders each wrapped line before printing it, with this module.

It implements the Unicode Bidirectional Algorithm (UAX #9) for one line of plain text:
levels (rules W1-W7, N0-N2, I1-I2, L1), reordering (L2), combining marks kept after their
base letter (L3) and mirrored brackets (L4). Explicit embeddings and isolates are not
interpreted (news text has none); like other format characters, they take the level of
their neighbour. It returns where each character goes rather than a string, so that colours
follow their characters. Tests check it against the python-bidi package.

Display only: what is stored, logged, copied as JSON or kept in history stays logical.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

STRONG_RTL = frozenset({"R", "AL"})
# Rule X9: format characters that take no part in resolving levels.
FORMAT = frozenset({"RLE", "LRE", "RLO", "LRO", "PDF", "BN", "LRI", "RLI", "FSI", "PDI"})
NEUTRAL = frozenset({"B", "S", "WS", "ON"})

# Bidi_Paired_Bracket pairs (BidiBrackets.txt) in common use.
BRACKETS = {
    "(": ")",
    "[": "]",
    "{": "}",
    "\u2045": "\u2046",
    "\u207d": "\u207e",
    "\u208d": "\u208e",
    "\u2308": "\u2309",
    "\u230a": "\u230b",
    "\u2329": "\u232a",
    "\u27e6": "\u27e7",
    "\u27e8": "\u27e9",
    "\u27ea": "\u27eb",
    "\u2983": "\u2984",
    "\u2985": "\u2986",
    "\u3008": "\u3009",
    "\u300a": "\u300b",
    "\u300c": "\u300d",
    "\u300e": "\u300f",
    "\u3010": "\u3011",
    "\u3014": "\u3015",
    "\u3016": "\u3017",
    "\u3018": "\u3019",
    "\u301a": "\u301b",
    "\ufe59": "\ufe5a",
    "\ufe5b": "\ufe5c",
    "\ufe5d": "\ufe5e",
    "\uff08": "\uff09",
    "\uff3b": "\uff3d",
    "\uff5b": "\uff5d",
    "\uff5f": "\uff60",
    "\uff62": "\uff63",
}
CLOSING_BRACKETS = {closing: opening for opening, closing in BRACKETS.items()}
MAX_BRACKET_DEPTH = 63

# Bidi_Mirroring_Glyph (BidiMirroring.txt) for the mirrored characters news text uses.
_MIRROR_PAIRS = (
    *BRACKETS.items(),
    ("<", ">"),
    ("«", "»"),
    ("‹", "›"),
    ("≤", "≥"),
    ("≪", "≫"),
    ("∈", "∋"),
    ("⊂", "⊃"),
    ("⊆", "⊇"),
)
MIRROR = {a: b for a, b in _MIRROR_PAIRS} | {b: a for a, b in _MIRROR_PAIRS}


def bidi_class(char: str) -> str:
    # Unassigned code points have no class in unicodedata; treat them as left-to-right.
    return unicodedata.bidirectional(char) or "L"


def has_rtl(text: str) -> bool:
    """Whether any character of `text` is written right to left."""
    return any(bidi_class(char) in STRONG_RTL for char in text)


def is_rtl_paragraph(text: str) -> bool:
    """Rules P2-P3: a paragraph is right-to-left when its first strong character is."""
    for char in text:
        kind = bidi_class(char)
        if kind == "L":
            return False
        if kind in STRONG_RTL:
            return True
    return False


def _strong_direction(kind: str) -> str | None:
    """The direction a resolved type counts as for rules N0-N2 (numbers count as R)."""
    if kind == "L":
        return "L"
    if kind in ("R", "AN", "EN"):
        return "R"
    return None


def _resolve_weak(types: list[str], sos: str) -> None:
    """Rules W1-W7, in place."""
    previous = sos
    for i, kind in enumerate(types):  # W1
        if kind == "NSM":
            types[i] = previous
        else:
            previous = kind
    last_strong = sos
    for i, kind in enumerate(types):  # W2
        if kind in ("L", "R", "AL"):
            last_strong = kind
        elif kind == "EN" and last_strong == "AL":
            types[i] = "AN"
    for i, kind in enumerate(types):  # W3
        if kind == "AL":
            types[i] = "R"
    for i in range(1, len(types) - 1):  # W4
        before, kind, after = types[i - 1], types[i], types[i + 1]
        if kind == "ES" and before == after == "EN":
            types[i] = "EN"
        elif kind == "CS" and before == after and before in ("EN", "AN"):
            types[i] = before
    i = 0
    while i < len(types):  # W5
        if types[i] != "ET":
            i += 1
            continue
        end = i
        while end < len(types) and types[end] == "ET":
            end += 1
        if (i > 0 and types[i - 1] == "EN") or (end < len(types) and types[end] == "EN"):
            types[i:end] = ["EN"] * (end - i)
        i = end
    for i, kind in enumerate(types):  # W6
        if kind in ("ES", "ET", "CS"):
            types[i] = "ON"
    last_strong = sos
    for i, kind in enumerate(types):  # W7
        if kind in ("L", "R"):
            last_strong = kind
        elif kind == "EN" and last_strong == "L":
            types[i] = "L"


def _bracket_pairs(chars: list[str], types: list[str]) -> list[tuple[int, int]]:
    """Rule BD16: matching bracket pairs, sorted by the opening bracket's position."""
    stack: list[tuple[str, int]] = []
    pairs: list[tuple[int, int]] = []
    for i, char in enumerate(chars):
        if types[i] != "ON":
            continue
        if char in BRACKETS:
            if len(stack) == MAX_BRACKET_DEPTH:
                break
            stack.append((char, i))
        elif char in CLOSING_BRACKETS:
            opening = CLOSING_BRACKETS[char]
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] == opening:
                    pairs.append((stack[depth][1], i))
                    del stack[depth:]
                    break
    return sorted(pairs)


def _resolve_brackets(chars: list[str], types: list[str], original: list[str], sos: str) -> None:
    """Rule N0: a bracket pair takes the direction of what it encloses, in place."""
    embedding = sos
    for opening, closing in _bracket_pairs(chars, types):
        inside = {_strong_direction(kind) for kind in types[opening + 1 : closing]} - {None}
        if not inside:
            continue
        if embedding in inside:
            direction = embedding
        else:
            # Only the opposite direction inside: keep it if the text before the pair has it.
            direction = next(
                (d for d in map(_strong_direction, reversed(types[:opening])) if d), sos
            )
        for position in (opening, closing):
            types[position] = direction
            following = position + 1
            while following < len(types) and original[following] == "NSM":
                types[following] = direction
                following += 1


def _resolve_neutrals(types: list[str], sos: str) -> None:
    """Rules N1-N2, in place."""
    i = 0
    while i < len(types):
        if types[i] not in NEUTRAL:
            i += 1
            continue
        end = i
        while end < len(types) and types[end] in NEUTRAL:
            end += 1
        before = _strong_direction(types[i - 1]) if i > 0 else sos
        after = _strong_direction(types[end]) if end < len(types) else sos
        direction = before if before == after else sos
        types[i:end] = [direction or sos] * (end - i)
        i = end


def embedding_levels(text: str, rtl: bool) -> list[int]:
    """The resolved embedding level of each character of one line (rules W1-I2, L1)."""
    base = 1 if rtl else 0
    sos = "R" if rtl else "L"
    original = [bidi_class(char) for char in text]
    kept = [i for i, kind in enumerate(original) if kind not in FORMAT]
    chars = [text[i] for i in kept]
    kept_original = [original[i] for i in kept]
    types = list(kept_original)
    _resolve_weak(types, sos)
    _resolve_brackets(chars, types, kept_original, sos)
    _resolve_neutrals(types, sos)

    levels = [base] * len(text)
    for position, kind in zip(kept, types, strict=True):  # I1-I2
        if base == 0:
            levels[position] = {"R": 1, "AN": 2, "EN": 2}.get(kind, 0)
        else:
            levels[position] = 2 if kind in ("L", "EN", "AN") else 1
    for i, kind in enumerate(original):
        if kind in FORMAT and i > 0:
            levels[i] = levels[i - 1]
    trailing = True  # L1: separators and the whitespace before them or the line end
    for i in range(len(text) - 1, -1, -1):
        kind = original[i]
        if kind in ("S", "B"):
            levels[i] = base
            trailing = True
        elif kind == "WS" or kind in FORMAT:
            if trailing:
                levels[i] = base
        else:
            trailing = False
    return levels


def _clusters(text: str) -> list[list[int]]:
    """Positions grouped as base character + the combining marks that follow it."""
    clusters: list[list[int]] = []
    for i, char in enumerate(text):
        if clusters and unicodedata.category(char) in ("Mn", "Me"):
            clusters[-1].append(i)
        else:
            clusters.append([i])
    return clusters


@dataclass(frozen=True)
class VisualLine:
    """One line laid out left to right: `order[k]` is the logical index shown at column k."""

    order: list[int]
    glyphs: list[str]

    @property
    def text(self) -> str:
        return "".join(self.glyphs)


def visual_line(text: str, rtl: bool | None = None) -> VisualLine:
    """Lay out one line (no line breaks) in display order.

    `rtl` is the paragraph direction; by default that of the line's first strong character.
    """
    if rtl is None:
        rtl = is_rtl_paragraph(text)
    levels = embedding_levels(text, rtl)
    units = _clusters(text)
    if levels:
        highest = max(levels)
        lowest_odd = min((level for level in levels if level % 2), default=highest + 1)
        for level in range(highest, lowest_odd - 1, -1):  # L2, on clusters (L3)
            start = 0
            while start < len(units):
                if levels[units[start][0]] < level:
                    start += 1
                    continue
                end = start
                while end < len(units) and levels[units[end][0]] >= level:
                    end += 1
                units[start:end] = units[start:end][::-1]
                start = end
    order = [position for unit in units for position in unit]
    glyphs = [
        MIRROR.get(text[position], text[position]) if levels[position] % 2 else text[position]
        for position in order
    ]
    return VisualLine(order=order, glyphs=glyphs)


def reorder(text: str, rtl: bool | None = None) -> str:
    """`text` (one line) in the order a terminal without bidi support should print it."""
    return visual_line(text, rtl).text
