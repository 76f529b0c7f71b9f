"""Sentence units of a passage: titles and subheadings left out, bare attributions and
introductions dropped, continuations joined, every unit able to stand alone."""

from __future__ import annotations

import pytest

from rag.text.hygiene import is_fragment, is_headline, quotes_balanced
from rag.text.sentence_units import passage_units
from tests.conftest import SEEDS_DIR

# The flagship passage of the English seed, as it stands in the article.
FLAGSHIP = (
    "Microsoft ensures that once it takes over TikTok, users will benefit from increased "
    "privacy, as all of their data will be located in the United States, thus saving the "
    "threat from Trump:\n\n“Among other measures, Microsoft would ensure that all private "
    "data of US TikTok users is transferred and remains in the United States. To the extent "
    "that such data is currently stored or backed up outside of the United States, Microsoft "
    "will ensure that this data is removed from servers outside the country after it is "
    "transferred », clarifies.\n\nMicrosoft will buy TikTok\n\nYou know how the patio is."
)


class TestSentencesStandAlone:
    def test_a_quotation_over_two_sentences_loses_its_bare_attribution(self) -> None:
        units = passage_units(FLAGSHIP, title="Microsoft confirms", language="en")
        quoted = units[1].text
        assert quoted.startswith("Among other measures, Microsoft would ensure that all private")
        assert quoted.endswith("removed from servers outside the country after it is transferred.")
        assert "»" not in quoted and "“" not in quoted and "clarifies" not in quoted

    @pytest.mark.parametrize(
        ("language", "text", "expected"),
        [
            (
                "fr",
                "«Toutes les données resteront aux États-Unis. Les copies seront supprimées "
                "des serveurs à l’étranger », précise.",
                "Toutes les données resteront aux États-Unis. Les copies seront supprimées "
                "des serveurs à l’étranger.",
            ),
            (
                "ar",
                "«ستبقى جميع البيانات في الولايات المتحدة. وسيتم حذف النسخ المخزنة في الخارج»، "
                "أوضحت.",
                "ستبقى جميع البيانات في الولايات المتحدة. وسيتم حذف النسخ المخزنة في الخارج.",
            ),
        ],
    )
    def test_a_bare_attribution_goes_in_french_and_arabic(
        self, language: str, text: str, expected: str
    ) -> None:
        units = passage_units(text, title="", language=language)
        assert [unit.text for unit in units] == [expected]

    @pytest.mark.parametrize(
        ("language", "text", "expected"),
        [
            (
                "en",
                "Microsoft ensures that users will benefit from increased privacy, thus saving "
                "the threat from Trump:\n\n“All data will stay in the United States.”",
                "Microsoft ensures that users will benefit from increased privacy, thus saving "
                "the threat from Trump.",
            ),
            (
                "fr",
                "Microsoft garantit que les utilisateurs bénéficieront d’une confidentialité "
                "accrue :\n\n«Toutes les données resteront aux États-Unis.»",
                "Microsoft garantit que les utilisateurs bénéficieront d’une confidentialité "
                "accrue.",
            ),
            (
                "ar",
                "وأكدت مايكروسوفت في بيان نشرته على مدونتها يوم الأحد ما يلي:\n\n"
                "«ستبقى جميع البيانات في الولايات المتحدة.»",
                "وأكدت مايكروسوفت في بيان نشرته على مدونتها يوم الأحد ما يلي.",
            ),
        ],
    )
    def test_a_sentence_ending_on_a_colon_ends_on_a_stop(
        self, language: str, text: str, expected: str
    ) -> None:
        units = passage_units(text, title="", language=language)
        assert units[0].text == expected
        assert not any(is_fragment(unit.text) for unit in units)

    @pytest.mark.parametrize(
        ("language", "introduction"),
        [("en", "He said:"), ("fr", "Il a ajouté :"), ("ar", "وأضافت:")],
    )
    def test_a_bare_introduction_is_left_out(self, language: str, introduction: str) -> None:
        text = f"{introduction}\n\n«Microsoft veillera à la sécurité des données.»"
        assert [u.text for u in passage_units(text, title="", language=language)] == [
            "«Microsoft veillera à la sécurité des données.»"
        ]

    @pytest.mark.parametrize(
        ("language", "text", "expected"),
        [
            (
                "fr",
                "«Microsoft veillerait à ce que les données restent aux États-Unis. États », "
                "et que tout élément stocké ailleurs sera supprimé.",
                "«Microsoft veillerait à ce que les données restent aux États-Unis. États », "
                "et que tout élément stocké ailleurs sera supprimé.",
            ),
            (
                "en",
                "The company said the data of its American users\nwill stay in the United States.",
                "The company said the data of its American users will stay in the United States.",
            ),
            (
                "ar",
                'وقالت المديرة العامة في رسالة فيديو:"نحن لن نذهب إلى أي مكان.\u2009... نحن '
                'هنا على المدى الطويل." وأكدت أن التطبيق آمن.',
                'وقالت المديرة العامة في رسالة فيديو:"نحن لن نذهب إلى أي مكان.\u2009... نحن '
                'هنا على المدى الطويل."',
            ),
        ],
    )
    def test_a_continuation_joins_the_sentence_before_it(
        self, language: str, text: str, expected: str
    ) -> None:
        units = passage_units(text, title="", language=language)
        assert units[0].text == expected
        assert quotes_balanced(units[0].text)

    def test_a_fragment_with_nothing_before_it_is_left_out(self) -> None:
        text = "», clarifies the company. Microsoft will keep the data in the United States."
        units = passage_units(text, title="", language="en")
        assert [u.text for u in units] == ["Microsoft will keep the data in the United States."]

    @pytest.mark.parametrize("name", sorted(p.name for p in SEEDS_DIR.glob("*.txt")))
    def test_every_unit_of_the_seeds_stands_alone(self, name: str) -> None:
        text = (SEEDS_DIR / name).read_text(encoding="utf-8")
        title = text.strip().splitlines()[0]
        language = {"000": "ar", "001": "ar", "002": "fr", "003": "ar", "004": "en"}[name[:3]]
        units = passage_units(text, title=title, language=language)
        assert len(units) >= 10
        for unit in units:
            assert not is_headline(unit.text, [title]), unit.text
            assert not is_fragment(unit.text), unit.text
            assert quotes_balanced(unit.text), unit.text
            shown = " ".join(text[start:end] for start, end in unit.segments)
            assert unit.text.startswith(shown)
