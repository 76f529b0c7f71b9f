"""The extractive answerer: notes naming another language's article, headlines kept out
of answers, the sentence leaned on brought along, the asked-for thing first, no filler,
disagreeing figures side by side, one language per answer or labelled, and refusals.

Hand-made passages are weighed by a small calibration of the test's own (a sentence
answers by the question's words it holds and the kind of value it gives), so that what is
tested is the composing, not the fitted numbers; tests/rag/test_engine.py checks the
shipped calibrations on the seeds."""

from __future__ import annotations

import re

import numpy as np
import pytest

from prompts import localized_table
from rag.answering.answerability import QUESTION_FEATURES
from rag.answering.extractive import ExtractiveAnswerer, SentenceVectors, language_note
from rag.answering.sentences import SENTENCE_FEATURES
from rag.calibration import Calibration, LinearModel
from rag.models import Answer, RetrievedPassage
from rag.retrieval.query_terms import QueryTerms
from rag.text.analysis import analyzer_for
from rag.text.hygiene import check_answer
from rag.text.sentence_units import passage_units


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


def linear(names: tuple[str, ...], weights: dict[str, float], intercept: float) -> LinearModel:
    return LinearModel(names, tuple(weights.get(name, 0.0) for name in names), intercept)


# A sentence answers by the share of the question's words it holds and by giving the kind
# of value asked for; the articles answer when the best sentence does.
CALIBRATION = Calibration(
    setup="lexical",
    ranking=None,
    sentence=linear(SENTENCE_FEATURES, {"coverage": 4.0, "typed": 2.0}, -2.0),
    question=linear(QUESTION_FEATURES, {"best": 1.0}, 0.0),
    threshold=0.5,
    sentence_threshold=-1.0,
    similarity_scale=0.03,
    background_prior={},
    provenance={},
)


def answer_of(question: str, language: str, *passages: RetrievedPassage) -> Answer:
    """The extractive answer from these passages, matched by their words alone."""
    query = QueryTerms.of(analyzer_for(language).terms(question), lambda term: 1.0)
    return ExtractiveAnswerer(calibration=CALIBRATION).answer(question, language, query, passages)


def assert_reads_well(answer: Answer) -> None:
    titles = [citation.title for citation in answer.citations]
    hygiene = check_answer(answer.answer, answer.language, titles)
    assert hygiene.headlines == hygiene.fragments == hygiene.unbalanced_quotes == []
    assert hygiene.unannounced_languages == []
    for citation in answer.citations:
        for start, end in citation.highlights:
            assert citation.text[start:end] in answer.answer


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


class TestLeaningSentences:
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
        assert answer.answer == f"{valued} [1]"  # and no filler: the plain one adds nothing

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
                # The figure of the best passage that answers first, then by size.
                "تختلف المصادر: نحو 170 مليون [1]، حوالي 80 مليون [2].",
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


SENTENCES = {
    "en": {
        "question": "Will Microsoft, Oracle or Walmart buy TikTok?",
        "microsoft": "Microsoft will buy TikTok in September.",
        "oracle": "Oracle wants to buy TikTok too.",
        "walmart": "Walmart supports the Oracle bid.",
    },
    "fr": {
        "question": "Microsoft, Oracle ou Walmart achèteront-ils TikTok ?",
        "microsoft": "Microsoft achètera TikTok en septembre.",
        "oracle": "Oracle veut aussi acheter TikTok.",
        "walmart": "Walmart soutient l’offre d’Oracle.",
    },
    "ar": {
        "question": "هل تشتري Microsoft أو Oracle أو Walmart تطبيق TikTok؟",
        "microsoft": "ستشتري Microsoft تطبيق TikTok في سبتمبر.",
        "oracle": "وتريد Oracle أن تشتري تطبيق TikTok أيضا.",
        "walmart": "وتدعم Walmart عرض Oracle.",
    },
}


class TestOneLanguageOrLabelled:
    @pytest.mark.parametrize(("language", "other"), [("en", "ar"), ("fr", "en"), ("ar", "fr")])
    def test_a_sentence_of_another_language_follows_a_note_naming_its_article(
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
            article(own["microsoft"], source="own.txt", language=language),
            quoted,
        )
        note = language_note(language, quoted)
        assert answer.answer.startswith(f"{own['microsoft']} [1] {note} ")
        assert answer.answer.count(note) == 1
        assert_reads_well(answer)


class TestRefusals:
    def test_no_sentence_that_answers_is_a_refusal_with_its_likelihood(self) -> None:
        answer = answer_of(
            "Who won the 2022 football World Cup?",
            "en",
            article("The weather was mild all week, with rain on the coast."),
        )
        assert answer.abstained and answer.citations == []
        assert answer.answerability is not None and answer.answerability < 0.5

    def test_an_answer_carries_its_likelihood(self) -> None:
        answer = answer_of(
            "When will Microsoft buy TikTok?",
            "en",
            article("Microsoft will buy TikTok in September."),
        )
        assert not answer.abstained
        assert answer.answerability is not None and answer.answerability >= 0.5

    def test_a_question_without_words_is_refused(self) -> None:
        query = QueryTerms.of([], lambda term: 1.0)
        answer = ExtractiveAnswerer(calibration=CALIBRATION).answer(
            "?!", "en", query, [article("Microsoft will buy TikTok.")]
        )
        assert answer.abstained and answer.answerability == 0.0


class TestMarkersFromArticles:
    @pytest.mark.parametrize(
        ("language", "text", "question"),
        [
            (
                "en",
                "Microsoft will buy TikTok [2] in September [99].",
                "When will Microsoft buy TikTok?",
            ),
            (
                "fr",
                "Microsoft rachètera TikTok [2] en septembre.",
                "Quand Microsoft rachètera-t-il TikTok ?",
            ),
            (
                "ar",
                "ستشتري Microsoft تطبيق TikTok [3] في سبتمبر.",
                "متى ستشتري Microsoft تطبيق TikTok؟",
            ),
        ],
    )
    def test_a_bracketed_number_in_an_article_is_no_citation_marker(
        self, language: str, text: str, question: str
    ) -> None:
        answer = answer_of(question, language, article(text, language=language, title="[7] News"))
        markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
        assert markers == {c.n for c in answer.citations} == {1}
        assert "［" in answer.answer and "］" in answer.answer
