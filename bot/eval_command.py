"""`newsbot eval`: run a question set through the engine and report how well it answers."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.frontend import ProgressBar, ensure_index, open_engine, reports_errors, say_warnings
from rag.errors import BadInputError
from rag.limits import TOP_K

if TYPE_CHECKING:
    from rag.engine import Engine
    from rag.evaluation.runs import EvalRun

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXIT_BELOW_FLOOR = 1
EXIT_BAD_LINES = 2


FILE = click.Path(dir_okay=False, path_type=Path)


@click.command("eval")
@click.argument("questions_file", metavar="QUESTIONS.jsonl", type=click.Path(path_type=Path))
@click.option(
    "--json",
    "json_path",
    type=FILE,
    help="Write every per-question record (question, answer, cited sources, scores) as JSON.",
)
@click.option(
    "--markdown",
    "markdown_path",
    type=FILE,
    help="Write a Markdown report: summary, per-language table, the misses.",
)
@click.option(
    "--plot", "plot_path", type=FILE, help="Write a PNG chart of the main figures per language."
)
@click.option(
    "--fail-under",
    "floors_spec",
    metavar="METRIC=VALUE[,...]",
    help="Exit with code 1 when a figure is below its floor, e.g. hit@5=0.6,keyword_recall=0.4; "
    "for a figure that is better when lower (fragment_sentences, false_abstention, latency) "
    "the value is a ceiling.",
)
@click.option(
    "--compare",
    "compare_path",
    type=FILE,
    help="Print the change of each figure against an earlier run's --json file.",
)
@click.option("-k", "--top-k", type=click.IntRange(*TOP_K), help="Passages to answer from.")
@reports_errors
def eval_command(
    questions_file: Path,
    json_path: Path | None,
    markdown_path: Path | None,
    plot_path: Path | None,
    floors_spec: str | None,
    compare_path: Path | None,
    top_k: int | None,
) -> None:
    """Ask every question of QUESTIONS.jsonl and score the answers.

    Each line is a JSON object: {"id", "question", "language", "expected_sources",
    "expected_keywords", "answerable"} (see the README). Prints retrieval (hit@1/3/5,
    MRR), answer (keyword recall, citation validity and precision), abstention, latency
    and answer-hygiene figures (headline and fragment sentences, unbalanced quotes,
    languages mixed with no note, the number or date first), overall, per question
    language and for same-language versus cross-lingual questions, then the questions it
    missed and the answers that read badly. A malformed line is reported with its number
    and the others still run; the exit code is then 2.

    \b
    Examples:
      newsbot eval seeds/questions.jsonl --markdown report.md --plot report.png
      newsbot eval seeds/questions.jsonl --json new.json --compare old.json
      newsbot eval seeds/questions.jsonl --fail-under hit@5=0.6,abstention_accuracy=0.8
      newsbot eval seeds/questions.jsonl --fail-under fragment_sentences=0,value_first=0.9
    """
    from rag.evaluation.questions import load_question_set
    from rag.evaluation.report import comparison_report, terminal_report
    from rag.evaluation.runs import (
        build_run,
        compare_runs,
        load_run,
        run_question_set,
        unindexed_sources,
    )
    from rag.evaluation.scoring import below_floors, parse_floors
    from rag.safe_text import one_line

    floors = parse_floors(floors_spec) if floors_spec is not None else {}
    for output in (json_path, markdown_path, plot_path):
        if output is not None and not output.parent.is_dir():
            raise BadInputError(f"cannot write {output}: {output.parent} is not a directory")
    if plot_path is not None and plot_path.suffix.lower() != ".png":
        raise BadInputError(f"--plot writes a PNG image; name it with .png (got {plot_path})")
    if not questions_file.is_file():
        raise BadInputError(f"{questions_file} is not a file of questions")
    old_run = load_run(compare_path) if compare_path is not None else None
    question_set = load_question_set(questions_file)
    for error in question_set.errors:
        click.echo(
            one_line(f"newsbot: error: {questions_file} line {error.line}: {error.error}"), err=True
        )
    if not question_set.questions:
        raise BadInputError(f"{questions_file} holds no question that can be run")

    engine = open_engine()
    say_warnings(engine)
    ensure_index(engine)
    for warning in unindexed_sources(question_set.questions, (a.source for a in engine.articles())):
        click.echo(one_line(f"newsbot: warning: {questions_file} {warning}"), err=True)
    bar = ProgressBar()
    try:
        results, refused = run_question_set(
            engine,
            question_set.questions,
            top_k=top_k,
            progress=lambda done, total: bar.show("Asking questions", done, total),
        )
    finally:
        bar.close()
    for error in refused:
        click.echo(
            one_line(f"newsbot: error: {questions_file} line {error.line}: {error.error}"), err=True
        )
    run = build_run(
        results,
        sorted([*question_set.errors, *refused], key=lambda e: e.line),
        questions_file=str(questions_file),
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=_commit(),
        machine=_machine(),
        settings=_run_settings(engine, top_k),
    )

    click.echo(terminal_report(run))
    if old_run is not None:
        click.echo("")
        click.echo(comparison_report(compare_runs(old_run, run), str(compare_path)))
    _write_reports(run, json_path, markdown_path, plot_path)

    failures = below_floors(run.figures["all"], floors)
    for failure in failures:
        click.echo(f"newsbot: error: {failure}", err=True)
    if failures:
        sys.exit(EXIT_BELOW_FLOOR)
    if run.errors:
        sys.exit(EXIT_BAD_LINES)


def _write_reports(
    run: EvalRun, json_path: Path | None, markdown_path: Path | None, plot_path: Path | None
) -> None:
    from rag.evaluation.report import markdown_report, plot_report

    writers: list[tuple[Path | None, Callable[[Path], None]]] = [
        (json_path, lambda path: _write_text(path, run.model_dump_json(indent=2) + "\n")),
        (markdown_path, lambda path: _write_text(path, markdown_report(run))),
        (plot_path, lambda path: plot_report(run, path)),
    ]
    for path, write in writers:
        if path is None:
            continue
        temporary = path.with_name(f".{path.name}.tmp{path.suffix}")
        try:
            write(temporary)
            os.replace(temporary, path)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise BadInputError(f"cannot write {path}: {exc.strerror or exc}") from None
        click.echo(f"newsbot: wrote {path}", err=True)


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _run_settings(engine: Engine, top_k: int | None) -> dict[str, object]:
    settings = engine.settings
    return {
        "mode": engine.mode,
        "top_k": top_k or settings.top_k,
        "candidates": settings.candidates,
        "min_evidence": engine.answerer.threshold,
        "lexical_weight": settings.lexical_weight,
        "subword_weight": settings.subword_weight,
        "vector_weight": settings.vector_ranking_weight(),
        "embedding_provider": settings.embedding_provider,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
    }


def _machine() -> str:
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )


def _commit() -> str | None:
    """The project's git commit, when it runs from a checkout."""
    try:
        completed = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=10"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None if completed.returncode == 0 else None
