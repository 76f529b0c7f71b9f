"""Countries named in a text, in Arabic, French or English: "India", "Inde" and "الهند" are
one place, so that a question about users in India is not answered with the users of the
United States (however alike the two sentences read to a model).

The names are ISO 3166's, with their French and Arabic translations, from the `pycountry`
package (offline), and the common short names and adjectives of rag/text/places.txt
("US", "American", "أميركي").
"""

from __future__ import annotations

import gettext
from functools import cache
from importlib import resources

from rag.text.analysis import LANGUAGES, analyzer_for

# The longest name, in terms once stopwords are gone ("Saint Vincent and the Grenadines").
MAX_NAME_TERMS = 5


def _names() -> list[tuple[str, str, str]]:
    """(country code, language, name) for every country name known."""
    import pycountry

    translations = {
        language: gettext.translation(
            "iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True
        )
        for language in ("fr", "ar")
    }
    names: list[tuple[str, str, str]] = []
    for country in pycountry.countries:
        english = [country.name, getattr(country, "common_name", None)]
        for name in filter(None, english):
            names.append((country.alpha_2, "en", name))
            for language, translation in translations.items():
                names.append((country.alpha_2, language, translation.gettext(name)))
    text = resources.files("rag.text").joinpath("places.txt").read_text("utf-8")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        head, _, listed = line.partition(":")
        code, language = head.split()
        names += [(code, language, name.strip()) for name in listed.split(",") if name.strip()]
    return names


# Written onto an Arabic word: the conjunctions and prepositions, and the article.
_ARABIC_PROCLITICS = ("و", "ب", "ل", "ف", "ك")


def _forms(words: list[str]) -> tuple[str, ...]:
    """A name's words as matched: normalised, an Arabic word without its article."""
    return tuple(word[2:] if word.startswith("ال") and len(word) > 4 else word for word in words)


@cache
def _gazetteer() -> dict[tuple[str, ...], str]:
    """Country codes by the words of their names (normalised, not stemmed: "Martin" is not
    Martinique)."""
    table: dict[tuple[str, ...], str] = {}
    for code, language, name in _names():
        words = _forms(analyzer_for(language, stem=False).words_and_terms(name)[0])
        if words and len(words) <= MAX_NAME_TERMS:
            table.setdefault(words, code)
    return table


def _variants(word: str) -> list[str]:
    """An Arabic word as it may stand in a name: without a proclitic, without the article."""
    found = [word]
    while found[-1][:1] in _ARABIC_PROCLITICS and len(found[-1]) > 3 and len(found) < 3:
        found.append(found[-1][1:])
    return [_forms([form])[0] for form in found]


def places_in(text: str, language: str) -> frozenset[str]:
    """The codes of the countries `text` names (in `language`, any script)."""
    if language not in LANGUAGES:
        language = "en"
    words = analyzer_for(language, stem=False).words_and_terms(text)[0]
    table = _gazetteer()
    found: set[str] = set()
    for start in range(len(words)):
        for first in _variants(words[start]):
            for length in range(1, MAX_NAME_TERMS + 1):
                key = (first, *_forms(words[start + 1 : start + length]))
                if len(key) < length:
                    break
                code = table.get(key)
                if code is not None:
                    found.add(code)
    return frozenset(found)
