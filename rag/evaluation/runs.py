"""Evaluation runs: a question set asked of the engine, the results kept as JSON, and two
runs compared."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, ValidationError

from rag.errors import BadInputError
from rag.evaluation.questions import EvalQuestion, LineError
from rag.evaluation.scoring import (
    CitedSource,
    GroupFigures,
    QuestionResult,
    breakdown,
    crossing_of,
    miss_reasons,
    ranked_sources,
    scored,
)

if TYPE_CHECKING:
    from rag.engine import Engine


class EvalRun(BaseModel):
    """Everything a run produced: what `--json` writes and `--compare` reads."""

    questions_file: str
    started: str
    commit: str | None = None
    machine: str = ""
    settings: dict[str, object] = Field(default_factory=dict)
    results: list[QuestionResult]
    errors: list[LineError] = Field(default_factory=list)
    figures: dict[str, GroupFigures] = Field(default_factory=dict)


def build_run(
    results: Sequence[QuestionResult], errors: Sequence[LineError], **details: object
) -> EvalRun:
    with_scores = [scored(r) for r in results]
    return EvalRun.model_validate(
        {
            **details,
            "results": with_scores,
            "errors": list(errors),
            "figures": breakdown(with_scores),
        }
    )


def load_run(path: Path) -> EvalRun:
    """An earlier `--json` output, rescored with today's definitions."""
    try:
        run = EvalRun.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValidationError:
        raise BadInputError(f"{path} is not the JSON that newsbot eval --json writes") from None
    return build_run(
        [r.model_copy(update={"scores": None}) for r in run.results],
        run.errors,
        **run.model_dump(exclude={"results", "errors", "figures"}),
    )


@dataclass(frozen=True)
class Comparison:
    old: GroupFigures
    new: GroupFigures
    newly_missed: list[str]
    newly_passing: list[str]


def compare_runs(old: EvalRun, new: EvalRun) -> Comparison:
    """Overall figures of both runs and the questions (by id) whose pass/miss changed."""
    old_missed = {r.id: bool(miss_reasons(r)) for r in old.results}
    newly_missed, newly_passing = [], []
    for result in new.results:
        if result.id not in old_missed:
            continue
        missed = bool(miss_reasons(result))
        if missed and not old_missed[result.id]:
            newly_missed.append(result.id)
        elif not missed and old_missed[result.id]:
            newly_passing.append(result.id)
    return Comparison(old.figures["all"], new.figures["all"], newly_missed, newly_passing)


def run_question_set(
    engine: Engine,
    questions: Sequence[tuple[int, EvalQuestion]],
    *,
    top_k: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[QuestionResult], list[LineError]]:
    """Ask every question through `engine.reply` and record what came back.

    A question the engine refuses as bad input becomes a LineError; the run goes on.
    """
    from rag.text.language import detect_language

    source_languages = {article.source: article.language for article in engine.articles()}
    if questions:  # untimed, so the first timing does not include opening the indexes
        with contextlib.suppress(BadInputError):
            _ = engine.reply(questions[0][1].question, top_k=top_k).answer
    results: list[QuestionResult] = []
    errors: list[LineError] = []
    for done, (line, question) in enumerate(questions, 1):
        language = question.language or detect_language(question.question)
        started = time.perf_counter()
        try:
            reply = engine.reply(question.question, top_k=top_k)
            answer, passages = reply.answer, reply.passages
        except BadInputError as exc:
            errors.append(LineError(line=line, error=str(exc)))
        else:
            seconds = time.perf_counter() - started
            results.append(
                QuestionResult(
                    line=line,
                    id=question.id,
                    question=question.question,
                    language=language,
                    answerable=question.answerable,
                    crossing=crossing_of(language, question.expected_sources, source_languages),
                    expected_sources=question.expected_sources,
                    expected_keywords=question.expected_keywords,
                    answer=answer.answer,
                    abstained=answer.abstained,
                    mode=answer.mode,
                    citations=[
                        CitedSource(n=c.n, source=c.source, title=c.title) for c in answer.citations
                    ],
                    ranked_sources=ranked_sources(passages),
                    seconds=seconds,
                )
            )
        if progress:
            progress(done, len(questions))
    return results, errors


def unindexed_sources(
    questions: Sequence[tuple[int, EvalQuestion]], indexed: Iterable[str]
) -> list[str]:
    """Warnings for expected sources that are not indexed (they can never be hit)."""
    known = set(indexed)
    warnings = []
    for line, question in questions:
        missing = [s for s in question.expected_sources if s not in known]
        if missing:
            warnings.append(f"line {line} ({question.id}): not indexed: {', '.join(missing)}")
    return warnings
