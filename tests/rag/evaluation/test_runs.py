"""Evaluation runs: answering a question set with the engine, saving, reloading
(rescored) and comparing runs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rag.engine import Engine
from rag.errors import BadInputError
from rag.evaluation.questions import EvalQuestion
from rag.evaluation.runs import build_run, compare_runs, load_run, run_question_set
from rag.evaluation.scoring import CitedSource, score
from tests.conftest import ARABIC_SEED, ENGLISH_SEED, FRENCH_SEED
from tests.rag.evaluation.results import five_results


class TestRuns:
    def test_json_round_trip_rescores(self, tmp_path: Path) -> None:
        run = build_run(five_results(), [], questions_file="q.jsonl", started="today")
        path = tmp_path / "run.json"
        tampered = run.model_copy(deep=True)
        assert tampered.results[0].scores is not None
        tampered.results[0].scores.hit_at_1 = True
        path.write_text(tampered.model_dump_json(), encoding="utf-8")
        loaded = load_run(path)
        assert loaded.results[0].scores == run.results[0].scores
        assert loaded.figures == run.figures
        assert loaded.questions_file == "q.jsonl"

    def test_load_run_errors(self, tmp_path: Path) -> None:
        garbage = tmp_path / "garbage.json"
        garbage.write_text('{"not": "a run"}', encoding="utf-8")
        with pytest.raises(BadInputError, match="not the JSON that newsbot eval --json writes"):
            load_run(garbage)
        with pytest.raises(BadInputError, match="cannot read"):
            load_run(tmp_path / "missing.json")

    def test_compare(self) -> None:
        old_results = five_results()
        new_results = five_results()
        new_results[1] = new_results[1].model_copy(
            update={
                "abstained": False,
                "answer": "x [1]",
                "citations": [CitedSource(n=1, source="a.txt")],
                "expected_keywords": [],
            }
        )
        new_results[2] = new_results[2].model_copy(update={"abstained": False})
        old = build_run(old_results, [], questions_file="q", started="then")
        new = build_run(new_results, [], questions_file="q", started="now")
        comparison = compare_runs(old, new)
        assert comparison.newly_passing == ["r2"] and comparison.newly_missed == ["r3"]
        assert comparison.old.values["false_abstention"] == pytest.approx(1 / 3)
        assert comparison.new.values["false_abstention"] == 0.0


def test_run_question_set(seeded_engine: Engine) -> None:
    questions = [
        (
            1,
            EvalQuestion(
                id="same",
                question="When was the TikTok app launched?",
                expected_sources=[ENGLISH_SEED],
                expected_keywords=[["2016"]],
            ),
        ),
        (
            2,
            EvalQuestion(
                id="cross",
                question="Which bank asked employees to remove TikTok?",
                expected_sources=[ARABIC_SEED, FRENCH_SEED],
            ),
        ),
        (
            3,
            EvalQuestion(
                id="ar",
                question="لماذا تراجعت أمازون عن حظر تيك توك؟",
                expected_sources=[ARABIC_SEED],
            ),
        ),
        (4, EvalQuestion(id="none", question="Who won the 2022 FIFA World Cup?", answerable=False)),
        (5, EvalQuestion(id="refused", question="\x00\x01")),
    ]
    calls: list[tuple[int, int]] = []
    results, errors = run_question_set(
        seeded_engine, questions, progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(n, 5) for n in range(1, 6)]
    assert [e.line for e in errors] == [5] and "empty" in errors[0].error
    by_id = {r.id: r for r in results}
    assert [r.id for r in results] == ["same", "cross", "ar", "none"]
    assert by_id["same"].crossing == "same" and by_id["cross"].crossing == "cross"
    assert by_id["none"].crossing == "none" and by_id["none"].abstained
    assert by_id["ar"].language == "ar" and by_id["same"].language == "en"
    same = by_id["same"]
    assert same.ranked_sources[0] == ENGLISH_SEED
    assert len(same.ranked_sources) == len(set(same.ranked_sources))
    assert not same.abstained and {c.source for c in same.citations} <= set(same.ranked_sources)
    assert score(same).keyword_recall == 1.0
    assert all(r.seconds > 0 and not math.isnan(r.seconds) for r in results)
