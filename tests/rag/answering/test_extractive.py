"""The extractive answerer: what a question asks for, sentences that stand alone, the
asked-for thing first, disagreeing figures side by side, one language per answer or
labelled, and the answer-hygiene check the evaluation runs on every answer."""

from __future__ import annotations

import numpy as np
import pytest

from prompts import localized_table
from rag.answering.extractive import (
    ExtractiveAnswerer,
    SentenceVectors,
    asked_value,
    holds_value,
    language_note,
)
from rag.models import Answer, RetrievedPassage
from rag.retrieval.query_terms import QueryTerms
from rag.text.analysis import analyzer_for
from rag.text.hygiene import (
    answer_sentences,
    check_answer,
    is_fragment,
    is_headline,
    is_value_keyword,
    leans_on_previous,
    quotes_balanced,
)
from rag.text.sentence_units import passage_units
from rag.text.values import asked_noun, asked_quantity, render_value, same_value, values_in
from tests.conftest import SEEDS_DIR


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many users does TikTok have in the US?", "number"),
        ("Combien d’utilisateurs TikTok compte-t-il aux États-Unis ?", "number"),
        ("كم عدد مستخدمي تيك توك في الولايات المتحدة؟", "number"),
        ("When is the US version of TikTok expected to launch?", "date"),
        ("Quand la version américaine de TikTok sera-t-elle lancée ?", "date"),
        ("متى ستطلق النسخة الأمريكية من تيك توك؟", "date"),
        ("Why did Amazon ban TikTok?", "reason"),
        ("Pourquoi Amazon a-t-il interdit TikTok ?", "reason"),
        ("لماذا حظرت أمازون تيك توك؟", "reason"),
        ("Who wants to buy TikTok?", "name"),
        ("Avec qui le patron de Microsoft s’est-il entretenu ?", "name"),
        ("من يريد شراء تيك توك؟", "name"),
        ("What percentage of ByteDance's revenue comes from the US?", "number"),
        ("What did Microsoft promise about data storage?", None),
        ("Que deviendront les données des utilisateurs ?", None),
        ("ماذا تعهدت مايكروسوفت بخصوص البيانات؟", None),
    ],
)
def test_asked_value(question: str, kind: str | None) -> None:
    assert asked_value(question) == kind


def test_holds_value_in_three_scripts() -> None:
    assert holds_value("nearly 100 million users", "number")
    assert holds_value("نحو ١٧٠ مليون مستخدم", "number")
    assert holds_value("près de quatre-vingts millions d’utilisateurs", "number")
    assert holds_value("bis zum 15. September", "date")
    assert holds_value("بحلول سبتمبر", "date")
    assert not holds_value("Microsoft will buy TikTok", "number")
    assert holds_value("حظرت التطبيق بسبب مخاوف تتعلق بالأمن", "reason")
    assert holds_value("interdit en raison des risques", "reason")
    assert not holds_value("Microsoft will buy TikTok", "reason")


def passage(language: str, title: str) -> RetrievedPassage:
    return RetrievedPassage(
        passage_id="p",
        source="a.txt",
        title=title,
        language=language,
        text="…",
        start=0,
        end=1,
        score=1.0,
    )


@pytest.mark.parametrize(
    ("question_language", "expected"),
    [
        ("en", "From the Arabic article “تيك توك يحرج أمازون في معركة الحظر”:"),
        ("fr", "D’après l’article en arabe « تيك توك يحرج أمازون في معركة الحظر » :"),
        ("de", "From the Arabic article “تيك توك يحرج أمازون في معركة الحظر”:"),
    ],
)
def test_language_note_in_the_question_language(question_language: str, expected: str) -> None:
    note = language_note(question_language, passage("ar", "تيك توك يحرج أمازون في معركة الحظر"))
    assert note == expected


def test_language_note_in_arabic_names_the_french_article() -> None:
    note = language_note("ar", passage("fr", "TikTok a pris le contrôle d’Internet"))
    assert note == "من المقال الفرنسي «TikTok a pris le contrôle d’Internet»:"


def test_a_long_title_is_shortened_in_the_note() -> None:
    note = language_note("en", passage("fr", "mot " * 40))
    assert note.endswith("…”:") and len(note) < 100


def test_every_note_table_names_the_three_languages() -> None:
    for language in ("en", "fr", "ar"):
        assert set(localized_table("from_article", language)) == {"ar", "fr", "en", "other"}


def test_sentence_vectors_embed_each_text_once() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.array([[len(text), 1.0] for text in texts])

    cache = SentenceVectors(embed, capacity=2)
    first = cache.of(["a", "bb", "a"])
    assert [v[0] for v in first] == [1.0, 2.0, 1.0]
    cache.of(["bb"])
    assert calls == [["a", "bb"]]
    cache.of(["ccc"])  # over capacity: "a", least recently used, goes
    cache.of(["a"])
    assert calls[-1] == ["a"]


# -- answering from hand-made passages ------------------------------------------------


def article(
    text: str, *, source: str = "a.txt", language: str = "en", title: str = ""
) -> RetrievedPassage:
    """A whole article as one retrieved passage."""
    return RetrievedPassage(
        passage_id=f"{source}#0",
        source=source,
        title=title,
        language=language,
        text=text,
        start=0,
        end=len(text),
        score=1.0,
        evidence=1.0,
        lexical_evidence=1.0,
    )


def answer_of(question: str, language: str, *passages: RetrievedPassage) -> Answer:
    """The extractive answer from these passages, matched by their words alone."""
    query = QueryTerms.of(analyzer_for(language).terms(question), lambda term: 1.0)
    return ExtractiveAnswerer(min_evidence=0.1).answer(question, language, query, passages)


def assert_reads_well(answer: Answer) -> None:
    titles = [citation.title for citation in answer.citations]
    hygiene = check_answer(answer.answer, answer.language, titles)
    assert hygiene.headlines == hygiene.fragments == hygiene.unbalanced_quotes == []
    assert hygiene.unannounced_languages == []
    for citation in answer.citations:
        for start, end in citation.highlights:
            assert citation.text[start:end] in answer.answer


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
    @pytest.mark.parametrize(
        ("language", "text", "question", "body"),
        [
            (
                "en",
                "Microsoft confirms interest in TikTok\n\nMicrosoft will buy TikTok\n\n"
                "Microsoft said on Sunday that it wants to buy the app before September.",
                "Microsoft will buy TikTok",
                "Microsoft said on Sunday that it wants to buy the app before September.",
            ),
            (
                "fr",
                "Microsoft confirme son intérêt pour TikTok\n\nMicrosoft rachètera TikTok\n\n"
                "Microsoft a confirmé dimanche vouloir racheter TikTok avant septembre.",
                "Microsoft rachètera TikTok",
                "Microsoft a confirmé dimanche vouloir racheter TikTok avant septembre.",
            ),
            (
                "ar",
                "تيك توك يحرج أمازون في معركة الحظر\n\nالسيادة الرقمية محور الخلاف.\n\n"
                "تعرضت شركة أمازون لموقف محرج بعد أن طالبت موظفيها بحظر تيك توك.",
                "تيك توك يحرج أمازون في معركة الحظر",
                "تعرضت شركة أمازون لموقف محرج بعد أن طالبت موظفيها بحظر تيك توك.",
            ),
        ],
    )
    def test_titles_and_subheadings_are_never_sentences(
        self, language: str, text: str, question: str, body: str
    ) -> None:
        title = text.splitlines()[0]
        units = passage_units(text, title=title, language=language)
        assert [unit.text for unit in units] == [body]
        # A question in a headline's very words is answered by the sentence.
        answer = answer_of(question, language, article(text, language=language, title=title))
        assert answer.answer == f"{body} [1]"

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

    @pytest.mark.parametrize(
        ("language", "text", "question", "before"),
        [
            (
                "en",
                "Microsoft will keep all private data of US users in the United States. Such "
                "data stored or backed up abroad will be removed from foreign servers.",
                "What happens to data backed up abroad?",
                "Microsoft will keep all private data of US users in the United States.",
            ),
            (
                "fr",
                "Microsoft gardera toutes les données des utilisateurs américains aux "
                "États-Unis. Cela vaut aussi pour les copies de sauvegarde stockées ailleurs.",
                "Que deviennent les copies de sauvegarde stockées ailleurs ?",
                "Microsoft gardera toutes les données des utilisateurs américains aux États-Unis.",
            ),
            (
                "ar",
                "أكدت مايكروسوفت أنها ستضمن نقل جميع البيانات الخاصة إلى الولايات المتحدة. "
                "وعلاوة على ذلك، سيضمن حذف أي بيانات مخزنة خارج الدولة من الخوادم.",
                "هل سيتم حذف البيانات المخزنة خارج الدولة من الخوادم؟",
                "أكدت مايكروسوفت أنها ستضمن نقل جميع البيانات الخاصة إلى الولايات المتحدة.",
            ),
        ],
    )
    def test_the_sentence_leaned_on_comes_along(
        self, language: str, text: str, question: str, before: str
    ) -> None:
        answer = answer_of(question, language, article(text, language=language, title=""))
        assert answer.answer.startswith(before)
        assert_reads_well(answer)

    def test_not_beyond_the_length_budget(self) -> None:
        before = "Microsoft said " + "many things, " * 50 + "about its plans."
        leaning = (
            "Such data will be removed from servers outside the country"
            + ", and from every backup" * 10
            + "."
        )
        assert len(before) < 700 and len(before) + len(leaning) > 900
        answer = answer_of(
            "Will such data be removed from servers outside the country?",
            "en",
            article(f"{before} {leaning}", title=""),
        )
        assert answer.answer == f"{leaning} [1]"


class TestAskedForThingFirst:
    @pytest.mark.parametrize(
        ("language", "question", "plain", "valued"),
        [
            (
                "en",
                "How many TikTok users are there in the United States?",
                "TikTok users in the United States worry about their privacy.",
                "In the United States, the app has 100 million users.",
            ),
            (
                "fr",
                "Combien d’utilisateurs TikTok compte-t-il aux États-Unis ?",
                "Les utilisateurs de TikTok aux États-Unis s’inquiètent pour leur vie privée.",
                "Aux États-Unis, l’application compte 100 millions d’utilisateurs.",
            ),
            (
                "ar",
                "كم عدد مستخدمي تيك توك في الولايات المتحدة؟",
                "يقلق مستخدمو تيك توك في الولايات المتحدة على خصوصيتهم.",
                "وفي الولايات المتحدة، لدى التطبيق 100 مليون مستخدم.",
            ),
            (
                "en",
                "When will Microsoft conclude the talks about TikTok with ByteDance?",
                "Microsoft will conclude the talks about TikTok with ByteDance soon.",
                "Microsoft expects the talks to end by September 15.",
            ),
            (
                "fr",
                "Quand Microsoft conclura-t-il les négociations sur TikTok avec ByteDance ?",
                "Microsoft conclura les négociations sur TikTok avec ByteDance.",
                "Microsoft espère finir les négociations le 15 septembre au plus tard.",
            ),
            (
                "ar",
                "متى تنتهي مفاوضات مايكروسوفت بشأن تيك توك مع بايت دانس؟",
                "تنتهي مفاوضات مايكروسوفت بشأن تيك توك مع بايت دانس قريبا.",
                "وتأمل مايكروسوفت أن تنتهي المفاوضات بحلول 15 سبتمبر.",
            ),
            (
                "en",
                "Who wants to buy TikTok in the United States?",
                "The report says somebody wants to buy TikTok in the United States.",
                "Microsoft wants to buy TikTok.",
            ),
            (
                "fr",
                "Qui veut acheter TikTok aux États-Unis ?",
                "Le rapport dit que quelqu’un veut acheter TikTok aux États-Unis.",
                "Microsoft veut acheter TikTok.",
            ),
        ],
    )
    def test_the_sentence_with_the_value_leads(
        self, language: str, question: str, plain: str, valued: str
    ) -> None:
        answer = answer_of(
            question, language, article(f"{plain} {valued}", language=language, title="")
        )
        assert answer.answer.startswith(valued)
        assert plain in answer.answer

    def test_a_value_in_another_language_leads_after_its_note(self) -> None:
        question = "When will Microsoft conclude the talks about TikTok?"
        english = article(
            "Microsoft will conclude the talks about TikTok with ByteDance soon.", title=""
        )
        arabic = article(
            "ويأمل Microsoft اختتام talks مع TikTok بحلول 15 سبتمبر.",
            source="b.txt",
            language="ar",
            title="مايكروسوفت",
        )
        answer = answer_of(question, "en", english, arabic)
        assert answer.answer.startswith("From the Arabic article “مايكروسوفت”: ويأمل")
        assert "15 سبتمبر" in answer.answer.split("[")[0]


class TestSourcesSideBySide:
    @pytest.mark.parametrize(
        ("language", "question", "first", "second", "expected"),
        [
            (
                "en",
                "How many TikTok users are there in the United States?",
                "In the United States, TikTok has about 80 million users.",
                "TikTok has nearly 100 million users in the United States.",
                "The sources differ: about 80 million [1], nearly 100 million [2].",
            ),
            (
                "fr",
                "Combien d’utilisateurs TikTok compte-t-il aux États-Unis ?",
                "Aux États-Unis, TikTok compte environ 80 millions d’utilisateurs.",
                "TikTok compte près de 100 millions d’utilisateurs aux États-Unis.",
                "Les sources divergent : environ 80 millions [1], près de 100 millions [2].",
            ),
            (
                "ar",
                "كم عدد مستخدمي تيك توك في الولايات المتحدة؟",
                "لدى تيك توك نحو 170 مليون مستخدم في الولايات المتحدة.",
                "يبلغ عدد مستخدمي تيك توك في الولايات المتحدة حوالي 80 مليون مستخدم.",
                "تختلف المصادر: حوالي 80 مليون [1]، نحو 170 مليون [2].",
            ),
        ],
    )
    def test_different_figures_are_listed_with_their_citations(
        self, language: str, question: str, first: str, second: str, expected: str
    ) -> None:
        answer = answer_of(
            question,
            language,
            article(first, language=language, title=""),
            article(second, source="b.txt", language=language, title=""),
        )
        assert answer.answer.startswith(expected + " ")
        assert first in answer.answer and second in answer.answer
        by_figure = {c.n: c.source for c in answer.citations}
        assert sorted(by_figure.values()) == ["a.txt", "b.txt"]
        assert_reads_well(answer)

    def test_sources_that_agree_are_not_listed(self) -> None:
        answer = answer_of(
            "How many TikTok users are there in the United States?",
            "en",
            article("TikTok has about 100 million users in the United States."),
            article("In the United States, TikTok counts 100 million users.", source="b.txt"),
        )
        assert not answer.answer.startswith("The sources differ")

    def test_dates_that_agree_across_languages_are_not_listed(self) -> None:
        answer = answer_of(
            "Quand Microsoft conclura-t-il les négociations avec ByteDance ?",
            "fr",
            article(
                "Microsoft espère conclure les négociations avec ByteDance le 15 septembre.",
                language="fr",
            ),
            article(
                "Microsoft expects to conclude the négociations with ByteDance by September 15.",
                source="b.txt",
            ),
        )
        assert not answer.answer.startswith("Les sources divergent")
        assert answer.answer.startswith("Microsoft espère conclure")

    def test_figures_of_something_else_are_not_listed(self) -> None:
        answer = answer_of(
            "How many TikTok users are there in the United States?",
            "en",
            article("TikTok has nearly 100 million users in the United States."),
            article(
                "Users in the United States spend 107 minutes a day on TikTok.", source="b.txt"
            ),
        )
        assert not answer.answer.startswith("The sources differ")
        assert answer.answer.startswith("TikTok has nearly 100 million users")

    def test_two_figures_of_one_source_are_not_a_disagreement(self) -> None:
        answer = answer_of(
            "How many TikTok users are there in the United States?",
            "en",
            article(
                "TikTok had 80 million users in the United States. TikTok now has 100 million "
                "users in the United States."
            ),
        )
        assert not answer.answer.startswith("The sources differ")


class TestFigures:
    @pytest.mark.parametrize(
        ("text", "language", "amount", "english", "french", "arabic"),
        [
            (
                "وحوالي 80 مليون مستخدم",
                "ar",
                80e6,
                "about 80 million",
                "environ 80 millions",
                "نحو 80 مليون",
            ),
            (
                "nearly 100 million users",
                "en",
                100e6,
                "nearly 100 million",
                "près de 100 millions",
                "قرابة 100 مليون",
            ),
            (
                "plus de 4,7 milliards de dollars",
                "fr",
                4.7e9,
                "more than 4.7 billion dollars",
                "plus de 4,7 milliards de dollars",
                "أكثر من 4.7 مليار دولار",
            ),
            (
                "حوالي نصف مليار مستخدم",
                "ar",
                0.5e9,
                "about half a billion",
                "environ un demi-milliard",
                "نحو نصف مليار",
            ),
        ],
    )
    def test_a_figure_is_read_and_written_in_each_language(
        self, text: str, language: str, amount: float, english: str, french: str, arabic: str
    ) -> None:
        (value,) = values_in(text, language)
        assert value.amount == pytest.approx(amount)
        assert render_value(value, "en") == english
        assert render_value(value, "fr") == french
        assert render_value(value, "ar") == arabic

    def test_dates_are_read_in_each_language_and_agree(self) -> None:
        (french,) = values_in("le 15 septembre au plus tard", "fr")
        (english,) = values_in("by September 15", "en")
        (arabic,) = values_in("بحلول 15 سبتمبر", "ar")
        assert same_value(french, english) and same_value(english, arabic)
        (other,) = values_in("سبتمبر 2025", "ar")
        assert render_value(other, "fr") == "septembre 2025"
        assert render_value(english, "ar") == "15 سبتمبر"

    def test_names_with_digits_are_not_figures(self) -> None:
        assert values_in("the M2 project, 5G and COVID-19", "en") == ()

    @pytest.mark.parametrize(
        ("question", "quantity", "noun"),
        [
            ("How many TikTok users are there in the United States?", "count", "users"),
            ("Combien d’utilisateurs TikTok compte-t-il aux États-Unis ?", "count", "utilisateurs"),
            ("كم عدد مستخدمي تيك توك في الولايات المتحدة؟", "count", "مستخدمي"),
            ("How much was TikTok's US business estimated to be worth?", "money", None),
            ("Combien coûteraient les nouveaux serveurs ?", "money", None),
            ("ما نسبة الإيرادات الأميركية؟", "percent", None),
        ],
    )
    def test_what_a_number_question_counts(
        self, question: str, quantity: str, noun: str | None
    ) -> None:
        assert asked_quantity(question) == quantity
        assert asked_noun(question) == noun


SENTENCES = {
    "en": {
        "question": "Will Microsoft, Oracle or Walmart buy TikTok?",
        "microsoft": "Microsoft will buy TikTok in September.",
        "oracle": "Oracle wants TikTok too.",
        "walmart": "Walmart supports the Oracle bid.",
    },
    "fr": {
        "question": "Microsoft, Oracle ou Walmart achèteront-ils TikTok ?",
        "microsoft": "Microsoft achètera TikTok en septembre.",
        "oracle": "Oracle veut aussi TikTok.",
        "walmart": "Walmart soutient l’offre d’Oracle.",
    },
    "ar": {
        "question": "هل تشتري Microsoft أو Oracle أو Walmart تطبيق TikTok؟",
        "microsoft": "ستشتري Microsoft تطبيق TikTok في سبتمبر.",
        "oracle": "وتريد Oracle تطبيق TikTok أيضا.",
        "walmart": "وتدعم Walmart عرض Oracle.",
    },
}


class TestOneLanguageOrLabelled:
    @pytest.mark.parametrize(("language", "other"), [("en", "ar"), ("fr", "en"), ("ar", "fr")])
    def test_the_question_language_first_then_the_other_article_after_one_note(
        self, language: str, other: str
    ) -> None:
        own, theirs = SENTENCES[language], SENTENCES[other]
        quoted = article(
            f"{theirs['oracle']} {theirs['walmart']}",
            source="other.txt",
            language=other,
            title="Oracle, Walmart",
        )
        answer = answer_of(
            own["question"],
            language,
            quoted,
            article(own["microsoft"], source="own.txt", language=language),
        )
        note = language_note(language, quoted)
        assert answer.answer == (
            f"{own['microsoft']} [1] {note} {theirs['oracle']} [2] {theirs['walmart']} [2]"
        )
        assert_reads_well(answer)


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
