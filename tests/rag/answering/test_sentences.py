"""The sentences an answer may quote, weighed against the question (rag/answering/sentences.py)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answering.sentences import (
    SentenceVectors,
    _topic_shares,
    gives_asked_value,
    question_names,
)
from rag.models import RetrievedPassage
from rag.retrieval.query_terms import QueryTerms
from rag.text.analysis import analyzer_for
from rag.text.sentence_units import answer_units
from tests.conftest import run_newsbot


def query_of(question: str, language: str) -> QueryTerms:
    return QueryTerms.of(analyzer_for(language).terms(question), lambda term: 1.0)


@pytest.mark.parametrize(
    ("question", "language", "names"),
    [
        ("What was TikTok's revenue in 2019?", "en", {"tiktok", "2019"}),
        ("How much did Oracle offer for TikTok?", "en", {"oracl", "tiktok"}),
        ("Combien d’utilisateurs TikTok compte-t-il en France ?", "fr", {"tiktok", "franc"}),
        ("متى اندمج تطبيق Musical.ly مع تيك توك؟", "ar", {"music", "ly"}),
        ("كم بلغت إيرادات تيك توك في عام ٢٠١٩؟", "ar", {"2019"}),
    ],
)
def test_the_words_that_name_something(question: str, language: str, names: set[str]) -> None:
    # Numbers (Arabic-Indic digits too), capitalised Latin words past the first, and Latin
    # words amid Arabic; not the question's first word, nor Arabic words.
    assert set(question_names(question, language, query_of(question, language))) == names


@pytest.mark.parametrize(
    ("text", "language", "wanted", "question", "gives"),
    [
        ("TikTok was launched in late 2016.", "en", "date", "When was TikTok launched?", True),
        ("TikTok has 80 million users.", "en", "date", "When was TikTok launched?", False),
        ("وأُطلق التطبيق في سبتمبر 2016.", "ar", "date", "متى أطلق التطبيق؟", True),
        ("Il compte 80 millions d’utilisateurs.", "fr", "number", "Combien d’utilisateurs ?", True),
        ("It was sold on September 15.", "en", "number", "How many users?", False),
        ("It was banned because of privacy fears.", "en", "reason", "Why was it banned?", True),
    ],
)
def test_a_sentence_gives_the_kind_of_value_asked_for(
    text: str, language: str, wanted: str, question: str, gives: bool
) -> None:
    assert gives_asked_value(text, language, wanted, question) is gives


def test_a_term_in_every_passage_of_an_article_is_its_topic() -> None:
    shares = _topic_shares(["panther", "surrend"], [{"panther", "point"}, {"panther", "surrend"}])
    assert shares == {"panther": 1.0, "surrend": 0.5}
    assert _topic_shares(["panther"], [{"panther"}]) == {"panther": 0.0}  # one passage: none


def passage(text: str, passage_id: str = "p1") -> RetrievedPassage:
    return RetrievedPassage(
        passage_id=passage_id,
        source="a.txt",
        title="",
        language="en",
        text=text,
        start=0,
        end=len(text),
        score=1.0,
    )


def test_stored_sentence_vectors_are_used_and_only_the_missing_embedded() -> None:
    text = "Microsoft will buy TikTok in September. The talks continue with ByteDance."
    units = [answer_units(text, title="", language="en")]
    first, second = units[0]
    embedded: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        embedded.append(texts)
        return np.ones((len(texts), 2))

    def stored(passage_ids: object) -> dict[tuple[str, int], np.ndarray]:
        return {("p1", first.start): np.array([5.0, 5.0])}

    vectors = SentenceVectors(embed, stored=stored).of_units([passage(text)], units)
    assert [v.tolist() for v in vectors[0]] == [[5.0, 5.0], [1.0, 1.0]]
    assert embedded == [[second.text]]


def test_answers_are_the_same_whatever_the_hash_seed(ingested_data: dict[str, str]) -> None:
    # A feature summed in a set's order differed in its last digit between processes.
    questions = (
        "À quelle date Trump a-t-il annoncé que les États-Unis pourraient interdire TikTok ?\n"
        "ماذا تعهدت مايكروسوفت بخصوص البيانات الخاصة لمستخدمي تيك توك الأمريكيين؟\n"
    ).encode()
    replies = {
        run_newsbot(
            "ask", "--json", "-", env={**ingested_data, "PYTHONHASHSEED": seed}, input=questions
        ).stdout
        for seed in ("1", "3", "7")
    }
    assert len(replies) == 1 and b'"answerability"' in next(iter(replies))
