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


@cache
def _gazetteer() -> dict[tuple[str, ...], str]:
    """Country codes by the terms of their names, as each language's analyser gives them."""
    table: dict[tuple[str, ...], str] = {}
    for code, language, name in _names():
        terms = tuple(analyzer_for(language).terms(name))
        if terms and len(terms) <= MAX_NAME_TERMS:
            table.setdefault(terms, code)
    return table


def places_in(text: str, language: str) -> frozenset[str]:
    """The codes of the countries `text` names (in `language`, any script)."""
    if language not in LANGUAGES:
        language = "en"
    terms = analyzer_for(language).terms(text)
    table = _gazetteer()
    found: set[str] = set()
    for start in range(len(terms)):
        for length in range(1, MAX_NAME_TERMS + 1):
            code = table.get(tuple(terms[start : start + length]))
            if code is not None:
                found.add(code)
    return frozenset(found)
