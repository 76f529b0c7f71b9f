"""The answer-hygiene check the evaluation runs on every answer: headlines, fragments,
unbalanced quotes, unannounced languages, sentences that lean on the one before."""

from __future__ import annotations

import pytest

from rag.text.hygiene import answer_sentences, check_answer, is_value_keyword, leans_on_previous


class TestLeaningSentences:
    @pytest.mark.parametrize(
        ("language", "sentence"),
        [
            ("en", "To the extent that such data is stored outside the country, it goes."),
            ("en", "It has pulverized the number of users of other services."),
            ("fr", "Cela vaut aussi pour les copies de sauvegarde."),
            ("fr", "Parler à Fox News, il a déclaré que les éditeurs transmettent des données."),
            ("ar", "وعلاوة على ذلك، سيضمن حذف أي بيانات مخزنة خارج الدولة."),
            ("ar", "تأتي هذه الخطوة بعد أشهر من الضغوط على الشركة."),
        ],
    )
    def test_anaphors_are_found(self, language: str, sentence: str) -> None:
        assert leans_on_previous(sentence, language)

    @pytest.mark.parametrize(
        ("language", "sentence"),
        [
            ("en", "Microsoft ensures that once it takes over TikTok, users benefit."),
            ("fr", "Microsoft a publié une déclaration sur son blog."),
            ("ar", "أكدت شركة مايكروسوفت أنها تواصل المحادثات لشراء التطبيق."),
        ],
    )
    def test_a_sentence_that_names_its_subject_leans_on_nothing(
        self, language: str, sentence: str
    ) -> None:
        assert not leans_on_previous(sentence, language)


class TestHygieneCheck:
    def test_the_issue_examples_are_caught(self) -> None:
        found = check_answer(
            "Microsoft will buy TikTok [3] To the extent that such data is stored abroad, "
            "Microsoft will ensure that this data is removed », clarifies. [1] Microsoft "
            "ensures privacy, thus saving the threat from Trump: [1]",
            "en",
        )
        assert found.headlines == ["Microsoft will buy TikTok"]
        assert found.unbalanced_quotes == [
            "To the extent that such data is stored abroad, Microsoft will ensure that this "
            "data is removed », clarifies."
        ]
        assert found.fragments == ["Microsoft ensures privacy, thus saving the threat from Trump:"]

    def test_an_arabic_title_is_a_headline(self) -> None:
        found = check_answer(
            "تيك توك يحرج أمازون في معركة الحظر. [1] تعرضت شركة أمازون لموقف محرج. [1]",
            "ar",
            ["تيك توك يحرج أمازون في معركة الحظر"],
        )
        assert found.headlines == ["تيك توك يحرج أمازون في معركة الحظر."]
        assert found.sentences == 2

    def test_french_fragments(self) -> None:
        found = check_answer(
            "» présentés par les éditeurs de logiciels. [1] et que tout élément stocké sera "
            "supprimé. [1] Microsoft a déclaré : [1]",
            "fr",
        )
        assert len(found.fragments) == 3

    @pytest.mark.parametrize(
        ("language", "answer", "unannounced"),
        [
            (
                "fr",
                "Microsoft veut acheter TikTok. [1] Microsoft has released a declaration to "
                "acquire TikTok. [2]",
                ["Microsoft has released a declaration to acquire TikTok."],
            ),
            (
                "fr",
                "Microsoft veut acheter TikTok. [1] D’après l’article en anglais « Microsoft "
                "confirms interest » : Microsoft has released a declaration to acquire "
                "TikTok. [2]",
                [],
            ),
            (
                "en",
                "From the Arabic article “تيك توك يحرج أمازون”: تعرضت شركة أمازون لموقف "
                "محرج. [1] The company backed down. [1]",
                [],
            ),
            (
                "ar",
                "تعرضت شركة أمازون لموقف محرج. [1] The company backed down. [2]",
                ["The company backed down."],
            ),
        ],
    )
    def test_another_language_needs_a_note(
        self, language: str, answer: str, unannounced: list[str]
    ) -> None:
        assert check_answer(answer, language).unannounced_languages == unannounced

    def test_a_listing_is_one_sentence_and_holds_the_figures(self) -> None:
        sentences = answer_sentences(
            "تختلف المصادر: حوالي 80 مليون [1]، قرابة 100 مليون [2]، نحو 170 مليون [3]. "
            "ويُعتقد أن تطبيق الفيديو القصير لديه حوالي 80 مليون مستخدم. [1]"
        )
        assert [s.text[:14] for s in sentences] == ["تختلف المصادر:", "ويُعتقد أن تطب"]
        assert check_answer(
            "Les sources divergent : environ 80 millions [1], près de 100 millions [2].", "fr"
        ).first_holds_value

    @pytest.mark.parametrize(
        ("keyword", "is_value"),
        [
            ("80 million", True),
            ("170 مليون", True),
            ("15 septembre", True),
            ("1er août", True),
            ("2016", True),
            ("68%", True),
            ("نصف مليار", True),
            ("M2", False),
            ("Zhang Yiming", False),
            ("كندا", False),
        ],
    )
    def test_which_expected_keywords_are_numbers_or_dates(
        self, keyword: str, is_value: bool
    ) -> None:
        assert is_value_keyword(keyword) is is_value
