"""Question sets: the JSON-lines files `newsbot eval` reads, parsed with a clear error per
bad line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rag.errors import BadInputError

MAX_QUESTION_FILE_BYTES = 50 * 1024 * 1024


class EvalQuestion(BaseModel):
    """One line of a question set."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    question: str
    language: str | None = Field(
        default=None, description="The question's language; detected when absent."
    )
    expected_sources: list[str] = Field(default_factory=list)
    expected_keywords: list[list[str]] = Field(default_factory=list)
    answerable: bool = True

    @field_validator("question")
    @classmethod
    def _has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is empty")
        return value

    @field_validator("expected_keywords", mode="before")
    @classmethod
    def _groups_are_lists(cls, value: object) -> object:
        if isinstance(value, list) and any(isinstance(group, str) for group in value):
            raise ValueError(
                'each keyword group is a list of alternatives, e.g. [["Canada"], ["Australia"]]'
            )
        return value

    @field_validator("expected_keywords")
    @classmethod
    def _groups_not_empty(cls, value: list[list[str]]) -> list[list[str]]:
        for group in value:
            if not group or not all(alternative.strip() for alternative in group):
                raise ValueError("a keyword group or alternative is empty")
        return value

    @model_validator(mode="after")
    def _unanswerable_expects_nothing(self) -> EvalQuestion:
        if not self.answerable and (self.expected_sources or self.expected_keywords):
            raise ValueError(
                "an unanswerable question has no expected_sources or expected_keywords"
            )
        return self


class LineError(BaseModel):
    """A line of the question set that was not run, and why."""

    line: int
    error: str


@dataclass(frozen=True)
class QuestionSet:
    questions: list[tuple[int, EvalQuestion]]
    errors: list[LineError]


def _describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        if error["type"] == "model_type" and not error["loc"]:
            return "not a JSON object"
        location = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)


def parse_question_set(data: bytes) -> QuestionSet:
    """Parse JSON Lines; each bad line becomes a LineError and the rest are kept.

    Blank lines are skipped; ids must be unique.
    """
    questions: list[tuple[int, EvalQuestion]] = []
    errors: list[LineError] = []
    first_line_of: dict[str, int] = {}
    for number, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").splitlines(), 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(LineError(line=number, error=f"not UTF-8 (byte {exc.start})"))
            continue
        if not text.strip():
            continue
        try:
            question = EvalQuestion.model_validate_json(text)
        except ValidationError as exc:
            if any(error["type"] == "json_invalid" for error in exc.errors()):
                problem = "not a JSON object"
                try:
                    json.loads(text)
                except json.JSONDecodeError as decode_error:
                    problem = f"not valid JSON ({decode_error.msg} at column {decode_error.colno})"
                except RecursionError:
                    problem = "not valid JSON (nested too deeply)"
            else:
                problem = _describe_validation_error(exc)
            errors.append(LineError(line=number, error=problem))
            continue
        if question.id in first_line_of:
            errors.append(
                LineError(
                    line=number,
                    error=f"id {question.id!r} is already used on line "
                    f"{first_line_of[question.id]}",
                )
            )
            continue
        first_line_of[question.id] = number
        questions.append((number, question))
    return QuestionSet(questions, errors)


def load_question_set(path: Path) -> QuestionSet:
    """Read and parse a question file; BadInputError when it cannot be used at all."""
    try:
        if path.stat().st_size > MAX_QUESTION_FILE_BYTES:
            raise BadInputError(f"{path} is larger than 50 MB; split the question set")
        data = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_question_set(data)
