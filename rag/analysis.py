"""Language-aware text analysis: normalisation, tokens, stopwords and stems.

The same analyser turns passages into index terms and questions into query terms,
so the two always meet. Each token is analysed by its script: Arabic-script tokens
by the Arabic rules whatever the text's language (a French article may quote an
Arabic name), Latin-script tokens by the French rules in French text and by the
English rules elsewhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path

import Stemmer

LANGUAGES = ("ar", "fr", "en")

# Harakat, superscript alef, Quranic annotation marks, and tatweel carry no meaning
# for search; alef, yeh and teh marbuta variants are written inconsistently in news.
_ARABIC_DIACRITICS = "".join(
    [chr(c) for c in range(0x064B, 0x0660)] + ["\u0670"] + [chr(c) for c in range(0x06D6, 0x06EE)]
)
_ARABIC_TABLE = str.maketrans(
    {
        **{ch: None for ch in _ARABIC_DIACRITICS},
        "\u0640": None,  # tatweel
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        "ؤ": "و",
        "ئ": "ي",
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Eastern Arabic-Indic digits
        "’": "'",
        "‘": "'",
        "ʼ": "'",
        "`": "'",
        "´": "'",
    }
)

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
    text = unicodedata.normalize("NFKC", text).translate(_ARABIC_TABLE).casefold()
    decomposed = unicodedata.normalize("NFD", text)
    # Combining marks after Latin letters are accents; Arabic ones were removed above.
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


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


def _load_stopwords(language: str) -> frozenset[str]:
    folder = Path(__file__).with_name("stopwords")
    words = (folder / f"{language}.txt").read_text(encoding="utf-8").split()
    words += (folder / f"{language}-questions.txt").read_text(encoding="utf-8").split()
    normalized = {normalize(word) for word in words}
    if language == "fr":
        normalized |= {_strip_elision(word) for word in normalized}
    return frozenset(w for w in normalized if w)


class Analyzer:
    """Turns text of one language into index terms.

    `stem` can be switched off to get normalised surface tokens, which the offline
    embedding uses.
    """

    def __init__(self, language: str, *, stem: bool = True, remove_stopwords: bool = True) -> None:
        self.language = language if language in LANGUAGES else "und"
        self.stem = stem
        self.remove_stopwords = remove_stopwords
        self._latin_language = "fr" if self.language == "fr" else "en"
        self._latin_stopwords = (
            _stopwords(self._latin_language) if remove_stopwords else frozenset()
        )
        self._arabic_stopwords = _stopwords("ar") if remove_stopwords else frozenset()
        self._latin_stemmer: Callable[[str], str] = (
            _snowball(self._latin_language) if stem else _identity
        )
        self._cache: dict[str, str | None] = {}

    def _term(self, token: str) -> str | None:
        if is_arabic_token(token):
            token = token.replace("'", "")
            if token in self._arabic_stopwords:
                return None
            return arabic_light_stem(token) if self.stem else token
        token = (
            _strip_elision(token) if self._latin_language == "fr" else _strip_english_clitic(token)
        )
        if not token or token in self._latin_stopwords:
            return None
        if len(token) == 1 and not token.isdigit():
            return None
        return self._latin_stemmer(token)

    def terms(self, text: str) -> list[str]:
        """Index terms of `text`, in order, repeats kept."""
        cache = self._cache
        out: list[str] = []
        for token in _TOKEN_RE.findall(normalize(text)):
            term = cache.get(token, "")
            if term == "":
                term = self._term(token)
                if len(cache) < 500_000:
                    cache[token] = term
            if term:
                out.append(term)
        return out


def _identity(token: str) -> str:
    return token


@cache
def _stopwords(language: str) -> frozenset[str]:
    return _load_stopwords(language)


@cache
def _snowball(language: str) -> Callable[[str], str]:
    stemmer = Stemmer.Stemmer({"fr": "french", "en": "english"}[language])
    return stemmer.stemWord


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
