"""Question sets: parsing and loading a JSON-lines file, and the project's own set,
seeds/questions.jsonl, checked against the articles."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from rag.errors import BadInputError
from rag.evaluation.questions import EvalQuestion, load_question_set, parse_question_set
from rag.evaluation.scoring import contains_keyword
from rag.store.ingest import read_article
from rag.text.language import detect_language
from tests.conftest import SEED_FILES, SEEDS_DIR

QUESTIONS_FILE = SEEDS_DIR / "questions.jsonl"
LANGUAGES = ("ar", "fr", "en")


@pytest.fixture(scope="module")
def questions() -> list[EvalQuestion]:
    parsed = load_question_set(QUESTIONS_FILE)
    assert parsed.errors == [], parsed.errors
    return [question for _, question in parsed.questions]


@pytest.fixture(scope="module")
def articles() -> dict[str, tuple[str, str]]:
    """File name -> (language, text) of every seed article."""
    found = {}
    for name in SEED_FILES:
        article = read_article(SEEDS_DIR / name, chunk_size=1000, chunk_overlap=0)
        found[name] = (article.language, article.text)
    return found


def test_size_and_languages(questions: list[EvalQuestion]) -> None:
    assert len(questions) >= 45
    per_language = Counter(q.language for q in questions)
    unanswerable = Counter(q.language for q in questions if not q.answerable)
    for language in LANGUAGES:
        assert per_language[language] >= 12, language
        assert unanswerable[language] >= 3, language
    assert set(per_language) == set(LANGUAGES)


def test_declared_language_is_the_detected_one(questions: list[EvalQuestion]) -> None:
    for question in questions:
        assert detect_language(question.question) == question.language, question.id


def test_every_expected_source_exists(questions: list[EvalQuestion]) -> None:
    for question in questions:
        assert question.answerable == bool(question.expected_sources), question.id
        for source in question.expected_sources:
            assert (SEEDS_DIR / source).is_file(), f"{question.id}: {source}"


def test_every_article_is_asked_about(questions: list[EvalQuestion]) -> None:
    asked = {source for q in questions for source in q.expected_sources}
    assert asked == set(SEED_FILES)


def test_every_keyword_group_appears_in_an_expected_source(
    questions: list[EvalQuestion], articles: dict[str, tuple[str, str]]
) -> None:
    for question in questions:
        assert question.expected_keywords or not question.answerable, question.id
        texts = [articles[source][1] for source in question.expected_sources]
        for group in question.expected_keywords:
            assert any(
                contains_keyword(text, alternative) for text in texts for alternative in group
            ), f"{question.id}: none of {group} appears in {question.expected_sources}"


def test_cross_lingual_questions_in_every_language(
    questions: list[EvalQuestion], articles: dict[str, tuple[str, str]]
) -> None:
    crossing = Counter(
        q.language
        for q in questions
        if q.expected_sources and all(articles[s][0] != q.language for s in q.expected_sources)
    )
    for language in LANGUAGES:
        assert crossing[language] >= 3, language


def test_the_us_user_count_spans_three_articles(questions: list[EvalQuestion]) -> None:
    """The articles disagree (80, about 100 and 170 million); the answer should say so."""
    spanning = [
        q
        for q in questions
        if len(q.expected_keywords) == 3
        and all(
            any(figure in a for a in group)
            for figure, group in zip(("80", "100", "170"), q.expected_keywords, strict=True)
        )
    ]
    assert {q.language for q in spanning} == set(LANGUAGES)
    for question in spanning:
        assert len(question.expected_sources) == 3


class TestQuestionSet:
    def test_lines(self) -> None:
        lines = [
            '{"id": "q1", "question": "Who?", "expected_sources": ["a.txt"]}',
            '{"id": "q2", "question": "x"',
            "   ",
            '["q3"]',
            '{"id": "q1", "question": "Again?"}',
            '{"id": "q6", "question": "x", "expected_keywords": ["Canada", "Australia"]}',
            '{"id": "q7", "question": "x", "answerable": false, "expected_sources": ["a.txt"]}',
            '{"id": "q8", "question": "x", "expected_source": ["a.txt"]}',
            "\udcff",
            '{"id": "q10", "question": "   "}',
            '{"question": "No id?"}',
            '{"id": "q12", "question": "Kept?", "language": "fr", "answerable": false}',
        ]
        data = b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8", "surrogateescape") + b"\r\n"
        parsed = parse_question_set(data)
        assert [(n, q.id) for n, q in parsed.questions] == [(1, "q1"), (12, "q12")]
        first, last = parsed.questions[0][1], parsed.questions[1][1]
        assert first.answerable and first.language is None and first.expected_keywords == []
        assert last.language == "fr" and not last.answerable
        errors = {e.line: e.error for e in parsed.errors}
        assert sorted(errors) == [2, 4, 5, 6, 7, 8, 9, 10, 11]
        assert errors[2].startswith("not valid JSON") and "column" in errors[2]
        assert errors[4] == "not a JSON object"
        assert errors[5] == "id 'q1' is already used on line 1"
        assert "list of alternatives" in errors[6]
        assert "unanswerable question has no expected_sources" in errors[7]
        assert errors[8].startswith("expected_source:")
        assert "UTF-8" in errors[9]
        assert "empty" in errors[10]
        assert errors[11] == "id: Field required"
        assert all("\n" not in e for e in errors.values())

    def test_load(self, tmp_path: Path) -> None:
        path = tmp_path / "q.jsonl"
        path.write_text('{"id": "a", "question": "Who?"}\n', encoding="utf-8")
        assert [q.id for _, q in load_question_set(path).questions] == ["a"]
        with pytest.raises(BadInputError, match="cannot read"):
            load_question_set(tmp_path / "missing.jsonl")

    def test_model_defaults(self) -> None:
        question = EvalQuestion(id="x", question="Why?")
        assert question.answerable and question.expected_sources == []
