"""Language-aware text analysis: normalisation, tokens, stopwords and stems.

The same analyser turns passages into index terms and questions into query terms,
so the two always meet. Each token is analysed by its script: Arabic-script tokens
by the Arabic rules whatever the text's language (a French article may quote an
Arabic name), Latin-script tokens by the French rules in French text and by the
English rules elsewhere.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache, partial
from pathlib import Path

import numpy as np
import Stemmer

LANGUAGES = ("ar", "fr", "en")

# Harakat, superscript alef, Quranic annotation marks, and tatweel carry no meaning
# for search; alef, yeh and teh marbuta variants are written inconsistently in news.
_ARABIC_DIACRITICS = "".join(
    [chr(c) for c in range(0x064B, 0x0660)] + ["\u0670"] + [chr(c) for c in range(0x06D6, 0x06EE)]
)
_TATWEEL = "\u0640"
# One character for another, applied after canonical decomposition (NFD), which has
# already split أ إ آ ؤ ئ into a base letter and a combining hamza or madda (dropped
# with the other combining marks).
_FOLDED_CHARACTERS = {
    "ٱ": "ا",
    "ى": "ي",
    "ة": "ه",
    **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
    **{chr(0x06F0 + d): str(d) for d in range(10)},  # Eastern Arabic-Indic digits
    "’": "'",
    "‘": "'",
    "ʼ": "'",
    "`": "'",
    "´": "'",
}
# French ligatures: "œuvre" and "oeuvre" are both common spellings.
_LIGATURES = {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae"}

_TOKEN_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_ARABIC_LETTER_RE = re.compile(r"[\u0621-\u064A\u0671-\u06D3\u06FA-\u06FF]")

FRENCH_ELISIONS = frozenset(
    {"l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"}
)

_ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
_ARABIC_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")


def normalize(text: str) -> str:
    """Fold case, compatibility forms, Arabic spelling variants and accents.

    The result is for matching only; it is never shown to a user.
    """
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text.lower().replace("`", "'")
    decomposed = unicodedata.normalize("NFD", text.casefold())
    # After decomposition, which splits "ǣ" into "æ" and a macron.
    for ligature, letters in _LIGATURES.items():
        if ligature in decomposed:
            decomposed = decomposed.replace(ligature, letters)
    # One table lookup per character: far faster than str.translate on non-ASCII text.
    codes = np.frombuffer(decomposed.encode("utf-32-le", "surrogatepass"), np.uint32)
    folded = _fold_table()[codes]
    return folded[folded != 0].tobytes().decode("utf-32-le", "surrogatepass")


# The planes that can hold combining marks: 2 and 3 hold ideographs, 15 and 16 private use,
# the others nothing yet. Looking only here keeps the table's cost at a cold start small
# (tests/rag/text/test_analysis.py checks it against every code point).
_MARK_PLANES = (range(0x20000), range(0xE0000, 0xF0000))


@cache
def _fold_table() -> np.ndarray:
    """Code point -> folded code point, 0 for the characters that are dropped."""
    table = np.arange(sys.maxunicode + 1, dtype=np.uint32)
    for code in (code for plane in _MARK_PLANES for code in plane):
        if unicodedata.combining(chr(code)):
            table[code] = 0  # accents, and the hamza/madda that NFD split off
    for mark in _ARABIC_DIACRITICS + _TATWEEL:
        table[ord(mark)] = 0
    for source, target in _FOLDED_CHARACTERS.items():
        table[ord(source)] = ord(target)
    return table


def is_arabic_token(token: str) -> bool:
    return _ARABIC_LETTER_RE.search(token) is not None


def arabic_light_stem(token: str) -> str:
    """Strip the conjunction و, the article and its clitic forms, and common suffixes.

    A light stemmer in the manner of Larkey's Light10: it keeps at least two letters
    and leaves the root untouched, which suits names transliterated into Arabic.
    """
    if len(token) > 3 and token.startswith("و"):
        token = token[1:]
    for prefix in _ARABIC_PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 2:
            token = token[len(prefix) :]
            break
    for suffix in _ARABIC_SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 2:
            token = token[: -len(suffix)]
    return token


def _strip_elision(token: str) -> str:
    if "'" not in token:
        return token
    head, _, rest = token.partition("'")
    if head in FRENCH_ELISIONS and rest:
        return rest
    return token.replace("'", "")


def _strip_english_clitic(token: str) -> str:
    if token.endswith("'s"):
        return token[:-2]
    return token.replace("'", "")


def _load_stopwords(language: str, question_words: bool = True) -> frozenset[str]:
    folder = Path(__file__).with_name("stopwords")
    words = (folder / f"{language}.txt").read_text(encoding="utf-8").split()
    if question_words:
        words += (folder / f"{language}-questions.txt").read_text(encoding="utf-8").split()
    normalized = {normalize(word) for word in words}
    if language == "fr":
        normalized |= {_strip_elision(word) for word in normalized}
    return frozenset(w for w in normalized if w)


class Analyzer:
    """Turns text of one language into index terms.

    `stem` can be switched off to get normalised surface tokens, which the offline
    embedding uses. `question_words=False` keeps the words that phrase a question
    (rag/text/stopwords/*-questions.txt); `arabic_stemmer` and `latin_stemmer` replace the
    light Arabic stemmer and Snowball. benchmarks/tune.py compares these choices.
    """

    def __init__(
        self,
        language: str,
        *,
        stem: bool = True,
        remove_stopwords: bool = True,
        question_words: bool = True,
        arabic_stemmer: Callable[[str], str] | None = None,
        latin_stemmer: Callable[[str], str] | None = None,
    ) -> None:
        self.language = language if language in LANGUAGES else "und"
        self.stem = stem
        self.remove_stopwords = remove_stopwords
        self._latin_language = "fr" if self.language == "fr" else "en"
        self._latin_stopwords = (
            _stopwords(self._latin_language, question_words) if remove_stopwords else frozenset()
        )
        self._arabic_stopwords = (
            _stopwords("ar", question_words) if remove_stopwords else frozenset()
        )
        self._latin_stemmer: Callable[[str], str] = (
            (latin_stemmer or _snowball(self._latin_language)) if stem else _identity
        )
        self._arabic_stemmer: Callable[[str], str] = (
            (arabic_stemmer or arabic_light_stem) if stem else _identity
        )
        self._cache: dict[str, tuple[str, str] | None] = {}

    def _analyse(self, token: str) -> tuple[str, str] | None:
        """The token's word (clitics and elisions off, not stemmed) and its term."""
        if is_arabic_token(token):
            token = token.replace("'", "")
            if token in self._arabic_stopwords:
                return None
            return token, self._arabic_stemmer(token)
        token = (
            _strip_elision(token) if self._latin_language == "fr" else _strip_english_clitic(token)
        )
        if not token or token in self._latin_stopwords:
            return None
        if len(token) == 1 and not token.isdigit():
            return None
        return token, self._latin_stemmer(token)

    def words_and_terms(self, text: str) -> tuple[list[str], list[str]]:
        """The content words of `text` and their index terms, in order, repeats kept."""
        cache = self._cache
        words: list[str] = []
        terms: list[str] = []
        for token in _TOKEN_RE.findall(normalize(text)):
            analysed = cache.get(token, ())
            if analysed == ():
                analysed = self._analyse(token)
                if len(cache) < 500_000:
                    cache[token] = analysed
            if analysed and analysed[1]:
                words.append(analysed[0])
                terms.append(analysed[1])
        return words, terms

    def terms(self, text: str) -> list[str]:
        """Index terms of `text`, in order, repeats kept."""
        return self.words_and_terms(text)[1]


def _identity(token: str) -> str:
    return token


@cache
def _stopwords(language: str, question_words: bool = True) -> frozenset[str]:
    return _load_stopwords(language, question_words)


@cache
def _snowball(language: str) -> Callable[[str], str]:
    stemmer = Stemmer.Stemmer({"fr": "french", "en": "english"}[language])
    if language == "fr":
        return partial(french_stem, stemmer.stemWord)
    return stemmer.stemWord


def french_stem(snowball: Callable[[str], str], word: str) -> str:
    """Snowball's French stem of a word whose accents are already folded.

    Folded, "calculée" reaches Snowball as "calculee", which it would stem to
    "calcule", apart from "calculé" and "calculer" ("calcul"); so "-ee" and "-ees"
    lose their last "e" first. Stemming before folding would instead part "sécurité"
    from "securite", as readers often type it.
    """
    if len(word) > 4 and word.endswith(("ee", "ees")):
        word = word[: word.rindex("e")]
    return snowball(word)


@lru_cache(maxsize=16)
def analyzer_for(language: str, *, stem: bool = True, remove_stopwords: bool = True) -> Analyzer:
    """A shared analyser per language; analysers are safe to share between threads."""
    return Analyzer(language, stem=stem, remove_stopwords=remove_stopwords)


def surface_tokens(text: str) -> list[str]:
    """Normalised tokens with nothing removed."""
    return _TOKEN_RE.findall(normalize(text))


@lru_cache(maxsize=1)
def _all_stopwords() -> frozenset[str]:
    return _stopwords("ar") | _stopwords("fr") | _stopwords("en")


def content_tokens(text: str) -> list[str]:
    """Normalised, unstemmed tokens without elisions and without any language's stopwords.

    For uses that do not know the text's language, such as the offline embedding.
    """
    stopwords = _all_stopwords()
    out: list[str] = []
    for token in _TOKEN_RE.findall(normalize(text)):
        if "'" in token:
            token = _strip_english_clitic(_strip_elision(token))
        if token and token not in stopwords:
            out.append(token)
    return out
