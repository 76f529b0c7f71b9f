"""Language detection for articles and questions: Arabic, French, English or `und`."""

from __future__ import annotations

import re

from rag.text.analysis import normalize

_ARABIC_RE = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_LATIN_RE = re.compile(r"[A-Za-z\u00C0-\u024F]")
_WORD_RE = re.compile(r"[a-z]+")

# Short, frequent words that tell the two Latin-script languages apart; the accents
# are folded because the text is normalised first.
_FRENCH_MARKERS = frozenset(
    [
        "le",
        "la",
        "les",
        "des",
        "du",
        "une",
        "un",
        "est",
        "et",
        "en",
        "que",
        "qui",
        "dans",
        "pour",
        "pas",
        "sur",
        "au",
        "aux",
        "ce",
        "cette",
        "sont",
        "avec",
        "ont",
        "par",
        "il",
        "elle",
        "ils",
        "nous",
        "vous",
        "leur",
        "mais",
        "ou",
        "donc",
        "plus",
        "quel",
        "quelle",
        "quels",
        "quelles",
        "pourquoi",
        "comment",
        "combien",
        "quand",
        "selon",
        "apres",
        "avant",
        "entre",
        "sans",
        "ete",
        "etait",
        "l",
        "d",
        "qu",
        "j",
        "n",
        "s",
        "c",
    ]
)
_ENGLISH_MARKERS = frozenset(
    [
        "the",
        "of",
        "and",
        "to",
        "in",
        "is",
        "that",
        "for",
        "it",
        "with",
        "as",
        "was",
        "on",
        "are",
        "by",
        "this",
        "be",
        "from",
        "at",
        "or",
        "have",
        "has",
        "an",
        "which",
        "what",
        "who",
        "when",
        "where",
        "why",
        "how",
        "did",
        "does",
        "do",
        "will",
        "would",
        "their",
        "its",
        "about",
        "were",
        "been",
        "after",
        "before",
        "into",
        "than",
    ]
)


def detect_language(text: str) -> str:
    """Return "ar", "fr", "en", or "und" when the text gives too little to tell."""
    arabic = len(_ARABIC_RE.findall(text))
    latin = len(_LATIN_RE.findall(text))
    if arabic == 0 and latin == 0:
        return "und"
    if arabic >= latin:
        return "ar"
    folded = normalize(text).replace("'", " ")
    words = _WORD_RE.findall(folded)
    french = sum(1 for w in words if w in _FRENCH_MARKERS)
    english = sum(1 for w in words if w in _ENGLISH_MARKERS)
    if french == english == 0:
        # Accented letters are a weak but real hint in short texts.
        if re.search(r"[àâçéèêëîïôûùüÿœ«»]", text.lower()):
            return "fr"
        return "und" if arabic == 0 else "ar"
    if french > english:
        return "fr"
    if english > french:
        return "en"
    return "fr" if re.search(r"[àâçéèêëîïôûùüÿœ]", text.lower()) else "en"
