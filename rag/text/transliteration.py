"""Names across scripts: the consonants an English or French name and its Arabic spelling
share, so that a question can find a passage in the other script by the names they have in
common ("Panthers" and "بانثرز" both give BNTRS, "Tesla" and "تسلا" TSL).

Arabic writes no short vowels and spells foreign sounds with its nearest letters, so a
word is reduced to classes of consonants: b and p are one class, t, d and th another, s, z
and sh a third, k, g, q and j a fourth, f and v a fifth; vowels, h, w and y (long vowels in
Arabic) are dropped, and a repeated class counts once. Skeletons shorter than
MIN_SKELETON letters say too little to match on.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MIN_SKELETON = 3

_ARABIC = {
    "ب": "B",
    "پ": "B",
    "ت": "T",
    "ث": "T",
    "د": "T",
    "ذ": "T",
    "ض": "T",
    "ط": "T",
    "ز": "S",
    "س": "S",
    "ش": "S",
    "ص": "S",
    "ظ": "S",
    "چ": "S",
    "ج": "K",
    "خ": "K",
    "غ": "K",
    "ق": "K",
    "ك": "K",
    "گ": "K",
    "ف": "F",
    "ڤ": "F",
    "ل": "L",
    "م": "M",
    "ن": "N",
    "ر": "R",
}
_LATIN_DIGRAPHS = (
    ("sch", "S"),
    ("ch", "S"),
    ("sh", "S"),
    ("th", "T"),
    ("ph", "F"),
    ("gh", "K"),
    ("ck", "K"),
    ("qu", "K"),
    ("kh", "K"),
    ("dh", "T"),
    ("zh", "K"),
)
_LATIN = {
    "b": "B",
    "p": "B",
    "t": "T",
    "d": "T",
    "s": "S",
    "z": "S",
    "x": "KS",
    "c": "K",
    "k": "K",
    "q": "K",
    "g": "K",
    "j": "K",
    "f": "F",
    "v": "F",
    "l": "L",
    "m": "M",
    "n": "N",
    "r": "R",
}
# The article and the conjunctions and prepositions written onto a word.
_ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
_ARABIC_PROCLITICS = "وبلكف"
_ARABIC_LETTERS_RE = re.compile(r"[\u0621-\u064A\u0671-\u06D3\u06FA-\u06FF]")
_REPEATS_RE = re.compile(r"(.)\1+")


def _latin(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word.lower())
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    out: list[str] = []
    position = 0
    while position < len(letters):
        for digraph, key in _LATIN_DIGRAPHS:
            if letters.startswith(digraph, position):
                out.append(key)
                position += len(digraph)
                break
        else:
            letter = letters[position]
            following = letters[position + 1 : position + 2]
            if letter == "c" and following and following in "eiy":
                out.append("S")  # "cell", "Nice"
            else:
                out.append(_LATIN.get(letter, ""))
            position += 1
    return _REPEATS_RE.sub(r"\1", "".join(out))


def _arabic(word: str) -> str:
    return _REPEATS_RE.sub(r"\1", "".join(_ARABIC.get(letter, "") for letter in word))


@lru_cache(maxsize=200_000)
def skeletons(word: str) -> frozenset[str]:
    """The skeletons a word may match by (an Arabic word also without the article or a
    one-letter proclitic), each of at least MIN_SKELETON letters."""
    if _ARABIC_LETTERS_RE.search(word):
        forms = {word}
        for prefix in _ARABIC_PREFIXES:
            if word.startswith(prefix) and len(word) - len(prefix) >= MIN_SKELETON:
                forms.add(word[len(prefix) :])
                break
        if word[:1] in _ARABIC_PROCLITICS and len(word) > MIN_SKELETON + 1:
            forms.add(word[1:])
        keys = {_arabic(form) for form in forms}
    else:
        keys = {_latin(word)}
    return frozenset(key for key in keys if len(key) >= MIN_SKELETON)


def is_arabic_word(word: str) -> bool:
    return bool(_ARABIC_LETTERS_RE.search(word))
