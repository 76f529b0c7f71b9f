"""Question results for the evaluation tests (scoring, runs, reports) to score."""

from __future__ import annotations

from rag.evaluation.scoring import CitedSource, QuestionResult


def make_result(**overrides: object) -> QuestionResult:
    """An answered, answerable question citing its one expected source."""
    values: dict[str, object] = {
        "line": 1,
        "id": "q",
        "question": "Who?",
        "language": "en",
        "answerable": True,
        "crossing": "same",
        "expected_sources": ["a.txt"],
        "expected_keywords": [],
        "answer": "Someone. [1]",
        "abstained": False,
        "citations": [CitedSource(n=1, source="a.txt")],
        "ranked_sources": ["a.txt"],
        "seconds": 0.01,
    }
    values.update(overrides)
    return QuestionResult.model_validate(values)


def five_results() -> list[QuestionResult]:
    """Five questions whose figures are worked out by hand in test_scoring.py's
    test_aggregate."""
    return [
        make_result(  # rank 2; one of two keyword groups; cites an unexpected source
            id="r1",
            ranked_sources=["b.txt", "a.txt"],
            expected_keywords=[["Canada"], ["Australia"]],
            answer="Canada and New Zealand [1]",
            citations=[CitedSource(n=1, source="b.txt")],
            seconds=0.010,
        ),
        make_result(  # rank 1 but abstains
            id="r2",
            language="fr",
            crossing="cross",
            expected_keywords=[["x"]],
            answer="Les articles ne le disent pas.",
            abstained=True,
            citations=[],
            seconds=0.030,
        ),
        make_result(  # unanswerable, abstains
            id="r3",
            answerable=False,
            crossing="none",
            expected_sources=[],
            abstained=True,
            answer="-",
            citations=[],
            ranked_sources=["c.txt"],
            seconds=0.020,
        ),
        make_result(  # unanswerable, answers
            id="r4",
            language="fr",
            answerable=False,
            crossing="none",
            expected_sources=[],
            citations=[CitedSource(n=1, source="c.txt")],
            seconds=0.040,
        ),
        make_result(  # rank 5; a marker without a source
            id="r5",
            ranked_sources=["c", "d", "e", "f", "a.txt"],
            answer="y [1] z [2]",
            seconds=0.050,
        ),
    ]
